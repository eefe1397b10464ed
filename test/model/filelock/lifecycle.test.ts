/**
 * FltAllocateFileLock / FltInitializeFileLock / FltUninitializeFileLock / FltFreeFileLock, the
 * FILE_LOCK state queries the filter uses, and bad input on the package's surface.
 */

import { describe, expect, it } from 'vitest';
import { BugCheckError, InvalidArgumentError } from '../../../src/bridge/errors.js';
import * as fl from '../../../src/model/filelock/index.js';
import { Harness, h1, h2, S, SRC, U64_MAX } from './harness.js';

describe('lifecycle', () => {
  it(`initialize on an initialized FILE_LOCK is a programming error [${SRC.ddiInit}]`, () => {
    const lock = fl.allocate();
    expect(() => fl.initialize(lock)).toThrow(BugCheckError);
  });

  it(
    'uninitialize drops every lock without the unlock routine and completes waiters with STATUS_RANGE_NOT_LOCKED [' +
      SRC.ddiUninit +
      '; ' +
      SRC.ntos +
      ' FsRtlUninitializeFileLock]',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 0, 10);
      t.shared(h2, 20, 10);
      const a = t.wait(h2, 0, 10);
      const b = t.wait(h2, 5, 1, { exclusive: false });
      t.take();
      fl.uninitialize(t.lock);
      expect(t.take()).toEqual([
        expect.objectContaining({
          kind: 'complete',
          op: a.data.operationId,
          status: S.RANGE_NOT_LOCKED,
          reason: 'teardown',
        }),
        { kind: 'pended-complete', op: a.data.operationId, status: S.RANGE_NOT_LOCKED },
        expect.objectContaining({
          kind: 'complete',
          op: b.data.operationId,
          status: S.RANGE_NOT_LOCKED,
          reason: 'teardown',
        }),
        { kind: 'pended-complete', op: b.data.operationId, status: S.RANGE_NOT_LOCKED },
      ]);
    },
  );

  it(
    'an uninitialized FILE_LOCK refuses every use until initialize, then starts empty without routines [' +
      SRC.ddiInit +
      ': FltInitializeFileLock takes no routines]',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 0, 10);
      fl.uninitialize(t.lock);
      expect(() => t.lockStatus(h1, 0, 10)).toThrow(BugCheckError);
      expect(() => t.canRead(h1, 0, 1)).toThrow(BugCheckError);
      expect(() => fl.uninitialize(t.lock)).toThrow(BugCheckError);
      expect(() => fl.free(t.lock)).toThrow(BugCheckError); // [FltFreeFileLock remarks]
      fl.initialize(t.lock);
      t.take();
      expect(t.lockStatus(h2, 0, 10)).toBe(S.SUCCESS);
      expect(t.take()).toEqual([]);
      expect(fl.areThereCurrentFileLocks(t.lock)).toBe(true);
    },
  );

  it(
    'free completes waiters like uninitialize and makes every later call a bug check [' +
      SRC.ddiFree +
      ']',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 0, 10);
      const w = t.wait(h2, 0, 10);
      fl.free(t.lock);
      expect(w.data.ioStatus.status).toBe(S.RANGE_NOT_LOCKED);
      expect(() => fl.initialize(t.lock)).toThrow(BugCheckError);
      expect(() => fl.free(t.lock)).toThrow(BugCheckError);
      expect(() => fl.fastUnlockAll(t.lock, 1n, 1)).toThrow(BugCheckError);
      expect(() => fl.enumerateLocks(t.lock)).toThrow(BugCheckError);
    },
  );

  it('a request still pending cannot be processed a second time [an IRP is in flight once]', () => {
    const t = new Harness();
    t.lockStatus(h1, 0, 10);
    const w = t.wait(h2, 0, 10);
    expect(() => fl.process(t.lock, w.data)).toThrow(BugCheckError);
    // ... nor in another FILE_LOCK
    expect(() => fl.process(fl.allocate(), w.data)).toThrow(BugCheckError);
    t.cancel(w.data);
    expect(fl.process(t.lock, w.data)).toBe('pending');
  });

  it(
    "two FILE_LOCKs (two streams) never see each other's locks [" +
      SRC.fsaLock +
      ': Open.Stream.ByteRangeLockList]',
    () => {
      const a = new Harness();
      const b = new Harness();
      a.lockStatus(h1, 0, 10);
      expect(b.lockStatus(h2, 0, 10)).toBe(S.SUCCESS);
      expect(a.locks()).toHaveLength(1);
      expect(b.locks()).toHaveLength(1);
    },
  );
});

describe('FILE_LOCK queries', () => {
  it(
    'areThereCurrentFileLocks: set by the first lock request, even a refused one, and sticky [' +
      SRC.ddiCurrent +
      ']',
    () => {
      const t = new Harness();
      expect(fl.areThereCurrentFileLocks(t.lock)).toBe(false);
      t.unlock(h1, 0, 10);
      expect(fl.areThereCurrentFileLocks(t.lock)).toBe(false);
      expect(t.lockStatus(h1, U64_MAX, 5)).toBe(S.INVALID_LOCK_RANGE);
      expect(fl.areThereCurrentFileLocks(t.lock)).toBe(true);
      t.lockStatus(h1, 0, 10);
      t.unlock(h1, 0, 10);
      expect(fl.areThereCurrentFileLocks(t.lock)).toBe(true);
    },
  );

  it(
    'checkLockForOplockRequest: TRUE for allocation size 0 or no lock, FALSE for a lock starting below the allocation size [' +
      SRC.ddiOplockReq +
      ']',
    () => {
      const t = new Harness();
      expect(fl.checkLockForOplockRequest(t.lock, 4096n)).toBe(true);
      t.lockStatus(h1, 8192, 10);
      expect(fl.checkLockForOplockRequest(t.lock, 0n)).toBe(true);
      expect(fl.checkLockForOplockRequest(t.lock, 4096n)).toBe(true);
      expect(fl.checkLockForOplockRequest(t.lock, 8192n)).toBe(true);
      expect(fl.checkLockForOplockRequest(t.lock, 8193n)).toBe(false);
      t.shared(h2, 100, 0);
      expect(fl.checkLockForOplockRequest(t.lock, 4096n)).toBe(false);
      t.unlock(h2, 100, 0);
      t.unlock(h1, 8192, 10);
      expect(fl.checkLockForOplockRequest(t.lock, 1n << 40n)).toBe(true);
      t.lockStatus(h1, 0, 0);
      expect(fl.checkLockForOplockRequest(t.lock, 1n)).toBe(false);
    },
  );

  it('enumerateLocks lists granted locks by offset, waitingRequests the queue in order [FsRtlGetNextFileLock]', () => {
    const t = new Harness();
    t.lockStatus(h1, 50, 5);
    t.shared(h2, 10, 5);
    t.lockStatus(h1, 0, 0);
    const w = t.wait(h2, 50, 1);
    expect(t.locks().map((l) => [l.startingByte, l.exclusiveLock])).toEqual([
      [0n, true],
      [10n, false],
      [50n, true],
    ]);
    expect(fl.waitingRequests(t.lock)).toEqual([{ data: w.data, context: undefined }]);
  });
});

describe('bad input gets a typed error or the status Windows returns', () => {
  const base = { operationId: 1n, processId: 1, fileObject: 1n, minor: 'LOCK' as const };

  it.each([
    ['a negative offset', { byteOffset: -1n }],
    ['a non-integer offset', { byteOffset: 1.5 }],
    ['an offset past 2^64-1', { byteOffset: 1n << 64n }],
    ['a length past 2^64-1', { length: (1n << 64n) + 5n }],
    ['a negative length', { length: -3 }],
    ['an unsafe number', { byteOffset: 2 ** 60 }],
    ['a key past 2^32-1', { key: 2 ** 32 }],
    ['a negative process id', { processId: -1 }],
    ['an unknown minor name', { minor: 'LOCK_ALL' }],
    ['a non-boolean flag', { exclusiveLock: 1 }],
  ])('lockControlData refuses %s [model contract: InvalidArgumentError]', (_name, patch) => {
    expect(() =>
      fl.lockControlData({ ...base, ...(patch as object) } as fl.LockControlInit),
    ).toThrow(InvalidArgumentError);
  });

  it('process refuses hand-built data with a bad field and changes nothing [model contract]', () => {
    const t = new Harness();
    const good = fl.lockControlData({
      ...base,
      length: 10n,
      exclusiveLock: true,
      failImmediately: true,
    });
    for (const bad of [
      { ...good, byteOffset: -5n },
      { ...good, length: 'x' },
      { ...good, operationId: -1n },
      { ...good, fileObject: 3 },
      { ...good, fastIo: 'no' },
      { ...good, exclusiveLock: undefined },
      { ...good, minorFunction: 1.5 },
      { ...good, majorFunction: 3 },
      { ...good, ioStatus: null },
    ]) {
      expect(() => fl.process(t.lock, bad as unknown as fl.LockControlData)).toThrow(
        InvalidArgumentError,
      );
    }
    expect(t.locks()).toEqual([]);
    expect(() => fl.process(t.lock, null as unknown as fl.LockControlData)).toThrow(
      InvalidArgumentError,
    );
  });

  it('numbers that are exact integers are accepted where the field is a bigint [model contract]', () => {
    const t = new Harness();
    const d = fl.lockControlData({ ...base, byteOffset: 100, length: 10, exclusiveLock: true });
    expect(d.byteOffset).toBe(100n);
    expect(fl.process(t.lock, d)).toBe('complete');
    expect(d.ioStatus.status).toBe(S.SUCCESS);
  });

  it('an object that is not a FILE_LOCK is refused [model contract]', () => {
    const d = fl.lockControlData({ ...base, length: 1n });
    expect(() => fl.process({} as fl.FileLock, d)).toThrow(InvalidArgumentError);
    expect(() => fl.initialize(null as unknown as fl.FileLock)).toThrow(InvalidArgumentError);
    expect(() => fl.allocate('x' as unknown as fl.CompleteLockCallbackDataRoutine)).toThrow(
      InvalidArgumentError,
    );
  });

  it('fastUnlockAll, cancel and the checks validate their arguments [model contract]', () => {
    const t = new Harness();
    expect(() => fl.fastUnlockAll(t.lock, -1n, 1)).toThrow(InvalidArgumentError);
    expect(() => fl.fastUnlockAll(t.lock, 1n, 1.5)).toThrow(InvalidArgumentError);
    expect(() => fl.cancel(t.lock, fl.lockControlData(base), -2n)).toThrow(InvalidArgumentError);
    expect(() =>
      fl.readData({
        operationId: 1n,
        processId: 1,
        fileObject: 1n,
        byteOffset: 0n,
        length: 2 ** 32,
      }),
    ).toThrow(InvalidArgumentError);
    expect(() =>
      fl.writeData({ operationId: 1n, processId: 1, fileObject: 1n, byteOffset: -1n, length: 1 }),
    ).toThrow(InvalidArgumentError);
    expect(() => fl.checkLockForOplockRequest(t.lock, -1n)).toThrow(InvalidArgumentError);
  });
});
