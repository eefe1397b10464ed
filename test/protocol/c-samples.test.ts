/**
 * Byte-for-byte agreement with C: the sample messages test/c/proto_samples.c builds from the
 * header (build/proto/{host,win}/samples.json, made by the proto-layout suite) are exactly what
 * the TS codec encodes from the values in fixtures.ts, and decode to exactly those values.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  decodeBatch,
  decodeCommand,
  decodeConnectContext,
  decodeReply,
  encodeBatch,
} from '../../src/protocol/index.js';
import { unavailable } from '../helpers/toolchain.js';
import { encodeSample, fromHex, SAMPLES, type Sample, toHex } from './fixtures.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const hostPath = join(root, 'build', 'proto', 'host', 'samples.json');
const winPath = join(root, 'build', 'proto', 'win', 'samples.json');
const skip = unavailable('proto-layout', [hostPath, winPath]);

interface SamplesDump {
  target: string;
  samples: Record<string, string>;
}

function decodeAs(sample: Sample, bytes: Uint8Array): unknown {
  switch (sample.kind) {
    case 'connect':
      return decodeConnectContext(bytes);
    case 'command':
      // HELLO may carry any version; every other sample uses the agreed version 1.
      return decodeCommand(bytes);
    case 'reply':
      return decodeReply(bytes);
    case 'batch':
      return decodeBatch(bytes);
  }
}

function expectedDecode(sample: Sample, bytes: Uint8Array): unknown {
  if (sample.kind === 'batch') {
    return { header: { ...sample.header, totalBytes: bytes.length }, events: sample.events };
  }
  return sample.value;
}

describe.skipIf(skip !== undefined)(`C sample messages${skip ? ` (skipped: ${skip})` : ''}`, () => {
  const load = (path: string): SamplesDump =>
    existsSync(path)
      ? (JSON.parse(readFileSync(path, 'utf8')) as SamplesDump)
      : { target: '', samples: {} };
  const host = load(hostPath);
  const win = load(winPath);
  const names = Object.keys(SAMPLES);

  it('the C program and fixtures.ts hold the same set of samples', () => {
    expect(Object.keys(host.samples).sort()).toEqual([...names].sort());
    expect(names.length).toBeGreaterThanOrEqual(20);
  });

  it('host gcc and clang/Windows (under Wine) made identical bytes', () => {
    expect(win.target).toBe('x86_64-w64-windows-gnu');
    expect(win.samples).toEqual(host.samples);
  });

  it('the event batch sample has a record of every event type, a dropped run and names', () => {
    const batch = decodeBatch(fromHex(host.samples.event_batch ?? ''));
    expect(new Set(batch.events.map((e) => e.type)).size).toBe(19);
    expect(batch.events.filter((e) => e.type === 'dropped')).toHaveLength(1);
    expect(batch.events.filter((e) => e.name !== undefined).length).toBeGreaterThan(15);
  });

  for (const [label, dump] of [
    ['host', host],
    ['windows', win],
  ] as const) {
    describe(`${label} build`, () => {
      it.each(
        names.filter(
          (n) => SAMPLES[n]?.kind !== 'batch' || (SAMPLES[n] as { canonical: boolean }).canonical,
        ),
      )('%s: TS encodes the values to the C bytes', (name) => {
        const sample = SAMPLES[name] as Sample;
        expect(toHex(encodeSample(sample))).toBe(dump.samples[name]);
      });

      it.each(names)('%s: TS decodes the C bytes to the values', (name) => {
        const sample = SAMPLES[name] as Sample;
        const bytes = fromHex(dump.samples[name] ?? '');
        expect(decodeAs(sample, bytes)).toEqual(expectedDecode(sample, bytes));
      });
    });
  }

  it('a batch from a later writer (grown payload, trailing bytes, reserved bits) decodes; re-encoding gives the canonical layout', () => {
    const bytes = fromHex(host.samples.event_batch_future ?? '');
    const decoded = decodeBatch(bytes);
    const canonical = encodeBatch(decoded.events);
    expect(canonical.length).toBeLessThan(bytes.length);
    expect(toHex(canonical)).not.toBe(toHex(bytes));
    expect(decodeBatch(canonical).events).toEqual(decoded.events);
  });
});
