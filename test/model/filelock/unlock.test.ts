/**
 * IRP_MN_UNLOCK_SINGLE, IRP_MN_UNLOCK_ALL, IRP_MN_UNLOCK_ALL_BY_KEY and FsRtlFastUnlockAll:
 * which lock each releases, in which order, and with which status.
 */

import { describe, expect, it } from 'vitest';
import { Harness, h1, h2, type LogEntry, other, owner, S, SRC, U64_MAX } from './harness.js';

function unlocks(log: LogEntry[]) {
  return log.flatMap((e) =>
    e.kind === 'unlock'
      ? [{ offset: e.offset, length: e.length, exclusive: e.exclusive, key: e.key }]
      : [],
  );
}

describe('unlock single needs an exact match', () => {
  it(
    'part of a lock, or twice, is STATUS_RANGE_NOT_LOCKED [' +
      SRC.wine +
      '; ' +
      SRC.fsaUnlock +
      ']',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 10, 20);
      t.lockStatus(h1, 5, 5);
      expect(t.unlock(h1, 10, 10)).toBe(S.RANGE_NOT_LOCKED);
      expect(t.unlock(h1, 10, 20)).toBe(S.SUCCESS);
      expect(t.unlock(h1, 10, 20)).toBe(S.RANGE_NOT_LOCKED);
      expect(t.unlock(h1, 5, 5)).toBe(S.SUCCESS);
    },
  );

  it(
    'a range larger than the lock is STATUS_RANGE_NOT_LOCKED (ERROR_NOT_LOCKED) [' +
      SRC.winfsp +
      ']',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 256, 512);
      t.lockStatus(h1, 768, 512);
      expect(t.unlock(h1, 0, 512)).toBe(S.RANGE_NOT_LOCKED);
      expect(t.unlock(h1, 256, 1024)).toBe(S.RANGE_NOT_LOCKED);
      expect(t.unlock(h1, 256, 512)).toBe(S.SUCCESS);
    },
  );

  it(`same first byte, other length: STATUS_RANGE_NOT_LOCKED [${SRC.fsaUnlock}]`, () => {
    const t = new Harness();
    t.lockStatus(h1, 100, 10);
    t.lockStatus(h1, 200, 0);
    expect(t.unlock(h1, 100, 11)).toBe(S.RANGE_NOT_LOCKED);
    expect(t.unlock(h1, 100, 0)).toBe(S.RANGE_NOT_LOCKED);
    expect(t.unlock(h1, 200, 1)).toBe(S.RANGE_NOT_LOCKED);
    expect(t.locks()).toHaveLength(2);
  });

  it(`another handle cannot unlock it [${SRC.smb2} LOCK "wrong handle unlock"]`, () => {
    const t = new Harness();
    t.lockStatus(h1, 10001, 40002);
    expect(t.unlock(h2, 10001, 40002)).toBe(S.RANGE_NOT_LOCKED);
    expect(t.unlock(h1, 10001, 40002)).toBe(S.SUCCESS);
  });

  it(
    'the same handle from another process cannot unlock it [' +
      SRC.ntos +
      ' FsRtlFastUnlockSingleExclusive matches ProcessId]',
    () => {
      const t = new Harness();
      t.lockStatus(owner(1, 1), 0, 10);
      expect(t.unlock(owner(1, 2), 0, 10)).toBe(S.RANGE_NOT_LOCKED);
      expect(t.unlock(owner(1, 1), 0, 10)).toBe(S.SUCCESS);
    },
  );

  it(`another key cannot unlock it [${SRC.fsaUnlock}: LockKey must match]`, () => {
    const t = new Harness();
    t.lockStatus(owner(1, 1, 3), 0, 10);
    expect(t.unlock(owner(1, 1, 4), 0, 10)).toBe(S.RANGE_NOT_LOCKED);
    expect(t.unlock(owner(1, 1, 3), 0, 10)).toBe(S.SUCCESS);
  });

  it(`unlocking a shared lock releases one of the identical stacked ones [${SRC.fsaUnlock}]`, () => {
    const t = new Harness();
    t.shared(h1, 0, 10);
    t.shared(h1, 0, 10);
    t.shared(h2, 0, 10);
    expect(t.unlock(h1, 0, 10)).toBe(S.SUCCESS);
    expect(t.locks().filter((l) => l.fileObject === h1.fo)).toHaveLength(1);
    expect(t.locks().filter((l) => l.fileObject === h2.fo)).toHaveLength(1);
  });
});

describe('stacked locks: unlock takes the exclusive one first', () => {
  it(
    'exclusive + shared on one range: after one unlock another handle gets a shared lock [' +
      SRC.wine +
      ' "exclusive lock is removed first"]',
    () => {
      const t = new Harness();
      expect(t.lockStatus(h1, 300, 100, { fail: false })).toBe(S.SUCCESS);
      expect(t.shared(h2, 300, 100)).toBe(S.LOCK_NOT_GRANTED);
      expect(t.shared(h1, 300, 100)).toBe(S.SUCCESS);
      expect(t.unlock(h1, 300, 100)).toBe(S.SUCCESS);
      expect(t.shared(h2, 300, 100)).toBe(S.SUCCESS);
      expect(t.unlock(h2, 300, 100)).toBe(S.SUCCESS);
      expect(t.unlock(h1, 300, 100)).toBe(S.SUCCESS);
    },
  );

  it(
    'exclusive + stacked shared: the first unlock releases the exclusive, the second the shared [' +
      SRC.fsaUnlock +
      ']',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 10, 10);
      t.shared(h1, 10, 10);
      t.take();
      t.unlock(h1, 10, 10);
      t.unlock(h1, 10, 10);
      expect(unlocks(t.take()).map((u) => u.exclusive)).toEqual([true, false]);
    },
  );

  it(
    'stacked exclusive/shared 10/10: other handle refused both ways until the exclusive goes [' +
      SRC.smb2 +
      ' UNLOCK]',
    () => {
      const t = new Harness();
      expect(t.lockStatus(h1, 10, 10)).toBe(S.SUCCESS);
      expect(t.shared(h1, 10, 10)).toBe(S.SUCCESS);
      expect(t.lockStatus(h2, 5, 10)).toBe(S.LOCK_NOT_GRANTED);
      expect(t.shared(h2, 5, 10)).toBe(S.LOCK_NOT_GRANTED);
      expect(t.unlock(h1, 10, 10)).toBe(S.SUCCESS);
      expect(t.shared(h2, 5, 10)).toBe(S.SUCCESS);
      expect(t.unlock(h2, 5, 10)).toBe(S.SUCCESS);
      expect(t.unlock(h1, 10, 10)).toBe(S.SUCCESS);
    },
  );

  it(
    'stacked zero-byte exclusive/shared at 10: same behaviour as ranges with bytes [' +
      SRC.smb2 +
      ' UNLOCK]',
    () => {
      const t = new Harness();
      expect(t.lockStatus(h1, 10, 0)).toBe(S.SUCCESS);
      expect(t.shared(h1, 10, 0)).toBe(S.SUCCESS);
      expect(t.lockStatus(h2, 5, 10)).toBe(S.LOCK_NOT_GRANTED);
      expect(t.shared(h2, 5, 10)).toBe(S.LOCK_NOT_GRANTED);
      expect(t.unlock(h1, 10, 0)).toBe(S.SUCCESS);
      expect(t.shared(h2, 5, 10)).toBe(S.SUCCESS);
      expect(t.unlock(h2, 5, 10)).toBe(S.SUCCESS);
      expect(t.unlock(h1, 10, 0)).toBe(S.SUCCESS);
      expect(t.locks()).toEqual([]);
    },
  );

  it(`stacked {0, 0} locks: exclusive first, too [${SRC.fsaUnlock}]`, () => {
    const t = new Harness();
    t.shared(h1, 0, 0);
    t.lockStatus(h1, 0, 0);
    t.take();
    expect(t.unlock(h1, 0, 0)).toBe(S.SUCCESS);
    expect(unlocks(t.take())).toEqual([{ offset: 0n, length: 0n, exclusive: true, key: 0 }]);
    expect(t.unlock(h1, 0, 0)).toBe(S.SUCCESS);
    expect(t.unlock(h1, 0, 0)).toBe(S.RANGE_NOT_LOCKED);
  });
});

describe('unlock statuses that depend on the package state', () => {
  it(
    'before any lock request: STATUS_RANGE_NOT_LOCKED, even for a wrapping range [' +
      SRC.ntos +
      ' FsRtlFastUnlockSingle: no LockInformation]',
    () => {
      const t = new Harness();
      expect(t.unlock(h1, U64_MAX, 2)).toBe(S.RANGE_NOT_LOCKED);
      expect(t.unlock(h1, 0, 10)).toBe(S.RANGE_NOT_LOCKED);
    },
  );

  it(
    'after a lock request (even a refused one): a wrapping range is STATUS_INVALID_LOCK_RANGE [' +
      SRC.fsaUnlock +
      '; ' +
      SRC.ntos +
      ' FsRtlPrivateLock allocates LockInformation first]',
    () => {
      const t = new Harness();
      expect(t.lockStatus(h1, U64_MAX, 2)).toBe(S.INVALID_LOCK_RANGE);
      expect(t.unlock(h1, U64_MAX, 2)).toBe(S.INVALID_LOCK_RANGE);
      expect(t.unlock(h1, 1n << 63n, 1n << 63n)).toBe(S.RANGE_NOT_LOCKED); // ends at 2^64-1: valid
    },
  );

  it(`a fast-I/O unlock completes without the completion routine [${SRC.ddiAlloc}]`, () => {
    const t = new Harness();
    t.lockStatus(h1, 0, 10);
    t.take();
    expect(t.unlock(h1, 0, 10, { fastIo: true })).toBe(S.SUCCESS);
    expect(t.take().map((e) => e.kind)).toEqual(['unlock']);
  });
});

describe('unlock all, unlock all by key, FsRtlFastUnlockAll', () => {
  it(
    "unlock all releases every lock of the handle and process, any key, nobody else's [IRP_MN_UNLOCK_ALL; " +
      SRC.ntos +
      ' FsRtlPrivateFastUnlockAll]',
    () => {
      const t = new Harness();
      t.lockStatus(owner(1, 1, 1), 0, 10);
      t.shared(owner(1, 1, 2), 20, 10);
      t.lockStatus(owner(1, 2, 1), 40, 10); // same handle, other process
      t.lockStatus(h2, 60, 10);
      expect(t.unlockAll(owner(1, 1, 9))).toBe(S.SUCCESS);
      const left = t.locks().map((l) => [l.startingByte, l.fileObject, l.processId]);
      expect(left).toEqual([
        [40n, 1n, 2],
        [60n, 2n, 1],
      ]);
    },
  );

  it(
    'unlock all reports shared locks first, then exclusive ones, each by offset [' +
      SRC.ntos +
      ' FsRtlPrivateFastUnlockAll walks the shared tree, then the exclusive tree]',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 50, 5);
      t.shared(h1, 30, 5);
      t.lockStatus(h1, 10, 5);
      t.shared(h1, 70, 5);
      t.shared(h1, 0, 0);
      t.take();
      t.unlockAll(h1);
      expect(unlocks(t.take()).map((u) => [u.offset, u.exclusive])).toEqual([
        [0n, false],
        [30n, false],
        [70n, false],
        [10n, true],
        [50n, true],
      ]);
    },
  );

  it("unlock all by key releases only that key's locks [IRP_MN_UNLOCK_ALL_BY_KEY; FsRtlFastUnlockAllByKey]", () => {
    const t = new Harness();
    t.lockStatus(owner(1, 1, 1), 0, 10);
    t.lockStatus(owner(1, 1, 2), 20, 10);
    t.shared(owner(1, 1, 1), 40, 10);
    expect(t.unlockAllByKey(owner(1, 1, 1))).toBe(S.SUCCESS);
    expect(t.locks().map((l) => [l.startingByte, l.key])).toEqual([[20n, 2]]);
  });

  it(
    'unlock all when the stream holds no lock at all: STATUS_RANGE_NOT_LOCKED [' +
      SRC.ntos +
      ' FsRtlPrivateFastUnlockAll: both trees empty]',
    () => {
      const t = new Harness();
      expect(t.unlockAll(h1)).toBe(S.RANGE_NOT_LOCKED);
      t.lockStatus(h1, 0, 10);
      t.unlock(h1, 0, 10);
      expect(t.unlockAll(h1)).toBe(S.RANGE_NOT_LOCKED);
      expect(t.cleanup(h1).status).toBe(S.RANGE_NOT_LOCKED);
    },
  );

  it(
    'unlock all when only others hold locks: STATUS_SUCCESS, nothing released [' +
      SRC.ntos +
      ' FsRtlPrivateFastUnlockAll]',
    () => {
      const t = new Harness();
      t.lockStatus(h2, 0, 10);
      t.take();
      expect(t.unlockAll(h1)).toBe(S.SUCCESS);
      expect(unlocks(t.take())).toEqual([]);
      expect(t.locks()).toHaveLength(1);
    },
  );

  it(
    "cleanup (FsRtlFastUnlockAll) releases the handle's locks and names itself as the releaser [" +
      SRC.fsaUnlock +
      " / 2.1.5.5: a closed owner's locks go; docs/events.md causality]",
    () => {
      const t = new Harness();
      t.lockStatus(h1, 0, 10);
      t.shared(h1, 100, 10);
      t.take();
      const { status, op } = t.cleanup(h1, 'ctx');
      expect(status).toBe(S.SUCCESS);
      const log = t.take();
      expect(log).toHaveLength(2);
      for (const e of log) {
        expect(e).toMatchObject({ kind: 'unlock', by: 'cleanup', op, context: 'ctx' });
      }
      expect(t.locks()).toEqual([]);
    },
  );

  it(
    'cleanup of one handle leaves the other handle of the same process alone [' +
      SRC.lockFileEx +
      ']',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 0, 10);
      t.lockStatus(h2, 20, 10);
      t.cleanup(h1);
      expect(t.locks().map((l) => l.fileObject)).toEqual([2n]);
      expect(t.lockStatus(other, 0, 10)).toBe(S.SUCCESS);
      expect(t.lockStatus(other, 20, 10)).toBe(S.LOCK_NOT_GRANTED);
    },
  );

  it(
    'the unlock routine gets FILE_LOCK_INFO with EndingByte = StartingByte + Length - 1 [' +
      SRC.ddiUnlock +
      '; FILE_LOCK_INFO]',
    () => {
      const t = new Harness();
      t.lockStatus(owner(7, 3, 42), 1000, 24);
      t.lockStatus(owner(7, 3, 42), 50, 0);
      t.lockStatus(owner(7, 3, 42), 0, 0);
      t.take();
      t.cleanup(owner(7, 3, 42));
      const log = t.take();
      expect(log).toEqual([
        expect.objectContaining({
          offset: 0n,
          length: 0n,
          ending: U64_MAX,
          exclusive: true,
          key: 42,
        }),
        expect.objectContaining({ offset: 50n, length: 0n, ending: 49n, fo: 7n, pid: 3 }),
        expect.objectContaining({ offset: 1000n, length: 24n, ending: 1023n }),
      ]);
    },
  );
});
