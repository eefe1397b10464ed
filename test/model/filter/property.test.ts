/**
 * Property tests of the event stream (issue #4 deliverable 5), over random sequences of Bridge
 * operations on the model (opens with random access, sharing, dispositions and options; oplock
 * requests and acknowledgements of every kind; locks, unlocks, reads, writes, set-information,
 * flushes, cancels, closes, from several logical processes). Fixed seeds, 10,000 sequences in
 * all:
 *
 *   - nothing dropped (large queue): the records are exactly sequence numbers 1..N, in order,
 *     without a `dropped` record, and the counters add up (docs/events.md "Identifiers": seq is
 *     gap-free unless events were dropped);
 *   - a queue of 16 records drained at random moments: every sequence number is covered exactly
 *     once, by a record or inside one `dropped` record's run, runs are exact and the drop counter
 *     equals their total (docs/events.md "Drops"; fltbridge_proto.h "Event batches").
 *
 * Every operation must either return or throw a typed FltBridgeError: the model never crashes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createModelBridge, type ModelBridge } from '../../../src/backends/model.js';
import { FltBridgeError } from '../../../src/bridge/errors.js';
import type { BridgeEvent } from '../../../src/bridge/events.js';
import type { Handle, IoRequest, IoResult } from '../../../src/bridge/types.js';

const FILES = ['C:\\a', 'C:\\b'];

type Op =
  | {
      op: 'open';
      file: number;
      access: string;
      share: string;
      disposition: string;
      options: string;
    }
  | { op: 'close'; h: number }
  | { op: 'oplock'; h: number; level: string }
  | { op: 'ack'; h: number; kind: string; level: string }
  | {
      op: 'lock';
      h: number;
      offset: number;
      length: number;
      exclusive: boolean;
      wait: boolean;
      process: number;
    }
  | { op: 'unlock'; h: number; offset: number; length: number; process: number }
  | { op: 'unlock-all'; h: number; key: number | undefined }
  | { op: 'read'; h: number; offset: number; length: number }
  | { op: 'write'; h: number; offset: number; length: number }
  | { op: 'eof'; h: number; size: number }
  | { op: 'dispose'; h: number; deleteFile: boolean }
  | { op: 'rename'; h: number; file: number }
  | { op: 'flush'; h: number }
  | { op: 'cancel'; r: number }
  | { op: 'drain' };

const small = fc.integer({ min: 0, max: 8 });
const h = fc.nat(7);
const opArb = (drainWeight: number): fc.Arbitrary<Op> =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant('open' as const),
        file: fc.nat(1),
        access: fc.constantFrom('read', 'rw', 'read,delete', 'read-attributes', 'all', 'write'),
        share: fc.constantFrom('read,write,delete', 'read,write', 'read', 'none'),
        disposition: fc.constantFrom('open', 'open-if', 'overwrite-if', 'create', 'supersede'),
        options: fc.constantFrom(
          '',
          'complete_if_oplocked',
          'open_requiring_oplock',
          'delete_on_close',
        ),
      }),
    },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('close' as const), h }) },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant('oplock' as const),
        h,
        level: fc.constantFrom('LEVEL1', 'LEVEL2', 'BATCH', 'FILTER', 'R', 'RW', 'RH', 'RWH'),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('ack' as const),
        h,
        kind: fc.constantFrom(
          'acknowledge',
          'ack-no-2',
          'ack-close-pending',
          'ack',
          'break-notify',
        ),
        level: fc.constantFrom('NONE', 'R', 'RH', 'RW', 'RWH'),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant('lock' as const),
        h,
        offset: small,
        length: small,
        exclusive: fc.boolean(),
        wait: fc.boolean(),
        process: fc.integer({ min: 1, max: 2 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('unlock' as const),
        h,
        offset: small,
        length: small,
        process: fc.integer({ min: 1, max: 2 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('unlock-all' as const),
        h,
        key: fc.option(fc.nat(2), { nil: undefined }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant('read' as const), h, offset: small, length: small }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant('write' as const), h, offset: small, length: small }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('eof' as const), h, size: small }) },
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant('dispose' as const), h, deleteFile: fc.boolean() }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('rename' as const), h, file: fc.nat(1) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('flush' as const), h }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('cancel' as const), r: fc.nat(15) }) },
    { weight: drainWeight, arbitrary: fc.constant({ op: 'drain' as const }) },
  );

/** Run a sequence; returns the records in delivery order. */
function run(bridge: ModelBridge, ops: readonly Op[]): BridgeEvent[] {
  const records: BridgeEvent[] = [];
  bridge.subscribe((e) => records.push(e));
  const handles: Handle[] = [];
  const requests: IoRequest<IoResult>[] = [];
  const pick = (i: number) => (handles.length === 0 ? undefined : handles[i % handles.length]);
  const track = (r: IoRequest<IoResult>) => {
    if (r.completed === undefined) requests.push(r);
    return r;
  };
  for (const op of ops) {
    try {
      switch (op.op) {
        case 'open': {
          const r = bridge.open(FILES[op.file] as string, {
            access: op.access,
            share: op.share,
            disposition: op.disposition as 'open',
            options: op.options,
          });
          if (r.completed?.handle) handles.push(r.completed.handle);
          else void r.result.then((x) => x.handle && handles.push(x.handle));
          break;
        }
        case 'close': {
          const handle = pick(op.h);
          if (handle === undefined) break;
          handles.splice(handles.indexOf(handle), 1);
          bridge.close(handle);
          break;
        }
        case 'oplock': {
          const handle = pick(op.h);
          if (handle) track(bridge.requestOplock(handle, { level: op.level as 'R' }));
          break;
        }
        case 'ack': {
          const handle = pick(op.h);
          if (!handle) break;
          const ack =
            op.kind === 'ack'
              ? { kind: 'ack' as const, level: op.level as 'R' }
              : { kind: op.kind as 'acknowledge' };
          track(bridge.acknowledgeOplock(handle, ack));
          break;
        }
        case 'lock': {
          const handle = pick(op.h);
          if (!handle) break;
          track(
            bridge.lock(handle, {
              offset: BigInt(op.offset),
              length: BigInt(op.length),
              exclusive: op.exclusive,
              failImmediately: !op.wait,
              process: op.process,
            }),
          );
          break;
        }
        case 'unlock': {
          const handle = pick(op.h);
          if (handle) {
            bridge.unlock(handle, {
              offset: BigInt(op.offset),
              length: BigInt(op.length),
              process: op.process,
            });
          }
          break;
        }
        case 'unlock-all': {
          const handle = pick(op.h);
          if (handle) bridge.unlockAll(handle, op.key === undefined ? {} : { key: op.key });
          break;
        }
        case 'read': {
          const handle = pick(op.h);
          if (handle) track(bridge.read(handle, { offset: BigInt(op.offset), length: op.length }));
          break;
        }
        case 'write': {
          const handle = pick(op.h);
          if (handle) track(bridge.write(handle, { offset: BigInt(op.offset), data: op.length }));
          break;
        }
        case 'eof': {
          const handle = pick(op.h);
          if (handle)
            track(bridge.setInformation(handle, { class: 'end-of-file', size: BigInt(op.size) }));
          break;
        }
        case 'dispose': {
          const handle = pick(op.h);
          if (handle)
            track(
              bridge.setInformation(handle, { class: 'disposition', deleteFile: op.deleteFile }),
            );
          break;
        }
        case 'rename': {
          const handle = pick(op.h);
          if (handle) {
            track(
              bridge.setInformation(handle, {
                class: 'rename',
                target: FILES[op.file] as string,
                replaceIfExists: true,
              }),
            );
          }
          break;
        }
        case 'flush': {
          const handle = pick(op.h);
          if (handle) track(bridge.flush(handle));
          break;
        }
        case 'cancel': {
          const r = requests[op.r % Math.max(1, requests.length)];
          if (r) void bridge.cancel(r);
          break;
        }
        case 'drain':
          bridge.drainEvents();
          break;
      }
    } catch (error) {
      // Misuse is answered with a typed error (a handle closed by a racing close, say);
      // anything else is a crash.
      if (!(error instanceof FltBridgeError) || error.code === 'E_BUG_CHECK') throw error;
    }
  }
  bridge.drainEvents();
  return records;
}

function check(bridge: ModelBridge, records: readonly BridgeEvent[], expectDrops: boolean): void {
  const stats = bridge.filter.events.stats();
  const covered: bigint[] = [];
  let dropped = 0n;
  let last = 0n;
  for (const r of records) {
    expect(r.seq).toBeGreaterThan(last);
    if (r.type === 'dropped') {
      expect(r.seq).toBe(r.firstSequence);
      expect(r.count).toBeGreaterThan(0n);
      for (let s = r.firstSequence; s < r.firstSequence + r.count; s += 1n) covered.push(s);
      dropped += r.count;
      last = r.firstSequence + r.count - 1n;
    } else {
      covered.push(r.seq);
      last = r.seq;
    }
  }
  // Drops that no later event placed are still pending: they complete the coverage.
  const pending = bridge.filter.events.pendingDrops;
  if (pending)
    for (let s = pending.first; s < pending.first + pending.count; s += 1n) covered.push(s);
  const n = stats.nextSequence - 1n;
  expect(covered.length).toBe(Number(n));
  covered.forEach((s, i) => {
    if (s !== BigInt(i + 1)) expect(s).toBe(BigInt(i + 1));
  });
  expect(dropped + (pending?.count ?? 0n)).toBe(stats.dropped);
  expect(stats.produced).toBe(stats.delivered + stats.dropped);
  if (!expectDrops) expect(stats.dropped).toBe(0n);
}

/** Sequences that drain often (for the gap-free property, the queue never fills anyway). */
const SEQUENCES = fc.array(opArb(2), { minLength: 1, maxLength: 30 });
/** Longer sequences that rarely drain, so that a 16-record queue overflows. */
const OVERFLOWING = fc.array(opArb(1), { minLength: 20, maxLength: 60 });

describe('event stream properties (10,000 fixed-seed sequences)', () => {
  it('is gap-free when nothing is dropped: seq 1..N, no dropped record, counters exact (5,000 sequences)', () => {
    fc.assert(
      fc.property(SEQUENCES, (ops) => {
        const bridge = createModelBridge({
          files: { 'C:\\a': 'aaaa', 'C:\\b': 'bbbb' },
          deliver: 'manual',
        });
        const records = run(bridge, ops);
        expect(records.some((r) => r.type === 'dropped')).toBe(false);
        records.forEach((r, i) => {
          if (r.seq !== BigInt(i + 1)) expect(r.seq).toBe(BigInt(i + 1));
        });
        check(bridge, records, false);
      }),
      { seed: 0x5eed_0004, numRuns: 5000 },
    );
  });

  it('shows exact gaps when the queue limit is hit: every seq covered once, drops counted exactly (5,000 sequences)', () => {
    let sawDrops = 0;
    fc.assert(
      fc.property(OVERFLOWING, (ops) => {
        const bridge = createModelBridge({
          files: { 'C:\\a': 'aaaa', 'C:\\b': 'bbbb' },
          deliver: 'manual',
          queueLimit: 16,
        });
        const records = run(bridge, ops);
        if (bridge.filter.events.stats().dropped > 0n) sawDrops += 1;
        check(bridge, records, true);
      }),
      { seed: 0x5eed_0005, numRuns: 5000 },
    );
    // The generator overflows a 16-record queue often enough to test something.
    expect(sawDrops).toBeGreaterThan(1000);
  });
});
