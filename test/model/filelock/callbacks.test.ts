/**
 * The completion routine (PFLT_COMPLETE_LOCK_CALLBACK_DATA_ROUTINE) and the unlock routine
 * (PUNLOCK_ROUTINE): when each fires, in which order, with which context, and what the
 * completion routine's return value does.
 */

import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/bridge/errors.js';
import * as fl from '../../../src/model/filelock/index.js';
import { Harness, h1, h2, other, owner, S, SRC } from './harness.js';

describe('the completion routine', () => {
  it(
    "fires for every IRP lock request with the package status and the request's context [" +
      SRC.ddiComplete +
      ']',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 0, 10, { context: 'a' });
      t.lockStatus(h2, 0, 10, { context: 'b' });
      t.lockStatus(h2, 1n << 63n, 1n << 63n, { context: 'c' });
      t.lockStatus(h2, (1n << 63n) + 1n, 1n << 63n, { context: 'd' });
      expect(
        t.take().map((e) => (e.kind === 'complete' ? [e.status, e.context, e.reason] : e.kind)),
      ).toEqual([
        [S.SUCCESS, 'a', 'processed'],
        [S.LOCK_NOT_GRANTED, 'b', 'processed'],
        [S.SUCCESS, 'c', 'processed'],
        [S.INVALID_LOCK_RANGE, 'd', 'processed'],
      ]);
    },
  );

  it(
    'fires for IRP unlock single, unlock all and unlock all by key too [' +
      SRC.ddiComplete +
      ': IRP_MN_UNLOCK_*]',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 0, 10);
      t.take();
      t.unlock(h1, 0, 10, { context: 1 });
      t.unlock(h1, 0, 10, { context: 2 });
      t.unlockAll(h1, { context: 3 });
      t.unlockAllByKey(h1, { context: 4 });
      const done = t
        .take()
        .flatMap((e) => (e.kind === 'complete' ? [[e.minor, e.status, e.context]] : []));
      expect(done).toEqual([
        [fl.IrpMnLock.UNLOCK_SINGLE, S.SUCCESS, 1],
        [fl.IrpMnLock.UNLOCK_SINGLE, S.RANGE_NOT_LOCKED, 2],
        [fl.IrpMnLock.UNLOCK_ALL, S.RANGE_NOT_LOCKED, 3],
        [fl.IrpMnLock.UNLOCK_ALL_BY_KEY, S.RANGE_NOT_LOCKED, 4],
      ]);
    },
  );

  it(
    'a failure status it returns for a granted lock removes the lock, without the unlock routine [' +
      SRC.ddiComplete +
      ': "the file lock is removed"; ' +
      SRC.ntos +
      ' FsRtlPrivateRemoveLock(IgnoreUnlockRoutine)]',
    () => {
      const t = new Harness({
        complete: (d) => (d.operationId === 1n ? S.ACCESS_DENIED : undefined),
      });
      const r = t.lockRange(h1, 0, 10);
      expect(r.status).toBe(S.ACCESS_DENIED);
      expect(t.locks()).toEqual([]);
      expect(t.take().map((e) => e.kind)).toEqual(['complete']);
      expect(t.lockStatus(h2, 0, 10)).toBe(S.SUCCESS);
    },
  );

  it(
    'a failure it returns while a waiter is granted removes that grant and the scan goes on [' +
      SRC.ntos +
      ' FsRtlPrivateCheckWaitingLocks]',
    () => {
      let refuse = 0n;
      const t = new Harness({
        complete: (d) => (d.operationId === refuse ? S.ACCESS_DENIED : undefined),
      });
      t.lockStatus(h1, 0, 10);
      const first = t.wait(h2, 0, 10);
      const second = t.wait(other, 0, 10);
      refuse = first.data.operationId;
      t.unlock(h1, 0, 10);
      expect(first.data.ioStatus.status).toBe(S.ACCESS_DENIED);
      expect(second.data.ioStatus.status).toBe(S.SUCCESS);
      expect(t.locks().map((l) => l.fileObject)).toEqual([other.fo]);
    },
  );

  it(
    'a success status it returns becomes the final status and keeps the lock [' +
      SRC.ntos +
      ' FsRtlPrivateLock stores NewStatus]',
    () => {
      const t = new Harness({ complete: () => 0x00000001 });
      const r = t.lockRange(h1, 0, 10);
      expect(r.status).toBe(0x00000001);
      expect(t.locks()).toHaveLength(1);
    },
  );

  it(
    "a waiter's completion gets the waiter's own context; the unlock routine gets the unlocker's [" +
      SRC.ddiUnlock +
      ': the Context passed to FltProcessFileLock]',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 0, 10, { context: 'locker' });
      t.wait(h2, 0, 10, { context: 'waiter' });
      t.take();
      t.unlock(h1, 0, 10, { context: 'unlocker' });
      expect(
        t.take().map((e) => (e.kind === 'pended-complete' ? 'pended' : [e.kind, e.context])),
      ).toEqual([
        ['unlock', 'unlocker'],
        ['complete', 'waiter'],
        'pended',
        ['complete', 'unlocker'],
      ]);
    },
  );

  it(
    'an unknown minor function completes with STATUS_INVALID_DEVICE_REQUEST and no callback [' +
      SRC.ntos +
      ' FsRtlProcessFileLock default case]',
    () => {
      const t = new Harness();
      const d = fl.lockControlData({ operationId: 1n, processId: 1, fileObject: 1n, minor: 9 });
      expect(fl.process(t.lock, d)).toBe('complete');
      expect(d.ioStatus.status).toBe(S.INVALID_DEVICE_REQUEST);
      expect(t.take()).toEqual([]);
    },
  );

  it(
    'without routines everything works and statuses land in the data [' +
      SRC.ddiAlloc +
      ': both routines optional]',
    () => {
      const t = new Harness({ routines: false });
      t.lockStatus(h1, 0, 10);
      const w = t.wait(h2, 0, 10);
      expect(t.unlock(h1, 0, 10)).toBe(S.SUCCESS);
      expect(w.data.ioStatus.status).toBe(S.SUCCESS);
      expect(t.log.filter((e) => e.kind !== 'pended-complete')).toEqual([]);
    },
  );

  it('a routine that returns something other than an NTSTATUS is a typed error [model contract]', () => {
    const lock = fl.allocate((() => 'ok') as unknown as fl.CompleteLockCallbackDataRoutine);
    const d = fl.lockControlData({
      operationId: 1n,
      processId: 1,
      fileObject: 1n,
      minor: 'LOCK',
      length: 1n,
    });
    expect(() => fl.process(lock, d)).toThrow(InvalidArgumentError);
  });
});

describe('order of callbacks and re-entrance', () => {
  it(
    "unlock-all: unlock routines, the owner's waiters, grants, then the request's own completion [" +
      SRC.ntos +
      ' FsRtlPrivateFastUnlockAll then FsRtlProcessFileLock]',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 0, 10);
      t.shared(h1, 20, 10);
      const own = t.wait(h1, 0, 10);
      const theirs = t.wait(h2, 20, 1);
      t.take();
      t.unlockAll(h1);
      const trace = t.take().map((e) => {
        if (e.kind === 'unlock') return `unlock ${e.offset} ${e.exclusive ? 'X' : 'S'}`;
        if (e.kind === 'complete') return `complete ${e.op} ${e.reason}`;
        return `pended ${e.op}`;
      });
      const unlockAllOp = theirs.data.operationId + 1n;
      expect(trace).toEqual([
        'unlock 20 S',
        'unlock 0 X',
        `complete ${own.data.operationId} owner-unlock-all`,
        `pended ${own.data.operationId}`,
        `complete ${theirs.data.operationId} granted-after-wait`,
        `pended ${theirs.data.operationId}`,
        `complete ${unlockAllOp} processed`,
      ]);
    },
  );

  it('a completion routine may call back into the package [model: callbacks run outside any lock, as in Windows]', () => {
    const lockRef: { lock?: fl.FileLock } = {};
    const lock = fl.allocate((_ctx, data) => {
      if (data.operationId === 1n && lockRef.lock) {
        const inner = fl.lockControlData({
          operationId: 101n,
          processId: 2,
          fileObject: 2n,
          minor: 'LOCK',
          byteOffset: 50n,
          length: 5n,
          exclusiveLock: true,
          failImmediately: true,
        });
        fl.process(lockRef.lock, inner);
      }
      return data.ioStatus.status;
    });
    lockRef.lock = lock;
    const first = fl.lockControlData({
      operationId: 1n,
      processId: 1,
      fileObject: 1n,
      minor: 'LOCK',
      byteOffset: 0n,
      length: 5n,
      exclusiveLock: true,
      failImmediately: true,
    });
    fl.process(lock, first);
    expect(fl.enumerateLocks(lock).map((l) => l.startingByte)).toEqual([0n, 50n]);
  });

  it(
    'a waiter queued from inside a completion routine that then refuses its lock is granted, released by "completion-failure" [' +
      SRC.ntos +
      ' FsRtlPrivateLock: FsRtlPrivateRemoveLock(CheckForWaiters = TRUE)]',
    () => {
      const holder: { lock?: fl.FileLock; waiter?: fl.LockControlData } = {};
      const causes: string[] = [];
      const lock = fl.allocate((_ctx, data, cause) => {
        causes.push(
          `${data.operationId}:${cause.reason}:${cause.releasedBy ?? '-'}:${cause.releasedByOperationId}`,
        );
        if (data.operationId === 1n && holder.lock) {
          holder.waiter = fl.lockControlData({
            operationId: 2n,
            processId: 2,
            fileObject: 2n,
            minor: 'LOCK',
            byteOffset: 0n,
            length: 10n,
            exclusiveLock: true,
          });
          expect(fl.process(holder.lock, holder.waiter)).toBe('pending');
          return S.ACCESS_DENIED;
        }
        return data.ioStatus.status;
      });
      holder.lock = lock;
      const first = fl.lockControlData({
        operationId: 1n,
        processId: 1,
        fileObject: 1n,
        minor: 'LOCK',
        byteOffset: 0n,
        length: 10n,
        exclusiveLock: true,
        failImmediately: true,
      });
      fl.process(lock, first);
      expect(first.ioStatus.status).toBe(S.ACCESS_DENIED);
      expect(holder.waiter?.ioStatus.status).toBe(S.SUCCESS);
      expect(causes).toEqual(['1:processed:-:1', '2:granted-after-wait:completion-failure:1']);
      expect(fl.enumerateLocks(lock).map((l) => l.fileObject)).toEqual([2n]);
    },
  );

  it('uninitialize from inside an unlock routine ends the operation cleanly [model contract]', () => {
    const box: { lock?: fl.FileLock } = {};
    const lock = fl.allocate(undefined, () => {
      if (box.lock) fl.uninitialize(box.lock);
    });
    box.lock = lock;
    for (const off of [0n, 20n]) {
      fl.process(
        lock,
        fl.lockControlData({
          operationId: 1n,
          processId: 1,
          fileObject: 1n,
          minor: 'LOCK',
          byteOffset: off,
          length: 10n,
          exclusiveLock: true,
          failImmediately: true,
        }),
      );
    }
    expect(fl.fastUnlockAll(lock, 1n, 1)).toBe(S.SUCCESS);
    fl.initialize(lock);
    expect(fl.enumerateLocks(lock)).toEqual([]);
  });

  it('the causality fields name the releasing operation for every kind of release [docs/events.md]', () => {
    const t = new Harness();
    const kinds: string[] = [];
    for (const [release, run] of [
      ['unlock-single', (tt: Harness) => tt.unlock(h1, 0, 10)],
      ['unlock-all', (tt: Harness) => tt.unlockAll(h1)],
      ['unlock-all-by-key', (tt: Harness) => tt.unlockAllByKey(h1)],
      ['cleanup', (tt: Harness) => tt.cleanup(h1)],
    ] as const) {
      t.lockStatus(h1, 0, 10);
      const w = t.wait(owner(9), 0, 10);
      t.take();
      run(t);
      const log = t.take();
      const u = log.find((e) => e.kind === 'unlock');
      const c = log.find((e) => e.kind === 'complete' && e.op === w.data.operationId);
      expect(u?.kind === 'unlock' && u.by).toBe(release);
      expect(c?.kind === 'complete' && c.releasedBy).toBe(release);
      expect(c?.kind === 'complete' && u?.kind === 'unlock' && c.by === u.op).toBe(true);
      kinds.push(release);
      t.cleanup(owner(9));
    }
    expect(kinds).toHaveLength(4);
  });
});
