/**
 * Lock-versus-lock conflicts: which requests the FILE_LOCK twin grants, which it refuses and
 * with which status. Every case names the test that pins it on Windows (smbtorture SMB2-LOCK and
 * Wine's test_LockFile run against Windows servers / NTFS) or the spec section it follows.
 */

import { describe, expect, it } from 'vitest';
import { Harness, h1, h2, other, owner, S, SRC, U64_MAX } from './harness.js';

describe('zero-length locks: SMB2-LOCK ZEROBYTELENGTH table', () => {
  // {offset, length} of the first lock, of the second, and the second's status. Both are
  // exclusive fail-immediately locks; smbtorture runs every row with one handle and with two.
  const rows: [number, number, number, number, number][] = [
    [10, 0, 10, 0, S.SUCCESS],
    [10, 0, 9, 1, S.SUCCESS],
    [10, 0, 10, 1, S.SUCCESS],
    [10, 0, 11, 1, S.SUCCESS],
    [10, 0, 9, 2, S.LOCK_NOT_GRANTED],
    [10, 0, 10, 2, S.SUCCESS],
    [10, 0, 9, 3, S.LOCK_NOT_GRANTED],
    [9, 1, 10, 0, S.SUCCESS],
    [10, 1, 10, 0, S.SUCCESS],
    [11, 1, 10, 0, S.SUCCESS],
    [9, 2, 10, 0, S.LOCK_NOT_GRANTED],
    [10, 2, 10, 0, S.SUCCESS],
    [9, 3, 10, 0, S.LOCK_NOT_GRANTED],
    [0, 0, 0, 0, S.SUCCESS],
  ];
  const cases = rows.flatMap(([o1, l1, o2, l2, status]) =>
    (['same handle', 'two handles'] as const).map((how) => ({ o1, l1, o2, l2, status, how })),
  );
  it.each(cases)(
    `{$o1,$l1} then {$o2,$l2} on $how -> $status [${SRC.smb2} ZEROBYTELENGTH]`,
    ({ o1, l1, o2, l2, status, how }) => {
      const t = new Harness();
      const second = how === 'same handle' ? h1 : h2;
      expect(t.lockStatus(h1, o1, l1)).toBe(S.SUCCESS);
      expect(t.lockStatus(second, o2, l2)).toBe(status);
      // smbtorture then unlocks both in reverse order, each with STATUS_OK.
      if (status === S.SUCCESS) expect(t.unlock(second, o2, l2)).toBe(S.SUCCESS);
      expect(t.unlock(h1, o1, l1)).toBe(S.SUCCESS);
      expect(t.locks()).toEqual([]);
    },
  );
});

describe('ranges across the 64-bit space: SMB2-LOCK LOCK', () => {
  const two63 = 1n << 63n;
  const ranges: [string, bigint, bigint][] = [
    ['0/1', 0n, 1n],
    ['0xEEFFFFFF/4000', 0xeeffffffn, 4000n],
    ['0xEF000000/4000', 0xef000000n, 4000n],
    ['(2^63-1)/1', two63 - 1n, 1n],
    ['2^63/1', two63, 1n],
    ['max/1', U64_MAX, 1n],
  ];
  it.each(ranges)(
    `%s: h1 gets it, h2 is refused, h1 unlocks once [${SRC.smb2} LOCK]`,
    (_name, offset, length) => {
      const t = new Harness();
      expect(t.lockStatus(h1, offset, length)).toBe(S.SUCCESS);
      expect(t.lockStatus(h2, offset, length)).toBe(S.LOCK_NOT_GRANTED);
      expect(t.unlock(h1, offset, length)).toBe(S.SUCCESS);
      expect(t.unlock(h1, offset, length)).toBe(S.RANGE_NOT_LOCKED);
    },
  );

  it(`0/0: both handles get it, it conflicts with nothing [${SRC.smb2} LOCK]`, () => {
    const t = new Harness();
    expect(t.lockStatus(h1, 0, 0)).toBe(S.SUCCESS);
    expect(t.lockStatus(h2, 0, 0)).toBe(S.SUCCESS);
    expect(t.unlock(h1, 0, 0)).toBe(S.SUCCESS);
    // {0, 0} overlaps nothing ([MS-FSA] 2.1.4.10), not even a lock over the whole file.
    expect(t.lockStatus(h1, 0, U64_MAX)).toBe(S.SUCCESS);
  });

  it(`max/0: both handles get it and unlock it [${SRC.smb2} LOCK]`, () => {
    const t = new Harness();
    expect(t.lockStatus(h1, U64_MAX, 0)).toBe(S.SUCCESS);
    expect(t.lockStatus(h2, U64_MAX, 0)).toBe(S.SUCCESS);
    expect(t.unlock(h2, U64_MAX, 0)).toBe(S.SUCCESS);
    expect(t.unlock(h1, U64_MAX, 0)).toBe(S.SUCCESS);
    expect(t.unlock(h1, U64_MAX, 0)).toBe(S.RANGE_NOT_LOCKED);
  });

  it(
    'max/2 wraps past 2^64-1: STATUS_INVALID_LOCK_RANGE [' +
      SRC.smb2 +
      ' LOCK; ' +
      SRC.fsaLock +
      ']',
    () => {
      const t = new Harness();
      expect(t.lockStatus(h1, U64_MAX, 2)).toBe(S.INVALID_LOCK_RANGE);
      expect(t.locks()).toEqual([]);
    },
  );

  it(`UINT64_MAX/UINT64_MAX: STATUS_INVALID_LOCK_RANGE, twice [${SRC.smb2} VALID-REQUEST]`, () => {
    const t = new Harness();
    expect(t.lockStatus(h1, U64_MAX, U64_MAX)).toBe(S.INVALID_LOCK_RANGE);
    expect(t.lockStatus(h1, U64_MAX, U64_MAX)).toBe(S.INVALID_LOCK_RANGE);
  });

  it(
    'UINT32_MAX/UINT32_MAX: exclusive, then two shared stacked on it [' +
      SRC.smb2 +
      ' VALID-REQUEST]',
    () => {
      const t = new Harness();
      const max32 = 0xffffffffn;
      expect(t.lockStatus(h1, max32, max32)).toBe(S.SUCCESS);
      expect(t.shared(h1, max32, max32)).toBe(S.SUCCESS);
      expect(t.shared(h1, max32, max32)).toBe(S.SUCCESS);
      expect(t.unlock(h1, max32, max32)).toBe(S.SUCCESS);
      expect(t.unlock(h1, max32, max32)).toBe(S.SUCCESS);
      expect(t.unlock(h1, max32, max32)).toBe(S.SUCCESS);
      expect(t.unlock(h1, max32, max32)).toBe(S.RANGE_NOT_LOCKED);
    },
  );

  it(
    '100 locks spread over the 64-bit range per handle, each refused to both handles afterwards [' +
      SRC.smb2 +
      ' RANGE]',
    () => {
      const t = new Harness();
      const step = U64_MAX / 100n;
      const offsets: bigint[] = [];
      for (let i = 1n; i <= 100n; i++) offsets.push(step * i);
      for (const o of offsets) {
        expect(t.lockStatus(h1, o - 1n, 1)).toBe(S.SUCCESS);
        expect(t.lockStatus(h2, o - 2n, 1)).toBe(S.SUCCESS);
      }
      for (const o of offsets) {
        for (const who of [h1, h2]) {
          expect(t.lockStatus(who, o - 1n, 1)).toBe(S.LOCK_NOT_GRANTED);
          expect(t.lockStatus(who, o - 2n, 1)).toBe(S.LOCK_NOT_GRANTED);
        }
      }
      for (const o of offsets) {
        expect(t.unlock(h1, o - 1n, 1)).toBe(S.SUCCESS);
        expect(t.unlock(h2, o - 2n, 1)).toBe(S.SUCCESS);
      }
      expect(t.locks()).toEqual([]);
    },
  );
});

describe('stacking: SMB2-LOCK STACKING, CONTEND and OVERLAP', () => {
  it(`a shared lock stacks on a shared lock of the same handle [${SRC.smb2} STACKING]`, () => {
    const t = new Harness();
    expect(t.shared(h1, 0, 10)).toBe(S.SUCCESS);
    expect(t.shared(h1, 0, 10)).toBe(S.SUCCESS);
    expect(t.unlock(h1, 0, 10)).toBe(S.SUCCESS);
    expect(t.unlock(h1, 0, 10)).toBe(S.SUCCESS);
  });

  it(
    "shared locks stack on the same handle's exclusive lock, not on another handle's [" +
      SRC.smb2 +
      ' STACKING]',
    () => {
      const t = new Harness();
      expect(t.lockStatus(h1, 0, 10)).toBe(S.SUCCESS);
      expect(t.shared(h1, 0, 10)).toBe(S.SUCCESS);
      expect(t.shared(h1, 0, 10)).toBe(S.SUCCESS);
      expect(t.shared(h2, 0, 10)).toBe(S.LOCK_NOT_GRANTED);
      expect(t.unlock(h1, 0, 10)).toBe(S.SUCCESS);
      expect(t.unlock(h1, 0, 10)).toBe(S.SUCCESS);
      expect(t.unlock(h1, 0, 10)).toBe(S.SUCCESS);
      expect(t.unlock(h1, 0, 10)).toBe(S.RANGE_NOT_LOCKED);
      expect(t.shared(h2, 0, 10)).toBe(S.SUCCESS);
    },
  );

  it(
    'an exclusive lock does not stack on a shared lock of the same handle [' +
      SRC.smb2 +
      ' STACKING]',
    () => {
      const t = new Harness();
      expect(t.shared(h1, 0, 10)).toBe(S.SUCCESS);
      expect(t.lockStatus(h1, 0, 10)).toBe(S.LOCK_NOT_GRANTED);
      expect(t.unlock(h1, 0, 10)).toBe(S.SUCCESS);
      expect(t.unlock(h1, 0, 10)).toBe(S.RANGE_NOT_LOCKED);
    },
  );

  it(`two exclusive locks do not stack on the same handle [${SRC.smb2} STACKING]`, () => {
    const t = new Harness();
    expect(t.lockStatus(h1, 0, 10)).toBe(S.SUCCESS);
    expect(t.lockStatus(h1, 0, 10)).toBe(S.LOCK_NOT_GRANTED);
    expect(t.unlock(h1, 0, 10)).toBe(S.SUCCESS);
    expect(t.unlock(h1, 0, 10)).toBe(S.RANGE_NOT_LOCKED);
  });

  it(`a shared lock contends with another handle's exclusive lock [${SRC.smb2} CONTEND]`, () => {
    const t = new Harness();
    expect(t.lockStatus(h1, 0, 10)).toBe(S.SUCCESS);
    expect(t.shared(h2, 0, 10)).toBe(S.LOCK_NOT_GRANTED);
  });

  const overlap: [string, 'excl' | 'shared', typeof h1, number][] = [
    ['the same handle: overlapping exclusive', 'excl', h1, S.LOCK_NOT_GRANTED],
    ['the same handle: overlapping shared', 'shared', h1, S.SUCCESS],
    ['another process (session): overlapping exclusive', 'excl', other, S.LOCK_NOT_GRANTED],
    ['another process (session): overlapping shared', 'shared', other, S.SUCCESS],
    ['another handle: overlapping exclusive', 'excl', h2, S.LOCK_NOT_GRANTED],
    ['another handle: overlapping shared', 'shared', h2, S.SUCCESS],
  ];
  it.each(overlap)(`%s [${SRC.smb2} OVERLAP]`, (_name, kind, second, status) => {
    const t = new Harness();
    const excl = kind === 'excl';
    expect(t.lockStatus(h1, 0, 4, { exclusive: excl })).toBe(S.SUCCESS);
    expect(t.lockStatus(second, 2, 4, { exclusive: excl })).toBe(status);
  });

  it(
    'overlapping shared locks are not coalesced: unlocking their union fails [' +
      SRC.smb2 +
      ' OVERLAP]',
    () => {
      const t = new Harness();
      expect(t.shared(h1, 110, 4)).toBe(S.SUCCESS);
      expect(t.shared(h1, 112, 4)).toBe(S.SUCCESS);
      expect(t.unlock(h1, 110, 6)).toBe(S.RANGE_NOT_LOCKED);
      expect(t.locks()).toHaveLength(2);
    },
  );

  it(
    'closing a handle drops its shared lock; the byte range lock "NT bug" is absent [' +
      SRC.smb2 +
      ' OVERLAP]',
    () => {
      const t = new Harness();
      expect(t.shared(h1, 0, 8)).toBe(S.SUCCESS);
      expect(t.shared(h2, 0, 1)).toBe(S.SUCCESS);
      t.cleanup(h1);
      const reopened = owner(4);
      expect(t.lockStatus(reopened, 7, 1)).toBe(S.SUCCESS);
    },
  );
});

describe('status of a refused lock: SMB2-LOCK ERRORCODE', () => {
  it(
    'every refusal of a fail-immediately lock is STATUS_LOCK_NOT_GRANTED, never FILE_LOCK_CONFLICT [' +
      SRC.smb2 +
      ' ERRORCODE; ' +
      SRC.ntLockFile +
      ']',
    () => {
      const t = new Harness();
      expect(t.lockStatus(h1, 100, 10)).toBe(S.SUCCESS);
      for (let i = 0; i < 3; i++) {
        expect(t.lockStatus(h1, 100, 10)).toBe(S.LOCK_NOT_GRANTED);
        expect(t.lockStatus(h2, 100, 10)).toBe(S.LOCK_NOT_GRANTED);
      }
    },
  );

  it(`a zero-byte lock inside a locked range is refused the same way [${SRC.smb2} ERRORCODE]`, () => {
    const t = new Harness();
    expect(t.lockStatus(h1, 100, 10)).toBe(S.SUCCESS);
    expect(t.lockStatus(h1, 102, 0)).toBe(S.LOCK_NOT_GRANTED);
    expect(t.lockStatus(h2, 102, 0)).toBe(S.LOCK_NOT_GRANTED);
  });

  it(`a lock inside a locked range is refused the same way [${SRC.smb2} ERRORCODE]`, () => {
    const t = new Harness();
    expect(t.lockStatus(h1, 100, 10)).toBe(S.SUCCESS);
    expect(t.lockStatus(h1, 102, 5)).toBe(S.LOCK_NOT_GRANTED);
    expect(t.lockStatus(h2, 102, 5)).toBe(S.LOCK_NOT_GRANTED);
  });

  it(
    'a zero-byte lock at the first byte of a locked range is granted (it does not span two locked bytes) [' +
      SRC.fsaAlgo +
      ']',
    () => {
      const t = new Harness();
      expect(t.lockStatus(h1, 100, 10)).toBe(S.SUCCESS);
      expect(t.lockStatus(h2, 100, 0)).toBe(S.SUCCESS);
      // ... and one just past the last byte too.
      expect(t.lockStatus(h2, 110, 0)).toBe(S.SUCCESS);
      // ... but one at the last byte spans bytes 108 and 109.
      expect(t.lockStatus(h2, 109, 0)).toBe(S.LOCK_NOT_GRANTED);
    },
  );
});

describe("Wine's test_LockFile sequence (runs on Windows)", () => {
  it(`overlapping exclusive locks fail, non-overlapping ones succeed [${SRC.wine}]`, () => {
    const t = new Harness();
    expect(t.lockStatus(h1, 10, 20)).toBe(S.SUCCESS);
    expect(t.lockStatus(h1, 12, 10)).toBe(S.LOCK_NOT_GRANTED);
    expect(t.lockStatus(h1, 5, 6)).toBe(S.LOCK_NOT_GRANTED); // byte 10 is shared
    expect(t.lockStatus(h1, 5, 5)).toBe(S.SUCCESS); // [5, 9] touches but does not overlap
  });

  it(`overlapping shared locks are OK, an exclusive over them is not [${SRC.wine}]`, () => {
    const t = new Harness();
    expect(t.shared(h1, 100, 100)).toBe(S.SUCCESS);
    expect(t.shared(h1, 100, 100)).toBe(S.SUCCESS);
    expect(t.shared(h1, 150, 100)).toBe(S.SUCCESS);
    expect(t.lockStatus(h1, 150, 50)).toBe(S.LOCK_NOT_GRANTED);
    expect(t.unlock(h1, 150, 100)).toBe(S.SUCCESS);
  });

  it(
    'a lock over [2^60, 2^64-1] refuses ~0/1 and 0x2000000000000000/20 inside it [' +
      SRC.wine +
      ']',
    () => {
      const t = new Harness();
      const start = 0x10000000n << 32n;
      const length = 0xf0000000n << 32n;
      expect(t.lockStatus(h1, start, length)).toBe(S.SUCCESS);
      expect(t.lockStatus(h1, U64_MAX, 1)).toBe(S.LOCK_NOT_GRANTED);
      expect(t.lockStatus(h1, 0x20000000n << 32n, 20)).toBe(S.LOCK_NOT_GRANTED);
      expect(t.unlock(h1, start, length)).toBe(S.SUCCESS);
    },
  );

  it(
    'a range ending exactly at byte 2^64-1 is valid, one byte more wraps [' +
      SRC.wine +
      '; ' +
      SRC.fsaLock +
      ']',
    () => {
      const t = new Harness();
      const start = 0x10000000n << 32n;
      const length = 0xf0000000n << 32n; // start + length - 1 == 2^64 - 1
      expect(t.lockStatus(h2, start, length)).toBe(S.SUCCESS);
      expect(t.lockStatus(h1, start, length + 1n)).toBe(S.INVALID_LOCK_RANGE);
      expect(t.lockStatus(h1, U64_MAX - 1n, 1)).toBe(S.LOCK_NOT_GRANTED);
    },
  );

  it(
    'a wrap-around lock "should not do anything": STATUS_INVALID_LOCK_RANGE, nothing locked [' +
      SRC.wine +
      '; ' +
      SRC.fsaLock +
      ']',
    () => {
      const t = new Harness();
      expect(t.lockStatus(h1, 0x10000000n << 32n, 0xf0000001n << 32n)).toBe(S.INVALID_LOCK_RANGE);
      expect(t.locks()).toEqual([]);
      // ~0/1 is then free (Wine's limited_LockFile probe succeeds on NT).
      expect(t.lockStatus(h1, U64_MAX, 1)).toBe(S.SUCCESS);
      expect(t.unlock(h1, U64_MAX, 1)).toBe(S.SUCCESS);
    },
  );

  it(`zero-byte lock at 100 among shared [100, 200) locks of the same handle [${SRC.wine}]`, () => {
    const t = new Harness();
    // Wine's sequence leaves two shared 100/100 locks of the handle in place here.
    expect(t.shared(h1, 100, 100)).toBe(S.SUCCESS);
    expect(t.shared(h1, 100, 100)).toBe(S.SUCCESS);
    expect(t.lockStatus(h1, 100, 0)).toBe(S.SUCCESS);
    expect(t.lockStatus(h1, 98, 4)).toBe(S.LOCK_NOT_GRANTED);
    expect(t.lockStatus(h1, 90, 10)).toBe(S.SUCCESS);
    expect(t.lockStatus(h1, 100, 10)).toBe(S.LOCK_NOT_GRANTED);
    expect(t.unlock(h1, 90, 10)).toBe(S.SUCCESS);
    expect(t.unlock(h1, 100, 10)).toBe(S.RANGE_NOT_LOCKED);
    expect(t.unlock(h1, 100, 0)).toBe(S.SUCCESS);
  });
});

describe('ownership is (file object, process, key): [MS-FSA] 2.1.4.10 and LockFileEx', () => {
  it(
    'an exclusive lock refuses a shared lock of the same handle with another key [' +
      SRC.fsaAlgo +
      ']',
    () => {
      const t = new Harness();
      expect(t.lockStatus(owner(1, 1, 7), 0, 10)).toBe(S.SUCCESS);
      expect(t.shared(owner(1, 1, 8), 0, 10)).toBe(S.LOCK_NOT_GRANTED);
      expect(t.shared(owner(1, 1, 7), 0, 10)).toBe(S.SUCCESS);
    },
  );

  it(
    'an exclusive lock refuses a shared lock through the same handle from another process [' +
      SRC.lockFileEx +
      ': a child that inherits the handle is not granted access]',
    () => {
      const t = new Harness();
      expect(t.lockStatus(owner(1, 1), 0, 10)).toBe(S.SUCCESS);
      expect(t.shared(owner(1, 2), 0, 10)).toBe(S.LOCK_NOT_GRANTED);
    },
  );

  it(`a shared lock of another key does not refuse another shared lock [${SRC.fsaAlgo}]`, () => {
    const t = new Harness();
    expect(t.shared(owner(1, 1, 1), 0, 10)).toBe(S.SUCCESS);
    expect(t.shared(owner(1, 1, 2), 0, 10)).toBe(S.SUCCESS);
    expect(t.shared(owner(2, 5, 3), 5, 10)).toBe(S.SUCCESS);
  });

  it(`an exclusive request is refused by a shared lock of its own owner [${SRC.fsaAlgo}]`, () => {
    const t = new Harness();
    expect(t.shared(h1, 0, 10)).toBe(S.SUCCESS);
    expect(t.lockStatus(h1, 9, 1)).toBe(S.LOCK_NOT_GRANTED);
    expect(t.lockStatus(h1, 10, 1)).toBe(S.SUCCESS);
  });

  it(`adjacent ranges never conflict [${SRC.fsaAlgo}]`, () => {
    const t = new Harness();
    expect(t.lockStatus(h1, 0, 10)).toBe(S.SUCCESS);
    expect(t.lockStatus(h2, 10, 10)).toBe(S.SUCCESS);
    expect(t.lockStatus(other, 20, 10)).toBe(S.SUCCESS);
    expect(t.lockStatus(other, 9, 2)).toBe(S.LOCK_NOT_GRANTED);
  });

  it(`locking beyond end of file is not an error [${SRC.lockFileEx}]`, () => {
    const t = new Harness();
    expect(t.lockStatus(h1, 1n << 40n, 1n << 30n)).toBe(S.SUCCESS);
  });

  it(
    'a lock of the whole 64-bit space minus one byte: offset 0, length 2^64-1 [' +
      SRC.fsaLock +
      ']',
    () => {
      const t = new Harness();
      expect(t.lockStatus(h1, 0, U64_MAX)).toBe(S.SUCCESS);
      expect(t.lockStatus(h2, U64_MAX, 1)).toBe(S.SUCCESS); // byte 2^64-1 is not covered
      expect(t.lockStatus(h2, U64_MAX - 1n, 1)).toBe(S.LOCK_NOT_GRANTED);
      expect(t.lockStatus(h2, 1, U64_MAX)).toBe(S.LOCK_NOT_GRANTED); // [1, 2^64-1]: valid, overlaps
    },
  );
});
