/**
 * The windows backend's TypeScript over a fake addon (runs everywhere): what each Bridge call
 * asks the addon for (CreateFileW values, FSCTL codes and buffers, LockFileEx flags), how
 * completions become results, typed errors for misuse, and the platform guard.
 */
import { describe, expect, it } from 'vitest';
import { loadAddon } from '../../src/backends/windows/addon.js';
import { PortClient } from '../../src/backends/windows/port.js';
import { createWindowsBridge, WindowsBridge } from '../../src/backends/windows.js';
import {
  BackendUnavailableError,
  DisposedError,
  HandleClosedError,
  InvalidArgumentError,
  UnknownHandleError,
  UnsupportedPlatformError,
} from '../../src/bridge/errors.js';
import { Fsctl } from '../../src/bridge/flags.js';
import type { Handle } from '../../src/bridge/types.js';
import { FakeAddon } from './fake-addon.js';

function bridgeOver(addon = new FakeAddon(), port?: PortClient) {
  return { addon, bridge: new WindowsBridge(addon, 'fake.node', port, undefined, {}) };
}

async function openOne(
  bridge: WindowsBridge,
  path = 'C:\\t\\a.dat',
  options = {},
): Promise<Handle> {
  const r = await bridge.open(path, options).result;
  if (!r.handle) throw new Error('open failed');
  return r.handle;
}

describe.skipIf(process.platform === 'win32')('off Windows', () => {
  it('createWindowsBridge throws UnsupportedPlatformError naming the model backend', async () => {
    const error = await createWindowsBridge().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedPlatformError);
    expect((error as UnsupportedPlatformError).code).toBe('E_UNSUPPORTED_PLATFORM');
    expect((error as UnsupportedPlatformError).message).toContain('needs Windows');
    expect((error as UnsupportedPlatformError).hint).toContain('model backend');
  });

  it('loadAddon refuses before touching the file system', () => {
    expect(() => loadAddon('/nonexistent/fltbridge.node')).toThrow(UnsupportedPlatformError);
  });
});

describe('opens with CreateFileW values', () => {
  it('maps access, share, disposition, options and overlapped', async () => {
    const { addon, bridge } = bridgeOver();
    const r = await bridge.open('C:\\t\\a.dat', {
      access: 'rw',
      share: 'read',
      disposition: 'overwrite-if',
      options: 'FILE_WRITE_THROUGH,FILE_OPEN_REQUIRING_OPLOCK',
    }).result;
    expect(r).toMatchObject({
      status: 0,
      information: 2n,
      statusSource: 'last-status',
      pended: false,
    });
    expect(r.handle).toMatchObject({ path: 'C:\\t\\a.dat', process: process.pid });
    const [path, access, share, creation, flags] = addon.calls[0]?.args ?? [];
    expect(path).toBe('C:\\t\\a.dat');
    expect(access).toBe(0x00120089 | 0x00120116);
    expect(share).toBe(1);
    expect(creation).toBe(2); // CREATE_ALWAYS
    expect(flags).toBe((0x80 | 0x40000000 | 0x80000000 | 0x00040000) >>> 0);
  });

  it('opens a synchronous handle without FILE_FLAG_OVERLAPPED', async () => {
    const { addon, bridge } = bridgeOver();
    await bridge.open('C:\\t\\s.dat', { overlapped: false, disposition: 'open-if' }).result;
    expect(addon.calls[0]?.args[3]).toBe(4); // OPEN_ALWAYS
    expect(addon.calls[0]?.args[4]).toBe(0x80);
  });

  it('refuses what CreateFileW cannot express, naming it and the model backend', () => {
    const { bridge } = bridgeOver();
    for (const options of [
      { disposition: 'supersede' as const },
      { options: 'FILE_COMPLETE_IF_OPLOCKED' },
      { options: 'FILE_DIRECTORY_FILE' },
      { oplockKey: '{11111111-2222-3333-4444-555555555555}' },
      { allocationSize: 4096n },
      { process: process.pid + 1 },
      { options: 'FILE_SYNCHRONOUS_IO_NONALERT', overlapped: true },
    ]) {
      expect(
        () => bridge.open('C:\\x', options),
        JSON.stringify(options, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
      ).toThrow(InvalidArgumentError);
    }
  });
});

describe('oplock FSCTLs', () => {
  it('issues the legacy requests with no buffers and reads the broken-to level', async () => {
    const { addon, bridge } = bridgeOver();
    const h = await openOne(bridge);
    addon.script.set('ioctl', [{ status: 0, information: 7n }]);
    const r = await bridge.requestOplock(h, { level: 'BATCH' }).result;
    expect(addon.calls[1]?.args).toEqual([h.id, Fsctl.FSCTL_REQUEST_BATCH_OPLOCK, null, 0]);
    expect(r).toMatchObject({ status: 0, newLevel: 'LEVEL2' });
    for (const [level, code] of [
      ['LEVEL1', Fsctl.FSCTL_REQUEST_OPLOCK_LEVEL_1],
      ['LEVEL2', Fsctl.FSCTL_REQUEST_OPLOCK_LEVEL_2],
      ['FILTER', Fsctl.FSCTL_REQUEST_FILTER_OPLOCK],
    ] as const) {
      await bridge.requestOplock(h, { level }).result;
      expect(addon.calls.at(-1)?.args[1]).toBe(code);
    }
  });

  it('builds REQUEST_OPLOCK_INPUT_BUFFER and parses the output buffer', async () => {
    const { addon, bridge } = bridgeOver();
    const h = await openOne(bridge);
    const output = new Uint8Array(24);
    const v = new DataView(output.buffer);
    v.setUint16(0, 1, true);
    v.setUint16(2, 24, true);
    v.setUint32(4, 7, true); // original R|H|W
    v.setUint32(8, 3, true); // new R|H
    v.setUint32(12, 1, true); // ACK_REQUIRED
    addon.script.set('ioctl', [{ status: 0, information: 24n, data: output }]);
    const r = await bridge.requestOplock(h, { level: 'RWH', completeAckOnClose: true }).result;
    const [, code, input, outputLength] = addon.calls[1]?.args ?? [];
    expect(code).toBe(Fsctl.FSCTL_REQUEST_OPLOCK);
    expect(outputLength).toBe(24);
    expect([...(input as Uint8Array)]).toEqual([1, 0, 12, 0, 7, 0, 0, 0, 5, 0, 0, 0]);
    expect(r).toMatchObject({ originalLevel: 'RWH', newLevel: 'RH', ackRequired: true });
  });

  it('acknowledges legacy and Windows 7 breaks', async () => {
    const { addon, bridge } = bridgeOver();
    const h = await openOne(bridge);
    await bridge.acknowledgeOplock(h, { kind: 'acknowledge' }).result;
    expect(addon.calls.at(-1)?.args[1]).toBe(Fsctl.FSCTL_OPLOCK_BREAK_ACKNOWLEDGE);
    await bridge.acknowledgeOplock(h, { kind: 'ack-no-2' }).result;
    expect(addon.calls.at(-1)?.args[1]).toBe(Fsctl.FSCTL_OPLOCK_BREAK_ACK_NO_2);
    await bridge.acknowledgeOplock(h, { kind: 'ack-close-pending' }).result;
    expect(addon.calls.at(-1)?.args[1]).toBe(Fsctl.FSCTL_OPBATCH_ACK_CLOSE_PENDING);
    await bridge.acknowledgeOplock(h, { kind: 'break-notify' }).result;
    expect(addon.calls.at(-1)?.args[1]).toBe(Fsctl.FSCTL_OPLOCK_BREAK_NOTIFY);
    await bridge.acknowledgeOplock(h, { kind: 'ack', level: 'R' }).result;
    const input = addon.calls.at(-1)?.args[2] as Uint8Array;
    expect(addon.calls.at(-1)?.args[1]).toBe(Fsctl.FSCTL_REQUEST_OPLOCK);
    expect([...input.subarray(4)]).toEqual([1, 0, 0, 0, 2, 0, 0, 0]); // level R, flag ACK
    expect(() => bridge.acknowledgeOplock(h, { kind: 'ack', level: 'LEVEL1' as never })).toThrow(
      InvalidArgumentError,
    );
  });
});

describe('locks, reads, writes, set-information', () => {
  it('passes LockFileEx and UnlockFileEx ranges and flags', async () => {
    const { addon, bridge } = bridgeOver();
    const h = await openOne(bridge);
    await bridge.lock(h, {
      offset: 10n,
      length: 2n ** 40n,
      exclusive: false,
      failImmediately: false,
    }).result;
    expect(addon.calls.at(-1)?.args).toEqual([h.id, 10n, 2n ** 40n, false, false]);
    await bridge.lock(h, { offset: 0n, length: 1n }).result;
    expect(addon.calls.at(-1)?.args).toEqual([h.id, 0n, 1n, true, true]);
    await bridge.unlock(h, { offset: 0n, length: 1n }).result;
    expect(addon.calls.at(-1)).toMatchObject({ fn: 'unlock', args: [h.id, 0n, 1n] });
    expect(() => bridge.lock(h, { offset: 0n, length: 1n, key: 3 })).toThrow(InvalidArgumentError);
    expect(() => bridge.unlockAll(h)).toThrow(/no user-mode API/);
  });

  it('reads data and writes bytes or filler', async () => {
    const { addon, bridge } = bridgeOver();
    const h = await openOne(bridge);
    const r = await bridge.read(h, { offset: 5n, length: 3 }).result;
    expect([...r.data]).toEqual([7, 7, 7]);
    const w = await bridge.write(h, { offset: 0n, data: 4 }).result;
    expect(w.information).toBe(4n);
    expect([...((addon.calls.at(-1)?.args[2] as Uint8Array | undefined) ?? [])]).toEqual([
      0x5a, 0x5a, 0x5a, 0x5a,
    ]);
  });

  it('renames to an NT path and passes the other classes', async () => {
    const { addon, bridge } = bridgeOver();
    const h = await openOne(bridge);
    await bridge.setInformation(h, {
      class: 'rename',
      target: 'C:\\t\\b.dat',
      replaceIfExists: true,
    }).result;
    expect(addon.calls.at(-1)?.args).toEqual([h.id, 'rename', '\\??\\C:\\t\\b.dat', true]);
    await bridge.setInformation(h, { class: 'end-of-file', size: 100n }).result;
    expect(addon.calls.at(-1)?.args).toEqual([h.id, 'end-of-file', 100n]);
    await bridge.setInformation(h, { class: 'disposition', deleteFile: true }).result;
    expect(addon.calls.at(-1)?.args).toEqual([h.id, 'disposition', true]);
  });
});

describe('requests, handles and errors', () => {
  it('reports pending requests as not completed until the IOCP thread delivers them', async () => {
    const { addon, bridge } = bridgeOver();
    const h = await openOne(bridge);
    addon.manual = true;
    const lock = bridge.lock(h, { offset: 0n, length: 1n, failImmediately: false });
    expect(lock.completed).toBeUndefined();
    expect(addon.refs.at(-1)).toBe(true); // in flight: keep the event loop alive
    expect(await bridge.cancel(lock)).toBe(true);
    addon.complete(lock.id, { status: 0xc0000120, win32: 995, source: 0, pended: true } as never);
    const r = await lock.result;
    expect(r).toMatchObject({ status: 0xc0000120, win32: 995, statusSource: 'io-status-block' });
    expect(lock.completed).toBe(r);
    expect(addon.refs.at(-1)).toBe(false);
    expect(await bridge.cancel(lock)).toBe(false);
  });

  it('refuses closed, unknown and foreign handles with typed errors', async () => {
    const { bridge } = bridgeOver();
    const { bridge: other } = bridgeOver();
    const h = await openOne(bridge);
    const foreign = await openOne(other);
    await bridge.close(h).result;
    expect(() => bridge.read(h, { offset: 0n, length: 1 })).toThrow(HandleClosedError);
    expect(() => bridge.close(h)).toThrow(HandleClosedError);
    expect(() =>
      bridge.read({ id: 999, path: 'x', process: 1 }, { offset: 0n, length: 1 }),
    ).toThrow(UnknownHandleError);
    expect(() => bridge.read({ ...foreign }, { offset: 0n, length: 1 })).toThrow(
      UnknownHandleError,
    );
  });

  it('refuses events without a port, and everything after dispose', async () => {
    const { bridge } = bridgeOver();
    expect(bridge.capabilities).toEqual({ oplocks: true, events: false, processes: false });
    expect(() => bridge.subscribe(() => {})).toThrow(BackendUnavailableError);
    await bridge.dispose();
    expect(() => bridge.open('C:\\x')).toThrow(DisposedError);
    await bridge.dispose(); // idempotent
  });

  it('reports no oplock capability under Wine', () => {
    const addon = new FakeAddon();
    addon.wine = '8.0';
    expect(bridgeOver(addon).bridge.capabilities.oplocks).toBe(false);
  });
});

describe('events through the port', () => {
  it('delivers the port twin’s events to subscribers and settles on FLUSH_EVENTS', async () => {
    const addon = new FakeAddon();
    const port = await PortClient.connect(addon);
    const { bridge } = bridgeOver(addon, port);
    expect(bridge.capabilities.events).toBe(true);
    const seen: bigint[] = [];
    const unsubscribe = bridge.subscribe((e) => seen.push(e.seq));
    const twin = addon.twin(1);
    const h = (
      await addon.model.open('C:\\ev.dat', { access: 'rw', disposition: 'open-if' }).result
    ).handle as Handle;
    await addon.model.write(h, { offset: 0n, data: 8 }).result;
    const batch = twin?.nextBatch(65536);
    expect(batch).toBeDefined();
    addon.pushPort(1, [{ kind: 'events', data: batch as Uint8Array }]);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[0]).toBe(port.hello.nextSequence);
    unsubscribe();
    await bridge.dispose();
  });
});
