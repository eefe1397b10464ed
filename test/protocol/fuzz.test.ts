/**
 * Fixed-seed fuzzing of every decoder: 100,000 inputs, random and mutated from valid messages
 * (bit flips, byte stamps, truncation, extension, length-field edits with and without a matching
 * buffer length, splices, record swaps / duplicates / removals). Each input goes to all four
 * decoders. Every outcome must be a decoded value or a ProtocolError (never 'internal', always
 * with an offset inside the buffer); every decoded value must re-encode, and re-encoding must be
 * a fixpoint. The run has a time budget: decoding is linear and must never hang.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError, type ProtocolErrorReason } from '../../src/bridge/errors.js';
import {
  decodeBatch,
  decodeCommand,
  decodeConnectContext,
  decodeReply,
  encodeBatch,
  encodeCommand,
  encodeConnectContext,
  encodeReply,
  FLTB_MAGIC_BATCH,
  FLTB_MAGIC_COMMAND,
  FLTB_MAGIC_CONNECT,
  FLTB_MAGIC_REPLY,
} from '../../src/protocol/index.js';
import { batchEvents, command, connectContext, reply, SEED } from './arbitraries.js';
import { encodeSample, SAMPLES } from './fixtures.js';

const INPUTS = 100_000;
const BUDGET_MS = 20_000;

/** xorshift32 (G. Marsaglia, "Xorshift RNGs", J. Stat. Software 8(14), 2003). */
function makeRandom(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  /** 0 .. n-1 */
  const below = (n: number) => (n <= 0 ? 0 : next() % n);
  return { next, below };
}

interface Seed {
  readonly bytes: Uint8Array;
  /** [offset, width] of the length / count / offset fields, the interesting ones to edit. */
  readonly fields: readonly (readonly [number, 2 | 4 | 8])[];
  /** Record [start, end) offsets, for batches. */
  readonly records: readonly (readonly [number, number])[];
}

function dv(b: Uint8Array) {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Find the fields worth editing in a valid message. */
function describeSeed(bytes: Uint8Array): Seed {
  const v = dv(bytes);
  const magic = v.getUint32(0, true);
  const fields: [number, 2 | 4 | 8][] = [];
  const records: [number, number][] = [];
  if (magic === FLTB_MAGIC_CONNECT) fields.push([4, 2], [6, 2]);
  if (magic === FLTB_MAGIC_REPLY) fields.push([4, 2], [6, 2], [8, 4], [12, 4]);
  if (magic === FLTB_MAGIC_COMMAND) {
    fields.push([4, 2], [6, 2], [8, 4]);
    const code = v.getUint16(6, true);
    if (code === 2) {
      fields.push([36, 4], [40, 2]);
      for (let o = 48, i = 0; i < v.getUint16(40, true); i++) {
        fields.push([o, 2], [o + 2, 2], [o + 4, 2]);
        o += v.getUint16(o, true);
      }
    }
    if (code === 4) fields.push([24, 4], [32, 4], [36, 4], [48, 2]);
  }
  if (magic === FLTB_MAGIC_BATCH) {
    fields.push([6, 2], [8, 4], [12, 4], [16, 8], [24, 8], [32, 8]);
    for (let o = 48; o < bytes.length; ) {
      const size = v.getUint32(o, true);
      records.push([o, o + size]);
      fields.push([o, 4], [o + 4, 2], [o + 6, 2], [o + 8, 8], [o + 60, 2], [o + 62, 2]);
      if (v.getUint16(o + 4, true) === 1) fields.push([o + 64, 8], [o + 72, 8]);
      o += size;
    }
  }
  return { bytes, fields, records };
}

function buildCorpus(): Seed[] {
  const messages: Uint8Array[] = Object.values(SAMPLES).map(encodeSample);
  for (const c of fc.sample(command, { seed: SEED, numRuns: 60 })) messages.push(encodeCommand(c));
  for (const r of fc.sample(reply, { seed: SEED, numRuns: 60 })) messages.push(encodeReply(r));
  for (const c of fc.sample(connectContext, { seed: SEED, numRuns: 10 })) {
    messages.push(encodeConnectContext(c));
  }
  for (const events of fc.sample(batchEvents, { seed: SEED, numRuns: 40 })) {
    messages.push(encodeBatch(events));
  }
  return messages.map(describeSeed);
}

const INTERESTING = [0, 1, 2, 7, 8, 0x10, 0x3f, 0x40, 0x7f, 0x80, 0xfe, 0xff];

function mutate(
  seed: Seed,
  corpus: readonly Seed[],
  rnd: ReturnType<typeof makeRandom>,
): Uint8Array {
  const src = seed.bytes;
  switch (rnd.below(9)) {
    case 0: {
      // Bit flips.
      const out = src.slice();
      for (let n = 1 + rnd.below(4); n > 0 && out.length > 0; n--) {
        const i = rnd.below(out.length);
        out[i] = (out[i] as number) ^ (1 << rnd.below(8));
      }
      return out;
    }
    case 1: {
      // Interesting byte values.
      const out = src.slice();
      for (let n = 1 + rnd.below(3); n > 0 && out.length > 0; n--) {
        out[rnd.below(out.length)] = INTERESTING[rnd.below(INTERESTING.length)] as number;
      }
      return out;
    }
    case 2:
      // Truncation (a view: decoders must not read past it).
      return src.subarray(0, rnd.below(src.length + 1));
    case 3: {
      // Extension with zeros or noise.
      const out = new Uint8Array(src.length + 1 + rnd.below(64));
      out.set(src);
      if (rnd.below(2)) for (let i = src.length; i < out.length; i++) out[i] = rnd.below(256);
      return out;
    }
    case 4:
    case 5: {
      // Length / count / offset field edits; half the time the buffer follows the new Size.
      const field = seed.fields[rnd.below(seed.fields.length)];
      if (field === undefined || field[0] + field[1] > src.length) return src.slice();
      const [offset, width] = field;
      const out = src.slice();
      const v = dv(out);
      const max = width === 2 ? 0xffff : 0xffffffff;
      const cur =
        width === 8
          ? Number(v.getBigUint64(offset, true) & 0xffffffffn)
          : width === 2
            ? v.getUint16(offset, true)
            : v.getUint32(offset, true);
      const choices = [
        cur + 1,
        cur - 1,
        cur + 2,
        cur - 2,
        cur + 8,
        cur - 8,
        0,
        max,
        cur * 2,
        rnd.below(max + 1),
        rnd.below(4096),
      ];
      const picked = choices[rnd.below(choices.length)] as number;
      const value = width === 2 ? picked & 0xffff : picked >>> 0;
      if (width === 8)
        v.setBigUint64(offset, BigInt(value >>> 0) + (rnd.below(4) === 0 ? 1n << 63n : 0n), true);
      else if (width === 2) v.setUint16(offset, value, true);
      else v.setUint32(offset, value >>> 0, true);
      if (isTotalSizeField(offset, width, src) && rnd.below(2) && value <= 70_000) {
        const resized = new Uint8Array(value);
        resized.set(out.subarray(0, Math.min(out.length, value)));
        return resized;
      }
      return out;
    }
    case 6: {
      // Splice: a prefix of this message and a suffix of another.
      const other = corpus[rnd.below(corpus.length)]?.bytes ?? src;
      const cut = rnd.below(src.length + 1);
      const from = rnd.below(other.length + 1);
      const out = new Uint8Array(cut + other.length - from);
      out.set(src.subarray(0, cut));
      out.set(other.subarray(from), cut);
      return out;
    }
    case 7: {
      // Record surgery on batches: swap, duplicate or drop a record, fixing the header counts.
      if (seed.records.length === 0) return src.slice();
      const order = seed.records.map((_, i) => i);
      const op = rnd.below(3);
      const i = rnd.below(order.length);
      const j = rnd.below(order.length);
      if (op === 0) [order[i], order[j]] = [order[j] as number, order[i] as number];
      else if (op === 1) order.splice(i, 0, order[i] as number);
      else if (order.length > 1) order.splice(i, 1);
      const parts = order.map((k) => seed.records[k] as readonly [number, number]);
      const total = 48 + parts.reduce((n, [a, b]) => n + b - a, 0);
      const out = new Uint8Array(total);
      out.set(src.subarray(0, 48));
      let o = 48;
      for (const [a, b] of parts) {
        out.set(src.subarray(a, b), o);
        o += b - a;
      }
      const v = dv(out);
      v.setUint32(8, parts.length, true);
      v.setUint32(12, total, true);
      return out;
    }
    default: {
      // A message type's magic and a matching size field on top of noise.
      const out = src.slice();
      const from = 8 + rnd.below(Math.max(1, out.length - 8));
      for (let i = from; i < out.length && i < from + 16; i++) out[i] = rnd.below(256);
      return out;
    }
  }
}

/** Whether the field at `offset` is the message's total size (Size / TotalBytes). */
function isTotalSizeField(offset: number, width: number, src: Uint8Array): boolean {
  const magic = dv(src).getUint32(0, true);
  if (width !== 4) return false;
  if (magic === FLTB_MAGIC_BATCH) return offset === 12;
  return (magic === FLTB_MAGIC_COMMAND || magic === FLTB_MAGIC_REPLY) && offset === 8;
}

const MAGICS = [FLTB_MAGIC_CONNECT, FLTB_MAGIC_COMMAND, FLTB_MAGIC_REPLY, FLTB_MAGIC_BATCH];

function randomBuffer(rnd: ReturnType<typeof makeRandom>): Uint8Array {
  const length = rnd.below(rnd.below(8) === 0 ? 4096 : 160);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = rnd.below(256);
  const v = dv(out);
  if (length >= 16 && rnd.below(2)) {
    const magic = MAGICS[rnd.below(MAGICS.length)] as number;
    v.setUint32(0, magic, true);
    v.setUint16(4, 1, true);
    if (magic === FLTB_MAGIC_BATCH) {
      v.setUint16(6, 48, true);
      v.setUint32(12, length, true);
    } else if (magic === FLTB_MAGIC_CONNECT) {
      v.setUint16(6, 16, true);
    } else {
      v.setUint16(6, 1 + rnd.below(6), true);
      v.setUint32(8, length, true);
    }
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

type Decoder = {
  readonly name: string;
  readonly decode: (b: Uint8Array) => unknown;
  readonly encode: (v: never) => Uint8Array;
};

const DECODERS: readonly Decoder[] = [
  { name: 'connect', decode: decodeConnectContext, encode: encodeConnectContext },
  { name: 'command', decode: (b) => decodeCommand(b), encode: encodeCommand },
  { name: 'reply', decode: (b) => decodeReply(b), encode: encodeReply },
  {
    name: 'batch',
    decode: (b) => decodeBatch(b),
    encode: ((v: { events: never[] }) => encodeBatch(v.events)) as (v: never) => Uint8Array,
  },
];

describe('fuzz', () => {
  it(`${INPUTS} random and mutated buffers: each decoder decodes or throws ProtocolError`, () => {
    const rnd = makeRandom(SEED);
    const corpus = buildCorpus();
    const problems: string[] = [];
    const reasons = new Map<ProtocolErrorReason, number>();
    let inputs = 0;
    let decoded = 0;
    let decoderCalls = 0;
    // Stack traces are most of the cost of a thrown error and say nothing here.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    const started = performance.now();

    try {
      for (let n = 0; n < INPUTS; n++) {
        let input: Uint8Array;
        if (rnd.below(100) < 12) {
          input = randomBuffer(rnd);
        } else {
          const seed = corpus[rnd.below(corpus.length)] as Seed;
          input = mutate(seed, corpus, rnd);
          // Stack a second or third mutation now and then.
          for (let extra = rnd.below(4); extra >= 2 && input.length >= 8; extra--) {
            input = mutate(describeSeedSafe(input) ?? seed, corpus, rnd);
          }
        }
        inputs++;
        for (const d of DECODERS) {
          decoderCalls++;
          let value: unknown;
          try {
            value = d.decode(input);
          } catch (error) {
            if (!(error instanceof ProtocolError)) {
              problems.push(`${d.name}: threw ${String(error)} on ${hex(input)}`);
            } else if (error.reason === 'internal') {
              problems.push(`${d.name}: ${error.message} on ${hex(input)}`);
            } else if (
              !(Number.isInteger(error.offset) && error.offset >= 0 && error.offset <= input.length)
            ) {
              problems.push(`${d.name}: offset ${error.offset} outside 0..${input.length}`);
            } else {
              reasons.set(error.reason, (reasons.get(error.reason) ?? 0) + 1);
            }
            continue;
          }
          decoded++;
          // A decoded value re-encodes, and re-encoding is a fixpoint.
          try {
            const once = d.encode(value as never);
            const twice = d.encode(d.decode(once) as never);
            if (!sameBytes(once, twice))
              problems.push(`${d.name}: re-encoding is not a fixpoint for ${hex(input)}`);
          } catch (error) {
            problems.push(
              `${d.name}: decoded value does not re-encode (${String(error)}) for ${hex(input)}`,
            );
          }
        }
        if (problems.length >= 10) break;
      }
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    const elapsed = performance.now() - started;

    expect(problems).toEqual([]);
    expect(inputs).toBeGreaterThanOrEqual(100_000);
    expect(decoderCalls).toBe(inputs * DECODERS.length);
    // The mutations reach deep: most refusal reasons occur, and some inputs still decode.
    expect(decoded).toBeGreaterThan(1000);
    expect([...reasons.keys()].length).toBeGreaterThanOrEqual(14);
    expect(elapsed).toBeLessThan(BUDGET_MS);
    console.log(
      `fuzz: ${inputs} inputs, ${decoderCalls} decoder calls, ${decoded} decoded, ` +
        `${Math.round(elapsed)} ms; refusals: ${[...reasons].map(([r, c]) => `${r} ${c}`).join(', ')}`,
    );
  });
});

/** Field map of a mutated buffer when it still looks like a message, for stacked mutations. */
function describeSeedSafe(bytes: Uint8Array): Seed | undefined {
  try {
    const v = dv(bytes);
    const magic = v.getUint32(0, true);
    if (magic === FLTB_MAGIC_BATCH) {
      // Walk records only while sizes are sane and inside the buffer.
      const records: [number, number][] = [];
      for (let o = 48; o + 64 <= bytes.length; ) {
        const size = v.getUint32(o, true);
        if (size < 64 || o + size > bytes.length) break;
        records.push([o, o + size]);
        o += size;
      }
      return {
        bytes,
        fields: [
          [8, 4],
          [12, 4],
        ],
        records,
      };
    }
    return { bytes, fields: [[8, 4]], records: [] };
  } catch {
    return undefined;
  }
}

function hex(bytes: Uint8Array): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  return text.length > 200 ? `${text.slice(0, 200)}... (${bytes.length} bytes)` : text;
}
