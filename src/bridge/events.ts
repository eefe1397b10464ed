/**
 * BridgeEvent: what a user watches. One variant per record type of
 * driver/include/fltbridge_proto.h (FLTB_EVENT_*), with the same fields in camelCase.
 * The driver produces the records, src/protocol decodes them into these objects, and the model
 * produces these objects (and can encode them to the very same bytes).
 */

import type { OplockLevel } from './flags.js';

/** Event type names, indexed by their FLTB_EVENT_* wire value. */
export const EVENT_TYPES = [
  undefined,
  'dropped',
  'create',
  'cleanup',
  'close',
  'oplock-request',
  'oplock-granted',
  'oplock-break',
  'oplock-acknowledged',
  'oplock-break-completed',
  'oplock-completed',
  'lock-granted',
  'lock-denied',
  'lock-waiting',
  'unlocked',
  'unlock-all',
  'io-refused',
  'io',
  'probe-issued',
  'probe-completed',
] as const;

export type EventType = Exclude<(typeof EVENT_TYPES)[number], undefined>;

export function eventTypeToWire(type: EventType): number {
  return EVENT_TYPES.indexOf(type);
}

export function eventTypeFromWire(value: number): EventType | undefined {
  return EVENT_TYPES[value];
}

/** Record flags (FLTB_RECORD_*). */
export const RecordFlag = {
  MANAGED: 0x0001,
  OBSERVED: 0x0002,
  NAME_TRUNCATED: 0x0004,
  FAST_IO: 0x0008,
  SYNTHETIC: 0x0010,
} as const;

/** IRP major function codes used in events (FLTB_MJ_*). */
export const MajorFunction = {
  CREATE: 0x00,
  CLOSE: 0x02,
  READ: 0x03,
  WRITE: 0x04,
  SET_INFORMATION: 0x06,
  FLUSH_BUFFERS: 0x09,
  FILE_SYSTEM_CONTROL: 0x0d,
  LOCK_CONTROL: 0x11,
  CLEANUP: 0x12,
  PROBE: 0xfe,
  NONE: 0xff,
} as const;

export type MajorFunctionName = keyof typeof MajorFunction;

export function majorFunctionName(code: number): MajorFunctionName | undefined {
  return (Object.keys(MajorFunction) as MajorFunctionName[]).find((k) => MajorFunction[k] === code);
}

export const CreateFlag = {
  BREAK_IN_PROGRESS: 0x01,
  WAITED_FOR_BREAK: 0x02,
  ATOMIC_OPLOCK: 0x04,
  SHARING_BREAK: 0x08,
  HAS_OPLOCK_KEY: 0x10,
} as const;

export const CleanupFlag = { DELETE_ON_CLOSE: 0x1, DELETED: 0x2 } as const;

export const BreakFlag = { ACK_REQUIRED: 0x1, OPERATION_WAITS: 0x2, LEGACY: 0x4 } as const;

export const LockFlag = { EXCLUSIVE: 0x1, FAIL_IMMEDIATELY: 0x2, AFTER_WAIT: 0x4 } as const;

export const UnlockAllFlag = { BY_KEY: 0x1, CLEANUP: 0x2 } as const;

export const ProbeKind = { oplock: 1, read: 2 } as const;
export type ProbeKindName = keyof typeof ProbeKind;

export const ProbeDoneFlag = { REARMED: 0x1, STOPPED: 0x2 } as const;

/** FLTB_RELEASE_*: why a waiting operation was let go. */
export const RELEASE_REASONS = [
  undefined,
  'acknowledged',
  'handle-closed',
  'no-ack-required',
  'cancelled',
  'teardown',
] as const;
export type ReleaseReason = Exclude<(typeof RELEASE_REASONS)[number], undefined>;

/** FLTB_OPLOCK_END_*: why an oplock request completed without a break. */
export const OPLOCK_END_REASONS = [
  undefined,
  'refused',
  'handle-closed',
  'cancelled',
  'switched',
  'completed',
] as const;
export type OplockEndReason = Exclude<(typeof OPLOCK_END_REASONS)[number], undefined>;

/** Fields every record carries (FLTB_RECORD_HEADER). */
export interface EventBase {
  readonly seq: bigint;
  /** UTC, 100 ns units since 1601-01-01 (the model's logical clock uses the same units). */
  readonly timestamp: bigint;
  readonly processId: number;
  readonly threadId: number;
  readonly streamId: bigint;
  readonly fileObjectId: bigint;
  readonly operationId: bigint;
  /** NTSTATUS, unsigned. */
  readonly status: number;
  /** FLTB_RECORD_* bits. */
  readonly flags: number;
  /** The stream's path (UTF-16 on the wire), when the record carries one. */
  readonly name?: string;
}

export interface DroppedEvent extends EventBase {
  readonly type: 'dropped';
  readonly firstSequence: bigint;
  readonly count: bigint;
}

export interface CreateEvent extends EventBase {
  readonly type: 'create';
  readonly desiredAccess: number;
  readonly shareAccess: number;
  readonly createDisposition: number;
  readonly createOptions: number;
  readonly information: number;
  readonly createFlags: number;
  /** GUID string when CreateFlag.HAS_OPLOCK_KEY is set. */
  readonly oplockKey?: string;
  readonly fileSize: bigint;
}

export interface CleanupEvent extends EventBase {
  readonly type: 'cleanup';
  readonly openHandlesRemaining: number;
  readonly locksReleased: number;
  readonly cleanupFlags: number;
}

export interface CloseEvent extends EventBase {
  readonly type: 'close';
  readonly streamReferences: number;
}

export interface OplockRequestEvent extends EventBase {
  readonly type: 'oplock-request';
  readonly fsControlCode: number;
  readonly requestedLevel: OplockLevel;
  readonly inputFlags: number;
  readonly openCount: number;
  readonly fsctrlFlags: number;
}

export interface OplockGrantedEvent extends EventBase {
  readonly type: 'oplock-granted';
  readonly grantedLevel: OplockLevel;
}

export interface OplockBreakEvent extends EventBase {
  readonly type: 'oplock-break';
  readonly fromLevel: OplockLevel;
  readonly toLevel: OplockLevel;
  readonly breakFlags: number;
  readonly information: number;
  readonly causedByOperationId: bigint;
  readonly causedByMajor: number;
  readonly causedByMinor: number;
  readonly causedByProcessId: number;
}

export interface OplockAcknowledgedEvent extends EventBase {
  readonly type: 'oplock-acknowledged';
  readonly fsControlCode: number;
  readonly ackLevel: OplockLevel;
  readonly inputFlags: number;
  readonly brokenRequestOperationId: bigint;
}

export interface OplockBreakCompletedEvent extends EventBase {
  readonly type: 'oplock-break-completed';
  readonly releasedByOperationId: bigint;
  readonly waiterMajor: number;
  readonly waiterMinor: number;
  readonly reason: ReleaseReason;
}

export interface OplockCompletedEvent extends EventBase {
  readonly type: 'oplock-completed';
  readonly level: OplockLevel;
  readonly outputFlags: number;
  readonly information: number;
  readonly reason: OplockEndReason;
}

export interface LockEvent extends EventBase {
  readonly type: 'lock-granted' | 'lock-denied' | 'lock-waiting' | 'unlocked';
  readonly offset: bigint;
  readonly length: bigint;
  readonly key: number;
  readonly lockFlags: number;
  readonly relatedOperationId: bigint;
}

export interface UnlockAllEvent extends EventBase {
  readonly type: 'unlock-all';
  readonly count: number;
  readonly key: number;
  readonly unlockFlags: number;
}

export interface IoRefusedEvent extends EventBase {
  readonly type: 'io-refused';
  readonly offset: bigint;
  readonly length: number;
  readonly key: number;
  readonly major: number;
}

export interface IoEvent extends EventBase {
  readonly type: 'io';
  readonly major: number;
  readonly minor: number;
  readonly detail: number;
  readonly offset: bigint;
  readonly length: bigint;
  readonly information: bigint;
}

export interface ProbeIssuedEvent extends EventBase {
  readonly type: 'probe-issued';
  readonly probeId: bigint;
  readonly kind: ProbeKindName;
  readonly oplockLevel: OplockLevel;
  readonly offset: bigint;
  readonly length: number;
  readonly probeFlags: number;
}

export interface ProbeCompletedEvent extends EventBase {
  readonly type: 'probe-completed';
  readonly probeId: bigint;
  readonly kind: ProbeKindName;
  readonly probeFlags: number;
  readonly information: bigint;
  readonly outputLevel: OplockLevel;
  readonly outputFlags: number;
}

export type BridgeEvent =
  | DroppedEvent
  | CreateEvent
  | CleanupEvent
  | CloseEvent
  | OplockRequestEvent
  | OplockGrantedEvent
  | OplockBreakEvent
  | OplockAcknowledgedEvent
  | OplockBreakCompletedEvent
  | OplockCompletedEvent
  | LockEvent
  | UnlockAllEvent
  | IoRefusedEvent
  | IoEvent
  | ProbeIssuedEvent
  | ProbeCompletedEvent;

/** The event variant for a type name. */
export type EventOf<T extends EventType> = Extract<BridgeEvent, { readonly type: T }>;

/** The mask bit of an event type (FLTB_EVENT_MASK bit 1 << type). */
export function eventMaskBit(type: EventType): bigint {
  return 1n << BigInt(eventTypeToWire(type));
}

export const EVENT_MASK_ALL = 0x00000000000ffffen;
