/**
 * The live event table: TIME, SEQ, PID, HANDLE, OPERATION, PATH, DETAIL, RESULT (Process
 * Monitor's columns, plus the sequence number and the handle). One row per event, written as the
 * event arrives.
 */

import type { BridgeEvent } from '../../bridge/events.js';
import { ntError, ntStatusName } from '../../bridge/ntstatus.js';
import { eventDetail, operationLabel } from '../../scenario/event-text.js';
import { type Palette, padEnd } from './color.js';

export type TimeMode = 'relative' | 'clock';

export interface TableOptions {
  readonly palette: Palette;
  /** relative: seconds since the first event (the model's logical clock); clock: time of day. */
  readonly time: TimeMode;
  /** Strip this prefix from paths (the scenario root). */
  readonly root?: string;
}

const FILETIME_UNIX_EPOCH = 116444736000000000n;

/** Time of day (local) of a FILETIME: HH:MM:SS.mmmmmm. */
export function clockTime(filetime: bigint): string {
  const us = (filetime - FILETIME_UNIX_EPOCH) / 10n;
  const date = new Date(Number(us / 1000n));
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(Number(us % 1_000_000n), 6)}`;
}

/** ISO 8601 of a FILETIME (what JSON Lines carry as "time"). */
export function isoTime(filetime: bigint): string {
  const ms = Number((filetime - FILETIME_UNIX_EPOCH) / 10_000n);
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? '' : date.toISOString();
}

const COLUMNS = [
  ['TIME', 10],
  ['SEQ', 4],
  ['PID', 4],
  ['HANDLE', 6],
  ['OPERATION', 14],
  ['PATH', 14],
  ['DETAIL', 44],
  ['RESULT', 0],
] as const;

function truncateLeft(text: string, width: number): string {
  return text.length <= width ? text : `…${text.slice(text.length - width + 1)}`;
}

export class EventTable {
  private first: bigint | undefined;

  constructor(
    private readonly write: (line: string) => void,
    private readonly options: TableOptions,
  ) {}

  header(): void {
    const p = this.options.palette;
    this.write(p.bold(COLUMNS.map(([name, w]) => (w ? name.padEnd(w) : name)).join(' ')));
  }

  private timeText(e: BridgeEvent): string {
    if (this.options.time === 'clock') return clockTime(e.timestamp).slice(0, 12);
    this.first ??= e.timestamp;
    const us = (e.timestamp - this.first) / 10n;
    return `+${(Number(us) / 1e6).toFixed(6)}`;
  }

  private pathText(name: string | undefined): string {
    if (!name) return '';
    let p = name;
    const root = this.options.root;
    if (root && p.toLowerCase().startsWith(root.toLowerCase()))
      p = p.slice(root.length).replace(/^[\\/]/, '');
    return p;
  }

  /** Format one event as a table row (no newline). */
  format(e: BridgeEvent, labels: ReadonlyMap<bigint, string>): string {
    const p = this.options.palette;
    const op = operationLabel(e);
    const opColor = e.type.startsWith('oplock')
      ? op === 'OPLOCK_BREAK'
        ? p.magenta
        : p.cyan
      : e.type.startsWith('lock') || e.type.startsWith('unlock')
        ? p.blue
        : e.type === 'dropped'
          ? p.red
          : (t: string) => t;
    const status = ntStatusName(e.status);
    const result = ntError(e.status)
      ? p.red(status)
      : e.status === 0x103
        ? p.yellow(status)
        : e.status === 0
          ? p.green(status)
          : p.yellow(status);
    const handle = labels.get(e.fileObjectId) ?? (e.fileObjectId ? `#${e.fileObjectId}` : '');
    const cells = [
      p.dim(this.timeText(e).padEnd(10)),
      String(e.seq).padStart(4),
      String(e.processId).padStart(4),
      handle.padEnd(6),
      padEnd(opColor(op), 14),
      truncateLeft(this.pathText(e.name), 14).padEnd(14),
      padEnd(eventDetail(e), 44),
      result,
    ];
    return cells.join(' ');
  }

  row(e: BridgeEvent, labels: ReadonlyMap<bigint, string>): void {
    this.write(this.format(e, labels));
  }
}
