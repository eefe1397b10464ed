/**
 * Reads what the driver suite's host harness (driver/test/host, run by scripts/suites/50-driver.mjs)
 * wrote to build/driver/host/ and checks it against the TypeScript side:
 *
 *  - comm-vectors.json: every (command bytes, reply bytes) pair the C message callback produced on
 *    a validation path; the model's comm twin (src/model/filter/comm.ts) must give the same bytes;
 *  - batches.bin: the event batches the C events.c built; the TS codec (src/protocol) must decode
 *    every one and agree with the C harness's own totals (batches.json);
 *  - alloc.json: allocation tracking (every tagged allocation freed).
 *
 * This checks our control flow on Linux, not Windows' semantics.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NtStatus } from '../../src/bridge/ntstatus.js';
import { CommPort } from '../../src/model/filter/comm.js';
import { FltBridgeFilter } from '../../src/model/filter/filter.js';
import { FileSystem } from '../../src/model/fs/index.js';
import { decodeBatch } from '../../src/protocol/index.js';
import { unavailable } from '../helpers/toolchain.js';

const dir = join(process.cwd(), 'build', 'driver', 'host');
const vectorsPath = join(dir, 'comm-vectors.json');
const batchesPath = join(dir, 'batches.bin');
const batchesJsonPath = join(dir, 'batches.json');
const allocPath = join(dir, 'alloc.json');
const skip = unavailable('driver', [vectorsPath, batchesPath, batchesJsonPath, allocPath]);

interface Vector {
  name: string;
  state: 'fresh' | 'hello';
  outputLength: number;
  returnStatus: number;
  input: string;
  reply: string;
}

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function helloCommand(): Uint8Array {
  const b = Buffer.alloc(40);
  b.writeUInt32LE(0x4d434246, 0); // FBCM
  b.writeUInt16LE(1, 4);
  b.writeUInt16LE(1, 6);
  b.writeUInt32LE(40, 8);
  b.writeBigUInt64LE(1n, 16);
  b.writeUInt16LE(1, 24);
  b.writeUInt16LE(1, 26);
  return new Uint8Array(b);
}

function connectContext(): Uint8Array {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(0x4e434246, 0); // FBCN
  b.writeUInt16LE(1, 4);
  b.writeUInt16LE(16, 6);
  b.writeUInt32LE(0x1f, 8);
  return new Uint8Array(b);
}

/**
 * Replies that depend on the validation rules only (not on what a command did). The rules comm.c
 * adds for names (an NT path: a leading backslash, no NUL) and a read probe's offset (below
 * 2^63) are the model's too (src/model/filter/comm.ts ntPathValid), so their vectors are
 * compared like the others: "CONFIGURE name without a leading backslash", "CONFIGURE name with
 * a NUL", "PROBE_START read offset beyond 2^63", "PROBE_START path without a leading backslash".
 */
function validationPath(v: Vector): boolean {
  const reply = fromHex(v.reply);
  if (reply.length < 16) return true;
  const status = Buffer.from(reply).readInt32LE(12) >>> 0;
  return status !== NtStatus.STATUS_SUCCESS && status !== NtStatus.STATUS_OBJECT_PATH_NOT_FOUND;
}

describe.skipIf(skip !== undefined)(
  `driver host harness artifacts${skip ? ` (${skip})` : ''}`,
  () => {
    it('records command/reply vectors', () => {
      const { vectors } = JSON.parse(readFileSync(vectorsPath, 'utf8')) as { vectors: Vector[] };
      expect(vectors.length).toBeGreaterThan(60);
    });

    it('the NT-path and LARGE_INTEGER rules are among the compared vectors (none is skipped)', () => {
      const { vectors } = JSON.parse(readFileSync(vectorsPath, 'utf8')) as { vectors: Vector[] };
      const names = vectors.filter(validationPath).map((v) => v.name);
      for (const rule of [
        'CONFIGURE name without a leading backslash',
        'CONFIGURE name with a NUL',
        'PROBE_START read offset beyond 2^63',
        'PROBE_START path without a leading backslash',
      ]) {
        expect(names, rule).toContain(rule);
      }
      expect(vectors.some((v) => v.name.startsWith('[driver-only]'))).toBe(false);
    });

    const vectors = skip
      ? []
      : (JSON.parse(readFileSync(vectorsPath, 'utf8')) as { vectors: Vector[] }).vectors.filter(
          validationPath,
        );

    it.each(vectors.map((v) => [v.name, v] as const))(
      'model comm twin gives the driver’s reply bytes: %s',
      (_name, v) => {
        const filter = new FltBridgeFilter(new FileSystem());
        const port = new CommPort(filter);
        const connected = port.connect(connectContext());
        expect(connected.status).toBe(NtStatus.STATUS_SUCCESS);
        const connection = connected.connection!;
        if (v.state === 'hello') {
          expect(connection.message(helloCommand(), 64).status).toBe(NtStatus.STATUS_SUCCESS);
        }
        const result = connection.message(fromHex(v.input), v.outputLength);
        expect({ status: result.status >>> 0, reply: toHex(result.reply) }).toEqual({
          status: v.returnStatus >>> 0,
          reply: v.reply,
        });
      },
    );

    it('the TS codec decodes every batch the C events.c built, with the same totals', () => {
      const data = readFileSync(batchesPath);
      const expected = JSON.parse(readFileSync(batchesJsonPath, 'utf8')) as {
        batches: number;
        records: number;
        dropped: number;
        nextSequence: number;
        name: string;
      };
      let offset = 0;
      let batches = 0;
      let records = 0;
      let dropped = 0n;
      let next = 1n;
      let named = 0;
      while (offset < data.length) {
        const length = data.readUInt32LE(offset);
        const bytes = new Uint8Array(data.subarray(offset + 4, offset + 4 + length));
        offset += 4 + length;
        const batch = decodeBatch(bytes);
        batches += 1;
        records += batch.events.length;
        dropped += batch.header.droppedSinceLast;
        expect(batch.header.firstSequence).toBe(next);
        for (const event of batch.events) {
          expect(event.seq).toBe(next);
          next = event.type === 'dropped' ? event.firstSequence + event.count : event.seq + 1n;
          if (event.name === expected.name) named += 1;
        }
      }
      expect(batches).toBe(expected.batches);
      expect(records).toBe(expected.records);
      expect(dropped).toBe(BigInt(expected.dropped));
      expect(next).toBe(BigInt(expected.nextSequence));
      expect(named).toBeGreaterThan(0);
    });

    it('every tagged allocation of the harness run was freed', () => {
      const { tags } = JSON.parse(readFileSync(allocPath, 'utf8')) as {
        tags: { tag: string; allocations: number; frees: number; live: number }[];
      };
      expect(tags.length).toBeGreaterThan(3);
      for (const t of tags)
        expect({ tag: t.tag, live: t.live, frees: t.frees }).toEqual({
          tag: t.tag,
          live: 0,
          frees: t.allocations,
        });
    });
  },
);
