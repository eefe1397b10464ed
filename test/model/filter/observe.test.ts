/**
 * Observe roots versus managed namespaces (docs/events.md "Observe roots"; research §7.1): under
 * an observe root the file system below owns oplocks and byte-range locks and the filter reports
 * what comes back, with causality fields 0 and no `lock-waiting`; outside every namespace the
 * filter produces nothing. The answers to the user are the same as when managed.
 */
import { describe, expect, it } from 'vitest';
import { BreakFlag, LockFlag, RecordFlag } from '../../../src/bridge/events.js';
import { Model, S } from '../fs/harness.js';

const observed = () =>
  new Model({
    managed: ['C:\\m'],
    observe: ['C:\\o'],
    files: { 'C:\\o\\f': 'obs', 'C:\\m\\f': 'man', 'C:\\x': 'none' },
  });

describe('observe roots', () => {
  it('records carry OBSERVED under an observe root, MANAGED under a managed one, and nothing outside both', () => {
    const m = observed();
    m.handle('C:\\o\\f');
    m.handle('C:\\m\\f');
    m.handle('C:\\x');
    expect(m.events.map((e) => [e.type, e.flags, e.name])).toEqual([
      ['create', RecordFlag.OBSERVED, 'C:\\o\\f'],
      ['create', RecordFlag.MANAGED, 'C:\\m\\f'],
    ]);
  });

  // driver/src/fsctl.c (owner instance, observe root): OPLOCK_GRANTED when the file system
  // returned STATUS_PENDING for the request (FltRequestOperationStatusCallback).
  it('an oplock request: `oplock-request` at pre-operation, `oplock-granted` when the file system pends it; the break, seen at completion, has no cause', async () => {
    const m = observed();
    const h1 = m.handle('C:\\o\\f', { share: 'read,write,delete' });
    const request = m.bridge.requestOplock(h1, { level: 'RWH' });
    expect(m.types()).toEqual(['create', 'oplock-request', 'oplock-granted']);
    expect(m.of('oplock-granted')[0]).toMatchObject({
      grantedLevel: 'RWH',
      status: S.STATUS_PENDING,
    });
    m.clear();
    const open = m.bridge.open('C:\\o\\f', { share: 'read,write,delete' });
    expect(open.completed).toBeUndefined();
    expect(m.types()).toEqual(['oplock-break']);
    expect(m.of('oplock-break')[0]).toMatchObject({
      fromLevel: 'RWH',
      toLevel: 'RH',
      breakFlags: BreakFlag.ACK_REQUIRED,
      causedByOperationId: 0n,
      causedByMajor: 0xff,
    });
    expect((await request.result).newLevel).toBe('RH');
    m.clear();
    m.bridge.acknowledgeOplock(h1, { kind: 'ack', level: 'NONE' });
    expect(m.types()).toEqual(['oplock-request', 'create', 'oplock-acknowledged']);
    expect((await open.result).status).toBe(S.STATUS_SUCCESS);
  });

  it('a legacy break reports the Information level (LEGACY)', async () => {
    const m = observed();
    const h1 = m.handle('C:\\o\\f', { share: 'read,write,delete' });
    const request = m.bridge.requestOplock(h1, { level: 'LEVEL1' });
    m.bridge.open('C:\\o\\f', { share: 'read,write,delete', options: 'complete_if_oplocked' });
    const brk = m.of('oplock-break')[0]!;
    expect(brk).toMatchObject({ fromLevel: 'LEVEL1', toLevel: 'LEVEL2', information: 7 });
    expect(brk.breakFlags & BreakFlag.LEGACY).toBe(BreakFlag.LEGACY);
    expect((await request.result).newLevel).toBe('LEVEL2');
  });

  it('a refused request: `oplock-completed` (refused) at completion', () => {
    const m = observed();
    const h = m.handle('C:\\o\\f', { overlapped: false });
    m.clear();
    m.now(m.bridge.requestOplock(h, { level: 'R' }));
    expect(m.types()).toEqual(['oplock-request', 'oplock-completed']);
    expect(m.of('oplock-completed')[0]).toMatchObject({
      reason: 'refused',
      status: S.STATUS_OPLOCK_NOT_GRANTED,
    });
  });

  it('a waiting lock is not seen until it completes: no `lock-waiting`, then `lock-granted` without AFTER_WAIT', async () => {
    const m = observed();
    const a = m.handle('C:\\o\\f', { access: 'rw' });
    const b = m.handle('C:\\o\\f', { access: 'rw' });
    m.now(m.bridge.lock(a, { offset: 0n, length: 1n }));
    m.clear();
    const waiting = m.bridge.lock(b, { offset: 0n, length: 1n, failImmediately: false });
    expect(m.types()).toEqual([]);
    m.now(m.bridge.unlock(a, { offset: 0n, length: 1n }));
    expect(m.types()).toEqual(['lock-granted', 'unlocked']);
    expect(m.of('lock-granted')[0]).toMatchObject({
      lockFlags: LockFlag.EXCLUSIVE,
      relatedOperationId: 0n,
    });
    expect((await waiting.result).status).toBe(S.STATUS_SUCCESS);
  });

  it("a read refused by the file system's lock: `io-refused`; the cleanup that releases locks shows only `cleanup`", () => {
    const m = observed();
    const a = m.handle('C:\\o\\f', { access: 'rw' });
    const b = m.handle('C:\\o\\f', { access: 'rw' });
    m.now(m.bridge.lock(a, { offset: 0n, length: 1n }));
    m.clear();
    expect(m.now(m.bridge.read(b, { offset: 0n, length: 1 })).status).toBe(
      S.STATUS_FILE_LOCK_CONFLICT,
    );
    m.close(a);
    expect(m.types()).toEqual(['io-refused', 'cleanup', 'close']);
    expect(m.of('cleanup')[0]!.locksReleased).toBe(0);
    expect(m.now(m.bridge.read(b, { offset: 0n, length: 1 })).status).toBe(S.STATUS_SUCCESS);
  });

  it("the filter never sends a managed stream's oplock requests or locks down: the file system's own stay empty", () => {
    const m = observed();
    const h = m.handle('C:\\m\\f', { access: 'rw' });
    m.bridge.requestOplock(h, { level: 'R' });
    m.now(m.bridge.lock(h, { offset: 0n, length: 1n }));
    const node = m.bridge.fileSystem.root.children.get('M')?.children.get('F');
    expect(node?.oplock).toBeUndefined();
    expect(node?.fileLock).toBeUndefined();
    expect(m.bridge.filter.streams.managedCount).toBe(1);
  });
});
