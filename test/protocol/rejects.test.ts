/**
 * Bad input: every rule of docs/protocol.md broken once, on an otherwise valid message, must be
 * refused with ProtocolError naming that reason and the offset of the offending bytes. Encoders
 * refuse values the decoders would refuse with InvalidArgumentError.
 */
import { describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  ProtocolError,
  type ProtocolErrorReason,
} from '../../src/bridge/errors.js';
import type { BridgeEvent } from '../../src/bridge/events.js';
import {
  type Command,
  decodeBatch,
  decodeCommand,
  decodeConnectContext,
  decodeReply,
  encodeBatch,
  encodeCommand,
  encodeReply,
  type Reply,
  refusal,
} from '../../src/protocol/index.js';
import { decodeGuard } from '../../src/protocol/reader.js';
import { encodeSample, SAMPLE_EVENTS, SAMPLES, type Sample } from './fixtures.js';

const bytesOf = (name: string) => encodeSample(SAMPLES[name] as Sample);

/** A copy of `bytes` with little-endian values written at offsets ([offset, width, value]). */
function patch(
  bytes: Uint8Array,
  ...edits: (readonly [number, 1 | 2 | 4 | 8, number | bigint])[]
): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  for (const [offset, width, value] of edits) {
    if (width === 1) view.setUint8(offset, Number(value));
    else if (width === 2) view.setUint16(offset, Number(value), true);
    else if (width === 4) view.setUint32(offset, Number(value), true);
    else view.setBigUint64(offset, BigInt(value), true);
  }
  return out;
}

function read(bytes: Uint8Array, offset: number, width: 2 | 4): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return width === 2 ? view.getUint16(offset, true) : view.getUint32(offset, true);
}

/** Grow a buffer (zero-filled) to `length`, keeping its bytes. */
function grow(bytes: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  out.set(bytes.subarray(0, Math.min(bytes.length, length)));
  return out;
}

const batch = bytesOf('event_batch');
/** Offsets of the sample batch's records (R) and their payloads (P). */
const R: number[] = [];
for (let o = 48; o < batch.length; o += read(batch, o, 4)) R.push(o);
const P = R.map((o) => o + 64);
const rec = (i: number) => R[i] as number;
const pay = (i: number) => P[i] as number;

const configure = bytesOf('configure_request');
const probeOplock = bytesOf('probe_start_oplock_request');
const probeRead = bytesOf('probe_start_read_request');
const hello = bytesOf('hello_request');
const getStats = bytesOf('get_stats_request');
const flush = bytesOf('flush_events_request');
const configureReply = bytesOf('configure_reply');
const connect = bytesOf('connect_context');

type Case = readonly [
  title: string,
  reason: ProtocolErrorReason,
  offset: number,
  run: () => unknown,
];

const B = (b: Uint8Array) => () => decodeBatch(b);
const C = (b: Uint8Array) => () => decodeCommand(b);
const Rp = (b: Uint8Array) => () => decodeReply(b);
const X = (b: Uint8Array) => () => decodeConnectContext(b);

const cases: Case[] = [
  // ---- event batches -------------------------------------------------------------------------
  ['batch shorter than its header', 'short-buffer', 47, B(batch.subarray(0, 47))],
  ['batch Magic', 'bad-magic', 0, B(patch(batch, [0, 4, 0x12345678]))],
  ['batch Version', 'version-mismatch', 4, B(patch(batch, [4, 2, 2]))],
  [
    'batch of another agreed version',
    'version-mismatch',
    4,
    () => decodeBatch(batch, { version: 2 }),
  ],
  ['batch HeaderBytes', 'bad-header-size', 6, B(patch(batch, [6, 2, 56]))],
  [
    'batch above FLTB_MAX_BATCH_BYTES',
    'too-large',
    12,
    B(patch(grow(batch, 65544), [12, 4, 65544])),
  ],
  ['TotalBytes != buffer length', 'bad-total', 12, B(patch(batch, [12, 4, batch.length - 8]))],
  [
    'bytes left after the last record',
    'bad-total',
    batch.length,
    B(patch(grow(batch, batch.length + 8), [12, 4, batch.length + 8])),
  ],
  ['RecordCount zero', 'bad-count', 8, B(patch(batch, [8, 4, 0]))],
  ['RecordCount that cannot fit', 'bad-count', 8, B(patch(batch, [8, 4, 2000]))],
  ['RecordCount one more than the records', 'bad-count', batch.length, B(patch(batch, [8, 4, 20]))],
  ['DroppedSinceLast != sum of dropped counts', 'bad-count', 32, B(patch(batch, [32, 8, 6n]))],
  ['batch Flags', 'bad-flags', 40, B(patch(batch, [40, 4, 1]))],
  [
    'record Size not a multiple of 8',
    'record-unaligned',
    rec(1),
    B(patch(batch, [rec(1), 4, read(batch, rec(1), 4) + 4])),
  ],
  ['record Size below header + payload', 'record-size', rec(1), B(patch(batch, [rec(1), 4, 64]))],
  [
    'record Size above FLTB_MAX_RECORD_BYTES',
    'record-size',
    rec(1),
    B(patch(batch, [rec(1), 4, 2184])),
  ],
  [
    'record running past TotalBytes',
    'record-size',
    rec(18),
    B(patch(batch, [rec(18), 4, read(batch, rec(18), 4) + 8])),
  ],
  ['record Type 20', 'unknown-type', rec(1) + 4, B(patch(batch, [rec(1) + 4, 2, 20]))],
  ['record Type 0', 'unknown-type', rec(1) + 4, B(patch(batch, [rec(1) + 4, 2, 0]))],
  ['record Flags unknown bit', 'bad-flags', rec(1) + 6, B(patch(batch, [rec(1) + 6, 2, 0x21]))],
  ['SYNTHETIC on a CREATE', 'bad-flags', rec(0) + 6, B(patch(batch, [rec(0) + 6, 2, 0x11]))],
  ['DROPPED without SYNTHETIC', 'bad-flags', rec(3) + 6, B(patch(batch, [rec(3) + 6, 2, 0]))],
  ['NameBytes odd', 'bad-name', rec(0) + 62, B(patch(batch, [rec(0) + 62, 2, 67]))],
  [
    'NameBytes above FLTB_MAX_NAME_BYTES',
    'bad-name',
    rec(0) + 62,
    B(patch(batch, [rec(0) + 62, 2, 2050])),
  ],
  [
    'NameOffset inside the payload',
    'bad-name',
    rec(0) + 60,
    B(patch(batch, [rec(0) + 60, 2, 104])),
  ],
  ['NameOffset odd', 'bad-name', rec(0) + 60, B(patch(batch, [rec(0) + 60, 2, 113]))],
  ['name past the record', 'bad-name', rec(0) + 60, B(patch(batch, [rec(0) + 62, 2, 68 + 16]))],
  ['NameOffset without a name', 'bad-name', rec(10) + 60, B(patch(batch, [rec(10) + 60, 2, 96]))],
  ['CreateFlags unknown bit', 'bad-flags', pay(0) + 20, B(patch(batch, [pay(0) + 20, 4, 0x34]))],
  [
    'OplockKey without HAS_OPLOCK_KEY',
    'bad-value',
    pay(0) + 24,
    B(patch(batch, [pay(0) + 20, 4, 0x04])),
  ],
  ['RequestedLevel 9', 'bad-value', pay(1) + 4, B(patch(batch, [pay(1) + 4, 4, 9]))],
  ['GrantedLevel 0xffffffff', 'bad-value', pay(2), B(patch(batch, [pay(2), 4, 0xffffffff]))],
  ['DROPPED FirstSequence != Sequence', 'bad-sequence', pay(3), B(patch(batch, [pay(3), 8, 104n]))],
  ['DROPPED Count 0', 'bad-value', pay(3) + 8, B(patch(batch, [pay(3) + 8, 8, 0n]))],
  [
    'DROPPED run past 2^64',
    'bad-value',
    pay(3) + 8,
    B(patch(batch, [pay(3) + 8, 8, (1n << 64n) - 100n])),
  ],
  ['BreakFlags unknown bit', 'bad-flags', pay(4) + 8, B(patch(batch, [pay(4) + 8, 4, 0xb]))],
  ['ToLevel 9', 'bad-value', pay(4) + 4, B(patch(batch, [pay(4) + 4, 4, 9]))],
  ['AckLevel 12', 'bad-value', pay(5) + 4, B(patch(batch, [pay(5) + 4, 4, 12]))],
  ['release Reason 6', 'bad-value', pay(6) + 10, B(patch(batch, [pay(6) + 10, 2, 6]))],
  ['release Reason 0', 'bad-value', pay(6) + 10, B(patch(batch, [pay(6) + 10, 2, 0]))],
  ['end Reason 6', 'bad-value', pay(7) + 12, B(patch(batch, [pay(7) + 12, 4, 6]))],
  ['LockFlags unknown bit', 'bad-flags', pay(8) + 20, B(patch(batch, [pay(8) + 20, 4, 0x9]))],
  ['UnlockFlags unknown bit', 'bad-flags', pay(12) + 8, B(patch(batch, [pay(12) + 8, 4, 0x6]))],
  [
    'IO_REFUSED Major not READ/WRITE',
    'bad-value',
    pay(13) + 16,
    B(patch(batch, [pay(13) + 16, 1, 5])),
  ],
  ['probe Kind 3', 'bad-value', pay(15) + 8, B(patch(batch, [pay(15) + 8, 4, 3]))],
  [
    'PROBE_ISSUED ProbeFlags unknown bit',
    'bad-flags',
    pay(15) + 28,
    B(patch(batch, [pay(15) + 28, 4, 2])),
  ],
  [
    'PROBE_COMPLETED ProbeFlags unknown bit',
    'bad-flags',
    pay(16) + 12,
    B(patch(batch, [pay(16) + 12, 4, 4])),
  ],
  [
    'PROBE_COMPLETED OutputLevel 9',
    'bad-value',
    pay(16) + 24,
    B(patch(batch, [pay(16) + 24, 4, 9])),
  ],
  ['CleanupFlags unknown bit', 'bad-flags', pay(17) + 8, B(patch(batch, [pay(17) + 8, 4, 4]))],
  ['records out of order', 'bad-sequence', rec(2) + 8, B(patch(batch, [rec(2) + 8, 8, 103n]))],
  ['FirstSequence', 'bad-sequence', 16, B(patch(batch, [16, 8, 99n]))],
  ['LastSequence', 'bad-sequence', 24, B(patch(batch, [24, 8, 121n]))],
  ['batch that is not a buffer', 'bad-buffer', 0, () => decodeBatch('FBEV' as never)],

  // ---- commands ------------------------------------------------------------------------------
  ['command shorter than its header', 'short-buffer', 23, C(getStats.subarray(0, 23))],
  ['CONFIGURE shorter than its fixed part', 'short-buffer', 24, C(patch(getStats, [6, 2, 2]))],
  ['command Magic', 'bad-magic', 0, C(patch(getStats, [0, 4, 0x4d434247]))],
  ['command code 7', 'bad-command', 6, C(patch(getStats, [6, 2, 7]))],
  ['command code 0', 'bad-command', 6, C(patch(getStats, [6, 2, 0]))],
  ['command Version', 'version-mismatch', 4, C(patch(getStats, [4, 2, 2]))],
  [
    'command Size above FLTB_MAX_COMMAND_BYTES',
    'too-large',
    8,
    C(patch(grow(configure, 131080), [8, 4, 131080])),
  ],
  ['command Size != buffer length', 'bad-total', 8, C(patch(getStats, [8, 4, 32]))],
  ['GET_STATS of 32 bytes', 'bad-total', 8, C(patch(grow(getStats, 32), [8, 4, 32]))],
  ['command header Flags', 'bad-flags', 12, C(patch(getStats, [12, 4, 1]))],
  ['HELLO MinVersion > MaxVersion', 'bad-value', 24, C(patch(hello, [24, 2, 4]))],
  ['CONFIGURE Flags unknown bit', 'bad-flags', 36, C(patch(configure, [36, 4, 0xf]))],
  ['CONFIGURE mask bit of no event type', 'bad-flags', 24, C(patch(configure, [24, 8, 0xdffffn]))],
  ['CONFIGURE mask without SET_EVENT_MASK', 'bad-value', 24, C(patch(configure, [36, 4, 0x5]))],
  ['CONFIGURE QueueLimit below the minimum', 'bad-value', 32, C(patch(configure, [32, 4, 15]))],
  [
    'CONFIGURE QueueLimit above the maximum',
    'bad-value',
    32,
    C(patch(configure, [32, 4, 1048577])),
  ],
  [
    'CONFIGURE QueueLimit without SET_QUEUE_LIMIT',
    'bad-value',
    32,
    C(patch(configure, [36, 4, 0x3])),
  ],
  [
    'CONFIGURE NamespaceCount above FLTB_MAX_NAMESPACES',
    'bad-count',
    40,
    C(patch(configure, [40, 2, 33])),
  ],
  [
    'CONFIGURE namespaces without SET_NAMESPACES',
    'bad-count',
    40,
    C(patch(configure, [36, 4, 0x6])),
  ],
  ['CONFIGURE NamespaceCount past the entries', 'bad-count', 192, C(patch(configure, [40, 2, 3]))],
  [
    'namespace entry Size not a multiple of 8',
    'record-unaligned',
    48,
    C(patch(configure, [48, 2, 65])),
  ],
  [
    'namespace entry Size not what NameBytes implies',
    'record-size',
    48,
    C(patch(configure, [48, 2, 72])),
  ],
  ['namespace Kind 3', 'bad-value', 50, C(patch(configure, [50, 2, 3]))],
  ['namespace NameBytes odd', 'bad-name', 52, C(patch(configure, [52, 2, 55]))],
  ['namespace NameBytes 0', 'bad-name', 52, C(patch(configure, [52, 2, 0]))],
  [
    'bytes after the last namespace entry',
    'bad-total',
    192,
    C(patch(grow(configure, 200), [8, 4, 200])),
  ],
  ['PROBE_START Kind 3', 'bad-value', 24, C(patch(probeOplock, [24, 4, 3]))],
  ['PROBE_START Flags unknown bit', 'bad-flags', 28, C(patch(probeOplock, [28, 4, 3]))],
  ['oplock probe at level NONE', 'bad-value', 32, C(patch(probeOplock, [32, 4, 0]))],
  ['oplock probe at level 9', 'bad-value', 32, C(patch(probeOplock, [32, 4, 9]))],
  ['oplock probe with a ReadLength', 'bad-value', 36, C(patch(probeOplock, [36, 4, 1]))],
  ['oplock probe with a ReadOffset', 'bad-value', 40, C(patch(probeOplock, [40, 8, 1n]))],
  ['read probe with an OplockLevel', 'bad-value', 32, C(patch(probeRead, [32, 4, 1]))],
  ['read probe ReadLength 0', 'bad-value', 36, C(patch(probeRead, [36, 4, 0]))],
  [
    'read probe ReadLength above FLTB_PROBE_READ_MAX',
    'bad-value',
    36,
    C(patch(probeRead, [36, 4, 65537])),
  ],
  ['PathBytes odd', 'bad-name', 48, C(patch(probeOplock, [48, 2, 73]))],
  ['PathBytes 0', 'bad-name', 48, C(patch(probeOplock, [48, 2, 0]))],
  ['PathBytes above FLTB_MAX_NAME_BYTES', 'bad-name', 48, C(patch(probeOplock, [48, 2, 2050]))],
  ['Size not what PathBytes implies', 'bad-total', 8, C(patch(probeOplock, [48, 2, 64]))],
  ['FLUSH_EVENTS Flags unknown bit', 'bad-flags', 24, C(patch(flush, [24, 4, 2]))],
  ['command that is not a buffer', 'bad-buffer', 0, () => decodeCommand(null as never)],

  // ---- replies -------------------------------------------------------------------------------
  ['reply shorter than its header', 'short-buffer', 10, Rp(configureReply.subarray(0, 10))],
  ['reply Magic', 'bad-magic', 0, Rp(patch(configureReply, [0, 4, 0]))],
  ['reply Command 9', 'bad-command', 6, Rp(patch(configureReply, [6, 2, 9]))],
  [
    'reply to another command than expected',
    'bad-command',
    6,
    () => decodeReply(configureReply, { command: 'get-stats' }),
  ],
  ['reply Version', 'version-mismatch', 4, Rp(patch(configureReply, [4, 2, 2]))],
  [
    'reply above FLTB_MAX_REPLY_BYTES',
    'too-large',
    8,
    Rp(patch(grow(configureReply, 4104), [8, 4, 4104])),
  ],
  ['reply Size != buffer length', 'bad-total', 8, Rp(patch(configureReply, [8, 4, 40]))],
  [
    'reply neither full nor bare',
    'bad-total',
    8,
    Rp(patch(configureReply.subarray(0, 40), [8, 4, 40])),
  ],
  [
    'successful reply without its body',
    'bad-total',
    8,
    Rp(patch(bytesOf('error_reply_configure'), [12, 4, 0])),
  ],
  ['failed reply with a body', 'bad-total', 8, Rp(patch(configureReply, [12, 4, 0xc000000d]))],
  [
    'HELLO reply with a body and a failure other than REVISION_MISMATCH',
    'bad-total',
    8,
    Rp(patch(bytesOf('hello_reply_mismatch'), [12, 4, 0xc000000d])),
  ],
  ['unexpected RequestId', 'bad-value', 16, () => decodeReply(configureReply, { requestId: 3n })],
  [
    'PROBE_START reply ProbeId 0',
    'bad-value',
    24,
    Rp(patch(bytesOf('probe_start_reply'), [24, 8, 0n])),
  ],
  ['CONFIGURE reply QueueLimit 0', 'bad-value', 32, Rp(patch(configureReply, [32, 4, 0]))],
  [
    'CONFIGURE reply namespace counts',
    'bad-count',
    36,
    Rp(patch(configureReply, [36, 2, 20], [38, 2, 20])),
  ],
  [
    'unknown command in a successful reply',
    'bad-command',
    6,
    Rp(patch(bytesOf('error_reply_unknown_command'), [12, 4, 0])),
  ],
  [
    'unknown command in a reply with a body',
    'bad-command',
    6,
    Rp(patch(configureReply, [6, 2, 0x77], [12, 4, 0xc0000010])),
  ],
  [
    'refusal of an unknown command when a known one was expected',
    'bad-command',
    6,
    () => decodeReply(bytesOf('error_reply_unknown_command'), { command: 'hello' }),
  ],
  ['reply that is not a buffer', 'bad-buffer', 0, () => decodeReply(42 as never)],

  // ---- connect context -----------------------------------------------------------------------
  ['connect context short', 'short-buffer', 15, X(connect.subarray(0, 15))],
  ['connect context Magic', 'bad-magic', 0, X(patch(connect, [0, 4, 1]))],
  ['connect context Version 0', 'version-mismatch', 4, X(patch(connect, [4, 2, 0]))],
  ['connect context Size', 'bad-header-size', 6, X(patch(connect, [6, 2, 24]))],
  ['connect context longer than sizeof', 'bad-total', 16, X(grow(connect, 24))],
  [
    'connect context that is not a buffer',
    'bad-buffer',
    0,
    () => decodeConnectContext({} as never),
  ],

  // ---- the guard -----------------------------------------------------------------------------
  [
    'an unexpected exception inside a decoder',
    'internal',
    0,
    () =>
      decodeGuard('test', new Uint8Array(1), () => {
        throw new TypeError('boom');
      }),
  ],
];

function rejection(run: () => unknown): ProtocolError {
  try {
    run();
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw new Error(`threw ${String(error)} instead of a ProtocolError`);
  }
  throw new Error('accepted');
}

describe('decoders refuse malformed input with ProtocolError(reason, offset)', () => {
  it('the valid messages the cases start from decode', () => {
    expect(() => decodeBatch(batch)).not.toThrow();
    for (const b of [configure, probeOplock, probeRead, hello, getStats, flush]) {
      expect(() => decodeCommand(b)).not.toThrow();
    }
    expect(() => decodeReply(configureReply)).not.toThrow();
    expect(() => decodeConnectContext(connect)).not.toThrow();
    expect(R).toHaveLength(19);
  });

  it.each(cases)('%s -> %s at byte %i', (_title, reason, offset, run) => {
    const error = rejection(run);
    expect({ reason: error.reason, offset: error.offset }).toEqual({ reason, offset });
    expect(error.code).toBe('E_PROTOCOL');
    expect(error.message).toContain(`at byte ${offset}: ${reason}`);
  });

  it('covers every ProtocolErrorReason', () => {
    const all: ProtocolErrorReason[] = [
      'short-buffer',
      'bad-magic',
      'version-mismatch',
      'bad-header-size',
      'bad-total',
      'bad-count',
      'record-size',
      'record-unaligned',
      'unknown-type',
      'bad-name',
      'bad-value',
      'bad-sequence',
      'bad-command',
      'bad-flags',
      'too-large',
      'bad-buffer',
      'internal',
    ];
    expect(new Set(cases.map((c) => c[1]))).toEqual(new Set(all));
  });

  it('HELLO and its reply may carry any version; the others follow the agreed one', () => {
    expect(decodeCommand(patch(hello, [4, 2, 7]))).toMatchObject({ command: 'hello', version: 7 });
    expect(decodeReply(bytesOf('hello_reply_mismatch'))).toMatchObject({ version: 9 });
    expect(decodeCommand(patch(getStats, [4, 2, 2]), { version: 2 })).toMatchObject({ version: 2 });
    expect(decodeBatch(patch(batch, [4, 2, 2]), { version: 2 }).header.version).toBe(2);
  });

  it('accepts any byte view: Buffer at an odd offset, ArrayBuffer, DataView', () => {
    const odd = Buffer.alloc(batch.length + 1);
    odd.set(batch, 1);
    const view = odd.subarray(1);
    expect(view.byteOffset % 2).toBe(1);
    const expected = decodeBatch(batch);
    expect(decodeBatch(view)).toEqual(expected);
    expect(decodeBatch(batch.slice().buffer)).toEqual(expected);
    expect(decodeBatch(new DataView(batch.slice().buffer))).toEqual(expected);
  });

  it('a detached ArrayBuffer is bad-buffer; a view of one is empty', () => {
    const buffer = batch.slice().buffer;
    const view = new Uint8Array(buffer);
    structuredClone(buffer, { transfer: [buffer] });
    expect(rejection(() => decodeBatch(buffer)).reason).toBe('bad-buffer');
    expect(view.byteLength).toBe(0);
    expect(rejection(() => decodeBatch(view))).toMatchObject({ reason: 'short-buffer', offset: 0 });
    expect(rejection(() => decodeCommand(view))).toMatchObject({
      reason: 'short-buffer',
      offset: 0,
    });
  });

  it('ignores Reserved fields', () => {
    // FLTB_HELLO_REQUEST.Reserved, FLTB_COMMAND_HEADER has none; FLTB_BATCH_HEADER.Reserved.
    expect(decodeCommand(patch(hello, [36, 4, 0xffffffff]))).toEqual(decodeCommand(hello));
    expect(decodeBatch(patch(batch, [44, 4, 0xffffffff]))).toEqual(decodeBatch(batch));
    expect(decodeConnectContext(patch(connect, [12, 4, 7]))).toEqual(decodeConnectContext(connect));
  });
});

describe('refusal(): the reply the driver builds for a command it refuses', () => {
  const STATUS_INVALID_PARAMETER = 0xc000000d;
  it('copies Command and RequestId from a readable header', () => {
    const reply = refusal(patch(getStats, [12, 4, 1]), STATUS_INVALID_PARAMETER);
    expect(reply).toEqual({
      command: 'get-stats',
      version: 1,
      status: STATUS_INVALID_PARAMETER,
      requestId: 3n,
    });
    expect(decodeReply(encodeReply(reply), { command: 'get-stats', requestId: 3n })).toEqual(reply);
  });
  it('names an unknown command by its code, and an unreadable buffer as command 0', () => {
    const unknown = refusal(patch(getStats, [6, 2, 0x99]), 0xc0000010);
    expect(unknown).toEqual({
      command: 'unknown',
      commandCode: 0x99,
      version: 1,
      status: 0xc0000010,
      requestId: 3n,
    });
    expect(decodeReply(encodeReply(unknown))).toEqual(unknown);
    const short = refusal(new Uint8Array(5), STATUS_INVALID_PARAMETER, 1);
    expect(short).toEqual({
      command: 'unknown',
      commandCode: 0,
      version: 1,
      status: STATUS_INVALID_PARAMETER,
      requestId: 0n,
    });
    expect(decodeReply(encodeReply(short))).toEqual(short);
    expect(refusal('not bytes', STATUS_INVALID_PARAMETER)).toMatchObject({
      commandCode: 0,
      requestId: 0n,
    });
  });
});

describe('encoders refuse what the decoders would refuse', () => {
  const base = SAMPLE_EVENTS[0] as BridgeEvent;
  const close = SAMPLE_EVENTS[18] as BridgeEvent;
  const dropped = SAMPLE_EVENTS[3] as BridgeEvent;
  const badCommands: [string, unknown][] = [
    ['unknown command', { command: 'reboot', requestId: 1n }],
    [
      'HELLO min > max',
      {
        command: 'hello',
        requestId: 1n,
        minVersion: 3,
        maxVersion: 1,
        clientCapabilities: 0,
        clientProcessId: 0,
      },
    ],
    [
      '33 namespaces',
      {
        command: 'configure',
        requestId: 1n,
        namespaces: Array.from({ length: 33 }, () => ({ kind: 'managed', path: 'x' })),
      },
    ],
    [
      'namespace kind',
      { command: 'configure', requestId: 1n, namespaces: [{ kind: 'owned', path: 'x' }] },
    ],
    [
      'empty namespace path',
      { command: 'configure', requestId: 1n, namespaces: [{ kind: 'managed', path: '' }] },
    ],
    [
      'namespace path too long',
      {
        command: 'configure',
        requestId: 1n,
        namespaces: [{ kind: 'managed', path: 'x'.repeat(1025) }],
      },
    ],
    ['queue limit', { command: 'configure', requestId: 1n, queueLimit: 15 }],
    ['mask bit 0', { command: 'configure', requestId: 1n, eventTypeMask: 1n }],
    [
      'oplock probe at NONE',
      { command: 'probe-start', requestId: 1n, kind: 'oplock', oplockLevel: 'NONE', path: 'x' },
    ],
    [
      'oplock probe at LEVEL3',
      { command: 'probe-start', requestId: 1n, kind: 'oplock', oplockLevel: 'LEVEL3', path: 'x' },
    ],
    [
      'read probe of 0 bytes',
      {
        command: 'probe-start',
        requestId: 1n,
        kind: 'read',
        readOffset: 0n,
        readLength: 0,
        path: 'x',
      },
    ],
    ['probe kind', { command: 'probe-start', requestId: 1n, kind: 'write', path: 'x' }],
    [
      'probe flags',
      {
        command: 'probe-start',
        requestId: 1n,
        kind: 'oplock',
        oplockLevel: 'R',
        flags: 2,
        path: 'x',
      },
    ],
    ['flush flags', { command: 'flush-events', requestId: 1n, flags: 2 }],
    ['negative request id', { command: 'get-stats', requestId: -1n }],
    ['number request id', { command: 'get-stats', requestId: 1 }],
    ['version 65536', { command: 'get-stats', requestId: 1n, version: 65536 }],
  ];
  it.each(badCommands)('command: %s', (_title, cmd) => {
    expect(() => encodeCommand(cmd as Command)).toThrow(InvalidArgumentError);
  });

  const badReplies: [string, unknown][] = [
    ['success without body', { command: 'configure', status: 0, requestId: 1n }],
    [
      'failure with body',
      { command: 'probe-start', status: 0xc000000d, requestId: 1n, body: { probeId: 1n } },
    ],
    ['probe id 0', { command: 'probe-start', status: 0, requestId: 1n, body: { probeId: 0n } }],
    ['probe-stop with body', { command: 'probe-stop', status: 0, requestId: 1n, body: {} }],
    ['status past 32 bits', { command: 'probe-stop', status: 2 ** 32, requestId: 1n }],
    [
      'unknown command with a known code',
      { command: 'unknown', commandCode: 3, status: 0xc0000010, requestId: 1n },
    ],
    [
      'unknown command with success',
      { command: 'unknown', commandCode: 9, status: 0, requestId: 1n },
    ],
    [
      'stats with 31 counters',
      {
        command: 'get-stats',
        status: 0,
        requestId: 1n,
        body: {
          eventsProduced: 0n,
          eventsDelivered: 0n,
          eventsDropped: 0n,
          nextSequence: 0n,
          queueDepth: 0,
          queueLimit: 16,
          pendedOperations: 0,
          managedStreams: 0,
          activeProbes: 0,
          connections: 0,
          perTypeProduced: Array(31).fill(0n),
        },
      },
    ],
  ];
  it.each(badReplies)('reply: %s', (_title, reply) => {
    expect(() => encodeReply(reply as Reply)).toThrow(InvalidArgumentError);
  });

  const badEvents: [string, unknown][] = [
    ['unknown type', { ...close, type: 'explode' }],
    ['u32 out of range', { ...close, processId: 2 ** 32 }],
    ['fraction', { ...close, threadId: 1.5 }],
    ['u64 negative', { ...close, streamId: -1n }],
    ['u64 as a number', { ...close, operationId: 5 }],
    ['timestamp past i64', { ...close, timestamp: 1n << 63n }],
    ['record flag unknown bit', { ...close, flags: 0x20 }],
    ['SYNTHETIC on a close', { ...close, flags: 0x11 }],
    ['dropped without SYNTHETIC', { ...dropped, flags: 0 }],
    ['dropped count 0', { ...dropped, count: 0n }],
    ['dropped firstSequence != seq', { ...dropped, firstSequence: 1n }],
    ['empty name', { ...close, name: '' }],
    ['oplock key without the flag', { ...base, createFlags: 0x04 }],
    ['flag without an oplock key', { ...base, oplockKey: undefined }],
    ['bad GUID', { ...base, oplockKey: 'not-a-guid' }],
    ['create flag unknown bit', { ...base, createFlags: 0x34 }],
    ['io-refused major', { ...(SAMPLE_EVENTS[13] as BridgeEvent), major: 5 }],
    ['oplock level', { ...(SAMPLE_EVENTS[2] as BridgeEvent), grantedLevel: 'LEVEL3' }],
    ['release reason', { ...(SAMPLE_EVENTS[6] as BridgeEvent), reason: 'nope' }],
    ['probe kind', { ...(SAMPLE_EVENTS[15] as BridgeEvent), kind: 'write' }],
    ['status past 32 bits', { ...close, status: 2 ** 32 }],
  ];
  it.each(badEvents)('event: %s', (_title, event) => {
    expect(() => encodeBatch([event as BridgeEvent])).toThrow(InvalidArgumentError);
  });

  it('events out of sequence, and an empty batch', () => {
    expect(() => encodeBatch([close, close])).toThrow(/does not continue/);
    expect(() => encodeBatch([])).toThrow(InvalidArgumentError);
  });

  it('a negative NTSTATUS is accepted and carried unsigned', () => {
    const bytes = encodeBatch([{ ...close, status: -1073741757 } as BridgeEvent]);
    expect(decodeBatch(bytes).events[0]?.status).toBe(0xc0000043);
  });
});
