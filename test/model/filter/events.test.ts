/**
 * The bounded event queue (twin of driver/src/events.c): sequence numbers at production, drop
 * runs, the dropped record's place, FLUSH_EVENTS DISCARD, exact counters, and the batch budget.
 *
 * Sources: docs/events.md "Identifiers" and "Drops"; fltbridge_proto.h "Event batches" (every
 * sequence number from FirstSequence to LastSequence is a record or inside a DROPPED record's
 * range; events filtered out by the mask take no sequence number) and DROPPED ("Sequence ==
 * FirstSequence"); driver-research §2 item 2 (queue full -> drop newest, never block).
 */
import { describe, expect, it } from 'vitest';
import { type BridgeEvent, eventMaskBit, RecordFlag } from '../../../src/bridge/events.js';
import {
  BATCH_HEADER_BYTES,
  type EventInit,
  EventQueue,
  MODEL_EPOCH,
  recordBytes,
} from '../../../src/model/filter/events.js';
import { recordBytes as codecRecordBytes } from '../../../src/protocol/batch.js';
import { FLTB_MAX_NAME_BYTES } from '../../../src/protocol/layout.js';

function io(name = 'C:\\f'): EventInit {
  return {
    type: 'io',
    processId: 1,
    threadId: 1,
    streamId: 1n,
    fileObjectId: 1n,
    operationId: 1n,
    status: 0,
    flags: RecordFlag.MANAGED,
    name,
    major: 3,
    minor: 0,
    detail: 0,
    offset: 0n,
    length: 1n,
    information: 1n,
  };
}

/** Every seq from 1 to next-1 is covered exactly once by the records (dropped runs included). */
function coverage(records: readonly BridgeEvent[]): bigint[] {
  const seen: bigint[] = [];
  for (const r of records) {
    if (r.type === 'dropped') {
      for (let s = r.firstSequence; s < r.firstSequence + r.count; s += 1n) seen.push(s);
    } else {
      seen.push(r.seq);
    }
  }
  return seen;
}

describe('EventQueue', () => {
  it('sequence numbers start at 1 and are gap-free while nothing is dropped; timestamps follow a logical clock', () => {
    const q = new EventQueue({ limit: 16 });
    for (let i = 0; i < 5; i += 1) q.produce(io());
    const records = q.take();
    expect(records.map((r) => r.seq)).toEqual([1n, 2n, 3n, 4n, 5n]);
    expect(records.map((r) => r.timestamp)).toEqual(
      [1n, 2n, 3n, 4n, 5n].map((s) => MODEL_EPOCH + s),
    );
  });

  it('events outside the mask are never produced and take no sequence number', () => {
    const q = new EventQueue({ mask: eventMaskBit('create') });
    expect(q.produce(io())).toBeUndefined();
    expect(q.nextSequence).toBe(1n);
    expect(q.stats().produced).toBe(0n);
  });

  it('a full queue drops the newest events, which still take sequence numbers', () => {
    const q = new EventQueue({ limit: 16 });
    for (let i = 0; i < 20; i += 1) q.produce(io());
    expect(q.depth).toBe(16);
    expect(q.nextSequence).toBe(21n);
    expect(q.pendingDrops).toEqual({ first: 17n, count: 4n });
    expect(q.stats().dropped).toBe(4n);
  });

  it('a run of drops becomes one dropped record, ahead of the next event that fits (fewer than limit records queued, as events.c)', () => {
    const q = new EventQueue({ limit: 16 });
    for (let i = 0; i < 20; i += 1) q.produce(io());
    q.take(BATCH_HEADER_BYTES + recordBytes(q.peek()[0] as BridgeEvent));
    expect(q.depth).toBe(15);
    q.produce(io());
    const tail = q.peek().slice(-2);
    expect(tail[0]).toMatchObject({
      type: 'dropped',
      seq: 17n,
      firstSequence: 17n,
      count: 4n,
      flags: RecordFlag.SYNTHETIC,
    });
    expect(tail[1]).toMatchObject({ type: 'io', seq: 21n });
    // The dropped record rides along: one record over the limit until the consumer drains.
    expect(q.depth).toBe(17);
    q.produce(io());
    expect(q.pendingDrops).toEqual({ first: 22n, count: 1n });
  });

  it('records never exceed the limit by more than the one dropped record, and cover every sequence number exactly once', () => {
    const q = new EventQueue({ limit: 16 });
    const all: BridgeEvent[] = [];
    for (let round = 0; round < 50; round += 1) {
      for (let i = 0; i < (round * 7) % 23; i += 1) q.produce(io());
      expect(q.depth).toBeLessThanOrEqual(17);
      all.push(...q.take(BATCH_HEADER_BYTES + 5 * 200));
    }
    q.produce(io());
    all.push(...q.take());
    const seen = coverage(all);
    const expected = Array.from({ length: Number(q.nextSequence - 1n) }, (_, i) => BigInt(i + 1));
    expect(seen).toEqual(expected);
  });

  it('counters are exact: produced = delivered + dropped + waiting', () => {
    const q = new EventQueue({ limit: 16 });
    for (let i = 0; i < 40; i += 1) {
      q.produce(io());
      if (i % 9 === 0) q.take(BATCH_HEADER_BYTES + 300);
      const s = q.stats();
      expect(s.produced).toBe(s.delivered + s.dropped + BigInt(q.waitingEvents));
    }
    expect(q.stats().perTypeProduced[17]).toBe(40n);
  });

  it('FLUSH_EVENTS DISCARD turns the queued records into one run of drops', () => {
    const q = new EventQueue({ limit: 16 });
    for (let i = 0; i < 20; i += 1) q.produce(io());
    expect(q.discard()).toBe(16);
    expect(q.depth).toBe(0);
    expect(q.pendingDrops).toEqual({ first: 1n, count: 20n });
    q.produce(io());
    expect(q.take().map((r) => [r.type, r.seq])).toEqual([
      ['dropped', 1n],
      ['io', 21n],
    ]);
    const s = q.stats();
    expect(s.dropped).toBe(20n);
    expect(s.produced).toBe(s.delivered + s.dropped);
  });

  it('take() stops at the batch budget, header included, and counts only events as delivered', () => {
    const q = new EventQueue();
    for (let i = 0; i < 3; i += 1) q.produce(io());
    const one = recordBytes(q.peek()[0] as BridgeEvent);
    expect(q.take(BATCH_HEADER_BYTES + 2 * one + one - 1)).toHaveLength(2);
    expect(q.stats().delivered).toBe(2n);
  });

  it('a name longer than FLTB_MAX_NAME_BYTES is cut at production and flagged NAME_TRUNCATED', () => {
    const q = new EventQueue();
    q.produce(io(`C:\\${'n'.repeat(3000)}`));
    const [record] = q.take();
    expect(record?.name?.length).toBe(FLTB_MAX_NAME_BYTES / 2);
    expect((record?.flags ?? 0) & RecordFlag.NAME_TRUNCATED).toBe(RecordFlag.NAME_TRUNCATED);
  });

  it('record sizes agree with the wire codec (src/protocol)', () => {
    const q = new EventQueue();
    q.produce(io('C:\\abc'));
    q.produce(io());
    for (const r of q.take()) expect(recordBytes(r)).toBe(codecRecordBytes(r));
  });

  it('forgetBefore drops old records silently (a new connection starts at NextSequence)', () => {
    const q = new EventQueue({ limit: 16 });
    for (let i = 0; i < 20; i += 1) q.produce(io());
    expect(q.forgetBefore(q.nextSequence)).toBe(16);
    expect(q.pendingDrops).toBeUndefined();
    q.produce(io());
    expect(q.take().map((r) => r.seq)).toEqual([21n]);
    const s = q.stats();
    expect(s.produced).toBe(s.delivered + s.dropped);
  });
});
