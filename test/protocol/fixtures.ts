/**
 * The sample messages of test/c/proto_samples.c as TypeScript values, written independently of
 * the C (same numbers, typed again by hand): the codec must encode each to the C bytes and decode
 * the C bytes to each. The fuzz and rejection tests also start from these valid messages.
 */
import type { BridgeEvent } from '../../src/bridge/events.js';
import {
  type BatchHeader,
  type Command,
  type ConnectContext,
  encodeBatch,
  encodeCommand,
  encodeConnectContext,
  encodeReply,
  type Reply,
} from '../../src/protocol/index.js';

export type Sample =
  | { readonly kind: 'connect'; readonly value: Required<ConnectContext> }
  | { readonly kind: 'command'; readonly value: Command }
  | { readonly kind: 'reply'; readonly value: Reply }
  | {
      readonly kind: 'batch';
      readonly header: Omit<BatchHeader, 'totalBytes'>;
      readonly events: BridgeEvent[];
      /** False when the C bytes are not in the layout the encoder writes (decode-only sample). */
      readonly canonical: boolean;
    };

const STATUS_SUCCESS = 0;
const STATUS_PENDING = 0x103;
const STATUS_OPLOCK_HANDLE_CLOSED = 0x216;
const STATUS_INVALID_PARAMETER = 0xc000000d;
const STATUS_INVALID_DEVICE_REQUEST = 0xc0000010;
const STATUS_FILE_LOCK_CONFLICT = 0xc0000054;
const STATUS_LOCK_NOT_GRANTED = 0xc0000055;
const STATUS_REVISION_MISMATCH = 0xc0000059;
const STATUS_NOT_FOUND = 0xc0000225;
const FSCTL_REQUEST_OPLOCK = 0x00090240;

const MANAGED = 0x1;
const OBSERVED = 0x2;
const NAME_TRUNCATED = 0x4;
const FAST_IO = 0x8;
const SYNTHETIC = 0x10;

const VOLUME = '\\Device\\HarddiskVolume3';
export const NAME_A = `${VOLUME}\\work\\a.txt`;
/** e acute, euro sign, U+1F600 (a surrogate pair). */
export const NAME_B = `${VOLUME}\\work\\\u00e9\u20ac\ud83d\ude00.txt`;
export const NAME_T = `${VOLUME}\\work\\trip.txt`;
/** Unpaired surrogates: a low one then a high one. */
export const NAME_LONE = `${VOLUME}\\work\\bad\udc00\ud800z`;
/** Exactly FLTB_MAX_NAME_BYTES / 2 code units. */
export const NAME_LONG = (() => {
  let name = `${VOLUME}\\long\\`;
  while (name.length < 1024) name += String.fromCharCode(97 + (name.length % 26));
  return name;
})();

function common(seq: bigint, status: number, flags: number) {
  return {
    seq,
    timestamp: 133444444440000000n + seq * 1000n,
    processId: 4242,
    threadId: 5000 + Number(seq),
    streamId: 7n,
    fileObjectId: 0x100n,
    operationId: 0x1000n + seq,
    status,
    flags,
  };
}

export const SAMPLE_EVENTS: BridgeEvent[] = [
  {
    type: 'create',
    ...common(100n, STATUS_SUCCESS, MANAGED),
    name: NAME_A,
    desiredAccess: 0x00120089,
    shareAccess: 3,
    createDisposition: 1,
    createOptions: 0x00010040,
    information: 1,
    createFlags: 0x14,
    oplockKey: '12345678-9abc-def0-1122-334455667788',
    fileSize: 0x123456789n,
  },
  {
    type: 'oplock-request',
    ...common(101n, STATUS_PENDING, MANAGED),
    name: NAME_A,
    fsControlCode: FSCTL_REQUEST_OPLOCK,
    requestedLevel: 'RWH',
    inputFlags: 1,
    openCount: 1,
    fsctrlFlags: 0,
  },
  {
    type: 'oplock-granted',
    ...common(102n, STATUS_PENDING, MANAGED),
    name: NAME_A,
    grantedLevel: 'RWH',
  },
  {
    type: 'dropped',
    ...common(103n, STATUS_SUCCESS, SYNTHETIC),
    processId: 0,
    threadId: 0,
    streamId: 0n,
    fileObjectId: 0n,
    operationId: 0n,
    firstSequence: 103n,
    count: 5n,
  },
  {
    type: 'oplock-break',
    ...common(108n, STATUS_SUCCESS, MANAGED),
    name: NAME_B,
    fromLevel: 'RWH',
    toLevel: 'RH',
    breakFlags: 0x3,
    information: 0,
    causedByOperationId: 0x1000n + 107n,
    causedByMajor: 0x00,
    causedByMinor: 0,
    causedByProcessId: 777,
  },
  {
    type: 'oplock-acknowledged',
    ...common(109n, STATUS_SUCCESS, MANAGED),
    name: NAME_B,
    fsControlCode: FSCTL_REQUEST_OPLOCK,
    ackLevel: 'RH',
    inputFlags: 2,
    brokenRequestOperationId: 0x1000n + 101n,
  },
  {
    type: 'oplock-break-completed',
    ...common(110n, STATUS_SUCCESS, MANAGED),
    name: NAME_B,
    releasedByOperationId: 0x1000n + 109n,
    waiterMajor: 0x00,
    waiterMinor: 0,
    reason: 'acknowledged',
  },
  {
    type: 'oplock-completed',
    ...common(111n, STATUS_OPLOCK_HANDLE_CLOSED, MANAGED),
    name: NAME_A,
    level: 'NONE',
    outputFlags: 0,
    information: 0,
    reason: 'handle-closed',
  },
  {
    type: 'lock-granted',
    ...common(112n, STATUS_SUCCESS, MANAGED),
    name: NAME_A,
    offset: 0n,
    length: 100n,
    key: 0,
    lockFlags: 0x1,
    relatedOperationId: 0n,
  },
  {
    type: 'lock-denied',
    ...common(113n, STATUS_LOCK_NOT_GRANTED, MANAGED),
    name: NAME_A,
    offset: 50n,
    length: 10n,
    key: 9,
    lockFlags: 0x3,
    relatedOperationId: 0n,
  },
  {
    type: 'lock-waiting',
    ...common(114n, STATUS_PENDING, MANAGED),
    offset: 0xfffffffffffffff0n,
    length: 0x10n,
    key: 1,
    lockFlags: 0,
    relatedOperationId: 0n,
  },
  {
    type: 'unlocked',
    ...common(115n, STATUS_SUCCESS, MANAGED),
    name: NAME_A,
    offset: 0n,
    length: 100n,
    key: 0,
    lockFlags: 0x1,
    relatedOperationId: 0x1000n + 115n,
  },
  {
    type: 'unlock-all',
    ...common(116n, STATUS_SUCCESS, MANAGED),
    name: NAME_A,
    count: 2,
    key: 0,
    unlockFlags: 0x2,
  },
  {
    type: 'io-refused',
    ...common(117n, STATUS_FILE_LOCK_CONFLICT, OBSERVED),
    name: NAME_A,
    offset: 4096n,
    length: 512,
    key: 3,
    major: 0x04,
  },
  {
    type: 'io',
    ...common(118n, STATUS_SUCCESS, OBSERVED | NAME_TRUNCATED | FAST_IO),
    name: NAME_LONG,
    major: 0x03,
    minor: 0,
    detail: 0,
    offset: 0x200n,
    length: 0x1000n,
    information: 0x800n,
  },
  {
    type: 'probe-issued',
    ...common(119n, STATUS_PENDING, MANAGED),
    name: NAME_T,
    probeId: 7n,
    kind: 'oplock',
    oplockLevel: 'RH',
    offset: 0n,
    length: 0,
    probeFlags: 0x1,
  },
  {
    type: 'probe-completed',
    ...common(120n, STATUS_SUCCESS, MANAGED),
    timestamp: -5n,
    name: NAME_T,
    probeId: 7n,
    kind: 'oplock',
    probeFlags: 0x1,
    information: 0n,
    outputLevel: 'R',
    outputFlags: 1,
  },
  {
    type: 'cleanup',
    ...common(121n, STATUS_SUCCESS, MANAGED),
    name: NAME_A,
    openHandlesRemaining: 0,
    locksReleased: 2,
    cleanupFlags: 0x3,
  },
  {
    type: 'close',
    ...common(122n, STATUS_SUCCESS, MANAGED),
    name: NAME_LONE,
    streamReferences: 0,
  },
];

const perTypeProduced = Array.from({ length: 32 }, (_, t) =>
  t >= 1 && t <= 19 ? BigInt(100 + t) : t === 31 ? 0xffffffffffffffffn : 0n,
);

export const SAMPLES: Readonly<Record<string, Sample>> = {
  connect_context: { kind: 'connect', value: { version: 1, clientCapabilities: 0x1f } },
  hello_request: {
    kind: 'command',
    value: {
      command: 'hello',
      version: 1,
      requestId: 0x0102030405060708n,
      minVersion: 1,
      maxVersion: 3,
      clientCapabilities: 0x11,
      clientProcessId: 4242,
    },
  },
  hello_reply: {
    kind: 'reply',
    value: {
      command: 'hello',
      version: 1,
      status: STATUS_SUCCESS,
      requestId: 0x0102030405060708n,
      body: {
        protocolVersion: 1,
        driverMajor: 0,
        driverMinor: 1,
        driverPatch: 0,
        capabilities: 0x1f,
        maxRecordBytes: 2176,
        maxBatchBytes: 65536,
        queueLimit: 65536,
        nextSequence: 0x1122334455667788n,
        eventTypeMask: 0xffffen,
      },
    },
  },
  hello_reply_mismatch: {
    kind: 'reply',
    value: {
      command: 'hello',
      version: 9,
      status: STATUS_REVISION_MISMATCH,
      requestId: 77n,
      body: {
        protocolVersion: 1,
        driverMajor: 0,
        driverMinor: 1,
        driverPatch: 0,
        capabilities: 0x1f,
        maxRecordBytes: 2176,
        maxBatchBytes: 65536,
        queueLimit: 65536,
        nextSequence: 0n,
        eventTypeMask: 0n,
      },
    },
  },
  configure_request: {
    kind: 'command',
    value: {
      command: 'configure',
      version: 1,
      requestId: 2n,
      eventTypeMask: 0xffffen & ~(1n << 17n),
      queueLimit: 4096,
      namespaces: [
        { kind: 'managed', path: `${VOLUME}\\work` },
        { kind: 'observe', path: `${VOLUME}\\obs\\\u00e9\u20ac\ud83d\ude00x` },
      ],
    },
  },
  configure_queue_limit_request: {
    kind: 'command',
    value: { command: 'configure', version: 1, requestId: 12n, queueLimit: 16 },
  },
  configure_reply: {
    kind: 'reply',
    value: {
      command: 'configure',
      version: 1,
      status: STATUS_SUCCESS,
      requestId: 2n,
      body: { eventTypeMask: 0xdfffen, queueLimit: 4096, managedCount: 1, observeCount: 1 },
    },
  },
  get_stats_request: {
    kind: 'command',
    value: { command: 'get-stats', version: 1, requestId: 3n },
  },
  get_stats_reply: {
    kind: 'reply',
    value: {
      command: 'get-stats',
      version: 1,
      status: STATUS_SUCCESS,
      requestId: 3n,
      body: {
        eventsProduced: 1000n,
        eventsDelivered: 990n,
        eventsDropped: 10n,
        nextSequence: 1001n,
        queueDepth: 7,
        queueLimit: 4096,
        pendedOperations: 2,
        managedStreams: 3,
        activeProbes: 1,
        connections: 1,
        perTypeProduced,
      },
    },
  },
  probe_start_oplock_request: {
    kind: 'command',
    value: {
      command: 'probe-start',
      version: 1,
      requestId: 4n,
      kind: 'oplock',
      flags: 1,
      oplockLevel: 'RH',
      path: `${VOLUME}\\work\\trip.txt`,
    },
  },
  probe_start_read_request: {
    kind: 'command',
    value: {
      command: 'probe-start',
      version: 1,
      requestId: 5n,
      kind: 'read',
      flags: 0,
      readOffset: 0x100000000n,
      readLength: 4096,
      path: `${VOLUME}\\work\\data.bin`,
    },
  },
  probe_start_reply: {
    kind: 'reply',
    value: {
      command: 'probe-start',
      version: 1,
      status: STATUS_SUCCESS,
      requestId: 4n,
      body: { probeId: 7n },
    },
  },
  probe_stop_request: {
    kind: 'command',
    value: { command: 'probe-stop', version: 1, requestId: 6n, probeId: 7n },
  },
  probe_stop_reply: {
    kind: 'reply',
    value: { command: 'probe-stop', version: 1, status: STATUS_SUCCESS, requestId: 6n },
  },
  flush_events_request: {
    kind: 'command',
    value: { command: 'flush-events', version: 1, requestId: 8n, flags: 1 },
  },
  flush_events_reply: {
    kind: 'reply',
    value: {
      command: 'flush-events',
      version: 1,
      status: STATUS_SUCCESS,
      requestId: 8n,
      body: { discarded: 12n, nextSequence: 2000n },
    },
  },
  error_reply_configure: {
    kind: 'reply',
    value: { command: 'configure', version: 1, status: STATUS_INVALID_PARAMETER, requestId: 9n },
  },
  error_reply_probe_stop: {
    kind: 'reply',
    value: { command: 'probe-stop', version: 1, status: STATUS_NOT_FOUND, requestId: 10n },
  },
  error_reply_get_stats: {
    kind: 'reply',
    value: {
      command: 'get-stats',
      version: 1,
      status: STATUS_INVALID_DEVICE_REQUEST,
      requestId: 11n,
    },
  },
  error_reply_unknown_command: {
    kind: 'reply',
    value: {
      command: 'unknown',
      commandCode: 0x77,
      version: 1,
      status: STATUS_INVALID_DEVICE_REQUEST,
      requestId: 13n,
    },
  },
  event_batch: {
    kind: 'batch',
    header: {
      version: 1,
      recordCount: 19,
      firstSequence: 100n,
      lastSequence: 122n,
      droppedSinceLast: 5n,
    },
    events: SAMPLE_EVENTS,
    canonical: true,
  },
  event_batch_future: {
    kind: 'batch',
    header: {
      version: 1,
      recordCount: 2,
      firstSequence: 500n,
      lastSequence: 501n,
      droppedSinceLast: 0n,
    },
    events: [
      {
        type: 'close',
        ...common(500n, STATUS_SUCCESS, MANAGED),
        name: `${VOLUME}\\work\\f`,
        streamReferences: 1,
      },
      {
        type: 'io',
        ...common(501n, STATUS_SUCCESS, MANAGED),
        major: 0x04,
        minor: 0,
        detail: 0,
        offset: 0n,
        length: 1n,
        information: 1n,
      },
    ],
    canonical: false,
  },
};

/** Encode a sample with the TS codec. */
export function encodeSample(sample: Sample): Uint8Array {
  switch (sample.kind) {
    case 'connect':
      return encodeConnectContext(sample.value);
    case 'command':
      return encodeCommand(sample.value);
    case 'reply':
      return encodeReply(sample.value);
    case 'batch':
      return encodeBatch(sample.events, { version: sample.header.version });
  }
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
