/**
 * Grants of Windows 7 oplocks (R, RW, RH, RWH) through FSCTL_REQUEST_OPLOCK: validation of
 * REQUEST_OPLOCK_INPUT_BUFFER, coexistence, upgrades and re-requests under one oplock key
 * (STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE), OpenCount and OPLOCK_FSCTRL_FLAG_ALL_KEYS_MATCH.
 * Sources: maharmstone/btrfs src/tests/oplock.cpp test_oplocks_r/_rw/_rh/_rwh (runs on NTFS);
 * FSCTL_REQUEST_OPLOCK and REQUEST_OPLOCK_INPUT/OUTPUT_BUFFER pages; FltOplockFsctrlEx page;
 * "Types of Opportunistic Locks"; [MS-FSA] 2.1.5.18.
 */
import { describe, expect, it } from 'vitest';
import { Fsctl, type OplockLevel } from '../../../src/bridge/flags.js';
import { fsctrl, snapshot } from '../../../src/model/oplock/index.js';
import { COMPLETE, Harness, PENDING, S } from './harness.js';

const WIN7: readonly OplockLevel[] = ['R', 'RH', 'RW', 'RWH'];

describe('FSCTL_REQUEST_OPLOCK input validation (FSCTL_REQUEST_OPLOCK page)', () => {
  it.each([
    ['W without R', 0x4],
    ['H without R', 0x2],
    ['WH without R', 0x6],
    ['an unknown bit', 0x9],
    ['level 0 with REQUEST', 0x0],
  ])('a request for %s -> STATUS_INVALID_PARAMETER', (_name, bits) => {
    const h = new Harness();
    const r = h.win7(h.open(), bits, 0);
    expect(r.result).toMatchObject({ preop: COMPLETE, ioStatus: S.STATUS_INVALID_PARAMETER });
  });

  const base = { structureVersion: 1, structureLength: 12, requestedOplockLevel: 1, flags: 1 };
  it.each([
    ['StructureVersion 2', { input: { ...base, structureVersion: 2 } }, S.STATUS_INVALID_PARAMETER],
    ['StructureLength 8', { input: { ...base, structureLength: 8 } }, S.STATUS_INVALID_PARAMETER],
    ['both REQUEST and ACK', { input: { ...base, flags: 3 } }, S.STATUS_INVALID_PARAMETER],
    ['neither REQUEST nor ACK', { input: { ...base, flags: 0 } }, S.STATUS_INVALID_PARAMETER],
    [
      'COMPLETE_ACK_ON_CLOSE with REQUEST',
      { input: { ...base, flags: 5 } },
      S.STATUS_INVALID_PARAMETER,
    ],
    ['an unknown input flag', { input: { ...base, flags: 0x11 } }, S.STATUS_INVALID_PARAMETER],
    ['no input buffer', {}, S.STATUS_BUFFER_TOO_SMALL],
    ['an 8-byte input buffer', { input: base, inputBufferLength: 8 }, S.STATUS_BUFFER_TOO_SMALL],
    ['a 16-byte output buffer', { input: base, outputBufferLength: 16 }, S.STATUS_BUFFER_TOO_SMALL],
  ] as const)('%s -> refused with the status Windows uses', (_name, extra, status) => {
    const h = new Harness();
    const op = h.fsctlOp(h.open(), Fsctl.FSCTL_REQUEST_OPLOCK, extra);
    expect(fsctrl(h.oplock, op, 0)).toMatchObject({ preop: COMPLETE, ioStatus: status });
    expect(h.oplock.isEmpty()).toBe(true);
  });
});

describe('granting Windows 7 oplocks', () => {
  it.each(WIN7)('%s is granted (pending) on the only handle', (level) => {
    const h = new Harness();
    expect(h.win7(h.open(), level).result.preop).toBe(PENDING);
  });

  it.each(WIN7)(
    'btrfs oplock.cpp (NTFS): %s on a synchronous handle -> STATUS_OPLOCK_NOT_GRANTED',
    (level) => {
      const h = new Harness();
      expect(h.win7(h.open({ synchronous: true }), level).result.ioStatus).toBe(
        S.STATUS_OPLOCK_NOT_GRANTED,
      );
    },
  );

  it.each([
    ['R', PENDING],
    ['RH', PENDING],
    ['RW', COMPLETE],
    ['RWH', COMPLETE],
  ] as const)(
    'btrfs oplock.cpp "Create directory" (NTFS, Windows 8+): %s on a directory -> %s',
    (level, preop) => {
      const h = new Harness();
      const r = h.win7(h.open({ directory: true }), level);
      expect(r.result.preop).toBe(preop);
      if (preop === COMPLETE) expect(r.result.ioStatus).toBe(S.STATUS_INVALID_PARAMETER);
    },
  );

  it.each(['R', 'RH'] as const)(
    'FltOplockFsctrlEx page / btrfs (NTFS) "Lock file": %s with OpenCount != 0 (byte-range locks) -> refused',
    (level) => {
      const h = new Harness();
      expect(h.win7(h.open(), level, 1).result.ioStatus).toBe(S.STATUS_OPLOCK_NOT_GRANTED);
    },
  );

  it.each(['RW', 'RWH'] as const)(
    'btrfs oplock.cpp (NTFS): %s is granted on a handle with byte-range locks (OpenCount 1)',
    (level) => {
      const h = new Harness();
      expect(h.win7(h.open(), level, 1).result.preop).toBe(PENDING);
    },
  );

  it.each(['RW', 'RWH'] as const)(
    'btrfs oplock.cpp "with two handles open" (NTFS): %s with OpenCount 2 -> refused',
    (level) => {
      const h = new Harness();
      expect(h.win7(h.open(), level, 2).result.ioStatus).toBe(S.STATUS_OPLOCK_NOT_GRANTED);
    },
  );

  it.each(['RW', 'RWH'] as const)(
    'FltOplockFsctrlEx page: %s with OpenCount 2 and OPLOCK_FSCTRL_FLAG_ALL_KEYS_MATCH is granted',
    (level) => {
      const h = new Harness();
      expect(h.win7(h.open({ key: 'k' }), level, 2, 1).result.preop).toBe(PENDING);
    },
  );

  it('an unknown FltOplockFsctrlEx flag -> STATUS_INVALID_PARAMETER', () => {
    const h = new Harness();
    expect(h.win7(h.open(), 'R', 0, 2).result.ioStatus).toBe(S.STATUS_INVALID_PARAMETER);
  });

  it('btrfs oplock.cpp oplockrh5 (NTFS): RH is granted with a second handle open', () => {
    const h = new Harness();
    expect(h.win7(h.open(), 'RH', 0).result.preop).toBe(PENDING);
  });

  it('"Types of Opportunistic Locks": R and RH coexist on different handles', () => {
    const h = new Harness();
    h.win7(h.open(), 'R');
    h.win7(h.open(), 'RH');
    expect(snapshot(h.oplock).state).toEqual(['READ_CACHING', 'HANDLE_CACHING', 'MIXED_R_AND_RH']);
  });

  it('btrfs oplock.cpp oplockrh6 (NTFS): RH over a Level 2 -> refused', () => {
    const h = new Harness();
    const fo = h.open();
    h.legacy(fo, 'LEVEL2');
    expect(h.win7(fo, 'RH').result.ioStatus).toBe(S.STATUS_OPLOCK_NOT_GRANTED);
  });

  it.each(['RW', 'RWH'] as const)(
    'btrfs oplock.cpp oplockrw6/oplockrwh6 (NTFS): %s over a Level 2 on the same handle -> refused, Level 2 kept',
    (level) => {
      const h = new Harness();
      const fo = h.open();
      const l2 = h.legacy(fo, 'LEVEL2');
      expect(h.win7(fo, level).result.ioStatus).toBe(S.STATUS_OPLOCK_NOT_GRANTED);
      expect(h.completion(l2.op)).toBeUndefined();
    },
  );

  it.each([
    ['LEVEL1', 'RW'],
    ['BATCH', 'RWH'],
    ['FILTER', 'RH'],
    ['LEVEL1', 'R'],
  ] as const)(
    'btrfs oplock.cpp (NTFS): %s held, %s on the same handle -> refused',
    (held, asked) => {
      const h = new Harness();
      const fo = h.open();
      h.legacy(fo, held);
      expect(h.win7(fo, asked).result.ioStatus).toBe(S.STATUS_OPLOCK_NOT_GRANTED);
    },
  );
});

describe('upgrades and re-requests under one oplock key', () => {
  const SAME_HANDLE: ReadonlyArray<[OplockLevel, OplockLevel]> = [
    ['R', 'RW'],
    ['R', 'RWH'],
    ['RH', 'RWH'],
    ['RW', 'RW'],
    ['RW', 'RWH'],
    ['RWH', 'RWH'],
    ['RH', 'RH'],
    ['R', 'RH'],
    ['R', 'R'],
  ];
  it.each(SAME_HANDLE)(
    'btrfs oplock.cpp (NTFS) "Check first oplock broken": %s then %s on the same handle: granted; the first completes with NewOplockLevel = the new level and STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE ("Granting Oplocks"; [MS-FSA] 2.1.5.18.1/.2)',
    (first, second) => {
      const h = new Harness();
      const fo = h.open();
      const a = h.win7(fo, first);
      const b = h.win7(fo, second);
      expect(b.result.preop).toBe(PENDING);
      const c = h.completion(a.op);
      // btrfs oplock.cpp does not check the status; IFS "Granting Oplocks" (Read row: "If a
      // Read oplock is requested on a handle that already has a Read oplock granted to it, the
      // first Read oplock's IRP is completed with STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE") and
      // [MS-FSA] 2.1.5.18.1/.2 give it for every same-key switch, same handle included.
      expect(c?.status).toBe(S.STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE);
      expect(c?.reason).toBe('switched');
      expect(c?.output?.newOplockLevel).toBe(
        { R: 1, RH: 3, RW: 5, RWH: 7 }[second as 'R' | 'RH' | 'RW' | 'RWH'],
      );
      expect(c?.output?.flags).toBe(0);
      expect(c?.cause?.operation).toBe(b.op);
    },
  );

  it.each([
    ['RH', 'RW'],
    ['RWH', 'RW'],
    ['RW', 'RH'],
    ['RWH', 'RH'],
    ['RH', 'R'],
  ] as const)(
    'btrfs oplock.cpp oplockrw8/rw10/rh9/rh10 (NTFS): a downgrade %s -> %s on the same handle is refused',
    (first, second) => {
      const h = new Harness();
      const fo = h.open();
      const a = h.win7(fo, first);
      expect(h.win7(fo, second).result.ioStatus).toBe(S.STATUS_OPLOCK_NOT_GRANTED);
      expect(h.completion(a.op)).toBeUndefined();
    },
  );

  it('[MS-FSA] 2.1.5.18.2: an R request from another handle with the same key takes the R over (STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE)', () => {
    const h = new Harness();
    const a = h.win7(h.open({ key: 'K1' }), 'R');
    const b = h.win7(h.open({ key: 'k1' }), 'R');
    expect(b.result.preop).toBe(PENDING);
    expect(h.completion(a.op)).toMatchObject({
      status: S.STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE,
      reason: 'switched',
      toLevel: 'R',
    });
    expect(snapshot(h.oplock).read).toHaveLength(1);
  });

  it('[MS-FSA] 2.1.5.18.2: RH from another handle of the same key upgrades the R holders to RH', () => {
    const h = new Harness();
    const a = h.win7(h.open({ key: 'k' }), 'R');
    const b = h.win7(h.open({ key: 'k' }), 'RH');
    expect(b.result.preop).toBe(PENDING);
    expect(h.completion(a.op)?.status).toBe(S.STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE);
    expect(h.completion(a.op)?.output?.newOplockLevel).toBe(3);
  });

  it('[MS-FSA] 2.1.5.18.1: RWH on a second handle with the same key (ALL_KEYS_MATCH) takes over the RH', () => {
    const h = new Harness();
    const a = h.win7(h.open({ key: 'k' }), 'RH');
    const b = h.win7(h.open({ key: 'k' }), 'RWH', 2, 1);
    expect(b.result.preop).toBe(PENDING);
    expect(h.completion(a.op)?.status).toBe(S.STATUS_OPLOCK_SWITCHED_TO_NEW_HANDLE);
    expect(snapshot(h.oplock).exclusive?.level).toBe('RWH');
  });

  it('RW is refused while an R with another key exists (exclusive needs one key)', () => {
    const h = new Harness();
    h.win7(h.open({ key: 'a' }), 'R');
    expect(h.win7(h.open({ key: 'b' }), 'RW', 2, 1).result.ioStatus).toBe(
      S.STATUS_OPLOCK_NOT_GRANTED,
    );
  });

  it('R held by handles of different keys are independent: a new R does not switch them', () => {
    const h = new Harness();
    const a = h.win7(h.open({ key: 'a' }), 'R');
    h.win7(h.open({ key: 'b' }), 'R');
    h.win7(h.open(), 'R');
    expect(h.completion(a.op)).toBeUndefined();
    expect(snapshot(h.oplock).read).toHaveLength(3);
  });
});
