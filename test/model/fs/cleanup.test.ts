/**
 * Cleanup versus close: IRP_MJ_CLEANUP when the last handle of a file object goes (share access
 * and byte-range locks are given back, delete-on-close and delete-pending take effect there);
 * IRP_MJ_CLOSE only when the last reference goes, i.e. once no request on the file object is in
 * flight any more.
 *
 * Sources: "IRP_MJ_CLEANUP" and "IRP_MJ_CLOSE" pages (learn.microsoft.com ifs: cleanup when the
 * handle count reaches zero, close when the reference count does; outstanding I/O holds
 * references); fastfat cleanup.c (IoRemoveShareAccess, FsRtlFastUnlockAll, delete at the last
 * cleanup); [MS-FSA] 2.1.5.5; the FILE_COMPLETE_IF_OPLOCKED paragraph of the NtCreateFile page
 * (the open succeeds with STATUS_OPLOCK_BREAK_IN_PROGRESS while the break goes on).
 */
import { describe, expect, it } from 'vitest';
import { CONFIGS, MANAGED, Model, S } from './harness.js';

describe.each(CONFIGS)('cleanup versus close ($name)', ({ name, options }) => {
  /**
   * B holds an RW oplock; A opens with FILE_COMPLETE_IF_OPLOCKED (the break to R starts, A does
   * not wait) and reads, which waits for B's acknowledgement. A's read keeps A's file object
   * referenced after A's handle is closed.
   */
  const scenario = (aOptions: { access?: string; options?: string } = {}) => {
    const m = new Model({ ...options, files: { 'C:\\f': 'hello' } });
    const b = m.handle('C:\\f', { access: 'rw', share: 'read,write,delete' });
    const oplock = m.bridge.requestOplock(b, { level: 'RW' });
    expect(oplock.completed).toBeUndefined();
    const a = m.open('C:\\f', {
      access: aOptions.access ?? 'read',
      share: 'read,write',
      options: ['complete_if_oplocked', ...(aOptions.options ? [aOptions.options] : [])].join(','),
    });
    expect(a.status).toBe(S.STATUS_OPLOCK_BREAK_IN_PROGRESS);
    const read = m.bridge.read(a.handle!, { offset: 0n, length: 5 });
    expect(read.completed).toBeUndefined();
    return { m, a: a.handle!, b, oplock, read };
  };

  it('closing a handle with a request in flight: cleanup now, the file object stays until the request completes', async () => {
    const { m, a, b, read } = scenario();
    expect(m.close(a).status).toBe(S.STATUS_SUCCESS);
    expect(read.completed).toBeUndefined();
    // An acknowledgement to R is itself held as the new R oplock (FSCTL_REQUEST_OPLOCK page).
    expect(m.bridge.acknowledgeOplock(b, { kind: 'ack', level: 'R' }).completed).toBeUndefined();
    expect((await read.result).status).toBe(S.STATUS_SUCCESS);
    if (name === 'unfiltered') return;
    const seen = m.events.filter((e) => e.fileObjectId === 2n).map((e) => e.type);
    expect(seen.indexOf('cleanup')).toBeLessThan(seen.indexOf('io'));
    expect(seen.indexOf('io')).toBeLessThan(seen.indexOf('close'));
  });

  it('share access is given back at cleanup, not at close', () => {
    const { m, a, read } = scenario();
    // FILE_COMPLETE_IF_OPLOCKED: the break B is in keeps going; the open does not wait for it.
    const c = { access: 'delete', share: 'read,write,delete', options: 'complete_if_oplocked' };
    expect(m.open('C:\\f', c).status).toBe(S.STATUS_SHARING_VIOLATION);
    m.close(a);
    expect(read.completed).toBeUndefined();
    expect(m.open('C:\\f', c).status).toBe(S.STATUS_OPLOCK_BREAK_IN_PROGRESS);
  });

  it('a delete-on-close file goes at the last cleanup even while another file object waits for its close', async () => {
    const { m, a, b, read } = scenario({ access: 'read,delete', options: 'delete_on_close' });
    m.close(a);
    expect(
      m.open('C:\\f', { share: 'read,write,delete', options: 'complete_if_oplocked' }).status,
    ).toBe(S.STATUS_DELETE_PENDING);
    m.close(b);
    expect(m.open('C:\\f').status).toBe(S.STATUS_OBJECT_NAME_NOT_FOUND);
    expect((await read.result).status).toBe(S.STATUS_SUCCESS);
  });

  it('byte-range locks are released at cleanup (FsRtlFastUnlockAll): another handle can write right after', () => {
    const m = new Model({ ...options, files: { 'C:\\f': 'hello' } });
    const owner = m.handle('C:\\f', { access: 'rw' });
    const other = m.handle('C:\\f', { access: 'rw' });
    m.now(m.bridge.lock(owner, { offset: 0n, length: 5n }));
    expect(m.now(m.bridge.write(other, { offset: 0n, data: 1 })).status).toBe(
      S.STATUS_FILE_LOCK_CONFLICT,
    );
    m.close(owner);
    expect(m.now(m.bridge.write(other, { offset: 0n, data: 1 })).status).toBe(S.STATUS_SUCCESS);
  });

  it("a handle's own waiting lock ends at its cleanup (STATUS_RANGE_NOT_LOCKED: FsRtlFastUnlockAll)", async () => {
    const m = new Model({ ...options, files: { 'C:\\f': 'hello' } });
    const owner = m.handle('C:\\f', { access: 'rw' });
    const waiter = m.handle('C:\\f', { access: 'rw' });
    m.now(m.bridge.lock(owner, { offset: 0n, length: 5n }));
    const pending = m.bridge.lock(waiter, { offset: 0n, length: 5n, failImmediately: false });
    expect(pending.completed).toBeUndefined();
    m.close(waiter);
    expect((await pending.result).status).toBe(S.STATUS_RANGE_NOT_LOCKED);
  });

  it('a held oplock request ends when its handle is cleaned up: STATUS_OPLOCK_HANDLE_CLOSED', async () => {
    const m = new Model({ ...options, files: { 'C:\\f': 'hello' } });
    const h = m.handle('C:\\f');
    const request = m.bridge.requestOplock(h, { level: 'R' });
    m.close(h);
    expect((await request.result).status).toBe(S.STATUS_OPLOCK_HANDLE_CLOSED);
  });
});

describe('cleanup and close as the filter reports them', () => {
  it('a plain close: cleanup (handles remaining, locks released) then close (file objects remaining)', () => {
    const m = new Model({ ...MANAGED.options, files: { 'C:\\f': 'x' } });
    const a = m.handle('C:\\f', { access: 'rw' });
    const b = m.handle('C:\\f', { access: 'rw' });
    m.now(m.bridge.lock(a, { offset: 0n, length: 1n }));
    m.now(m.bridge.lock(a, { offset: 4n, length: 1n }));
    m.clear();
    m.close(a);
    expect(m.types()).toEqual(['unlocked', 'unlocked', 'unlock-all', 'cleanup', 'close']);
    const cleanup = m.of('cleanup')[0]!;
    expect([cleanup.openHandlesRemaining, cleanup.locksReleased]).toEqual([1, 2]);
    expect(m.of('close')[0]!.streamReferences).toBe(1);
    m.close(b);
    expect(m.of('close')[1]!.streamReferences).toBe(0);
  });
});

/**
 * fastfat cleanup.c FatCommonCleanup: FsRtlFastUnlockAll, the delete of a delete-pending file on
 * its last handle (names removed), UncleanCount down, IoRemoveShareAccess, and only then
 * FsRtlCheckOplock ("Cleanup operations can always cleanup immediately"). An open waiting on the
 * closing handle's break retries (FatOplockComplete re-queues it) after all of that: it finds the
 * holder's share access gone and a deleted name gone. The NTFS twin restarts it synchronously
 * from the oplock check, so the order inside the twin's cleanup is what decides.
 */
describe.each(CONFIGS.filter((c) => c.name !== 'unfiltered'))(
  'a waiter released by the holder cleanup retries after the cleanup ($name)',
  ({ name, options }) => {
    it('the holder of a share-conflicting RH oplock closes: the retried open meets no share access and succeeds', async () => {
      const m = new Model({ ...options, files: { 'C:\\f': 'x' } });
      const holder = m.handle('C:\\f', { access: 'read', share: 'read' });
      m.bridge.requestOplock(holder, { level: 'RH' });
      const open = m.bridge.open('C:\\f', { access: 'rw', share: 'read,write', process: 2 });
      expect(open.completed, name).toBeUndefined();
      m.close(holder);
      expect((await open.result).status, name).toBe(S.STATUS_SUCCESS);
    });

    it('the delete-on-close holder of a batch oplock closes: the retried open finds the name gone', async () => {
      const m = new Model({ ...options, files: { 'C:\\f': 'x' } });
      const holder = m.handle('C:\\f', {
        access: 'read,delete',
        share: 'read,write,delete',
        options: 'delete_on_close',
      });
      m.bridge.requestOplock(holder, { level: 'BATCH' });
      const open = m.bridge.open('C:\\f', { access: 'read', share: 'read,write,delete' });
      expect(open.completed, name).toBeUndefined();
      m.close(holder);
      expect((await open.result).status, name).toBe(S.STATUS_OBJECT_NAME_NOT_FOUND);
    });
  },
);
