/**
 * The model backend end to end: the Bridge surface (src/bridge/types.ts), pending operations as
 * promises, cancellation, the live event stream, disposal, and bad input (issue #4: "Bad input to
 * the model's public surface ... gets the NTSTATUS Windows would return or a typed error, never a
 * crash or a silent success").
 */
import { describe, expect, it } from 'vitest';
import { createModelBridge } from '../../src/backends/model.js';
import {
  DisposedError,
  HandleClosedError,
  InvalidArgumentError,
  UnknownHandleError,
} from '../../src/bridge/errors.js';
import type { BridgeEvent } from '../../src/bridge/events.js';
import { NtStatus as S } from '../../src/bridge/ntstatus.js';
import type { Bridge, Handle } from '../../src/bridge/types.js';

const files = { 'C:\\f': 'hello' };

function opened(bridge: Bridge, path = 'C:\\f', options = {}): Handle {
  const r = bridge.open(path, options).completed;
  if (r?.handle === undefined) throw new Error(`open ${path} failed`);
  return r.handle;
}

describe('createModelBridge', () => {
  it('is the model backend with every capability', () => {
    const b = createModelBridge();
    expect(b.backend).toBe('model');
    expect(b.capabilities).toEqual({ oplocks: true, events: true, processes: true });
  });

  it('refuses bad options with typed errors', () => {
    const bad: unknown[] = [
      { nonsense: 1 },
      { queueLimit: 15 },
      { queueLimit: 1048577 },
      { queueLimit: 1.5 },
      { eventMask: ['create', 'no-such-event'] },
      { eventMask: 1n << 40n },
      { files: { 'C:\\bad|name': 1 } },
      { files: { 'C:\\f': -1 } },
      { files: { 'C:\\f': { content: 5 } } },
      { observe: ['C:\\x'], managed: ['c:\\X'] },
      { observe: 'C:\\x' },
      { process: 0 },
      { deliver: 'sometimes' },
      null,
    ];
    for (const options of bad) {
      expect(
        () => createModelBridge(options as never),
        JSON.stringify(options, (_k, v) => (typeof v === 'bigint' ? `${v}` : v)),
      ).toThrow(InvalidArgumentError);
    }
  });

  it('seeds files (size, content, read-only) and directories; an event mask limits what is produced', () => {
    const b = createModelBridge({
      files: {
        'C:\\big': 1n << 30n,
        '/d/t.txt': 'text',
        'C:\\ro': { content: 'r', readOnly: true },
      },
      directories: ['C:\\empty'],
      eventMask: ['create'],
    });
    const seen: string[] = [];
    b.subscribe((e) => seen.push(e.type));
    const big = opened(b, 'C:\\big');
    expect(b.read(big, { offset: (1n << 30n) - 1n, length: 9 }).completed?.information).toBe(1n);
    expect(b.open('C:\\ro', { access: 'write' }).completed?.status).toBe(S.STATUS_ACCESS_DENIED);
    expect(b.open('C:\\empty', { options: 'directory_file' }).completed?.status).toBe(
      S.STATUS_SUCCESS,
    );
    b.close(big);
    expect(new Set(seen)).toEqual(new Set(['create']));
  });
});

describe('requests', () => {
  it('a synchronous completion is set before the call returns; its promise resolves to the same result', async () => {
    const b = createModelBridge({ files });
    const r = b.open('C:\\f');
    expect(r.completed?.status).toBe(S.STATUS_SUCCESS);
    expect(await r.result).toBe(r.completed);
    expect(r.operation).toBe('open');
  });

  it('a pending operation has `completed` undefined until Windows would complete it; NTSTATUS failures resolve, never reject', async () => {
    const b = createModelBridge({ files });
    const h = opened(b);
    const oplock = b.requestOplock(h, { level: 'RWH' });
    expect(oplock.completed).toBeUndefined();
    const open = b.open('C:\\f', { access: 'read' });
    expect(open.completed).toBeUndefined();
    const broken = await oplock.result;
    expect(broken).toMatchObject({
      status: S.STATUS_SUCCESS,
      originalLevel: 'RWH',
      newLevel: 'RH',
      ackRequired: true,
    });
    b.acknowledgeOplock(h, { kind: 'ack', level: 'RH' });
    expect((await open.result).status).toBe(S.STATUS_SUCCESS);
    const failed = b.open('C:\\missing');
    expect((await failed.result).status).toBe(S.STATUS_OBJECT_NAME_NOT_FOUND);
  });

  it('legacy oplock results carry the level broken to (FILE_OPLOCK_BROKEN_TO_LEVEL_2)', async () => {
    const b = createModelBridge({ files });
    const h = opened(b, 'C:\\f', { share: 'read,write,delete' });
    const oplock = b.requestOplock(h, { level: 'BATCH' });
    b.open('C:\\f', { share: 'read,write,delete', options: 'complete_if_oplocked' });
    expect(await oplock.result).toMatchObject({ status: 0, information: 7n, newLevel: 'LEVEL2' });
  });

  it('handles are small integers, unique per bridge, never reused; they carry the path and process', () => {
    const b = createModelBridge({ files });
    const a = opened(b);
    b.close(a);
    const c = opened(b, '/F', { process: 5 });
    expect([a.id, c.id]).toEqual([1, 2]);
    expect(c).toEqual({ id: 2, path: '/F', process: 5 });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("operations run as the handle's process unless they name another one", () => {
    const b = createModelBridge({ files });
    const events: BridgeEvent[] = [];
    b.subscribe((e) => events.push(e));
    const h = opened(b, 'C:\\f', { access: 'rw', process: 3 });
    b.lock(h, { offset: 0n, length: 1n, process: 4 });
    b.write(h, { offset: 0n, data: 1 });
    expect(events.map((e) => [e.type, e.processId, e.threadId])).toEqual([
      ['create', 3, 3],
      ['lock-granted', 4, 4],
      ['io-refused', 3, 3],
    ]);
  });
});

describe('cancel', () => {
  it('cancels an in-flight oplock request, a waiting create and a waiting lock; nothing else', async () => {
    const b = createModelBridge({ files });
    const h = opened(b, 'C:\\f', { access: 'rw', share: 'read,write,delete' });
    const oplock = b.requestOplock(h, { level: 'BATCH' });
    const create = b.open('C:\\f', { share: 'read,write,delete' });
    expect(create.completed).toBeUndefined();
    expect(await b.cancel(create)).toBe(true);
    expect((await create.result).status).toBe(S.STATUS_CANCELLED);
    const other = opened(b, 'C:\\f', {
      access: 'rw',
      share: 'read,write,delete',
      options: 'complete_if_oplocked',
    });
    b.lock(h, { offset: 0n, length: 1n });
    const lock = b.lock(other, { offset: 0n, length: 1n, failImmediately: false });
    expect(await b.cancel(lock)).toBe(true);
    expect((await lock.result).status).toBe(S.STATUS_CANCELLED);
    expect(await b.cancel(oplock)).toBe(false); // already completed by the break
    const done = b.read(h, { offset: 0n, length: 1 });
    expect(await b.cancel(done)).toBe(false);
    await expect(b.cancel({} as never)).rejects.toThrow(InvalidArgumentError);
  });
});

describe('events', () => {
  it('subscribers get events in sequence order; unsubscribe stops them; settle resolves', async () => {
    const b = createModelBridge({ files });
    const first: bigint[] = [];
    const second: bigint[] = [];
    const stop = b.subscribe((e) => first.push(e.seq));
    b.subscribe((e) => second.push(e.seq));
    const h = opened(b);
    stop();
    b.close(h);
    await b.settle();
    expect(first).toEqual([1n]);
    expect(second).toEqual([1n, 2n, 3n]);
  });

  it("deliver: 'manual' holds events until drainEvents() or settle()", async () => {
    const b = createModelBridge({ files, deliver: 'manual' });
    const seen: string[] = [];
    b.subscribe((e) => seen.push(e.type));
    opened(b);
    expect(seen).toEqual([]);
    await b.settle();
    expect(seen).toEqual(['create']);
  });

  it('a listener that throws does not stop delivery to the others; the error reaches the caller', () => {
    const b = createModelBridge({ files });
    const seen: string[] = [];
    b.subscribe(() => {
      throw new Error('listener failed');
    });
    b.subscribe((e) => seen.push(e.type));
    expect(() => b.open('C:\\f')).toThrow('listener failed');
    expect(seen).toEqual(['create']);
  });
});

describe('dispose', () => {
  it('closes what is open (a held oplock ends with STATUS_OPLOCK_HANDLE_CLOSED); afterwards every call throws DisposedError', async () => {
    const b = createModelBridge({ files });
    const h = opened(b);
    const oplock = b.requestOplock(h, { level: 'R' });
    await b.dispose();
    expect((await oplock.result).status).toBe(S.STATUS_OPLOCK_HANDLE_CLOSED);
    expect(() => b.open('C:\\f')).toThrow(DisposedError);
    expect(() => b.read(h, { offset: 0n, length: 1 })).toThrow(DisposedError);
    expect(() => b.subscribe(() => {})).toThrow(DisposedError);
    await b.dispose();
  });
});

describe('bad input', () => {
  const setup = () => {
    const b = createModelBridge({ files });
    return { b, h: opened(b, 'C:\\f', { access: 'all' }) };
  };

  it('unknown handles and handles of another bridge: UnknownHandleError; closed handles: HandleClosedError', () => {
    const { b, h } = setup();
    const other = setup().h;
    expect(() => b.read({ id: 99, path: 'x', process: 1 }, { offset: 0n, length: 1 })).toThrow(
      UnknownHandleError,
    );
    expect(() => b.read({ ...h }, { offset: 0n, length: 1 })).toThrow(UnknownHandleError);
    expect(() => b.close(null as never)).toThrow(UnknownHandleError);
    expect(() => b.flush(other)).toThrow(UnknownHandleError);
    b.close(h);
    expect(() => b.close(h)).toThrow(HandleClosedError);
    expect(() => b.write(h, { offset: 0n, data: 1 })).toThrow(HandleClosedError);
    expect(() => b.requestOplock(h, { level: 'R' })).toThrow(HandleClosedError);
  });

  it('offsets and lengths that Windows cannot express: InvalidArgumentError', () => {
    const { b, h } = setup();
    const cases: (() => unknown)[] = [
      () => b.read(h, { offset: -1n, length: 1 }),
      () => b.read(h, { offset: 1.5 as never, length: 1 }),
      () => b.read(h, { offset: (2 ** 60) as never, length: 1 }),
      () => b.read(h, { offset: 1n << 64n, length: 1 }),
      () => b.read(h, { offset: 0n, length: -1 }),
      () => b.read(h, { offset: 0n, length: 0.5 }),
      () => b.read(h, { offset: 0n, length: 2 ** 32 }),
      () => b.read(h, { offset: '0' as never, length: 1 }),
      () => b.write(h, { offset: 0n, data: -3 }),
      () => b.write(h, { offset: 0n, data: 'text' as never }),
      () => b.lock(h, { offset: 0n, length: 1n << 64n }),
      () => b.lock(h, { offset: -5n, length: 1n }),
      () => b.lock(h, { offset: 0n, length: 1n, key: 2 ** 32 }),
      () => b.lock(h, { offset: 0n, length: 1n, process: 0 }),
      () => b.unlock(h, { offset: 0n, length: -1n }),
      () => b.unlockAll(h, { key: -1 }),
      () => b.setInformation(h, { class: 'end-of-file', size: -1n }),
      () => b.setInformation(h, { class: 'allocation', size: 1n << 64n }),
    ];
    for (const call of cases) expect(call).toThrow(InvalidArgumentError);
  });

  it('unknown names and shapes: InvalidArgumentError', () => {
    const { b, h } = setup();
    const cases: (() => unknown)[] = [
      () => b.open('', {}),
      () => b.open(42 as never),
      () => b.open('C:\\f', { access: 'everything' }),
      () => b.open('C:\\f', { share: 8 }),
      () => b.open('C:\\f', { disposition: 'replace' as never }),
      () => b.open('C:\\f', { disposition: 7 }),
      () => b.open('C:\\f', { options: 'turbo' }),
      () => b.open('C:\\f', { oplockKey: 'not-a-guid' }),
      () => b.open('C:\\f', { allocationSize: -1n }),
      () => b.open('C:\\f', { overlapped: 'yes' as never }),
      () => b.requestOplock(h, { level: 'NONE' as never }),
      () => b.requestOplock(h, { level: 'LEVEL3' as never }),
      () => b.requestOplock(h, { level: 'LEVEL1', completeAckOnClose: true } as never),
      () => b.acknowledgeOplock(h, { kind: 'thanks' } as never),
      () => b.acknowledgeOplock(h, { kind: 'ack', level: 'LEVEL2' } as never),
      () => b.setInformation(h, { class: 'basic' } as never),
      () => b.setInformation(h, { class: 'rename', target: '' }),
      () => b.setInformation(h, { class: 'disposition', deleteFile: 1 as never }),
      () => b.subscribe('listener' as never),
    ];
    for (const call of cases) expect(call).toThrow(InvalidArgumentError);
  });

  it('values Windows can express but refuses get the NTSTATUS, not an exception', () => {
    const { b, h } = setup();
    expect(b.read(h, { offset: (1n << 64n) - 1n, length: 1 }).completed?.status).toBe(
      S.STATUS_INVALID_PARAMETER,
    );
    expect(b.lock(h, { offset: (1n << 64n) - 1n, length: 2n }).completed?.status).toBe(
      S.STATUS_INVALID_LOCK_RANGE,
    );
    expect(
      b.setInformation(h, { class: 'end-of-file', size: (1n << 64n) - 1n }).completed?.status,
    ).toBe(S.STATUS_INVALID_PARAMETER);
    expect(b.open('C:\\a<b').completed?.status).toBe(S.STATUS_OBJECT_NAME_INVALID);
    expect(b.open('\\\\server\\share\\f').completed?.status).toBe(S.STATUS_OBJECT_PATH_SYNTAX_BAD);
  });
});
