/**
 * Grants of legacy oplocks (Level 1, Level 2, Batch, Filter): which requests FltOplockFsctrlEx
 * returns FLT_PREOP_PENDING for and which it refuses, with which status.
 * Sources: maharmstone/btrfs src/tests/oplock.cpp (test_oplocks_i, _ii, _batch, _filter; the suite
 * runs against NTFS), the FltOplockFsctrlEx page (OpenCount convention), [MS-FSA] 2.1.5.18.
 */
import { describe, expect, it } from 'vitest';
import type { OplockLevel } from '../../../src/bridge/flags.js';
import { snapshot } from '../../../src/model/oplock/index.js';
import { COMPLETE, Harness, PENDING, S } from './harness.js';

type Legacy = 'LEVEL1' | 'LEVEL2' | 'BATCH' | 'FILTER';
const LEGACY: readonly Legacy[] = ['LEVEL1', 'LEVEL2', 'BATCH', 'FILTER'];
const EXCLUSIVE: readonly Legacy[] = ['LEVEL1', 'BATCH', 'FILTER'];

describe('granting legacy oplocks', () => {
  it.each(LEGACY)('%s is granted (pending) on the only handle of a stream', (level) => {
    const h = new Harness();
    const r = h.legacy(h.open(), level);
    expect(r.result).toMatchObject({ preop: PENDING, ioStatus: S.STATUS_PENDING });
    expect(h.completion(r.op)).toBeUndefined();
  });

  it.each(LEGACY)(
    'btrfs oplock.cpp (NTFS): %s on a FILE_SYNCHRONOUS_IO_NONALERT handle -> STATUS_OPLOCK_NOT_GRANTED',
    (level) => {
      const h = new Harness();
      const r = h.legacy(h.open({ synchronous: true }), level);
      expect(r.result).toMatchObject({ preop: COMPLETE, ioStatus: S.STATUS_OPLOCK_NOT_GRANTED });
    },
  );

  it.each(LEGACY)(
    'btrfs oplock.cpp (NTFS): %s on a directory -> STATUS_INVALID_PARAMETER',
    (level) => {
      const h = new Harness();
      const r = h.legacy(h.open({ directory: true }), level);
      expect(r.result).toMatchObject({ preop: COMPLETE, ioStatus: S.STATUS_INVALID_PARAMETER });
    },
  );

  it.each(EXCLUSIVE)(
    'btrfs oplock.cpp (NTFS) "with two handles open": %s with OpenCount 2 -> STATUS_OPLOCK_NOT_GRANTED',
    (level) => {
      const h = new Harness();
      const r = h.legacy(h.open(), level, 2);
      expect(r.result.ioStatus).toBe(S.STATUS_OPLOCK_NOT_GRANTED);
    },
  );

  it.each(EXCLUSIVE)(
    'OPLOCK_FSCTRL_FLAG_ALL_KEYS_MATCH does not let %s through with several handles (RW/RWH only, FltOplockFsctrlEx page)',
    (level) => {
      const h = new Harness();
      const r = h.legacy(h.open({ key: 'a-key' }), level, 2, 1);
      expect(r.result.ioStatus).toBe(S.STATUS_OPLOCK_NOT_GRANTED);
    },
  );

  it('FltOplockFsctrlEx page: OpenCount != 0 on a Level 2 request means byte-range locks exist -> refused (btrfs: "Lock file" then "Try to get level 2 oplock")', () => {
    const h = new Harness();
    const r = h.legacy(h.open(), 'LEVEL2', 1);
    expect(r.result.ioStatus).toBe(S.STATUS_OPLOCK_NOT_GRANTED);
  });

  it.each(EXCLUSIVE)(
    'btrfs oplock.cpp (NTFS): byte-range locks do not stop %s (OpenCount is the handle count)',
    (level) => {
      const h = new Harness();
      expect(h.legacy(h.open(), level, 1).result.preop).toBe(PENDING);
    },
  );

  it('btrfs oplock.cpp test_oplocks_ii (NTFS): Level 2 on two handles are both granted', () => {
    const h = new Harness();
    const a = h.legacy(h.open(), 'LEVEL2');
    const b = h.legacy(h.open(), 'LEVEL2');
    expect([a.result.preop, b.result.preop]).toEqual([PENDING, PENDING]);
    expect(snapshot(h.oplock).levelTwo).toHaveLength(2);
  });

  it('btrfs oplock.cpp oplockii6 (NTFS): Level 2 is granted next to an R oplock', () => {
    const h = new Harness();
    h.win7(h.open(), 'R');
    expect(h.legacy(h.open(), 'LEVEL2').result.preop).toBe(PENDING);
    expect(snapshot(h.oplock).state).toEqual(['LEVEL_TWO_OPLOCK', 'READ_CACHING']);
  });

  it('btrfs oplock.cpp oplockii7 (NTFS): Level 2 is refused next to an RH oplock', () => {
    const h = new Harness();
    h.win7(h.open(), 'RH');
    expect(h.legacy(h.open(), 'LEVEL2').result.ioStatus).toBe(S.STATUS_OPLOCK_NOT_GRANTED);
  });

  const HELD: readonly OplockLevel[] = ['LEVEL1', 'BATCH', 'FILTER', 'RW', 'RWH'];
  it.each(HELD)(
    'btrfs oplock.cpp oplockii8-12 (NTFS): Level 2 on the handle holding %s -> STATUS_OPLOCK_NOT_GRANTED, first not broken',
    (held) => {
      const h = new Harness();
      const fo = h.open();
      const first = h.request(fo, held);
      expect(h.legacy(fo, 'LEVEL2').result.ioStatus).toBe(S.STATUS_OPLOCK_NOT_GRANTED);
      expect(h.completion(first.op)).toBeUndefined();
    },
  );

  const OVER: ReadonlyArray<[Legacy, OplockLevel]> = [
    ['LEVEL1', 'LEVEL1'],
    ['LEVEL1', 'BATCH'],
    ['LEVEL1', 'FILTER'],
    ['LEVEL1', 'R'],
    ['LEVEL1', 'RH'],
    ['LEVEL1', 'RW'],
    ['LEVEL1', 'RWH'],
    ['BATCH', 'BATCH'],
    ['BATCH', 'R'],
    ['FILTER', 'FILTER'],
    ['FILTER', 'RWH'],
  ];
  it.each(OVER)(
    'btrfs oplock.cpp (NTFS): %s on a handle already holding %s -> STATUS_OPLOCK_NOT_GRANTED',
    (asked, held) => {
      const h = new Harness();
      const fo = h.open();
      const first = h.request(fo, held);
      expect(h.legacy(fo, asked).result.ioStatus).toBe(S.STATUS_OPLOCK_NOT_GRANTED);
      expect(h.completion(first.op)).toBeUndefined();
    },
  );

  it.each(EXCLUSIVE)(
    'btrfs oplock.cpp oplocki6/oplockb6/oplockf6 (NTFS): %s over a Level 2 on the same handle is granted and the Level 2 breaks to none',
    (level) => {
      const h = new Harness();
      const fo = h.open();
      const l2 = h.legacy(fo, 'LEVEL2');
      const ex = h.legacy(fo, level);
      expect(ex.result.preop).toBe(PENDING);
      expect(h.completion(l2.op)).toMatchObject({
        status: S.STATUS_SUCCESS,
        information: 8,
        toLevel: 'NONE',
        ackRequired: false,
        reason: 'break',
      });
      expect(h.completion(l2.op)?.cause?.operation).toBe(ex.op);
    },
  );
});
