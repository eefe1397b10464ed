/**
 * fast-check arbitraries for valid wire values: every command, reply and event the codec must
 * carry, with fields anywhere in their ranges (names with unpaired surrogates, u64 extremes).
 */
import fc from 'fast-check';
import type { BridgeEvent, EventType } from '../../src/bridge/events.js';
import { guidFromBytes, OPLOCK_LEVELS, type OplockLevel } from '../../src/bridge/flags.js';
import type { Command, ConnectContext, Reply } from '../../src/protocol/index.js';

export const SEED = 0x5eed_f17b;

export const u8 = fc.integer({ min: 0, max: 0xff });
export const u16 = fc.integer({ min: 0, max: 0xffff });
export const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.constantFrom(0n, 1n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n),
);
export const i64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
export const status = u32;
const flagsOf = (valid: number) => u32.map((v) => v & valid);

/** Any UTF-16 code units, unpaired surrogates included, 1..max units. */
export const name = (max = 40) =>
  fc
    .array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: max })
    .map((units) => String.fromCharCode(...units));

/** Names as records carry them: mostly short, sometimes up to the 1024-unit limit. */
const recordName = fc.oneof(
  { weight: 8, arbitrary: name(40) },
  { weight: 1, arbitrary: name(1024) },
);

export const level = fc.constantFrom(...OPLOCK_LEVELS);
const nonNoneLevel = fc.constantFrom(...OPLOCK_LEVELS.filter((l) => l !== 'NONE')) as fc.Arbitrary<
  Exclude<OplockLevel, 'NONE'>
>;
export const guid = fc
  .uint8Array({ minLength: 16, maxLength: 16 })
  .map((bytes) => guidFromBytes(bytes));

export const connectContext: fc.Arbitrary<Required<ConnectContext>> = fc.record({
  version: fc.integer({ min: 1, max: 0xffff }),
  clientCapabilities: u32,
});

// ---------------------------------------------------------------------------------------------
// Commands.
// ---------------------------------------------------------------------------------------------

const version = fc.constant(1);
const requestId = u64;

export const command: fc.Arbitrary<Command> = fc.oneof(
  fc
    .record({
      version: u16,
      requestId,
      lo: u16,
      hi: u16,
      clientCapabilities: u32,
      clientProcessId: u32,
    })
    .map(({ lo, hi, ...rest }) => ({
      command: 'hello' as const,
      ...rest,
      minVersion: Math.min(lo, hi),
      maxVersion: Math.max(lo, hi),
    })),
  fc
    .record(
      {
        version,
        requestId,
        eventTypeMask: fc.bigInt({ min: 0n, max: 0xfffffn }).map((m) => m & 0xffffen),
        queueLimit: fc.integer({ min: 16, max: 1048576 }),
        namespaces: fc.array(
          fc.record({
            kind: fc.constantFrom('managed' as const, 'observe' as const),
            path: name(60),
          }),
          { maxLength: 32 },
        ),
      },
      { requiredKeys: ['version', 'requestId'] },
    )
    .map((c) => ({ command: 'configure' as const, ...c })),
  fc.record({ version, requestId }).map((c) => ({ command: 'get-stats' as const, ...c })),
  fc
    .record({
      version,
      requestId,
      flags: fc.integer({ min: 0, max: 1 }),
      oplockLevel: nonNoneLevel,
      path: name(1024),
    })
    .map((c) => ({ command: 'probe-start' as const, kind: 'oplock' as const, ...c })),
  fc
    .record({
      version,
      requestId,
      flags: fc.integer({ min: 0, max: 1 }),
      readOffset: u64,
      readLength: fc.integer({ min: 1, max: 65536 }),
      path: name(60),
    })
    .map((c) => ({ command: 'probe-start' as const, kind: 'read' as const, ...c })),
  fc
    .record({ version, requestId, probeId: u64 })
    .map((c) => ({ command: 'probe-stop' as const, ...c })),
  fc
    .record({ version, requestId, flags: fc.integer({ min: 0, max: 1 }) })
    .map((c) => ({ command: 'flush-events' as const, ...c })),
);

// ---------------------------------------------------------------------------------------------
// Replies.
// ---------------------------------------------------------------------------------------------

const success = fc.constantFrom(0, 0x103, 0x40000000, 0x7fffffff);
const failure = fc.integer({ min: 0x80000000, max: 0xffffffff });

const helloBody = fc.record({
  protocolVersion: u16,
  driverMajor: u16,
  driverMinor: u16,
  driverPatch: u16,
  capabilities: u32,
  maxRecordBytes: u32,
  maxBatchBytes: u32,
  queueLimit: u32,
  nextSequence: u64,
  eventTypeMask: u64,
});

export const reply: fc.Arbitrary<Reply> = fc.oneof(
  fc
    .record({ version: u16, status: success, requestId, body: helloBody })
    .map((r) => ({ command: 'hello' as const, ...r })),
  fc
    .record({ version: u16, status: fc.constant(0xc0000059), requestId, body: helloBody })
    .map((r) => ({ command: 'hello' as const, ...r })),
  fc
    .record({
      version,
      status: success,
      requestId,
      body: fc.record({
        eventTypeMask: u64,
        queueLimit: fc.integer({ min: 16, max: 1048576 }),
        managedCount: fc.integer({ min: 0, max: 16 }),
        observeCount: fc.integer({ min: 0, max: 16 }),
      }),
    })
    .map((r) => ({ command: 'configure' as const, ...r })),
  fc
    .record({
      version,
      status: success,
      requestId,
      body: fc.record({
        eventsProduced: u64,
        eventsDelivered: u64,
        eventsDropped: u64,
        nextSequence: u64,
        queueDepth: u32,
        queueLimit: u32,
        pendedOperations: u32,
        managedStreams: u32,
        activeProbes: u32,
        connections: u32,
        perTypeProduced: fc.array(u64, { minLength: 32, maxLength: 32 }),
      }),
    })
    .map((r) => ({ command: 'get-stats' as const, ...r })),
  fc
    .record({
      version,
      status: success,
      requestId,
      body: fc.record({ probeId: fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }) }),
    })
    .map((r) => ({ command: 'probe-start' as const, ...r })),
  fc.record({ version, status, requestId }).map((r) => ({ command: 'probe-stop' as const, ...r })),
  fc
    .record({
      version,
      status: success,
      requestId,
      body: fc.record({ discarded: u64, nextSequence: u64 }),
    })
    .map((r) => ({ command: 'flush-events' as const, ...r })),
  // Refusals: a bare header with a failure status, for any command.
  fc
    .record({
      version,
      status: failure,
      requestId,
      command: fc.constantFrom(
        'hello' as const,
        'configure' as const,
        'get-stats' as const,
        'probe-start' as const,
        'probe-stop' as const,
        'flush-events' as const,
      ),
    })
    .map((r): Reply => ({ ...r })),
  // Refusals of a command code that does not exist (0, or above FLTB_CMD_MAX).
  fc
    .record({
      version,
      status: failure,
      requestId,
      commandCode: fc.oneof(fc.constant(0), fc.integer({ min: 7, max: 0xffff })),
    })
    .map((r): Reply => ({ command: 'unknown', ...r })),
);

// ---------------------------------------------------------------------------------------------
// Events and batches.
// ---------------------------------------------------------------------------------------------

const baseFields = {
  timestamp: i64,
  processId: u32,
  threadId: u32,
  streamId: u64,
  fileObjectId: u64,
  operationId: u64,
  status,
};

function withBase<T extends Record<string, unknown>>(
  type: Exclude<EventType, 'dropped'>,
  payload: { [K in keyof T]: fc.Arbitrary<T[K]> },
): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .record({
      ...baseFields,
      flags: flagsOf(0x0f),
      name: fc.option(recordName, { nil: undefined }),
      payload: fc.record(payload),
    })
    .map(({ name: n, payload: p, ...base }) => ({
      type,
      ...base,
      ...(n === undefined ? {} : { name: n }),
      ...p,
    }));
}

const lockPayload = {
  offset: u64,
  length: u64,
  key: u32,
  lockFlags: flagsOf(0x7),
  relatedOperationId: u64,
};

const unsequenced: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc
    .record({
      ...baseFields,
      flags: flagsOf(0x0f).map((f) => f | 0x10),
      name: fc.option(recordName, { nil: undefined }),
      count: fc.oneof(fc.bigInt({ min: 1n, max: 1000n }), fc.bigInt({ min: 1n, max: 1n << 40n })),
    })
    .map(({ name: n, ...rest }) => ({
      type: 'dropped',
      ...rest,
      ...(n === undefined ? {} : { name: n }),
    })),
  fc
    .record({
      ...baseFields,
      flags: flagsOf(0x0f),
      name: fc.option(recordName, { nil: undefined }),
      desiredAccess: u32,
      shareAccess: u32,
      createDisposition: u32,
      createOptions: u32,
      information: u32,
      createFlags: flagsOf(0x0f),
      oplockKey: fc.option(guid, { nil: undefined }),
      fileSize: u64,
    })
    .map(({ name: n, oplockKey, createFlags, ...rest }) => ({
      type: 'create',
      ...rest,
      ...(n === undefined ? {} : { name: n }),
      createFlags: oplockKey === undefined ? createFlags : createFlags | 0x10,
      ...(oplockKey === undefined ? {} : { oplockKey }),
    })),
  withBase('cleanup', {
    openHandlesRemaining: u32,
    locksReleased: u32,
    cleanupFlags: flagsOf(0x3),
  }),
  withBase('close', { streamReferences: u32 }),
  withBase('oplock-request', {
    fsControlCode: u32,
    requestedLevel: level,
    inputFlags: u32,
    openCount: u32,
    fsctrlFlags: u32,
  }),
  withBase('oplock-granted', { grantedLevel: level }),
  withBase('oplock-break', {
    fromLevel: level,
    toLevel: level,
    breakFlags: flagsOf(0x7),
    information: u32,
    causedByOperationId: u64,
    causedByMajor: u8,
    causedByMinor: u8,
    causedByProcessId: u32,
  }),
  withBase('oplock-acknowledged', {
    fsControlCode: u32,
    ackLevel: level,
    inputFlags: u32,
    brokenRequestOperationId: u64,
  }),
  withBase('oplock-break-completed', {
    releasedByOperationId: u64,
    waiterMajor: u8,
    waiterMinor: u8,
    reason: fc.constantFrom(
      'acknowledged' as const,
      'handle-closed' as const,
      'no-ack-required' as const,
      'cancelled' as const,
      'teardown' as const,
    ),
  }),
  withBase('oplock-completed', {
    level,
    outputFlags: u32,
    information: u32,
    reason: fc.constantFrom(
      'refused' as const,
      'handle-closed' as const,
      'cancelled' as const,
      'switched' as const,
      'completed' as const,
    ),
  }),
  withBase('lock-granted', lockPayload),
  withBase('lock-denied', lockPayload),
  withBase('lock-waiting', lockPayload),
  withBase('unlocked', lockPayload),
  withBase('unlock-all', { count: u32, key: u32, unlockFlags: flagsOf(0x3) }),
  withBase('io-refused', { offset: u64, length: u32, key: u32, major: fc.constantFrom(3, 4) }),
  withBase('io', { major: u8, minor: u8, detail: u32, offset: u64, length: u64, information: u64 }),
  withBase('probe-issued', {
    probeId: u64,
    kind: fc.constantFrom('oplock' as const, 'read' as const),
    oplockLevel: level,
    offset: u64,
    length: u32,
    probeFlags: flagsOf(0x1),
  }),
  withBase('probe-completed', {
    probeId: u64,
    kind: fc.constantFrom('oplock' as const, 'read' as const),
    probeFlags: flagsOf(0x3),
    information: u64,
    outputLevel: level,
    outputFlags: u32,
  }),
);

/** Give events consecutive sequence numbers from `start` (a dropped run covers `count`). */
export function sequence(events: readonly Record<string, unknown>[], start: bigint): BridgeEvent[] {
  let seq = start;
  return events.map((e) => {
    const out =
      e.type === 'dropped'
        ? ({ ...e, seq, firstSequence: seq } as unknown as BridgeEvent)
        : ({ ...e, seq } as unknown as BridgeEvent);
    seq += e.type === 'dropped' ? (e.count as bigint) : 1n;
    return out;
  });
}

/** Events that fit one batch (<= 20 records, names up to 1024 units), consecutive sequence. */
export const batchEvents: fc.Arbitrary<BridgeEvent[]> = fc
  .record({
    events: fc.array(unsequenced, { minLength: 1, maxLength: 20 }),
    start: fc.oneof(fc.bigInt({ min: 0n, max: 1n << 62n }), fc.constant(0n), fc.constant(1n)),
  })
  .map(({ events, start }) => sequence(events, start));
