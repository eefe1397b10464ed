/**
 * Event batches (fltbridge_proto.h, "Event batches"): FLTB_BATCH_HEADER and its records, to and
 * from BridgeEvent objects. The driver produces batches and the windows backend decodes them;
 * the model produces BridgeEvent objects and can encode them to the very same bytes through
 * BatchBuilder, which a producer fills record by record up to FLTB_MAX_BATCH_BYTES.
 *
 * Decoding validates every rule of the header (docs/protocol.md lists them in the order they
 * are checked) and is linear in the buffer size; anything else than a valid batch is a
 * ProtocolError naming the byte offset and the reason.
 */

import { InvalidArgumentError, ProtocolError } from '../bridge/errors.js';
import {
  type BridgeEvent,
  type CleanupEvent,
  type CloseEvent,
  type CreateEvent,
  type DroppedEvent,
  EVENT_TYPES,
  type EventBase,
  type EventType,
  type IoEvent,
  type IoRefusedEvent,
  type LockEvent,
  OPLOCK_END_REASONS,
  type OplockAcknowledgedEvent,
  type OplockBreakCompletedEvent,
  type OplockBreakEvent,
  type OplockCompletedEvent,
  type OplockEndReason,
  type OplockGrantedEvent,
  type OplockRequestEvent,
  type ProbeCompletedEvent,
  type ProbeIssuedEvent,
  RELEASE_REASONS,
  type ReleaseReason,
  type UnlockAllEvent,
} from '../bridge/events.js';
import { guidFromBytes, guidToBytes, OPLOCK_LEVELS, type OplockLevel } from '../bridge/flags.js';
import { PROBE_KINDS } from './commands.js';
import {
  alignUp,
  FLTB_BREAK_COMPLETED_PAYLOAD as BCP,
  FLTB_BATCH_HEADER as BH,
  BREAK_FLAGS_ALL,
  CLEANUP_FLAGS_ALL,
  FLTB_CLOSE_PAYLOAD as CLP,
  CREATE_FLAGS_ALL,
  FLTB_CREATE_PAYLOAD as CRP,
  FLTB_CLEANUP_PAYLOAD as CUP,
  FLTB_DROPPED_PAYLOAD as DRP,
  FLTB_CREATE_HAS_OPLOCK_KEY,
  FLTB_EVENT_DROPPED,
  FLTB_EVENT_TYPE_MAX,
  FLTB_LOCK_VALID_FLAGS,
  FLTB_MAGIC_BATCH,
  FLTB_MAX_BATCH_BYTES,
  FLTB_MAX_NAME_BYTES,
  FLTB_MAX_RECORD_BYTES,
  FLTB_MJ_READ,
  FLTB_MJ_WRITE,
  FLTB_PROBE_VALID_FLAGS,
  FLTB_PROTOCOL_VERSION,
  FLTB_RECORD_NAME_TRUNCATED,
  FLTB_RECORD_SYNTHETIC,
  FLTB_RECORD_VALID_FLAGS,
  FLTB_IO_PAYLOAD as IOP,
  FLTB_IO_REFUSED_PAYLOAD as IRP,
  FLTB_LOCK_PAYLOAD as LKP,
  FLTB_OPLOCK_ACK_PAYLOAD as OAP,
  FLTB_OPLOCK_BREAK_PAYLOAD as OBP,
  FLTB_OPLOCK_COMPLETED_PAYLOAD as OCP,
  FLTB_OPLOCK_GRANTED_PAYLOAD as OGP,
  FLTB_OPLOCK_REQUEST_PAYLOAD as ORP,
  PAYLOAD_STRUCTS,
  FLTB_PROBE_COMPLETED_PAYLOAD as PCP,
  FLTB_PROBE_ISSUED_PAYLOAD as PIP,
  PROBE_DONE_FLAGS_ALL,
  FLTB_RECORD_HEADER as RH,
  FLTB_UNLOCK_ALL_PAYLOAD as UAP,
  UNLOCK_ALL_FLAGS_ALL,
} from './layout.js';
import { type ByteInput, decodeGuard, type Reader } from './reader.js';
import { checkFlags, checkU64, checkUint, Writer } from './writer.js';

/** FLTB_BATCH_HEADER as decoded. */
export interface BatchHeader {
  readonly version: number;
  readonly recordCount: number;
  readonly totalBytes: number;
  readonly firstSequence: bigint;
  readonly lastSequence: bigint;
  readonly droppedSinceLast: bigint;
}

export interface DecodedBatch {
  readonly header: BatchHeader;
  readonly events: BridgeEvent[];
}

export interface DecodeBatchOptions {
  /** The version agreed by HELLO; default FLTB_PROTOCOL_VERSION. */
  readonly version?: number;
}

export interface BatchOptions {
  /** Header.Version; default FLTB_PROTOCOL_VERSION. */
  readonly version?: number;
  /** Largest batch to build (HELLO's MaxBatchBytes); default and maximum FLTB_MAX_BATCH_BYTES. */
  readonly maxBytes?: number;
}

const RECORD_HEADER_BYTES = RH.size;
const MAX_NAME_UNITS = FLTB_MAX_NAME_BYTES / 2;
const U64_END = 1n << 64n;

/** FLTB_EVENT_* of each event type name. */
const TYPE_CODES: ReadonlyMap<string, number> = new Map(
  EVENT_TYPES.flatMap((name, code) => (name === undefined ? [] : [[name, code] as const])),
);

function fail(reason: ProtocolError['reason'], offset: number, detail: string): never {
  throw new ProtocolError(reason, offset, detail);
}

function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}

// ---------------------------------------------------------------------------------------------
// Encoding.
// ---------------------------------------------------------------------------------------------

function typeCodeOf(event: BridgeEvent): number {
  if (event === null || typeof event !== 'object') {
    throw new InvalidArgumentError('an event must be an object');
  }
  const code = TYPE_CODES.get(event.type);
  if (code === undefined)
    throw new InvalidArgumentError(`unknown event type ${String(event.type)}`);
  return code;
}

/** UTF-16 code units of the name a record carries: the name cut at FLTB_MAX_NAME_BYTES. */
function nameUnitsOf(name: unknown): number {
  if (name === undefined) return 0;
  if (typeof name !== 'string' || name.length === 0) {
    throw new InvalidArgumentError('an event name must be a non-empty string, or absent');
  }
  return Math.min(name.length, MAX_NAME_UNITS);
}

/**
 * Bytes the event's record occupies: header, the type's payload, the name padded to 8. A name
 * longer than FLTB_MAX_NAME_BYTES is cut there (and the record flagged NAME_TRUNCATED), as the
 * driver does.
 */
export function recordBytes(event: BridgeEvent): number {
  const code = typeCodeOf(event);
  return (
    RECORD_HEADER_BYTES + (PAYLOAD_STRUCTS[code]?.size ?? 0) + alignUp(nameUnitsOf(event.name) * 2)
  );
}

/** The sequence number of the event that follows `event` in a gap-free stream. */
export function nextSequenceAfter(event: BridgeEvent): bigint {
  return event.type === 'dropped' ? event.seq + event.count : event.seq + 1n;
}

function levelToWire(level: unknown, what: string): number {
  const code = (OPLOCK_LEVELS as readonly unknown[]).indexOf(level);
  if (code < 0) {
    throw new InvalidArgumentError(
      `${what} must be one of ${OPLOCK_LEVELS.join(', ')}, got ${String(level)}`,
    );
  }
  return code;
}

function nameToWire(list: readonly unknown[], value: unknown, what: string): number {
  const code = list.indexOf(value);
  if (code < 1) {
    throw new InvalidArgumentError(
      `${what} must be one of ${list.filter((x) => x !== undefined).join(', ')}, got ${String(value)}`,
    );
  }
  return code;
}

/**
 * Write `event` as a record at `o` (the bytes there are zero): `units` name code units, `size`
 * bytes in all. Throws InvalidArgumentError for a value its field cannot carry or the reader
 * would refuse.
 */
function writeRecord(
  w: Writer,
  o: number,
  event: BridgeEvent,
  code: number,
  units: number,
  size: number,
): void {
  const h = RH.offset;
  const payload = PAYLOAD_STRUCTS[code]?.size ?? 0;
  let flags = checkFlags(event.flags, FLTB_RECORD_VALID_FLAGS, 'flags', 16);
  if (((flags & FLTB_RECORD_SYNTHETIC) !== 0) !== (code === FLTB_EVENT_DROPPED)) {
    throw new InvalidArgumentError('flags has SYNTHETIC exactly on dropped events');
  }
  if (event.name !== undefined && units < event.name.length) flags |= FLTB_RECORD_NAME_TRUNCATED;
  w.u32(o + h.Size, size, 'Size');
  w.u16(o + h.Type, code, 'Type');
  w.u16(o + h.Flags, flags, 'flags');
  w.u64(o + h.Sequence, event.seq, 'seq');
  w.i64(o + h.Timestamp, event.timestamp, 'timestamp');
  w.u32(o + h.ProcessId, event.processId, 'processId');
  w.u32(o + h.ThreadId, event.threadId, 'threadId');
  w.u64(o + h.StreamId, event.streamId, 'streamId');
  w.u64(o + h.FileObjectId, event.fileObjectId, 'fileObjectId');
  w.u64(o + h.OperationId, event.operationId, 'operationId');
  w.status(o + h.Status, event.status, 'status');
  if (units > 0) {
    const nameOffset = RECORD_HEADER_BYTES + payload;
    w.u16(o + h.NameOffset, nameOffset, 'NameOffset');
    w.u16(o + h.NameBytes, units * 2, 'NameBytes');
    w.utf16(o + nameOffset, event.name as string, units);
  }
  const p = o + RECORD_HEADER_BYTES;
  switch (event.type) {
    case 'dropped': {
      const d = DRP.offset;
      const count = checkU64(event.count, 'count');
      if (event.firstSequence !== event.seq) {
        throw new InvalidArgumentError('a dropped event has seq == firstSequence');
      }
      if (count === 0n || event.seq + count > U64_END) {
        throw new InvalidArgumentError(`dropped count ${count} is zero or runs past 2^64`);
      }
      w.u64(p + d.FirstSequence, event.firstSequence, 'firstSequence');
      w.u64(p + d.Count, count, 'count');
      return;
    }
    case 'create': {
      const c = CRP.offset;
      w.u32(p + c.DesiredAccess, event.desiredAccess, 'desiredAccess');
      w.u32(p + c.ShareAccess, event.shareAccess, 'shareAccess');
      w.u32(p + c.CreateDisposition, event.createDisposition, 'createDisposition');
      w.u32(p + c.CreateOptions, event.createOptions, 'createOptions');
      w.u32(p + c.Information, event.information, 'information');
      const createFlags = checkFlags(event.createFlags, CREATE_FLAGS_ALL, 'createFlags');
      w.u32(p + c.CreateFlags, createFlags, 'createFlags');
      const hasKey = (createFlags & FLTB_CREATE_HAS_OPLOCK_KEY) !== 0;
      if (hasKey !== (event.oplockKey !== undefined)) {
        throw new InvalidArgumentError(
          'oplockKey is present exactly when createFlags has HAS_OPLOCK_KEY',
        );
      }
      if (event.oplockKey !== undefined) w.copy(p + c.OplockKey, guidToBytes(event.oplockKey));
      w.u64(p + c.FileSize, event.fileSize, 'fileSize');
      return;
    }
    case 'cleanup': {
      const c = CUP.offset;
      w.u32(p + c.OpenHandlesRemaining, event.openHandlesRemaining, 'openHandlesRemaining');
      w.u32(p + c.LocksReleased, event.locksReleased, 'locksReleased');
      w.u32(
        p + c.CleanupFlags,
        checkFlags(event.cleanupFlags, CLEANUP_FLAGS_ALL, 'cleanupFlags'),
        'cleanupFlags',
      );
      return;
    }
    case 'close':
      w.u32(p + CLP.offset.StreamReferences, event.streamReferences, 'streamReferences');
      return;
    case 'oplock-request': {
      const c = ORP.offset;
      w.u32(p + c.FsControlCode, event.fsControlCode, 'fsControlCode');
      w.u32(
        p + c.RequestedLevel,
        levelToWire(event.requestedLevel, 'requestedLevel'),
        'requestedLevel',
      );
      w.u32(p + c.InputFlags, event.inputFlags, 'inputFlags');
      w.u32(p + c.OpenCount, event.openCount, 'openCount');
      w.u32(p + c.FsctrlFlags, event.fsctrlFlags, 'fsctrlFlags');
      return;
    }
    case 'oplock-granted':
      w.u32(
        p + OGP.offset.GrantedLevel,
        levelToWire(event.grantedLevel, 'grantedLevel'),
        'grantedLevel',
      );
      return;
    case 'oplock-break': {
      const c = OBP.offset;
      w.u32(p + c.FromLevel, levelToWire(event.fromLevel, 'fromLevel'), 'fromLevel');
      w.u32(p + c.ToLevel, levelToWire(event.toLevel, 'toLevel'), 'toLevel');
      w.u32(
        p + c.BreakFlags,
        checkFlags(event.breakFlags, BREAK_FLAGS_ALL, 'breakFlags'),
        'breakFlags',
      );
      w.u32(p + c.Information, event.information, 'information');
      w.u64(p + c.CausedByOperationId, event.causedByOperationId, 'causedByOperationId');
      w.u8(p + c.CausedByMajor, event.causedByMajor, 'causedByMajor');
      w.u8(p + c.CausedByMinor, event.causedByMinor, 'causedByMinor');
      w.u32(p + c.CausedByProcessId, event.causedByProcessId, 'causedByProcessId');
      return;
    }
    case 'oplock-acknowledged': {
      const c = OAP.offset;
      w.u32(p + c.FsControlCode, event.fsControlCode, 'fsControlCode');
      w.u32(p + c.AckLevel, levelToWire(event.ackLevel, 'ackLevel'), 'ackLevel');
      w.u32(p + c.InputFlags, event.inputFlags, 'inputFlags');
      w.u64(
        p + c.BrokenRequestOperationId,
        event.brokenRequestOperationId,
        'brokenRequestOperationId',
      );
      return;
    }
    case 'oplock-break-completed': {
      const c = BCP.offset;
      w.u64(p + c.ReleasedByOperationId, event.releasedByOperationId, 'releasedByOperationId');
      w.u8(p + c.WaiterMajor, event.waiterMajor, 'waiterMajor');
      w.u8(p + c.WaiterMinor, event.waiterMinor, 'waiterMinor');
      w.u16(p + c.Reason, nameToWire(RELEASE_REASONS, event.reason, 'reason'), 'reason');
      return;
    }
    case 'oplock-completed': {
      const c = OCP.offset;
      w.u32(p + c.Level, levelToWire(event.level, 'level'), 'level');
      w.u32(p + c.OutputFlags, event.outputFlags, 'outputFlags');
      w.u32(p + c.Information, event.information, 'information');
      w.u32(p + c.Reason, nameToWire(OPLOCK_END_REASONS, event.reason, 'reason'), 'reason');
      return;
    }
    case 'lock-granted':
    case 'lock-denied':
    case 'lock-waiting':
    case 'unlocked': {
      const c = LKP.offset;
      w.u64(p + c.Offset, event.offset, 'offset');
      w.u64(p + c.Length, event.length, 'length');
      w.u32(p + c.Key, event.key, 'key');
      w.u32(
        p + c.LockFlags,
        checkFlags(event.lockFlags, FLTB_LOCK_VALID_FLAGS, 'lockFlags'),
        'lockFlags',
      );
      w.u64(p + c.RelatedOperationId, event.relatedOperationId, 'relatedOperationId');
      return;
    }
    case 'unlock-all': {
      const c = UAP.offset;
      w.u32(p + c.Count, event.count, 'count');
      w.u32(p + c.Key, event.key, 'key');
      w.u32(
        p + c.UnlockFlags,
        checkFlags(event.unlockFlags, UNLOCK_ALL_FLAGS_ALL, 'unlockFlags'),
        'unlockFlags',
      );
      return;
    }
    case 'io-refused': {
      const c = IRP.offset;
      if (event.major !== FLTB_MJ_READ && event.major !== FLTB_MJ_WRITE) {
        throw new InvalidArgumentError(
          `io-refused major must be READ (3) or WRITE (4), got ${String(event.major)}`,
        );
      }
      w.u64(p + c.Offset, event.offset, 'offset');
      w.u32(p + c.Length, event.length, 'length');
      w.u32(p + c.Key, event.key, 'key');
      w.u8(p + c.Major, event.major, 'major');
      return;
    }
    case 'io': {
      const c = IOP.offset;
      w.u8(p + c.Major, event.major, 'major');
      w.u8(p + c.Minor, event.minor, 'minor');
      w.u32(p + c.Detail, event.detail, 'detail');
      w.u64(p + c.Offset, event.offset, 'offset');
      w.u64(p + c.Length, event.length, 'length');
      w.u64(p + c.Information, event.information, 'information');
      return;
    }
    case 'probe-issued': {
      const c = PIP.offset;
      w.u64(p + c.ProbeId, event.probeId, 'probeId');
      w.u32(p + c.Kind, nameToWire(PROBE_KINDS, event.kind, 'kind'), 'kind');
      w.u32(p + c.OplockLevel, levelToWire(event.oplockLevel, 'oplockLevel'), 'oplockLevel');
      w.u64(p + c.Offset, event.offset, 'offset');
      w.u32(p + c.Length, event.length, 'length');
      w.u32(
        p + c.ProbeFlags,
        checkFlags(event.probeFlags, FLTB_PROBE_VALID_FLAGS, 'probeFlags'),
        'probeFlags',
      );
      return;
    }
    case 'probe-completed': {
      const c = PCP.offset;
      w.u64(p + c.ProbeId, event.probeId, 'probeId');
      w.u32(p + c.Kind, nameToWire(PROBE_KINDS, event.kind, 'kind'), 'kind');
      w.u32(
        p + c.ProbeFlags,
        checkFlags(event.probeFlags, PROBE_DONE_FLAGS_ALL, 'probeFlags'),
        'probeFlags',
      );
      w.u64(p + c.Information, event.information, 'information');
      w.u32(p + c.OutputLevel, levelToWire(event.outputLevel, 'outputLevel'), 'outputLevel');
      w.u32(p + c.OutputFlags, event.outputFlags, 'outputFlags');
      return;
    }
  }
}

/**
 * Builds one event batch incrementally, as a producer does: append events (each must continue
 * the sequence: the previous event's seq + 1, or + count after a dropped run) until one does not
 * fit, then `finish()` to get the bytes and start the next batch with that event.
 *
 *     if (!builder.tryAppend(event)) { send(builder.finish()); builder.append(event); }
 */
export class BatchBuilder {
  readonly maxBytes: number;
  readonly version: number;
  private readonly writer: Writer;
  private used = BH.size;
  private count = 0;
  private first = 0n;
  private last = 0n;
  private next = 0n;
  private dropped = 0n;

  constructor(options: BatchOptions = {}) {
    const max = options.maxBytes ?? FLTB_MAX_BATCH_BYTES;
    if (
      !Number.isInteger(max) ||
      max < BH.size + RECORD_HEADER_BYTES ||
      max > FLTB_MAX_BATCH_BYTES
    ) {
      throw new InvalidArgumentError(
        `maxBytes must be an integer ${BH.size + RECORD_HEADER_BYTES}..${FLTB_MAX_BATCH_BYTES}, got ${String(max)}`,
      );
    }
    this.maxBytes = max;
    this.version = checkUint(options.version ?? FLTB_PROTOCOL_VERSION, 16, 'version');
    this.writer = Writer.alloc(max);
  }

  /** Records appended since the last finish(). */
  get recordCount(): number {
    return this.count;
  }

  /** Bytes the batch would have if finished now. */
  get byteLength(): number {
    return this.used;
  }

  get isEmpty(): boolean {
    return this.count === 0;
  }

  /** The seq the next appended event must carry; undefined while the batch is empty. */
  get nextSequence(): bigint | undefined {
    return this.count === 0 ? undefined : this.next;
  }

  /** Whether `event` would fit in the batch now (validates only its size). */
  fits(event: BridgeEvent): boolean {
    return this.used + recordBytes(event) <= this.maxBytes;
  }

  /**
   * Append `event` if it fits; false (and nothing changed) when it does not. Throws
   * InvalidArgumentError for an invalid event, one that does not continue the sequence, or one
   * that cannot fit even in an empty batch; the batch is unchanged then too.
   */
  tryAppend(event: BridgeEvent): boolean {
    const code = typeCodeOf(event);
    const units = nameUnitsOf(event.name);
    const size = RECORD_HEADER_BYTES + (PAYLOAD_STRUCTS[code]?.size ?? 0) + alignUp(units * 2);
    const seq = checkU64(event.seq, 'seq');
    if (this.count > 0 && seq !== this.next) {
      throw new InvalidArgumentError(
        `event seq ${seq} does not continue the batch: expected ${this.next} (a dropped event covers a gap)`,
      );
    }
    if (this.used + size > this.maxBytes) {
      if (this.count === 0) {
        throw new InvalidArgumentError(
          `a ${size}-byte record does not fit in a ${this.maxBytes}-byte batch`,
        );
      }
      return false;
    }
    const start = this.used;
    this.writer.bytes.fill(0, start, start + size);
    writeRecord(this.writer, start, event, code, units, size);
    if (event.type === 'dropped') {
      this.dropped += event.count;
      this.next = seq + event.count;
    } else {
      this.next = seq + 1n;
    }
    if (this.count === 0) this.first = seq;
    this.last = seq;
    this.count += 1;
    this.used += size;
    return true;
  }

  /** Append `event`; throws InvalidArgumentError when it does not fit. */
  append(event: BridgeEvent): this {
    if (!this.tryAppend(event)) {
      throw new InvalidArgumentError(`the batch is full (${this.used} of ${this.maxBytes} bytes)`);
    }
    return this;
  }

  /** The finished batch (a copy); the builder starts over empty. Throws when it is empty. */
  finish(): Uint8Array {
    if (this.count === 0) throw new InvalidArgumentError('a batch needs at least one record');
    const w = this.writer;
    const h = BH.offset;
    w.bytes.fill(0, 0, BH.size);
    w.u32(h.Magic, FLTB_MAGIC_BATCH, 'Magic');
    w.u16(h.Version, this.version, 'Version');
    w.u16(h.HeaderBytes, BH.size, 'HeaderBytes');
    w.u32(h.RecordCount, this.count, 'RecordCount');
    w.u32(h.TotalBytes, this.used, 'TotalBytes');
    w.u64(h.FirstSequence, this.first, 'FirstSequence');
    w.u64(h.LastSequence, this.last, 'LastSequence');
    w.u64(h.DroppedSinceLast, this.dropped, 'DroppedSinceLast');
    const out = w.bytes.slice(0, this.used);
    this.reset();
    return out;
  }

  /** Drop what was appended. */
  reset(): void {
    this.used = BH.size;
    this.count = 0;
    this.first = 0n;
    this.last = 0n;
    this.next = 0n;
    this.dropped = 0n;
  }
}

/** Encode events as one batch; InvalidArgumentError when they do not fit in one. */
export function encodeBatch(
  events: readonly BridgeEvent[],
  options: BatchOptions = {},
): Uint8Array {
  const builder = new BatchBuilder(options);
  for (const event of events) {
    if (!builder.tryAppend(event)) {
      throw new InvalidArgumentError(
        `${events.length} events do not fit in one ${builder.maxBytes}-byte batch; use encodeBatches`,
      );
    }
  }
  return builder.finish();
}

/** Encode events as as few batches as they fit in, in order. */
export function encodeBatches(
  events: readonly BridgeEvent[],
  options: BatchOptions = {},
): Uint8Array[] {
  const builder = new BatchBuilder(options);
  const out: Uint8Array[] = [];
  for (const event of events) {
    if (!builder.tryAppend(event)) {
      out.push(builder.finish());
      builder.append(event);
    }
  }
  if (!builder.isEmpty) out.push(builder.finish());
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding.
// ---------------------------------------------------------------------------------------------

/**
 * Decode an event batch (the bytes after fltmgr's FILTER_MESSAGE_HEADER, exactly TotalBytes of
 * them). Throws ProtocolError only.
 */
export function decodeBatch(input: ByteInput, options: DecodeBatchOptions = {}): DecodedBatch {
  return decodeGuard('event batch', input, (r) =>
    decodeBatchFrom(r, options.version ?? FLTB_PROTOCOL_VERSION),
  );
}

function decodeBatchFrom(r: Reader, agreed: number): DecodedBatch {
  const h = BH.offset;
  if (r.length < BH.size)
    fail('short-buffer', r.length, `a batch is at least ${BH.size} bytes, got ${r.length}`);
  const magic = r.u32(h.Magic);
  if (magic !== FLTB_MAGIC_BATCH)
    fail('bad-magic', h.Magic, `Magic ${hex(magic)} is not FLTB_MAGIC_BATCH`);
  const version = r.u16(h.Version);
  if (version !== agreed)
    fail('version-mismatch', h.Version, `Version ${version} is not the agreed version ${agreed}`);
  const headerBytes = r.u16(h.HeaderBytes);
  if (headerBytes !== BH.size)
    fail('bad-header-size', h.HeaderBytes, `HeaderBytes ${headerBytes} is not ${BH.size}`);
  const total = r.u32(h.TotalBytes);
  if (total > FLTB_MAX_BATCH_BYTES)
    fail('too-large', h.TotalBytes, `TotalBytes ${total} is above FLTB_MAX_BATCH_BYTES`);
  if (total !== r.length)
    fail('bad-total', h.TotalBytes, `TotalBytes ${total} is not the buffer length ${r.length}`);
  const recordCount = r.u32(h.RecordCount);
  if (recordCount < 1) fail('bad-count', h.RecordCount, 'RecordCount is zero');
  if (recordCount > (total - BH.size) / RECORD_HEADER_BYTES) {
    fail(
      'bad-count',
      h.RecordCount,
      `RecordCount ${recordCount} records cannot fit in ${total} bytes`,
    );
  }
  const flags = r.u32(h.Flags);
  if (flags !== 0) fail('bad-flags', h.Flags, `Flags ${hex(flags)} must be zero`);

  const events: BridgeEvent[] = new Array(recordCount);
  let o = BH.size;
  let next = 0n;
  let dropped = 0n;
  let firstSeq = 0n;
  let lastSeq = 0n;
  for (let i = 0; i < recordCount; i++) {
    if (o + RECORD_HEADER_BYTES > total) {
      fail(
        'bad-count',
        o,
        `RecordCount ${recordCount}, but record ${i} does not fit in TotalBytes ${total}`,
      );
    }
    const event = decodeRecord(r, o, total);
    const seq = event.seq;
    if (i === 0) firstSeq = seq;
    else if (seq !== next) {
      fail(
        'bad-sequence',
        o + RH.offset.Sequence,
        `Sequence ${seq} after a record that ends at ${next - 1n}`,
      );
    }
    if (event.type === 'dropped') {
      dropped += event.count;
      next = seq + event.count;
    } else {
      next = seq + 1n;
    }
    lastSeq = seq;
    events[i] = event;
    o += r.u32(o + RH.offset.Size);
  }
  if (o !== total) fail('bad-total', o, `${total - o} byte(s) after record ${recordCount - 1}`);
  const first = r.u64(h.FirstSequence);
  if (first !== firstSeq)
    fail(
      'bad-sequence',
      h.FirstSequence,
      `FirstSequence ${first} is not the first record's ${firstSeq}`,
    );
  const last = r.u64(h.LastSequence);
  if (last !== lastSeq)
    fail(
      'bad-sequence',
      h.LastSequence,
      `LastSequence ${last} is not the last record's ${lastSeq}`,
    );
  const droppedSinceLast = r.u64(h.DroppedSinceLast);
  if (droppedSinceLast !== dropped) {
    fail(
      'bad-count',
      h.DroppedSinceLast,
      `DroppedSinceLast ${droppedSinceLast} is not the dropped records' ${dropped}`,
    );
  }
  return {
    header: {
      version,
      recordCount,
      totalBytes: total,
      firstSequence: first,
      lastSequence: last,
      droppedSinceLast,
    },
    events,
  };
}

function level(r: Reader, offset: number, what: string): OplockLevel {
  const v = r.u32(offset);
  const name = OPLOCK_LEVELS[v];
  if (name === undefined) fail('bad-value', offset, `${what} ${v} is not FLTB_OPLOCK_*`);
  return name;
}

function flagsAt(r: Reader, offset: number, valid: number, what: string): number {
  const v = r.u32(offset);
  if ((v & ~valid) !== 0)
    fail('bad-flags', offset, `${what} ${hex(v)} has bits outside ${hex(valid)}`);
  return v;
}

function probeKind(r: Reader, offset: number): 'oplock' | 'read' {
  const v = r.u32(offset);
  const kind = PROBE_KINDS[v];
  if (kind === undefined) fail('bad-value', offset, `Kind ${v} is not FLTB_PROBE_*`);
  return kind;
}

/** A decoded event under construction: its fields are assigned one by one (no spreads). */
type Building<E extends EventBase> = { -readonly [K in keyof E]: E[K] };
type Common = Building<EventBase> & { type: EventType };

/** Decode the record at `o` of a batch of `total` bytes (its header's 64 bytes are there). */
function decodeRecord(r: Reader, o: number, total: number): BridgeEvent {
  const h = RH.offset;
  const size = r.u32(o + h.Size);
  if (size % 8 !== 0)
    fail('record-unaligned', o + h.Size, `record Size ${size} is not a multiple of 8`);
  const code = r.u16(o + h.Type);
  const type: EventType | undefined = code <= FLTB_EVENT_TYPE_MAX ? EVENT_TYPES[code] : undefined;
  if (type === undefined) fail('unknown-type', o + h.Type, `Type ${code} is not FLTB_EVENT_*`);
  const payload = (PAYLOAD_STRUCTS[code] as { size: number }).size;
  const min = RECORD_HEADER_BYTES + payload;
  if (size < min || size > FLTB_MAX_RECORD_BYTES) {
    fail(
      'record-size',
      o + h.Size,
      `record Size ${size} is outside ${min}..${FLTB_MAX_RECORD_BYTES} for ${type}`,
    );
  }
  if (o + size > total)
    fail('record-size', o + h.Size, `record Size ${size} runs past TotalBytes ${total}`);
  const flags = r.u16(o + h.Flags);
  if ((flags & ~FLTB_RECORD_VALID_FLAGS) !== 0) {
    fail(
      'bad-flags',
      o + h.Flags,
      `record Flags ${hex(flags)} has bits outside FLTB_RECORD_VALID_FLAGS`,
    );
  }
  if (((flags & FLTB_RECORD_SYNTHETIC) !== 0) !== (code === FLTB_EVENT_DROPPED)) {
    fail('bad-flags', o + h.Flags, 'SYNTHETIC is set exactly on DROPPED records');
  }
  const nameOffset = r.u16(o + h.NameOffset);
  const nameBytes = r.u16(o + h.NameBytes);
  const c: Common = {
    type,
    seq: r.u64(o + h.Sequence),
    timestamp: r.i64(o + h.Timestamp),
    processId: r.u32(o + h.ProcessId),
    threadId: r.u32(o + h.ThreadId),
    streamId: r.u64(o + h.StreamId),
    fileObjectId: r.u64(o + h.FileObjectId),
    operationId: r.u64(o + h.OperationId),
    status: r.u32(o + h.Status),
    flags,
  };
  if (nameBytes === 0) {
    if (nameOffset !== 0) {
      fail('bad-name', o + h.NameOffset, `NameOffset ${nameOffset} with NameBytes 0`);
    }
  } else {
    if (nameBytes % 2 !== 0 || nameBytes > FLTB_MAX_NAME_BYTES) {
      fail(
        'bad-name',
        o + h.NameBytes,
        `NameBytes ${nameBytes} is not even and <= ${FLTB_MAX_NAME_BYTES}`,
      );
    }
    if (nameOffset < min || nameOffset % 2 !== 0) {
      fail(
        'bad-name',
        o + h.NameOffset,
        `NameOffset ${nameOffset} is odd or inside the header/payload (${min})`,
      );
    }
    if (nameOffset + nameBytes > size) {
      fail(
        'bad-name',
        o + h.NameOffset,
        `name ${nameOffset}+${nameBytes} runs past the record Size ${size}`,
      );
    }
    c.name = r.utf16(o + nameOffset, nameBytes);
  }
  const p = o + RECORD_HEADER_BYTES;
  switch (type) {
    case 'dropped': {
      const e = c as Building<DroppedEvent>;
      const d = DRP.offset;
      e.firstSequence = r.u64(p + d.FirstSequence);
      if (e.firstSequence !== e.seq) {
        fail(
          'bad-sequence',
          p + d.FirstSequence,
          `FirstSequence ${e.firstSequence} is not the record's Sequence ${e.seq}`,
        );
      }
      e.count = r.u64(p + d.Count);
      if (e.count === 0n || e.seq + e.count > U64_END) {
        fail('bad-value', p + d.Count, `Count ${e.count} is zero or runs past 2^64`);
      }
      return e;
    }
    case 'create': {
      const e = c as Building<CreateEvent>;
      const k = CRP.offset;
      e.desiredAccess = r.u32(p + k.DesiredAccess);
      e.shareAccess = r.u32(p + k.ShareAccess);
      e.createDisposition = r.u32(p + k.CreateDisposition);
      e.createOptions = r.u32(p + k.CreateOptions);
      e.information = r.u32(p + k.Information);
      e.createFlags = flagsAt(r, p + k.CreateFlags, CREATE_FLAGS_ALL, 'CreateFlags');
      const keyAt = p + k.OplockKey;
      if (e.createFlags & FLTB_CREATE_HAS_OPLOCK_KEY) {
        e.oplockKey = guidFromBytes(r.slice(keyAt, 16));
      } else if (!r.isZero(keyAt, 16)) {
        fail('bad-value', keyAt, 'OplockKey must be zero without HAS_OPLOCK_KEY');
      }
      e.fileSize = r.u64(p + k.FileSize);
      return e;
    }
    case 'cleanup': {
      const e = c as Building<CleanupEvent>;
      const k = CUP.offset;
      e.openHandlesRemaining = r.u32(p + k.OpenHandlesRemaining);
      e.locksReleased = r.u32(p + k.LocksReleased);
      e.cleanupFlags = flagsAt(r, p + k.CleanupFlags, CLEANUP_FLAGS_ALL, 'CleanupFlags');
      return e;
    }
    case 'close': {
      const e = c as Building<CloseEvent>;
      e.streamReferences = r.u32(p + CLP.offset.StreamReferences);
      return e;
    }
    case 'oplock-request': {
      const e = c as Building<OplockRequestEvent>;
      const k = ORP.offset;
      e.fsControlCode = r.u32(p + k.FsControlCode);
      e.requestedLevel = level(r, p + k.RequestedLevel, 'RequestedLevel');
      e.inputFlags = r.u32(p + k.InputFlags);
      e.openCount = r.u32(p + k.OpenCount);
      e.fsctrlFlags = r.u32(p + k.FsctrlFlags);
      return e;
    }
    case 'oplock-granted': {
      const e = c as Building<OplockGrantedEvent>;
      e.grantedLevel = level(r, p + OGP.offset.GrantedLevel, 'GrantedLevel');
      return e;
    }
    case 'oplock-break': {
      const e = c as Building<OplockBreakEvent>;
      const k = OBP.offset;
      e.fromLevel = level(r, p + k.FromLevel, 'FromLevel');
      e.toLevel = level(r, p + k.ToLevel, 'ToLevel');
      e.breakFlags = flagsAt(r, p + k.BreakFlags, BREAK_FLAGS_ALL, 'BreakFlags');
      e.information = r.u32(p + k.Information);
      e.causedByOperationId = r.u64(p + k.CausedByOperationId);
      e.causedByMajor = r.u8(p + k.CausedByMajor);
      e.causedByMinor = r.u8(p + k.CausedByMinor);
      e.causedByProcessId = r.u32(p + k.CausedByProcessId);
      return e;
    }
    case 'oplock-acknowledged': {
      const e = c as Building<OplockAcknowledgedEvent>;
      const k = OAP.offset;
      e.fsControlCode = r.u32(p + k.FsControlCode);
      e.ackLevel = level(r, p + k.AckLevel, 'AckLevel');
      e.inputFlags = r.u32(p + k.InputFlags);
      e.brokenRequestOperationId = r.u64(p + k.BrokenRequestOperationId);
      return e;
    }
    case 'oplock-break-completed': {
      const e = c as Building<OplockBreakCompletedEvent>;
      const k = BCP.offset;
      e.releasedByOperationId = r.u64(p + k.ReleasedByOperationId);
      e.waiterMajor = r.u8(p + k.WaiterMajor);
      e.waiterMinor = r.u8(p + k.WaiterMinor);
      const v = r.u16(p + k.Reason);
      const reason: ReleaseReason | undefined = RELEASE_REASONS[v];
      if (reason === undefined)
        fail('bad-value', p + k.Reason, `Reason ${v} is not FLTB_RELEASE_*`);
      e.reason = reason;
      return e;
    }
    case 'oplock-completed': {
      const e = c as Building<OplockCompletedEvent>;
      const k = OCP.offset;
      e.level = level(r, p + k.Level, 'Level');
      e.outputFlags = r.u32(p + k.OutputFlags);
      e.information = r.u32(p + k.Information);
      const v = r.u32(p + k.Reason);
      const reason: OplockEndReason | undefined = OPLOCK_END_REASONS[v];
      if (reason === undefined)
        fail('bad-value', p + k.Reason, `Reason ${v} is not FLTB_OPLOCK_END_*`);
      e.reason = reason;
      return e;
    }
    case 'lock-granted':
    case 'lock-denied':
    case 'lock-waiting':
    case 'unlocked': {
      const e = c as Building<LockEvent>;
      const k = LKP.offset;
      e.offset = r.u64(p + k.Offset);
      e.length = r.u64(p + k.Length);
      e.key = r.u32(p + k.Key);
      e.lockFlags = flagsAt(r, p + k.LockFlags, FLTB_LOCK_VALID_FLAGS, 'LockFlags');
      e.relatedOperationId = r.u64(p + k.RelatedOperationId);
      return e;
    }
    case 'unlock-all': {
      const e = c as Building<UnlockAllEvent>;
      const k = UAP.offset;
      e.count = r.u32(p + k.Count);
      e.key = r.u32(p + k.Key);
      e.unlockFlags = flagsAt(r, p + k.UnlockFlags, UNLOCK_ALL_FLAGS_ALL, 'UnlockFlags');
      return e;
    }
    case 'io-refused': {
      const e = c as Building<IoRefusedEvent>;
      const k = IRP.offset;
      e.offset = r.u64(p + k.Offset);
      e.length = r.u32(p + k.Length);
      e.key = r.u32(p + k.Key);
      e.major = r.u8(p + k.Major);
      if (e.major !== FLTB_MJ_READ && e.major !== FLTB_MJ_WRITE) {
        fail('bad-value', p + k.Major, `Major ${e.major} is not FLTB_MJ_READ or FLTB_MJ_WRITE`);
      }
      return e;
    }
    case 'io': {
      const e = c as Building<IoEvent>;
      const k = IOP.offset;
      e.major = r.u8(p + k.Major);
      e.minor = r.u8(p + k.Minor);
      e.detail = r.u32(p + k.Detail);
      e.offset = r.u64(p + k.Offset);
      e.length = r.u64(p + k.Length);
      e.information = r.u64(p + k.Information);
      return e;
    }
    case 'probe-issued': {
      const e = c as Building<ProbeIssuedEvent>;
      const k = PIP.offset;
      e.probeId = r.u64(p + k.ProbeId);
      e.kind = probeKind(r, p + k.Kind);
      e.oplockLevel = level(r, p + k.OplockLevel, 'OplockLevel');
      e.offset = r.u64(p + k.Offset);
      e.length = r.u32(p + k.Length);
      e.probeFlags = flagsAt(r, p + k.ProbeFlags, FLTB_PROBE_VALID_FLAGS, 'ProbeFlags');
      return e;
    }
    case 'probe-completed': {
      const e = c as Building<ProbeCompletedEvent>;
      const k = PCP.offset;
      e.probeId = r.u64(p + k.ProbeId);
      e.kind = probeKind(r, p + k.Kind);
      e.probeFlags = flagsAt(r, p + k.ProbeFlags, PROBE_DONE_FLAGS_ALL, 'ProbeFlags');
      e.information = r.u64(p + k.Information);
      e.outputLevel = level(r, p + k.OutputLevel, 'OutputLevel');
      e.outputFlags = r.u32(p + k.OutputFlags);
      return e;
    }
  }
}
