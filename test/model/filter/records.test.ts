/**
 * The records driver and twin agree on (docs/events.md), family by family, for the cases the
 * driver/twin review resolved. Sources are named per test; the driver side of each rule is
 * named in the test title (driver/src/<file>.c routine).
 */
import { describe, expect, it } from 'vitest';
import {
  BreakFlag,
  CleanupFlag,
  LockFlag,
  MajorFunction,
  UnlockAllFlag,
} from '../../../src/bridge/events.js';
import {
  FileInformationClass,
  Fsctl,
  OplockBreakInformation,
  OplockCache,
  RequestOplockOutputFlag,
} from '../../../src/bridge/flags.js';
import { classifyEnd } from '../../../src/model/filter/fsctl.js';
import { MANAGED, Model, OBSERVE, S } from '../fs/harness.js';

const model = (options = MANAGED.options) =>
  new Model({ ...options, files: { 'C:\\f': 'hello world' } });

describe('unlock all and cleanup: the FILE_LOCK callback order (filelock.c emits from its callbacks)', () => {
  it("unlock all: `unlocked` per range (shared, then exclusive), the requester's own waiting lock ends, other waiters granted, then `unlock-all` (FsRtlPrivateFastUnlockAll)", () => {
    const m = model();
    const a = m.handle('C:\\f', { access: 'rw' });
    const b = m.handle('C:\\f', { access: 'rw' });
    m.now(m.bridge.lock(a, { offset: 9000n, length: 1n, exclusive: true }));
    m.now(m.bridge.lock(a, { offset: 8000n, length: 1n, exclusive: false }));
    m.now(m.bridge.lock(b, { offset: 7000n, length: 1n }));
    const own = m.bridge.lock(a, { offset: 7000n, length: 1n, failImmediately: false });
    const other = m.bridge.lock(b, { offset: 9000n, length: 1n, failImmediately: false });
    m.clear();
    const all = m.bridge.unlockAll(a);
    const allId = m.bridge.operationIds(all)[0];
    expect(m.types()).toEqual([
      'unlocked',
      'unlocked',
      'lock-denied',
      'lock-granted',
      'unlock-all',
    ]);
    expect(m.of('unlocked').map((e) => e.offset)).toEqual([8000n, 9000n]);
    expect(m.of('lock-denied')[0]).toMatchObject({
      operationId: m.bridge.operationIds(own)[0],
      status: S.STATUS_RANGE_NOT_LOCKED,
      relatedOperationId: allId,
    });
    expect(m.of('lock-denied')[0]!.lockFlags & LockFlag.AFTER_WAIT).toBe(LockFlag.AFTER_WAIT);
    expect(m.of('lock-granted')[0]).toMatchObject({
      operationId: m.bridge.operationIds(other)[0],
      relatedOperationId: allId,
    });
    expect(m.of('unlock-all')[0]).toMatchObject({ count: 2, unlockFlags: 0 });
  });

  it('cleanup: the same order, `unlock-all` (CLEANUP), then the oplock part, then `cleanup`', () => {
    const m = model();
    const a = m.handle('C:\\f', { access: 'rw', share: 'read,write' });
    const b = m.handle('C:\\f', { access: 'rw', share: 'read,write' });
    m.bridge.requestOplock(a, { level: 'R' });
    m.now(m.bridge.lock(a, { offset: 9000n, length: 1n }));
    m.now(m.bridge.lock(b, { offset: 7000n, length: 1n }));
    m.bridge.lock(a, { offset: 7000n, length: 1n, failImmediately: false });
    m.bridge.lock(b, { offset: 9000n, length: 1n, failImmediately: false });
    m.clear();
    m.close(a);
    expect(m.types()).toEqual([
      'unlocked',
      'lock-denied',
      'lock-granted',
      'unlock-all',
      'oplock-completed',
      'cleanup',
      'close',
    ]);
    expect(m.of('unlock-all')[0]!.unlockFlags).toBe(UnlockAllFlag.CLEANUP);
  });
});

describe('OPERATION_WAITS is exact (oplock.c FbDeferBreakEvent / FbFlushDeferredEvents)', () => {
  it('a write breaking an RH holder: ACK_REQUIRED, but the write does not wait ([MS-FSA] 2.1.4.12: only a break of H waits)', () => {
    const m = model();
    const a = m.handle('C:\\f', { share: 'read,write,delete' });
    m.bridge.requestOplock(a, { level: 'RH' });
    const b = m.handle('C:\\f', { access: 'rw', share: 'read,write,delete' });
    m.clear();
    const w = m.bridge.write(b, { offset: 0n, data: 1 });
    expect(w.completed?.status).toBe(S.STATUS_SUCCESS);
    const brk = m.of('oplock-break')[0]!;
    expect(brk.breakFlags).toBe(BreakFlag.ACK_REQUIRED);
    expect(brk.causedByMajor).toBe(MajorFunction.WRITE);
  });

  it('an open breaking RWH waits: ACK_REQUIRED | OPERATION_WAITS; with FILE_COMPLETE_IF_OPLOCKED it does not', () => {
    const m = model();
    const a = m.handle('C:\\f', { share: 'read,write,delete' });
    m.bridge.requestOplock(a, { level: 'RWH' });
    m.clear();
    m.bridge.open('C:\\f', { share: 'read,write,delete', options: 'complete_if_oplocked' });
    expect(m.of('oplock-break')[0]!.breakFlags).toBe(BreakFlag.ACK_REQUIRED);
    const m2 = model();
    const a2 = m2.handle('C:\\f', { share: 'read,write,delete' });
    m2.bridge.requestOplock(a2, { level: 'RWH' });
    m2.clear();
    m2.bridge.open('C:\\f', { share: 'read,write,delete' });
    expect(m2.of('oplock-break')[0]!.breakFlags).toBe(
      BreakFlag.ACK_REQUIRED | BreakFlag.OPERATION_WAITS,
    );
  });
});

describe('read / write (rdwr.c)', () => {
  it('a write to end of file is checked at the end of file: a lock there refuses it, and the records carry that offset (fastfat write.c)', () => {
    for (const config of [MANAGED, OBSERVE]) {
      const m = model(config.options);
      const owner = m.handle('C:\\f', { access: 'rw', share: 'read,write' });
      const appender = m.handle('C:\\f', { access: 'append', share: 'read,write' });
      m.now(m.bridge.lock(owner, { offset: 11n, length: 10n }));
      m.clear();
      const r = m.now(m.bridge.write(appender, { offset: 0n, data: 3 }));
      expect(r.status, config.name).toBe(S.STATUS_FILE_LOCK_CONFLICT);
      expect(m.of('io-refused')[0], config.name).toMatchObject({ offset: 11n, length: 3 });
      m.now(m.bridge.unlock(owner, { offset: 11n, length: 10n }));
      m.clear();
      expect(m.now(m.bridge.write(appender, { offset: 0n, data: 3 })).status, config.name).toBe(
        S.STATUS_SUCCESS,
      );
      expect(m.of('io')[0], config.name).toMatchObject({ offset: 11n, length: 3n });
    }
  });

  it('zero-length I/O gets no oplock or lock check: a zero-length write breaks nothing and passes a lock (fastfat write.c; [MS-FSA] 2.1.5.4)', () => {
    const m = model();
    const a = m.handle('C:\\f', { share: 'read,write,delete' });
    const level2 = m.bridge.requestOplock(a, { level: 'LEVEL2' });
    const b = m.handle('C:\\f', { access: 'rw', share: 'read,write,delete' });
    m.clear();
    expect(m.now(m.bridge.write(b, { offset: 5n, data: 0 })).status).toBe(S.STATUS_SUCCESS);
    expect(m.types()).toEqual(['io']);
    expect(level2.completed).toBeUndefined();
    // A byte-range lock does not refuse it either.
    const m2 = model();
    const owner = m2.handle('C:\\f', { access: 'rw' });
    const writer = m2.handle('C:\\f', { access: 'rw' });
    m2.now(m2.bridge.lock(owner, { offset: 0n, length: 100n }));
    m2.clear();
    expect(m2.now(m2.bridge.write(writer, { offset: 5n, data: 0 })).status).toBe(S.STATUS_SUCCESS);
    expect(m2.types()).toEqual(['io']);
  });

  it('an offset past MAXLONGLONG gets no check: the file system refuses it (STATUS_INVALID_PARAMETER, [MS-FSA] 2.1.5.3)', () => {
    const m = model();
    const a = m.handle('C:\\f', { share: 'read,write,delete' });
    const r = m.bridge.requestOplock(a, { level: 'R' });
    const b = m.handle('C:\\f', { access: 'rw', share: 'read,write,delete' });
    m.clear();
    const w = m.now(m.bridge.write(b, { offset: 1n << 63n, data: 1 }));
    expect(w.status).toBe(S.STATUS_INVALID_PARAMETER);
    expect(m.types()).toEqual(['io']);
    expect(r.completed).toBeUndefined();
  });
});

describe('oplock FSCTLs (fsctl.c)', () => {
  it('break-notify: `oplock-request`, no `oplock-acknowledged` nor `oplock-granted`; `oplock-completed` (completed) when no break is left', async () => {
    const m = model();
    const a = m.handle('C:\\f', { share: 'read,write,delete' });
    m.bridge.requestOplock(a, { level: 'BATCH' });
    m.bridge.open('C:\\f', { share: 'read,write,delete', options: 'complete_if_oplocked' });
    m.clear();
    const notify = m.bridge.acknowledgeOplock(a, { kind: 'break-notify' });
    expect(m.types()).toEqual(['oplock-request']);
    m.clear();
    m.bridge.acknowledgeOplock(a, { kind: 'acknowledge' });
    expect(m.types()).toContain('oplock-completed');
    expect(m.of('oplock-completed')[0]).toMatchObject({
      reason: 'completed',
      operationId: m.bridge.operationIds(notify)[0],
    });
    expect((await notify.result).status).toBe(S.STATUS_SUCCESS);
  });

  it('a legacy acknowledgement to Level 2 is held as the Level 2 oplock: `oplock-granted` (LEVEL2)', () => {
    const m = model();
    const a = m.handle('C:\\f', { share: 'read,write,delete' });
    m.bridge.requestOplock(a, { level: 'LEVEL1' });
    m.bridge.open('C:\\f', { access: 'read', share: 'read,write,delete' });
    m.clear();
    const ack = m.bridge.acknowledgeOplock(a, { kind: 'acknowledge' });
    expect(ack.completed).toBeUndefined();
    expect(m.of('oplock-granted')[0]).toMatchObject({
      grantedLevel: 'LEVEL2',
      status: S.STATUS_PENDING,
    });
  });

  it("a Level 2 holder's own close: `oplock-completed` (handle-closed) with STATUS_SUCCESS, as the driver reads it from its context (the completion alone says BROKEN_TO_NONE)", () => {
    const m = model();
    const a = m.handle('C:\\f');
    m.bridge.requestOplock(a, { level: 'LEVEL2' });
    m.clear();
    m.close(a);
    expect(m.of('oplock-completed')[0]).toMatchObject({
      reason: 'handle-closed',
      status: S.STATUS_SUCCESS,
      level: 'NONE',
      information: OplockBreakInformation.FILE_OPLOCK_BROKEN_TO_NONE,
    });
  });

  it('classifyEnd, the completion rule both sides apply (REQUEST_OPLOCK_OUTPUT_BUFFER, FSCTL_REQUEST_OPLOCK_LEVEL_1 pages)', () => {
    const out = (from: number, to: number, flags = 0) => ({
      structureVersion: 1,
      structureLength: 24,
      originalOplockLevel: from,
      newOplockLevel: to,
      flags,
      accessMode: 0,
      shareMode: 0,
    });
    const R = OplockCache.READ;
    const RH = OplockCache.READ | OplockCache.HANDLE;
    const W7 = Fsctl.FSCTL_REQUEST_OPLOCK;
    expect(classifyEnd(W7, S.STATUS_SUCCESS, 24, out(RH, R, 1), 'RH')).toEqual({
      kind: 'break',
      fromLevel: 'RH',
      toLevel: 'R',
      breakFlags: BreakFlag.ACK_REQUIRED,
    });
    expect(classifyEnd(W7, S.STATUS_SUCCESS, 24, out(R, R), 'R')).toMatchObject({
      kind: 'completed',
      reason: 'completed',
      level: 'R',
    });
    expect(classifyEnd(W7, S.STATUS_SUCCESS, 0, undefined, 'NONE')).toMatchObject({
      kind: 'completed',
      reason: 'completed',
    });
    expect(
      classifyEnd(W7, S.STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE, 24, out(R, RH), 'R'),
    ).toMatchObject({ kind: 'completed', reason: 'switched', level: 'RH' });
    expect(classifyEnd(W7, S.STATUS_OPLOCK_HANDLE_CLOSED, 24, out(R, 0), 'R')).toMatchObject({
      reason: 'handle-closed',
    });
    expect(classifyEnd(W7, S.STATUS_CANCELLED, 0, undefined, 'R')).toMatchObject({
      reason: 'cancelled',
    });
    const L1 = Fsctl.FSCTL_REQUEST_OPLOCK_LEVEL_1;
    expect(
      classifyEnd(
        L1,
        S.STATUS_SUCCESS,
        OplockBreakInformation.FILE_OPLOCK_BROKEN_TO_LEVEL_2,
        undefined,
        'LEVEL1',
      ),
    ).toEqual({
      kind: 'break',
      fromLevel: 'LEVEL1',
      toLevel: 'LEVEL2',
      breakFlags: BreakFlag.LEGACY | BreakFlag.ACK_REQUIRED,
    });
    expect(
      classifyEnd(
        Fsctl.FSCTL_REQUEST_OPLOCK_LEVEL_2,
        S.STATUS_SUCCESS,
        OplockBreakInformation.FILE_OPLOCK_BROKEN_TO_NONE,
        undefined,
        'LEVEL2',
      ),
    ).toEqual({
      kind: 'break',
      fromLevel: 'LEVEL2',
      toLevel: 'NONE',
      breakFlags: BreakFlag.LEGACY,
    });
    expect(classifyEnd(L1, S.STATUS_OPLOCK_NOT_GRANTED, 0, undefined, 'LEVEL1')).toMatchObject({
      reason: 'refused',
    });
    expect(RequestOplockOutputFlag.ACK_REQUIRED).toBe(1);
  });

  it('observed: a held request that the file system pends gets `oplock-granted`; its break carries the completion Information (24 for FSCTL_REQUEST_OPLOCK)', () => {
    const m = model(OBSERVE.options);
    const a = m.handle('C:\\f', { share: 'read,write,delete' });
    m.bridge.requestOplock(a, { level: 'R' });
    expect(m.types().slice(-2)).toEqual(['oplock-request', 'oplock-granted']);
    const b = m.handle('C:\\f', { access: 'rw', share: 'read,write,delete' });
    m.clear();
    m.now(m.bridge.write(b, { offset: 0n, data: 1 }));
    expect(m.of('oplock-break')[0]).toMatchObject({
      fromLevel: 'R',
      toLevel: 'NONE',
      information: 24,
    });
  });
});

describe('set-information (setinfo.c) and cleanup flags (cleanup.c FbStreamCleanupHandle)', () => {
  it('`io` for set-information carries the class and the new size, managed and observed', () => {
    for (const config of [MANAGED, OBSERVE]) {
      const m = model(config.options);
      const h = m.handle('C:\\f', { access: 'rw' });
      m.clear();
      m.now(m.bridge.setInformation(h, { class: 'end-of-file', size: 3n }));
      m.now(m.bridge.flush(h));
      expect(m.of('io'), config.name).toMatchObject([
        {
          major: MajorFunction.SET_INFORMATION,
          detail: FileInformationClass.FileEndOfFileInformation,
          length: 3n,
        },
        { major: MajorFunction.FLUSH_BUFFERS },
      ]);
    }
  });

  it('a delete-on-close handle: DELETE_ON_CLOSE; the last handle of the now delete-pending stream: DELETED', () => {
    for (const config of [MANAGED, OBSERVE]) {
      const m = model(config.options);
      const doc = m.handle('C:\\f', {
        access: 'read,delete',
        share: 'read,write,delete',
        options: 'delete_on_close',
      });
      const other = m.handle('C:\\f', { access: 'read', share: 'read,write,delete' });
      m.clear();
      m.close(doc);
      m.close(other);
      expect(
        m.of('cleanup').map((e) => e.cleanupFlags),
        config.name,
      ).toEqual([CleanupFlag.DELETE_ON_CLOSE, CleanupFlag.DELETED]);
      expect(m.open('C:\\f').status, config.name).toBe(S.STATUS_OBJECT_NAME_NOT_FOUND);
    }
  });

  it('a disposition, then cancelled: no DELETED; set again: DELETED at the last cleanup; handle-caching requests refused meanwhile', () => {
    const m = model();
    const h = m.handle('C:\\f', { access: 'read,delete', share: 'read,write,delete' });
    m.now(m.bridge.setInformation(h, { class: 'disposition', deleteFile: true }));
    m.now(m.bridge.setInformation(h, { class: 'disposition', deleteFile: false }));
    expect(m.bridge.requestOplock(h, { level: 'RH' }).completed).toBeUndefined();
    m.now(m.bridge.setInformation(h, { class: 'disposition', deleteFile: true }));
    m.clear();
    m.close(h);
    expect(m.of('cleanup')[0]!.cleanupFlags).toBe(CleanupFlag.DELETED);
  });
});

describe('lock control (lock.c FbLockInterferes, fastfat lockctrl.c)', () => {
  it('observed unlock all: `unlock-all` with count 0 (not known above the file system)', () => {
    const m = model(OBSERVE.options);
    const h = m.handle('C:\\f', { access: 'rw' });
    m.now(m.bridge.lock(h, { offset: 0n, length: 1n }));
    m.clear();
    m.now(m.bridge.unlockAll(h));
    expect(m.types()).toEqual(['unlock-all']);
    expect(m.of('unlock-all')[0]).toMatchObject({ count: 0, status: S.STATUS_SUCCESS });
  });

  it('a lock past the allocation breaks nothing; one inside it breaks an R holder', () => {
    const m = model();
    const a = m.handle('C:\\f', { share: 'read,write,delete' });
    m.bridge.requestOplock(a, { level: 'R' });
    const b = m.handle('C:\\f', { access: 'rw', share: 'read,write,delete' });
    m.clear();
    m.now(m.bridge.lock(b, { offset: 4096n, length: 1n }));
    expect(m.of('oplock-break')).toEqual([]);
    m.now(m.bridge.lock(b, { offset: 4095n, length: 1n }));
    expect(m.of('oplock-break')).toHaveLength(1);
  });
});
