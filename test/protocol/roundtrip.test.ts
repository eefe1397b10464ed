/**
 * Property tests (fast-check, fixed seed): every valid command, reply, connect context and batch
 * survives encode -> decode unchanged, and decode -> encode gives back the same bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BridgeEvent } from '../../src/bridge/events.js';
import {
  BatchBuilder,
  decodeBatch,
  decodeCommand,
  decodeConnectContext,
  decodeReply,
  encodeBatch,
  encodeBatches,
  encodeCommand,
  encodeConnectContext,
  encodeReply,
  FLTB_MAX_BATCH_BYTES,
  nextSequenceAfter,
  recordBytes,
} from '../../src/protocol/index.js';
import { batchEvents, command, connectContext, reply, SEED, sequence } from './arbitraries.js';
import { SAMPLE_EVENTS, toHex } from './fixtures.js';

const params = { seed: SEED, numRuns: 300 };

describe('round trips', () => {
  it('connect context', () => {
    fc.assert(
      fc.property(connectContext, (ctx) => {
        const bytes = encodeConnectContext(ctx);
        expect(decodeConnectContext(bytes)).toEqual(ctx);
      }),
      params,
    );
  });

  it('commands: decode(encode(c)) == c and encode(decode(b)) == b', () => {
    fc.assert(
      fc.property(command, (cmd) => {
        const bytes = encodeCommand(cmd);
        const decoded = decodeCommand(bytes);
        expect(decoded).toEqual(cmd);
        expect(toHex(encodeCommand(decoded))).toBe(toHex(bytes));
      }),
      params,
    );
  });

  it('replies: decode(encode(r)) == r and encode(decode(b)) == b', () => {
    fc.assert(
      fc.property(reply, (r) => {
        const bytes = encodeReply(r);
        const decoded = decodeReply(bytes, {
          ...(r.command === 'unknown' ? {} : { command: r.command }),
          requestId: r.requestId,
        });
        expect(decoded).toEqual(r);
        expect(toHex(encodeReply(decoded))).toBe(toHex(bytes));
      }),
      params,
    );
  });

  it('batches: events, header and bytes survive', () => {
    fc.assert(
      fc.property(batchEvents, (events) => {
        const bytes = encodeBatch(events);
        const { header, events: decoded } = decodeBatch(bytes);
        expect(decoded).toEqual(events);
        const dropped = events.reduce((n, e) => n + (e.type === 'dropped' ? e.count : 0n), 0n);
        expect(header).toEqual({
          version: 1,
          recordCount: events.length,
          totalBytes: bytes.length,
          firstSequence: events[0]?.seq,
          lastSequence: events.at(-1)?.seq,
          droppedSinceLast: dropped,
        });
        expect(bytes.length).toBe(48 + events.reduce((n, e) => n + recordBytes(e), 0));
        expect(toHex(encodeBatch(decoded))).toBe(toHex(bytes));
      }),
      { ...params, numRuns: 150 },
    );
  });

  it('encodeBatches splits a long stream into valid batches that concatenate to it', () => {
    fc.assert(
      fc.property(fc.array(batchEvents, { minLength: 5, maxLength: 12 }), (chunks) => {
        // One long gap-free stream made of the generated chunks.
        let seq = 1n;
        const stream: BridgeEvent[] = [];
        for (const chunk of chunks) {
          const again = sequence(
            chunk.map(({ seq: _s, ...rest }) => rest as Record<string, unknown>),
            seq,
          );
          stream.push(...again);
          seq = nextSequenceAfter(again.at(-1) as BridgeEvent);
        }
        const batches = encodeBatches(stream, { maxBytes: 8192 });
        const back = batches.flatMap((b) => {
          expect(b.length).toBeLessThanOrEqual(8192);
          return decodeBatch(b).events;
        });
        expect(back).toEqual(stream);
      }),
      { seed: SEED, numRuns: 20 },
    );
  });
});

describe('names', () => {
  it('unpaired surrogates round-trip bit for bit', () => {
    for (const name of ['\ud800', '\udc00', 'a\udbff', '\udfff\ud800', '\ud83d\ude00', '\u0000x']) {
      const event = { ...SAMPLE_EVENTS[0], name } as BridgeEvent;
      const decoded = decodeBatch(encodeBatch([event])).events[0];
      expect(decoded?.name).toBe(name);
      expect([...(decoded?.name ?? '')].map((c) => c.codePointAt(0))).toEqual(
        [...name].map((c) => c.codePointAt(0)),
      );
    }
    const path = 'x\udc01y\ud801';
    const cmd = encodeCommand({
      command: 'probe-start',
      requestId: 1n,
      kind: 'read',
      readOffset: 0n,
      readLength: 1,
      path,
    });
    expect(decodeCommand(cmd)).toMatchObject({ path });
  });

  it('a record name longer than FLTB_MAX_NAME_BYTES is cut there and flagged NAME_TRUNCATED', () => {
    const long = 'n'.repeat(1500);
    const event = { ...SAMPLE_EVENTS[0], name: long, flags: 0x1 } as BridgeEvent;
    const [decoded] = decodeBatch(encodeBatch([event])).events;
    expect(decoded?.name).toBe('n'.repeat(1024));
    expect(decoded?.flags).toBe(0x1 | 0x4);
  });
});

describe('BatchBuilder', () => {
  const close = (seq: bigint, name?: string): BridgeEvent => ({
    type: 'close',
    seq,
    timestamp: 0n,
    processId: 1,
    threadId: 1,
    streamId: 1n,
    fileObjectId: 1n,
    operationId: seq,
    status: 0,
    flags: 0,
    streamReferences: 0,
    ...(name === undefined ? {} : { name }),
  });

  it('fills a batch to exactly FLTB_MAX_BATCH_BYTES and no further', () => {
    const builder = new BatchBuilder();
    // 48 + 30 * 2120 (64 + 8 + 2048) + 2 * 80 (a 4-unit name) + 24 * 72 (no name) = 65536.
    let seq = 1n;
    for (let i = 0; i < 30; i++) builder.append(close(seq++, 'x'.repeat(1024)));
    for (let i = 0; i < 2; i++) builder.append(close(seq++, 'abcd'));
    while (builder.tryAppend(close(seq))) seq++;
    expect(builder.byteLength).toBe(FLTB_MAX_BATCH_BYTES);
    expect(builder.tryAppend(close(seq))).toBe(false);
    const count = builder.recordCount;
    const bytes = builder.finish();
    expect(bytes.length).toBe(FLTB_MAX_BATCH_BYTES);
    const { header, events } = decodeBatch(bytes);
    expect(header.recordCount).toBe(count);
    expect(events.at(-1)?.seq).toBe(seq - 1n);
    // The builder starts over: the event that did not fit opens the next batch.
    expect(builder.isEmpty).toBe(true);
    builder.append(close(seq));
    expect(decodeBatch(builder.finish()).header.firstSequence).toBe(seq);
  });

  it('refuses an event that does not continue the sequence, and stays unchanged', () => {
    const builder = new BatchBuilder();
    builder.append(close(10n));
    expect(builder.nextSequence).toBe(11n);
    expect(() => builder.append(close(12n))).toThrow(/does not continue/);
    expect(builder.recordCount).toBe(1);
    builder.append({
      type: 'dropped',
      seq: 11n,
      firstSequence: 11n,
      count: 4n,
      timestamp: 0n,
      processId: 0,
      threadId: 0,
      streamId: 0n,
      fileObjectId: 0n,
      operationId: 0n,
      status: 0,
      flags: 0x10,
    });
    expect(builder.nextSequence).toBe(15n);
    builder.append(close(15n));
    expect(decodeBatch(builder.finish()).header).toMatchObject({
      recordCount: 3,
      firstSequence: 10n,
      lastSequence: 15n,
      droppedSinceLast: 4n,
    });
  });

  it('an invalid event leaves no trace in the batch', () => {
    const builder = new BatchBuilder();
    builder.append(close(1n, 'a'));
    expect(() => builder.append({ ...close(2n, 'b'), processId: -1 } as BridgeEvent)).toThrow(
      /processId/,
    );
    builder.append(close(2n, 'c'));
    const bytes = builder.finish();
    expect(toHex(bytes)).toBe(toHex(encodeBatch([close(1n, 'a'), close(2n, 'c')])));
  });

  it('a smaller maxBytes (HELLO MaxBatchBytes) is honoured; a record that can never fit is refused', () => {
    const builder = new BatchBuilder({ maxBytes: 48 + 72 * 2 });
    expect(builder.tryAppend(close(1n))).toBe(true);
    expect(builder.tryAppend(close(2n))).toBe(true);
    expect(builder.tryAppend(close(3n))).toBe(false);
    builder.finish();
    expect(() => builder.tryAppend(close(3n, 'x'.repeat(100)))).toThrow(/does not fit/);
    expect(() => new BatchBuilder({ maxBytes: 70_000 })).toThrow(/maxBytes/);
    expect(() => builder.finish()).toThrow(/at least one record/);
  });
});
