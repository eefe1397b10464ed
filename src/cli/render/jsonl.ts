/**
 * JSON Lines: one complete object per line, flushed per event, with "v":1 (the schema version,
 * independent of the package version) and "type" (event, scenario, divergence, failure, summary,
 * error). 64-bit values are decimal strings, so no consumer loses precision.
 */

import { type BridgeEvent, EVENT_TYPES } from '../../bridge/events.js';
import { ntStatusName } from '../../bridge/ntstatus.js';
import { isoTime } from './table.js';

export const JSONL_VERSION = 1;

/** JSON.stringify with bigint as decimal strings and Uint8Array as UTF-8 text. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Uint8Array) return new TextDecoder().decode(v);
    if (v instanceof Map) return Object.fromEntries(v);
    return v;
  });
}

/** One JSON Lines record. */
export function record(type: string, body: Record<string, unknown>): string {
  return toJson({ v: JSONL_VERSION, type, ...body });
}

/** An event as it appears in JSON Lines: every field, plus statusName, time and handle. */
export function eventObject(
  e: BridgeEvent,
  labels?: ReadonlyMap<bigint, string>,
): Record<string, unknown> {
  const handle = labels?.get(e.fileObjectId);
  return {
    ...e,
    statusName: ntStatusName(e.status),
    time: isoTime(e.timestamp),
    ...(handle !== undefined ? { handle } : {}),
  };
}

export function eventLine(e: BridgeEvent, labels?: ReadonlyMap<bigint, string>): string {
  return record('event', { event: eventObject(e, labels) });
}

/** Fields that are text in events; every other field given as a digit string is a 64-bit value. */
const TEXT_FIELDS = new Set([
  'type',
  'name',
  'oplockKey',
  'requestedLevel',
  'grantedLevel',
  'fromLevel',
  'toLevel',
  'ackLevel',
  'level',
  'reason',
  'kind',
  'oplockLevel',
  'outputLevel',
  'statusName',
  'time',
  'handle',
]);

/** Back from a JSON Lines event object (watch --replay). Returns undefined for non-events. */
export function eventFromObject(obj: unknown): BridgeEvent | undefined {
  if (typeof obj !== 'object' || obj === null) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'statusName' || k === 'time' || k === 'handle') continue;
    out[k] = typeof v === 'string' && !TEXT_FIELDS.has(k) && /^\d+$/.test(v) ? BigInt(v) : v;
  }
  const bigints = ['seq', 'timestamp', 'streamId', 'fileObjectId', 'operationId'];
  const numbers = ['processId', 'threadId', 'status', 'flags'];
  if (typeof out.type !== 'string' || !EVENT_TYPES.includes(out.type as never)) return undefined;
  if (bigints.some((k) => typeof out[k] !== 'bigint')) return undefined;
  if (numbers.some((k) => typeof out[k] !== 'number')) return undefined;
  return out as unknown as BridgeEvent;
}
