/**
 * Wire codec throughput: decoding and encoding full 64 KiB event batches (the largest the driver
 * pushes), with typical names and without names, in events per second; and the small commands
 * a client sends. Side by side with JSON.parse / JSON.stringify of the same events as a yardstick.
 *
 * Run: npm run bench -- protocol
 */
import type { BridgeEvent } from '../src/bridge/events.js';
import {
  BatchBuilder,
  decodeBatch,
  decodeCommand,
  decodeReply,
  encodeCommand,
  encodeReply,
  FLTB_MAX_BATCH_BYTES,
} from '../src/protocol/index.js';
import { formatNs, formatRatio, printTable, time, writeResults } from './lib/harness.js';

const NAME = '\\Device\\HarddiskVolume3\\work\\projects\\fltbridge\\data\\file-0042.bin';

function event(seq: bigint, i: number, withName: boolean): BridgeEvent {
  const base = {
    seq,
    timestamp: 133444444440000000n + seq * 1000n,
    processId: 4242,
    threadId: 5000 + (i % 7),
    streamId: BigInt(1 + (i % 13)),
    fileObjectId: BigInt(0x100 + (i % 29)),
    operationId: 0x1000n + seq,
    status: i % 5 === 0 ? 0x103 : 0,
    flags: 0x1,
    ...(withName ? { name: NAME } : {}),
  };
  switch (i % 6) {
    case 0:
      return {
        type: 'create',
        ...base,
        desiredAccess: 0x120089,
        shareAccess: 3,
        createDisposition: 1,
        createOptions: 0x40,
        information: 1,
        createFlags: 0,
        fileSize: 4096n,
      };
    case 1:
      return {
        type: 'oplock-request',
        ...base,
        fsControlCode: 0x90240,
        requestedLevel: 'RWH',
        inputFlags: 1,
        openCount: 1,
        fsctrlFlags: 0,
      };
    case 2:
      return {
        type: 'oplock-break',
        ...base,
        fromLevel: 'RWH',
        toLevel: 'RH',
        breakFlags: 3,
        information: 0,
        causedByOperationId: 0x1000n + seq - 1n,
        causedByMajor: 0,
        causedByMinor: 0,
        causedByProcessId: 77,
      };
    case 3:
      return {
        type: 'lock-granted',
        ...base,
        offset: 0n,
        length: 100n,
        key: 0,
        lockFlags: 1,
        relatedOperationId: 0n,
      };
    case 4:
      return {
        type: 'io',
        ...base,
        major: 3,
        minor: 0,
        detail: 0,
        offset: 4096n,
        length: 4096n,
        information: 4096n,
      };
    default:
      return { type: 'close', ...base, streamReferences: 0 };
  }
}

/** Events that fill one FLTB_MAX_BATCH_BYTES batch, and its bytes. */
function fullBatch(withName: boolean): { events: BridgeEvent[]; bytes: Uint8Array } {
  const builder = new BatchBuilder();
  const events: BridgeEvent[] = [];
  for (let i = 0; ; i++) {
    const e = event(BigInt(1 + i), i, withName);
    if (!builder.tryAppend(e)) break;
    events.push(e);
  }
  return { events, bytes: builder.finish() };
}

const named = fullBatch(true);
const bare = fullBatch(false);

function encodeAll(events: readonly BridgeEvent[]): Uint8Array {
  const builder = new BatchBuilder();
  for (const e of events) builder.append(e);
  return builder.finish();
}

const json = JSON.stringify(named.events, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));

const rows: { label: string; events: number; bytes: number; nsPerBatch: number }[] = [];
function measure(label: string, events: number, bytes: number, fn: () => void): number {
  const t = time(fn, { samples: 7, minSampleMs: 60 });
  rows.push({ label, events, bytes, nsPerBatch: t.nsPerOp });
  return t.nsPerOp;
}

const decNamed = measure(
  'decodeBatch, named events',
  named.events.length,
  named.bytes.length,
  () => {
    decodeBatch(named.bytes);
  },
);
measure('decodeBatch, no names', bare.events.length, bare.bytes.length, () => {
  decodeBatch(bare.bytes);
});
const encNamed = measure(
  'BatchBuilder encode, named events',
  named.events.length,
  named.bytes.length,
  () => {
    encodeAll(named.events);
  },
);
measure('BatchBuilder encode, no names', bare.events.length, bare.bytes.length, () => {
  encodeAll(bare.events);
});
const jsonParse = measure(
  'JSON.parse of the named events (yardstick)',
  named.events.length,
  json.length,
  () => {
    JSON.parse(json);
  },
);
const jsonStringify = measure(
  'JSON.stringify of the named events (yardstick)',
  named.events.length,
  json.length,
  () => {
    JSON.stringify(named.events, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  },
);

printTable(
  `Event batches of FLTB_MAX_BATCH_BYTES (${FLTB_MAX_BATCH_BYTES} bytes max)`,
  ['operation', 'events', 'bytes', 'per batch', 'events/s', 'MB/s'],
  rows.map((r) => [
    r.label,
    r.events,
    r.bytes,
    formatNs(r.nsPerBatch),
    Math.round((r.events * 1e9) / r.nsPerBatch).toLocaleString('en-US'),
    ((r.bytes * 1e9) / r.nsPerBatch / 1e6).toFixed(1),
  ]),
);
printTable(
  'Ratios (same run)',
  ['comparison', 'ratio'],
  [
    ['decodeBatch vs JSON.parse of the same events', formatRatio(jsonParse / decNamed)],
    ['BatchBuilder vs JSON.stringify of the same events', formatRatio(jsonStringify / encNamed)],
    ['decode vs encode (named)', formatRatio(encNamed / decNamed)],
  ],
);

// Commands and replies: per message.
const configure = {
  command: 'configure',
  requestId: 1n,
  eventTypeMask: 0xffffen,
  queueLimit: 4096,
  namespaces: [
    { kind: 'managed', path: '\\Device\\HarddiskVolume3\\work' },
    { kind: 'observe', path: '\\Device\\HarddiskVolume3\\observe' },
  ],
} as const;
const configureBytes = encodeCommand(configure);
const stats = {
  command: 'get-stats',
  status: 0,
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
    perTypeProduced: Array.from({ length: 32 }, (_, i) => BigInt(i)),
  },
} as const;
const statsBytes = encodeReply(stats);
const small = [
  ['encodeCommand(CONFIGURE, 2 namespaces)', time(() => encodeCommand(configure))],
  ['decodeCommand(CONFIGURE, 2 namespaces)', time(() => decodeCommand(configureBytes))],
  ['encodeReply(GET_STATS)', time(() => encodeReply(stats))],
  ['decodeReply(GET_STATS)', time(() => decodeReply(statsBytes))],
] as const;
printTable(
  'Commands and replies',
  ['operation', 'per message', 'messages/s'],
  small.map(([label, t]) => [
    label,
    formatNs(t.nsPerOp),
    Math.round(1e9 / t.nsPerOp).toLocaleString('en-US'),
  ]),
);

const file = writeResults('protocol', {
  batches: rows.map((r) => ({
    ...r,
    eventsPerSecond: (r.events * 1e9) / r.nsPerBatch,
    megabytesPerSecond: (r.bytes * 1e9) / r.nsPerBatch / 1e6,
  })),
  ratios: {
    decodeVsJsonParse: jsonParse / decNamed,
    encodeVsJsonStringify: jsonStringify / encNamed,
  },
  messages: small.map(([label, t]) => ({ label, nsPerMessage: t.nsPerOp })),
});
console.log(`\nresults: ${file}`);
