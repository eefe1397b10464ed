/**
 * PortClient over a fake addon whose port is the model's port twin: HELLO and its mismatches,
 * commands, and the event stream's sequence rules (reordering of completions that overtook each
 * other, exact drops, a loss with no dropped record, a failing port).
 */
import { describe, expect, it } from 'vitest';
import { PortClient } from '../../src/backends/windows/port.js';
import { PortError, ProtocolError } from '../../src/bridge/errors.js';
import type { BridgeEvent } from '../../src/bridge/events.js';
import { RecordFlag } from '../../src/bridge/events.js';
import { encodeBatch } from '../../src/protocol/index.js';
import { FakeAddon } from './fake-addon.js';

function ioEvent(seq: bigint): BridgeEvent {
  return {
    type: 'io',
    seq,
    timestamp: 1n,
    processId: 1,
    threadId: 1,
    streamId: 1n,
    fileObjectId: 1n,
    operationId: seq,
    status: 0,
    flags: RecordFlag.OBSERVED,
    major: 3,
    minor: 0,
    detail: 0,
    offset: 0n,
    length: 1n,
    information: 1n,
  };
}

function batch(from: bigint, count: number): Uint8Array {
  return encodeBatch(Array.from({ length: count }, (_, i) => ioEvent(from + BigInt(i))));
}

async function connected() {
  const addon = new FakeAddon();
  const port = await PortClient.connect(addon);
  const seen: bigint[] = [];
  const errors: unknown[] = [];
  port.onBatch((events) => {
    for (const e of events) seen.push(e.seq);
  });
  port.onError((e) => errors.push(e));
  return { addon, port, seen, errors, first: port.hello.nextSequence };
}

describe('PortClient', () => {
  it('connects with the context, says HELLO and starts the slots', async () => {
    const { addon, port } = await connected();
    expect(port.version).toBe(1);
    expect(port.hello.maxBatchBytes).toBe(65536);
    const connect = addon.calls.find((c) => c.fn === 'portConnect');
    expect((connect?.args[1] as Uint8Array | undefined)?.byteLength).toBe(16);
    expect(addon.calls.find((c) => c.fn === 'portStart')?.args).toEqual([1, 4, 65536]);
    const stats = await port.getStats();
    expect(stats.connections).toBe(1);
    expect((await port.configure({ queueLimit: 4096 })).queueLimit).toBe(4096);
    expect((await port.flushEvents()).nextSequence).toBe(port.hello.nextSequence);
    await port.close();
  });

  it('names the versions when HELLO finds none in common', async () => {
    const error = await PortClient.connect(new FakeAddon(), { minVersion: 5, maxVersion: 6 }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(PortError);
    expect(error.message).toContain('the driver speaks protocol version 1, this library 5..6');
  });

  it('maps a missing port to ERROR_FILE_NOT_FOUND with what to do', async () => {
    const error = await PortClient.connect(new FakeAddon(), { name: '\\Other' }).catch((e) => e);
    expect(error).toMatchObject({ code: 'E_PORT', hresult: 0x80070002 });
    expect(error.message).toContain(
      'FilterConnectCommunicationPort(\\Other) failed with HRESULT 0x80070002',
    );
    expect(error.hint).toContain('fltbridge driver load');
  });

  it('puts batches that overtook each other back in sequence order', async () => {
    const { addon, port, seen, errors, first } = await connected();
    addon.pushPort(1, [
      { kind: 'events', data: batch(first + 4n, 2) },
      { kind: 'events', data: batch(first + 2n, 2) },
    ]);
    expect(seen).toEqual([]);
    addon.pushPort(1, [{ kind: 'events', data: batch(first, 2) }]);
    expect(seen).toEqual([0n, 1n, 2n, 3n, 4n, 5n].map((i) => first + i));
    expect(errors).toEqual([]);
    expect(port.eventStats).toMatchObject({
      events: 6,
      batches: 3,
      reordered: 2,
      protocolErrors: 0,
    });
    await port.close();
  });

  it('counts a dropped record as an exact gap, not an error', async () => {
    const { addon, port, seen, errors, first } = await connected();
    const dropped: BridgeEvent = {
      ...ioEvent(first + 1n),
      type: 'dropped',
      flags: RecordFlag.SYNTHETIC,
      firstSequence: first + 1n,
      count: 10n,
    } as BridgeEvent;
    addon.pushPort(1, [
      { kind: 'events', data: encodeBatch([ioEvent(first), dropped, ioEvent(first + 11n)]) },
    ]);
    expect(seen).toEqual([first, first + 1n, first + 11n]);
    expect(errors).toEqual([]);
    expect(port.eventStats).toMatchObject({ events: 2, dropped: 10n, nextSequence: first + 12n });
    await port.close();
  });

  it('reports a loss without a dropped record once it cannot be a reordering', async () => {
    const { addon, port, seen, errors, first } = await connected();
    // Sequence first..first+1 never arrives; 65 later batches do.
    for (let i = 0; i < 65; i += 1)
      addon.pushPort(1, [{ kind: 'events', data: batch(first + 2n + BigInt(i), 1) }]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ProtocolError);
    expect((errors[0] as ProtocolError).message).toContain(
      `events ${first}..${first + 1n} never arrived`,
    );
    expect(seen).toHaveLength(65);
    await port.close();
  });

  it('refuses a batch that repeats delivered sequence numbers', async () => {
    const { addon, port, seen, errors, first } = await connected();
    addon.pushPort(1, [{ kind: 'events', data: batch(first, 3) }]);
    addon.pushPort(1, [{ kind: 'events', data: batch(first + 1n, 1) }]);
    expect(seen).toHaveLength(3);
    expect((errors[0] as ProtocolError).reason).toBe('bad-sequence');
    await port.close();
  });

  it('reports a malformed batch as a protocol error and keeps going', async () => {
    const { addon, port, errors, seen, first } = await connected();
    addon.pushPort(1, [{ kind: 'events', data: new Uint8Array(10) }]);
    addon.pushPort(1, [{ kind: 'events', data: batch(first, 1) }]);
    expect(errors[0]).toBeInstanceOf(ProtocolError);
    expect(seen).toEqual([first]);
    await port.close();
  });

  it('turns a failed FilterGetMessage into one PortError and fails later commands', async () => {
    const { addon, port, errors } = await connected();
    addon.pushPort(1, [{ kind: 'port-error', status: 0xc0000037, win32: 6, hresult: 0x80070006 }]);
    addon.pushPort(1, [{ kind: 'port-error', status: 0xc0000037, win32: 6, hresult: 0x80070006 }]);
    expect(errors).toHaveLength(1);
    expect((errors[0] as PortError).message).toContain('STATUS_PORT_DISCONNECTED (0xC0000037)');
    expect(port.failure).toBe(errors[0]);
    await expect(port.getStats()).rejects.toBe(errors[0]);
    expect(await port.waitForSequence(10_000n, 10)).toBe(false);
    await port.close();
  });

  it('waits for a sequence number and gives up after its timeout', async () => {
    const { addon, port, first } = await connected();
    const waiting = port.waitForSequence(first + 2n, 5000);
    addon.pushPort(1, [{ kind: 'events', data: batch(first, 2) }]);
    expect(await waiting).toBe(true);
    expect(await port.waitForSequence(first + 100n, 20)).toBe(false);
    await port.close();
    await expect(port.getStats()).rejects.toBeInstanceOf(PortError);
  });
});
