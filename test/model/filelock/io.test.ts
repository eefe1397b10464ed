/**
 * FltCheckLockForReadAccess / FltCheckLockForWriteAccess twins: which reads and writes the held
 * byte-range locks refuse (the filter then fails the I/O with STATUS_FILE_LOCK_CONFLICT).
 */

import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/bridge/errors.js';
import * as fl from '../../../src/model/filelock/index.js';
import { Harness, h1, h2, other, owner, S, SRC, U64_MAX } from './harness.js';

type Check = [string, typeof h1, 'read' | 'write', boolean];

function run(
  t: Harness,
  who: typeof h1,
  op: 'read' | 'write',
  offset: number | bigint,
  length: number,
) {
  return op === 'read' ? t.canRead(who, offset, length) : t.canWrite(who, offset, length);
}

describe("SMB2-LOCK RW-SHARED: shared locks refuse every write, their owner's too", () => {
  const checks: Check[] = [
    ['owner writes', h1, 'write', false],
    ['owner reads', h1, 'read', true],
    ['other handle writes', h2, 'write', false],
    ['other handle reads', h2, 'read', true],
  ];
  it.each(checks)(`%s 100/100 [${SRC.smb2} RW-SHARED]`, (_n, who, op, allowed) => {
    const t = new Harness();
    expect(t.shared(h1, 0, 100)).toBe(S.SUCCESS);
    expect(t.shared(h1, 100, 100)).toBe(S.SUCCESS);
    expect(run(t, who, op, 100, 100)).toBe(allowed);
  });

  it(
    'after the owner unlocks 100/100 the other handle writes and reads it [' +
      SRC.smb2 +
      ' RW-SHARED]',
    () => {
      const t = new Harness();
      t.shared(h1, 0, 100);
      t.shared(h1, 100, 100);
      expect(t.unlock(h1, 100, 100)).toBe(S.SUCCESS);
      expect(t.canWrite(h2, 100, 100)).toBe(true);
      expect(t.canRead(h2, 100, 100)).toBe(true);
      expect(t.canWrite(h2, 99, 2)).toBe(false); // byte 99 is still under the first lock
    },
  );
});

describe('SMB2-LOCK RW-EXCLUSIVE: exclusive locks refuse everyone but their owner', () => {
  const checks: Check[] = [
    ['owner writes', h1, 'write', true],
    ['owner reads', h1, 'read', true],
    ['other handle writes', h2, 'write', false],
    ['other handle reads', h2, 'read', false],
    ['other process reads', other, 'read', false],
  ];
  it.each(checks)(`%s 100/100 [${SRC.smb2} RW-EXCLUSIVE]`, (_n, who, op, allowed) => {
    const t = new Harness();
    expect(t.lockStatus(h1, 0, 100)).toBe(S.SUCCESS);
    expect(t.lockStatus(h1, 100, 100)).toBe(S.SUCCESS);
    expect(run(t, who, op, 100, 100)).toBe(allowed);
  });

  it(`after the owner unlocks, the other handle writes and reads [${SRC.smb2} RW-EXCLUSIVE]`, () => {
    const t = new Harness();
    t.lockStatus(h1, 100, 100);
    expect(t.unlock(h1, 100, 100)).toBe(S.SUCCESS);
    expect(t.canWrite(h2, 100, 100)).toBe(true);
    expect(t.canRead(h2, 100, 100)).toBe(true);
  });
});

describe('WinFsp lock tests (run on Windows)', () => {
  const bps = 512;
  it(
    'a handle writes and reads through its own exclusive locks (LockFile) [' +
      SRC.winfsp +
      ' lock_dotest]',
    () => {
      const t = new Harness();
      expect(t.lockStatus(h1, bps / 2, bps)).toBe(S.SUCCESS);
      expect(t.lockStatus(h1, bps + bps / 2, bps)).toBe(S.SUCCESS);
      expect(t.canWrite(h1, 0, bps)).toBe(true);
      expect(t.canWrite(h1, 2 * bps, bps)).toBe(true);
      expect(t.canRead(h1, 0, 2 * bps + bps)).toBe(true);
    },
  );

  it(
    'a handle cannot write through its own shared lock (ERROR_LOCK_VIOLATION) [' +
      SRC.winfsp +
      ' lock_overlapped_dotest]',
    () => {
      const t = new Harness();
      expect(t.shared(h1, bps / 2, bps, { fail: false })).toBe(S.SUCCESS);
      expect(t.shared(h1, bps + bps / 2, bps)).toBe(S.SUCCESS);
      expect(t.lockStatus(h1, bps + bps / 2, bps)).toBe(S.LOCK_NOT_GRANTED);
      expect(t.canWrite(h1, 0, bps)).toBe(false);
      expect(t.unlock(h1, bps / 2, bps)).toBe(S.SUCCESS);
      expect(t.unlock(h1, bps + bps / 2, bps)).toBe(S.SUCCESS);
      expect(t.canWrite(h1, 0, bps)).toBe(true);
    },
  );
});

describe('[MS-FSA] 2.1.4.10 for I/O: ownership, keys and zero-length ranges', () => {
  it(
    "a shared lock refuses its own owner's write but not its read [" +
      SRC.fsaAlgo +
      '; ' +
      SRC.lockFileEx +
      ']',
    () => {
      const t = new Harness();
      t.shared(h1, 0, 10);
      expect(t.canWrite(h1, 5, 1)).toBe(false);
      expect(t.canRead(h1, 5, 1)).toBe(true);
    },
  );

  it(
    "a shared lock stacked on the owner's exclusive lock still refuses the owner's write [" +
      SRC.fsaAlgo +
      ']',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 0, 10);
      t.shared(h1, 0, 10);
      expect(t.canWrite(h1, 0, 10)).toBe(false);
      expect(t.canRead(h1, 0, 10)).toBe(true);
      expect(t.canRead(h2, 0, 10)).toBe(false);
      // unlock removes the exclusive lock first; the shared one still refuses writes
      expect(t.unlock(h1, 0, 10)).toBe(S.SUCCESS);
      expect(t.canRead(h2, 0, 10)).toBe(true);
      expect(t.canWrite(h1, 0, 10)).toBe(false);
    },
  );

  it(
    'the key is part of ownership: another key of the same handle is refused [' +
      SRC.fsaAlgo +
      ': LockKey != Key]',
    () => {
      const t = new Harness();
      t.lockStatus(owner(1, 1, 5), 0, 10);
      expect(t.canRead(owner(1, 1, 6), 0, 10)).toBe(false);
      expect(t.canWrite(owner(1, 1, 6), 0, 10)).toBe(false);
      expect(t.canRead(owner(1, 1, 5), 0, 10)).toBe(true);
      expect(t.canWrite(owner(1, 1, 5), 0, 10)).toBe(true);
    },
  );

  it(
    'the process is part of ownership: the same handle from another process is refused [' +
      SRC.lockFileEx +
      '; FsRtlFastCheckLockForRead(FileObject, ProcessId)]',
    () => {
      const t = new Harness();
      t.lockStatus(owner(1, 1), 0, 10);
      expect(t.canRead(owner(1, 2), 0, 10)).toBe(false);
      expect(t.canWrite(owner(1, 2), 0, 10)).toBe(false);
    },
  );

  it(
    'a second handle of the locking process is refused [' +
      SRC.lockFileEx +
      ': "cannot access ... through this second handle"]',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 0, 10);
      expect(t.canRead(h2, 0, 10)).toBe(false);
    },
  );

  it(`I/O touching one locked byte is refused; I/O next to the lock is not [${SRC.fsaAlgo}]`, () => {
    const t = new Harness();
    t.lockStatus(h1, 100, 10);
    expect(t.canRead(h2, 95, 6)).toBe(false); // [95, 100]
    expect(t.canRead(h2, 109, 100)).toBe(false); // [109, 208]
    expect(t.canRead(h2, 90, 10)).toBe(true); // [90, 99]
    expect(t.canRead(h2, 110, 10)).toBe(true); // [110, 119]
    expect(t.canWrite(h2, 0, 100)).toBe(true);
  });

  it(
    'a zero-length lock at X refuses I/O that spans X-1 and X, and nothing else [' +
      SRC.fsaAlgo +
      ']',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 100, 0);
      expect(t.canRead(h2, 99, 2)).toBe(false);
      expect(t.canWrite(h2, 50, 100)).toBe(false);
      expect(t.canRead(h2, 100, 10)).toBe(true);
      expect(t.canRead(h2, 90, 10)).toBe(true);
      expect(t.canWrite(h2, 100, 1)).toBe(true);
    },
  );

  it(`a {0, 0} lock refuses no I/O [${SRC.fsaAlgo}: the {0, 0} range overlaps nothing]`, () => {
    const t = new Harness();
    t.lockStatus(h1, 0, 0);
    t.shared(h1, 0, 0);
    expect(t.canRead(h2, 0, 10)).toBe(true);
    expect(t.canWrite(h2, 0, 10)).toBe(true);
    expect(t.canWrite(h1, 0, 1)).toBe(true);
  });

  it(
    'zero-byte reads and writes never conflict [' +
      SRC.fsaRead +
      ', ' +
      SRC.fsaWrite +
      ': ByteCount 0 returns before the lock check; ' +
      SRC.ntos +
      ' FsRtlFastCheckLockForWrite]',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 0, 100);
      t.shared(h2, 200, 100);
      expect(t.canRead(h2, 50, 0)).toBe(true);
      expect(t.canWrite(h2, 50, 0)).toBe(true);
      expect(t.canWrite(h2, 250, 0)).toBe(true);
      expect(t.canRead(other, 0, 0)).toBe(true);
    },
  );

  it(`I/O near 2^64 compares all 64 bits [${SRC.fsaAlgo}]`, () => {
    const t = new Harness();
    const two63 = 1n << 63n;
    t.lockStatus(h1, two63, 1);
    t.lockStatus(h1, U64_MAX, 1);
    expect(t.canRead(h2, two63 - 1n, 2)).toBe(false);
    expect(t.canRead(h2, two63 - 1n, 1)).toBe(true);
    expect(t.canRead(h2, two63 + 1n, 100)).toBe(true);
    expect(t.canWrite(h2, U64_MAX, 1)).toBe(false);
    expect(t.canWrite(h2, U64_MAX - 1n, 1)).toBe(true);
    // Same low 32 bits, other high bits: no overlap.
    expect(t.canRead(h2, (1n << 32n) + 0n, 10)).toBe(true);
  });

  it(
    'waiting lock requests do not refuse I/O; only granted locks do [' +
      SRC.fsaLock +
      ': a lock enters ByteRangeLockList when granted]',
    () => {
      const t = new Harness();
      t.shared(h1, 0, 10);
      const w = t.wait(h2, 0, 10);
      expect(w.preop).toBe('pending');
      expect(t.canRead(other, 0, 10)).toBe(true);
      expect(t.canWrite(other, 20, 10)).toBe(true);
    },
  );

  it(
    'no lock ever taken, or every lock released: all I/O allowed [' +
      SRC.ntos +
      ' FsRtlFastCheckLockForWrite]',
    () => {
      const t = new Harness();
      expect(t.canRead(h1, 0, 0xffffffff)).toBe(true);
      expect(t.canWrite(h1, U64_MAX - 0xfffffffen, 0xffffffff)).toBe(true);
      t.lockStatus(h2, 0, 10);
      t.cleanup(h2);
      expect(t.canWrite(h1, 0, 10)).toBe(true);
    },
  );

  it(
    'a range past 2^64-1 is refused with a typed error (the I/O path fails it with STATUS_INVALID_PARAMETER first) [' +
      SRC.fsaRead +
      ']',
    () => {
      const t = new Harness();
      t.lockStatus(h1, 0, 10);
      expect(() => t.canRead(h2, U64_MAX, 2)).toThrow(InvalidArgumentError);
      expect(() => t.canWrite(h2, U64_MAX - 5n, 10)).toThrow(InvalidArgumentError);
    },
  );

  it(`checkForRead wants read data and checkForWrite write data [${SRC.ddiProcess}]`, () => {
    const t = new Harness();
    const r = fl.readData({
      operationId: 1n,
      processId: 1,
      fileObject: 1n,
      byteOffset: 0n,
      length: 1,
    });
    const w = fl.writeData({
      operationId: 1n,
      processId: 1,
      fileObject: 1n,
      byteOffset: 0n,
      length: 1,
    });
    expect(() => fl.checkForWrite(t.lock, r)).toThrow(InvalidArgumentError);
    expect(() => fl.checkForRead(t.lock, w)).toThrow(InvalidArgumentError);
  });

  it(`fast I/O reads and writes get the same answer as IRP ones [${SRC.ddiProcess}]`, () => {
    const t = new Harness();
    t.lockStatus(h1, 0, 10);
    const fast = fl.readData({
      operationId: 9n,
      processId: h2.pid,
      fileObject: h2.fo,
      byteOffset: 5n,
      length: 1,
      fastIo: true,
    });
    expect(fl.checkForRead(t.lock, fast)).toBe(false);
  });
});
