/**
 * Waiting lock requests (LockFileEx without LOCKFILE_FAIL_IMMEDIATELY): queueing, granting after
 * a release, cancellation, and what the owner's unlock-all / cleanup does to them.
 */

import { describe, expect, it } from 'vitest';
import * as fl from '../../../src/model/filelock/index.js';
import { Harness, h1, h2, type LogEntry, other, owner, S, SRC, U64_MAX } from './harness.js';

function completions(log: LogEntry[]) {
  return log.flatMap((e) => (e.kind === 'complete' ? [e] : []));
}

describe('a waiting lock is granted when its conflict goes', () => {
  it(`second lock pends on the first and succeeds when it is unlocked [${SRC.smb2} ASYNC]`, () => {
    const t = new Harness();
    expect(t.lockStatus(h1, 100, 50, { fail: false })).toBe(S.SUCCESS);
    const w = t.wait(h2, 100, 50);
    expect(w.preop).toBe('pending');
    expect(w.data.ioStatus.status).toBe(S.PENDING);
    expect(fl.isWaiting(t.lock, w.data)).toBe(true);
    t.take();
    expect(t.unlock(h1, 100, 50)).toBe(S.SUCCESS);
    const log = t.take();
    const unlockOp = w.data.operationId + 1n;
    expect(log).toEqual([
      expect.objectContaining({
        kind: 'unlock',
        offset: 100n,
        by: 'unlock-single',
        op: unlockOp,
      }),
      expect.objectContaining({
        kind: 'complete',
        op: w.data.operationId,
        status: S.SUCCESS,
        reason: 'granted-after-wait',
        afterWait: true,
        by: unlockOp,
        releasedBy: 'unlock-single',
      }),
      { kind: 'pended-complete', op: w.data.operationId, status: S.SUCCESS },
      expect.objectContaining({ kind: 'complete', op: unlockOp, reason: 'processed' }),
    ]);
    expect(w.data.ioStatus.status).toBe(S.SUCCESS);
    expect(t.locks().map((l) => l.fileObject)).toEqual([2n]);
  });

  it(
    'waiters are granted in FIFO order, one at a time for an exclusive range [' +
      SRC.ntos +
      ' FsRtlPrivateLock appends to WaitingLocks; FsRtlPrivateCheckWaitingLocks scans from the head]',
    () => {
      const t = new Harness();
      const a = owner(10);
      const b = owner(11);
      const c = owner(12);
      t.lockStatus(h1, 0, 10);
      const wa = t.wait(a, 0, 10);
      const wb = t.wait(b, 0, 10);
      const wc = t.wait(c, 0, 10);
      t.unlock(h1, 0, 10);
      expect(wa.data.ioStatus.status).toBe(S.SUCCESS);
      expect(t.waiting()).toEqual([wb.data, wc.data]);
      t.unlock(a, 0, 10);
      expect(wb.data.ioStatus.status).toBe(S.SUCCESS);
      expect(t.waiting()).toEqual([wc.data]);
      t.cleanup(b);
      expect(wc.data.ioStatus.status).toBe(S.SUCCESS);
      expect(t.waiting()).toEqual([]);
    },
  );

  it(
    'compatible waiters are all granted by one release, in queue order [' +
      SRC.ntos +
      ' FsRtlPrivateCheckWaitingLocks]',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 0, 100);
      const ws = [owner(10), owner(11), owner(12)].map((o, i) =>
        t.wait(o, i * 10, 50, { exclusive: false }),
      );
      t.take();
      t.unlock(h1, 0, 100);
      const granted = completions(t.take()).filter((e) => e.reason === 'granted-after-wait');
      expect(granted.map((e) => e.op)).toEqual(ws.map((w) => w.data.operationId));
      expect(t.waiting()).toEqual([]);
    },
  );

  it(`a waiter stays when an earlier waiter's grant conflicts with it [${SRC.fsaLock}]`, () => {
    const t = new Harness();
    t.lockStatus(h1, 0, 10);
    const first = t.wait(h2, 0, 10);
    const second = t.wait(other, 5, 10, { exclusive: false });
    t.unlock(h1, 0, 10);
    expect(first.data.ioStatus.status).toBe(S.SUCCESS);
    expect(second.data.ioStatus.status).toBe(S.PENDING);
    expect(t.waiting()).toEqual([second.data]);
  });

  it(
    'a later waiter whose conflict went is granted past an earlier one that still conflicts [' +
      SRC.ntos +
      ' FsRtlPrivateCheckWaitingLocks walks the whole queue]',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 0, 10);
      t.lockStatus(h1, 20, 10);
      const early = t.wait(h2, 0, 10);
      const late = t.wait(h2, 20, 10);
      t.unlock(h1, 20, 10);
      expect(late.data.ioStatus.status).toBe(S.SUCCESS);
      expect(early.data.ioStatus.status).toBe(S.PENDING);
    },
  );

  it(
    'a new request is checked against granted locks only: it can pass a waiter [' +
      SRC.fsaLock +
      '; ' +
      SRC.ntos +
      ' FsRtlPrivateLock]',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 0, 10);
      const w = t.wait(h2, 0, 30);
      expect(t.lockStatus(other, 20, 5)).toBe(S.SUCCESS);
      t.unlock(h1, 0, 10);
      // the waiter still conflicts with the newcomer
      expect(w.data.ioStatus.status).toBe(S.PENDING);
      t.unlock(other, 20, 5);
      expect(w.data.ioStatus.status).toBe(S.SUCCESS);
    },
  );

  it(
    'a handle waiting on its own exclusive lock waits until it unlocks it [' +
      SRC.fsaAlgo +
      ': even the same owner]',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 0, 10);
      const w = t.wait(h1, 0, 10);
      expect(w.preop).toBe('pending');
      t.unlock(h1, 0, 10);
      expect(w.data.ioStatus.status).toBe(S.SUCCESS);
      expect(t.locks()).toHaveLength(1);
    },
  );

  it(
    "a waiter granted by another handle's cleanup names the cleanup [docs/events.md causality; " +
      SRC.fsaLock +
      ': "The ByteRangeLock.OwnerOpen can be closed"]',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 0, 10);
      const w = t.wait(h2, 0, 10);
      t.take();
      const { op } = t.cleanup(h1);
      const granted = completions(t.take());
      expect(granted).toEqual([
        expect.objectContaining({
          op: w.data.operationId,
          by: op,
          releasedBy: 'cleanup',
          status: S.SUCCESS,
        }),
      ]);
    },
  );

  it(`a lock request with a wrapping range fails at once, it never waits [${SRC.fsaLock}]`, () => {
    const t = new Harness();
    const r = t.wait(h1, U64_MAX, 2);
    expect(r.preop).toBe('complete');
    expect(r.status).toBe(S.INVALID_LOCK_RANGE);
    expect(t.waiting()).toEqual([]);
  });
});

describe('cancellation and the owner going away', () => {
  it(
    'a cancelled waiting lock completes with STATUS_CANCELLED and nothing is locked [' +
      SRC.smb2 +
      ' CANCEL "basic cancel"; ' +
      SRC.ntos +
      ' FsRtlPrivateCancelFileLockIrp]',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 100, 10, { fail: false });
      const w = t.wait(h2, 100, 10);
      t.take();
      expect(t.cancel(w.data)).toBe(true);
      expect(w.data.ioStatus.status).toBe(S.CANCELLED);
      const log = t.take();
      expect(log[0]).toMatchObject({
        kind: 'complete',
        status: S.CANCELLED,
        reason: 'cancelled',
        afterWait: true,
      });
      expect(log[1]).toEqual({
        kind: 'pended-complete',
        op: w.data.operationId,
        status: S.CANCELLED,
      });
      expect(t.unlock(h1, 100, 10)).toBe(S.SUCCESS);
      expect(t.locks()).toEqual([]);
    },
  );

  it(
    "unlocking the range of one's own pending lock is STATUS_RANGE_NOT_LOCKED; cancel still works [" +
      SRC.smb2 +
      ' CANCEL "cancel by unlock"]',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 100, 10, { fail: false });
      const w = t.wait(h2, 100, 10);
      expect(t.unlock(h2, 100, 10)).toBe(S.RANGE_NOT_LOCKED);
      expect(t.cancel(w.data)).toBe(true);
      expect(w.data.ioStatus.status).toBe(S.CANCELLED);
    },
  );

  it(
    'closing the waiting handle completes its pending lock with STATUS_RANGE_NOT_LOCKED [' +
      SRC.smb2 +
      ' CANCEL "cancel by close"; ' +
      SRC.ntos +
      ' FsRtlPrivateFastUnlockAll]',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 100, 10, { fail: false });
      const w = t.wait(h2, 100, 10);
      t.take();
      const { op } = t.cleanup(h2);
      expect(w.data.ioStatus.status).toBe(S.RANGE_NOT_LOCKED);
      expect(completions(t.take())).toEqual([
        expect.objectContaining({
          op: w.data.operationId,
          reason: 'owner-unlock-all',
          by: op,
          releasedBy: 'cleanup',
        }),
      ]);
      expect(t.unlock(h1, 100, 10)).toBe(S.SUCCESS);
    },
  );

  it(
    "cleanup ends the handle's own waiters before granting anyone else's (no lock survives its handle) [" +
      SRC.ntos +
      ' FsRtlPrivateFastUnlockAll: waiters of the file object, then FsRtlPrivateCheckWaitingLocks]',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 0, 10);
      const own = t.wait(h1, 0, 10); // waits on its own lock, first in the queue
      const theirs = t.wait(h2, 0, 10);
      t.take();
      t.cleanup(h1);
      const log = t.take();
      expect(log.map((e) => (e.kind === 'complete' ? `${e.op}:${e.reason}` : e.kind))).toEqual([
        'unlock',
        `${own.data.operationId}:owner-unlock-all`,
        'pended-complete',
        `${theirs.data.operationId}:granted-after-wait`,
        'pended-complete',
      ]);
      expect(own.data.ioStatus.status).toBe(S.RANGE_NOT_LOCKED);
      expect(theirs.data.ioStatus.status).toBe(S.SUCCESS);
      expect(t.locks().map((l) => l.fileObject)).toEqual([2n]);
    },
  );

  it(
    "IRP unlock-all also ends the caller's waiting requests with STATUS_RANGE_NOT_LOCKED [" +
      SRC.ntos +
      ' FsRtlProcessFileLock -> FsRtlFastUnlockAll]',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 0, 10);
      const w = t.wait(h2, 0, 10);
      t.lockStatus(h2, 50, 10);
      expect(t.unlockAll(h2)).toBe(S.SUCCESS);
      expect(w.data.ioStatus.status).toBe(S.RANGE_NOT_LOCKED);
    },
  );

  it(
    'unlock-all by key ends only the waiting requests with that key [' +
      SRC.ntos +
      ' FsRtlPrivateFastUnlockAll(MatchKey)]',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 0, 10);
      const k1 = t.wait(owner(2, 1, 1), 0, 10);
      const k2 = t.wait(owner(2, 1, 2), 0, 10);
      t.lockStatus(owner(2, 1, 1), 50, 1);
      expect(t.unlockAllByKey(owner(2, 1, 1))).toBe(S.SUCCESS);
      expect(k1.data.ioStatus.status).toBe(S.RANGE_NOT_LOCKED);
      expect(k2.data.ioStatus.status).toBe(S.PENDING);
    },
  );

  it(
    "the same handle used from another process keeps its waiting request at the first process's cleanup [" +
      SRC.ntos +
      ' FsRtlPrivateFastUnlockAll compares IoGetRequestorProcess]',
    () => {
      const t = new Harness();
      t.lockStatus(h2, 0, 10);
      const w = t.wait(owner(1, 2), 0, 10);
      t.lockStatus(owner(1, 1), 50, 1);
      t.cleanup(owner(1, 1));
      expect(w.data.ioStatus.status).toBe(S.PENDING);
    },
  );

  it('cancel of a request that is not waiting returns false and changes nothing [IoCancelIrp without a cancel routine]', () => {
    const t = new Harness();
    t.lockStatus(h1, 0, 10);
    const w = t.wait(h2, 0, 10);
    t.unlock(h1, 0, 10);
    expect(w.data.ioStatus.status).toBe(S.SUCCESS);
    expect(t.cancel(w.data)).toBe(false);
    expect(w.data.ioStatus.status).toBe(S.SUCCESS);
    const never = t.lockRange(h1, 100, 1);
    expect(t.cancel(never.data)).toBe(false);
  });

  it(`cancelling one waiter leaves the others queued in order [${SRC.smb2} CANCEL]`, () => {
    const t = new Harness();
    t.lockStatus(h1, 0, 10);
    const a = t.wait(owner(10), 0, 10);
    const b = t.wait(owner(11), 0, 10);
    const c = t.wait(owner(12), 0, 10);
    t.cancel(b.data);
    expect(t.waiting()).toEqual([a.data, c.data]);
  });
});

describe('fast I/O lock requests', () => {
  it(
    'a fast-I/O lock that would wait: FLT_PREOP_DISALLOW_FASTIO, not queued, no callback [' +
      SRC.ddiProcess +
      '; ' +
      SRC.ntos +
      ' FsRtlPrivateLock returns FALSE without an IRP]',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 0, 10);
      t.take();
      const r = t.lockRange(h2, 0, 10, { fail: false, fastIo: true });
      expect(r.preop).toBe('disallow-fast-io');
      expect(t.waiting()).toEqual([]);
      expect(t.take()).toEqual([]);
    },
  );

  it(
    'a fast-I/O lock is granted or refused at once, without the completion routine [' +
      SRC.ddiAlloc +
      ']',
    () => {
      const t = new Harness();
      const ok = t.lockRange(h1, 0, 10, { fastIo: true });
      const refused = t.lockRange(h2, 0, 10, { fastIo: true });
      expect([ok.preop, ok.status]).toEqual(['complete', S.SUCCESS]);
      expect([refused.preop, refused.status]).toEqual(['complete', S.LOCK_NOT_GRANTED]);
      expect(t.take()).toEqual([]);
    },
  );

  it(
    'an IRP waiter queued behind a fast-I/O lock is granted when that lock goes, with its completion routine [' +
      SRC.ddiAlloc +
      ']',
    () => {
      const t = new Harness();
      t.lockRange(h1, 0, 10, { fastIo: true });
      const w = t.wait(h2, 0, 10);
      t.take();
      t.unlock(h1, 0, 10, { fastIo: true });
      expect(completions(t.take()).map((e) => e.op)).toEqual([w.data.operationId]);
    },
  );
});
