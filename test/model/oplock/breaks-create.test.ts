/**
 * Breaks caused by creates (FltCheckOplockEx on IRP_MJ_CREATE): access, disposition (overwrite,
 * supersede), attribute-only opens, FILE_RESERVE_OPFILTER, FILE_OPEN_REQUIRING_OPLOCK (atomic),
 * FILE_COMPLETE_IF_OPLOCKED, filter oplocks tolerating readers, REQUEST_OPLOCK_OUTPUT_BUFFER of
 * create-caused breaks. Sources: maharmstone/btrfs src/tests/oplock.cpp (NTFS), [MS-FSA] 2.1.4.12
 * OPEN case, FsRtlCheckOplock / FltCheckOplockEx pages, NtCreateFile page (FILE_OPBATCH_BREAK_UNDERWAY).
 */
import { describe, expect, it } from 'vitest';
import type { OplockLevel } from '../../../src/bridge/flags.js';
import { snapshot } from '../../../src/model/oplock/index.js';
import {
  COMPLETE,
  CREATE_OPTIONS,
  FILE_OPEN,
  FILE_OPEN_IF,
  FILE_OVERWRITE,
  FILE_OVERWRITE_IF,
  FILE_SUPERSEDE,
  Harness,
  PENDING,
  PROCEED,
  READ_ATTRIBUTES,
  READ_DATA,
  S,
  WRITE_DATA,
} from './harness.js';

/** [holder level, open disposition, expected new level, ack required, open waits] */
const MATRIX: ReadonlyArray<[OplockLevel, number, OplockLevel, boolean, boolean]> = [
  ['LEVEL1', FILE_OPEN, 'LEVEL2', true, true],
  ['LEVEL1', FILE_SUPERSEDE, 'NONE', true, true],
  ['LEVEL1', FILE_OVERWRITE, 'NONE', true, true],
  ['LEVEL1', FILE_OVERWRITE_IF, 'NONE', true, true],
  ['BATCH', FILE_OPEN, 'LEVEL2', true, true],
  ['BATCH', FILE_OPEN_IF, 'LEVEL2', true, true],
  ['BATCH', FILE_SUPERSEDE, 'NONE', true, true],
  ['BATCH', FILE_OVERWRITE_IF, 'NONE', true, true],
  ['FILTER', FILE_SUPERSEDE, 'NONE', true, true],
  ['FILTER', FILE_OVERWRITE, 'NONE', true, true],
  ['LEVEL2', FILE_SUPERSEDE, 'NONE', false, false],
  ['LEVEL2', FILE_OVERWRITE, 'NONE', false, false],
  ['LEVEL2', FILE_OVERWRITE_IF, 'NONE', false, false],
  ['R', FILE_SUPERSEDE, 'NONE', false, false],
  ['R', FILE_OVERWRITE, 'NONE', false, false],
  ['R', FILE_OVERWRITE_IF, 'NONE', false, false],
  ['RH', FILE_SUPERSEDE, 'NONE', true, false],
  ['RH', FILE_OVERWRITE_IF, 'NONE', true, false],
  ['RW', FILE_OPEN, 'R', true, true],
  ['RW', FILE_SUPERSEDE, 'NONE', true, true],
  ['RW', FILE_OVERWRITE, 'NONE', true, true],
  ['RWH', FILE_OPEN, 'RH', true, true],
  ['RWH', FILE_SUPERSEDE, 'NONE', true, true],
  ['RWH', FILE_OVERWRITE_IF, 'NONE', true, true],
];

const DISPOSITION = ['SUPERSEDE', 'OPEN', 'CREATE', 'OPEN_IF', 'OVERWRITE', 'OVERWRITE_IF'];

describe('a second open breaks the holder (btrfs oplock.cpp "Open second handle (...)", NTFS)', () => {
  it.each(
    MATRIX.map(([held, d, to, ack, waits]) => [held, DISPOSITION[d], d, to, ack, waits] as const),
  )(
    '%s held, FILE_%s (%i) read open -> broken to %s, ack required %s, open waits %s',
    (held, _name, disposition, to, ack, waits) => {
      const h = new Harness();
      const holder = h.request(h.open(), held);
      const open = h.create(h.open(), { access: READ_DATA, disposition });
      expect(open.result.preop).toBe(waits ? PENDING : PROCEED);
      const c = h.completion(holder.op);
      expect(c).toMatchObject({ status: S.STATUS_SUCCESS, reason: 'break', toLevel: to });
      expect(c?.ackRequired).toBe(ack);
      expect(c?.cause).toEqual({ operation: open.op, waits });
      if (held === 'LEVEL1' || held === 'BATCH' || held === 'FILTER' || held === 'LEVEL2') {
        expect(c?.information).toBe(to === 'LEVEL2' ? 7 : 8);
      }
    },
  );

  it.each(['R', 'RH', 'LEVEL2'] as const)(
    'btrfs oplock.cpp (NTFS): a FILE_OPEN read open does not break %s',
    (held) => {
      const h = new Harness();
      const holder = h.request(h.open(), held);
      expect(h.create(h.open(), { access: READ_DATA | WRITE_DATA }).result.preop).toBe(PROCEED);
      expect(h.completion(holder.op)).toBeUndefined();
    },
  );
});

describe('opens that never break ([MS-FSA] 2.1.4.12 OPEN: attributes and SYNCHRONIZE only)', () => {
  it.each(['LEVEL1', 'BATCH', 'RWH', 'R', 'LEVEL2', 'FILTER'] as const)(
    'an attribute-only FILE_OPEN / FILE_OPEN_IF open does not break %s (smb2.oplock.exclusive4, batch8, batch9a)',
    (held) => {
      const h = new Harness();
      const holder = h.request(h.open(), held);
      for (const disposition of [FILE_OPEN, FILE_OPEN_IF]) {
        const open = h.create(h.open(), {
          access: READ_ATTRIBUTES | 0x100 | 0x100000,
          disposition,
        });
        expect(open.result).toMatchObject({ preop: PROCEED, ioStatus: S.STATUS_SUCCESS });
      }
      expect(h.completion(holder.op)).toBeUndefined();
    },
  );

  // Samba smb2.oplock.statopen1 (Windows): a batch oplock is not broken by opens for
  // FILE_READ_ATTRIBUTES, FILE_WRITE_ATTRIBUTES or SYNCHRONIZE alone, and is broken by every
  // other right tried (READ_DATA, WRITE_DATA, READ_EA, WRITE_EA, EXECUTE, DELETE, READ_CONTROL,
  // WRITE_DAC, WRITE_OWNER).
  it.each([
    [0x0001, true],
    [0x0002, true],
    [0x0008, true],
    [0x0010, true],
    [0x0020, true],
    [0x0080, false],
    [0x0100, false],
    [0x00010000, true],
    [0x00020000, true],
    [0x00040000, true],
    [0x00080000, true],
    [0x00100000, false],
  ] as const)(
    'smb2.oplock.statopen1 (Windows): an open for access 0x%s breaks batch: %s',
    (access, breaks) => {
      const h = new Harness();
      const holder = h.legacy(h.open(), 'BATCH');
      h.create(h.open(), { access });
      expect(h.completion(holder.op) !== undefined).toBe(breaks);
    },
  );

  // The file system adds DELETE (FILE_SUPERSEDE) or FILE_WRITE_DATA|FILE_WRITE_EA|
  // FILE_WRITE_ATTRIBUTES (FILE_OVERWRITE(_IF)) before it checks the oplock (IFS "Checking for
  // Other Special Cases on IRP_MJ_CREATE"), so such an open is never attribute-only. Windows:
  // smb2.oplock.exclusive5 (Level 1, OVERWRITE_IF), batch13 (OVERWRITE), batch16 (OVERWRITE_IF):
  // "second open with attributes only and NTCREATEX_DISP_OVERWRITE... disposition causes oplock
  // break".
  it.each([
    ['LEVEL1', FILE_OVERWRITE_IF],
    ['BATCH', FILE_OVERWRITE],
    ['BATCH', FILE_OVERWRITE_IF],
    ['BATCH', FILE_SUPERSEDE],
    ['RWH', FILE_OVERWRITE_IF],
    ['LEVEL2', FILE_OVERWRITE],
    ['R', FILE_SUPERSEDE],
  ] as const)(
    'smb2.oplock.exclusive5/batch13/batch16 (Windows): an attribute-only open with a destructive disposition breaks %s to none (disposition %i)',
    (held, disposition) => {
      const h = new Harness();
      const holder = h.request(h.open(), held);
      h.create(h.open(), { access: READ_ATTRIBUTES | 0x100 | 0x100000, disposition });
      expect(h.completion(holder.op)).toMatchObject({ reason: 'break', toLevel: 'NONE' });
    },
  );

  it("an open by the holder's own handle never breaks it", () => {
    const h = new Harness();
    const fo = h.open();
    const holder = h.legacy(fo, 'BATCH');
    expect(h.create(fo, { disposition: FILE_OVERWRITE }).result.preop).toBe(PROCEED);
    expect(h.completion(holder.op)).toBeUndefined();
  });
});

// Samba smb2.lease.breaking4 (Windows): an RH lease broken to none by an OVERWRITE open: "a
// conflicting open is *not* blocked until we ack the lease break, even if the lease is in
// breaking state"; the second OVERWRITE open sends no new break (IRP_MJ_CREATE oplock-state page,
// Read-Handle row: "If the oplock broke for any other reason, although acknowledgment of the
// break is required, the operation continues immediately").
describe('smb2.lease.breaking4 (Windows): RH broken to none by an overwrite', () => {
  it('neither the first nor a second OVERWRITE open waits; the holder is told once; its ack to 0 ends the break', () => {
    const h = new Harness();
    const a = h.open();
    const r = h.win7(a, 'RH');
    const first = h.create(h.open(), { disposition: FILE_OVERWRITE });
    expect(first.result.preop).toBe(PROCEED);
    expect(h.completion(r.op)).toMatchObject({ toLevel: 'NONE', ackRequired: true });
    const second = h.create(h.open(), { disposition: FILE_OVERWRITE });
    expect(second.result.preop).toBe(PROCEED);
    expect(h.completions(r.op)).toHaveLength(1);
    expect(h.ackWin7(a, 0).result.ioStatus).toBe(S.STATUS_SUCCESS);
    expect(h.oplock.isEmpty()).toBe(true);
  });
});

// Samba smb2.lease.breaking1/breaking2 (Windows): an RWH lease broken by a plain open (to RH) or
// an OVERWRITE open (to none); "a conflicting open is blocked until we ack the lease break".
describe('smb2.lease.breaking1/2 (Windows): RWH breaks, the open waits for the ack', () => {
  it.each([
    [FILE_OPEN, 'RH'],
    [FILE_OVERWRITE, 'NONE'],
  ] as const)('disposition %i: RWH -> %s, the open waits until the ack', (disposition, to) => {
    const h = new Harness();
    const a = h.open();
    const r = h.win7(a, 'RWH');
    const open = h.create(h.open(), { access: 0x1f01ff, disposition });
    expect(open.result.preop).toBe(PENDING);
    expect(h.completion(r.op)).toMatchObject({ toLevel: to, ackRequired: true });
    const ack = h.ackWin7(a, to === 'RH' ? 'RH' : 0);
    expect(h.released(open.op)).toMatchObject({ reason: 'acknowledged', releasedBy: ack.op });
  });
});

describe('filter oplocks let readers in (btrfs oplock.cpp test_oplocks_filter, NTFS)', () => {
  it('a FILE_READ_DATA open sharing read does not break a filter oplock', () => {
    const h = new Harness();
    const f = h.legacy(h.open(), 'FILTER');
    expect(h.create(h.open(), { access: READ_DATA }).result.preop).toBe(PROCEED);
    expect(h.completion(f.op)).toBeUndefined();
  });

  it('a FILE_WRITE_DATA open breaks a filter oplock to none and waits', () => {
    const h = new Harness();
    const f = h.legacy(h.open(), 'FILTER');
    const open = h.create(h.open(), { access: WRITE_DATA });
    expect(open.result.preop).toBe(PENDING);
    expect(h.completion(f.op)).toMatchObject({
      information: 8,
      toLevel: 'NONE',
      ackRequired: true,
    });
  });

  it('a reader that does not share read breaks the filter oplock', () => {
    const h = new Harness();
    const f = h.legacy(h.open(), 'FILTER');
    expect(h.create(h.open(), { access: READ_DATA, share: 0x2 }).result.preop).toBe(PENDING);
    expect(h.completion(f.op)?.toLevel).toBe('NONE');
  });

  it('reads through another handle do not break a filter oplock', () => {
    const h = new Harness();
    const f = h.legacy(h.open(), 'FILTER');
    expect(h.read(h.open()).result.preop).toBe(PROCEED);
    expect(h.completion(f.op)).toBeUndefined();
  });
});

describe('FILE_COMPLETE_IF_OPLOCKED / OPLOCK_FLAG_COMPLETE_IF_OPLOCKED', () => {
  it('btrfs oplock.cpp oplockb1 (NTFS): batch + FILE_COMPLETE_IF_OPLOCKED open -> STATUS_OPLOCK_BREAK_IN_PROGRESS, break to Level 2 started', () => {
    const h = new Harness();
    const b = h.legacy(h.open(), 'BATCH');
    const open = h.create(h.open(), { options: CREATE_OPTIONS.FILE_COMPLETE_IF_OPLOCKED });
    expect(open.result).toMatchObject({
      preop: PROCEED,
      ioStatus: S.STATUS_OPLOCK_BREAK_IN_PROGRESS,
      information: 9, // FILE_OPBATCH_BREAK_UNDERWAY (NtCreateFile page)
    });
    expect(h.completion(b.op)).toMatchObject({ toLevel: 'LEVEL2', cause: { waits: false } });
    expect(snapshot(h.oplock).waitingOperationIds).toEqual([]);
  });

  it.each(['RW', 'RWH'] as const)(
    'btrfs oplock.cpp (NTFS): %s + FILE_COMPLETE_IF_OPLOCKED open -> STATUS_OPLOCK_BREAK_IN_PROGRESS',
    (held) => {
      const h = new Harness();
      const r = h.win7(h.open(), held);
      const open = h.create(h.open(), { options: CREATE_OPTIONS.FILE_COMPLETE_IF_OPLOCKED });
      expect(open.result).toMatchObject({
        ioStatus: S.STATUS_OPLOCK_BREAK_IN_PROGRESS,
        information: 0,
      });
      expect(h.completion(r.op)?.toLevel).toBe(held === 'RW' ? 'R' : 'RH');
    },
  );

  it.each(['R', 'RH', 'FILTER'] as const)(
    'btrfs oplock.cpp (NTFS): %s + FILE_COMPLETE_IF_OPLOCKED read open -> STATUS_SUCCESS (nothing to wait for)',
    (held) => {
      const h = new Harness();
      h.request(h.open(), held);
      const open = h.create(h.open(), { options: CREATE_OPTIONS.FILE_COMPLETE_IF_OPLOCKED });
      expect(open.result).toMatchObject({ preop: PROCEED, ioStatus: S.STATUS_SUCCESS });
    },
  );

  it('FltCheckOplockEx page: OPLOCK_FLAG_COMPLETE_IF_OPLOCKED works on a write too', () => {
    const h = new Harness();
    const r = h.win7(h.open(), 'RW');
    const w = h.write(h.open(), 0x1);
    expect(w.result.ioStatus).toBe(S.STATUS_OPLOCK_BREAK_IN_PROGRESS);
    expect(h.completion(r.op)?.toLevel).toBe('NONE');
  });
});

describe('FILE_RESERVE_OPFILTER (btrfs oplock.cpp "Try to open second handle with FILE_RESERVE_OPFILTER", NTFS)', () => {
  it.each([
    ['LEVEL2', false],
    ['R', false],
    ['RW', true],
    ['BATCH', true],
  ] as const)(
    'the check breaks %s to none even for an attribute-only open (waits: %s)',
    (held, waits) => {
      const h = new Harness();
      const holder = h.request(h.open(), held);
      const open = h.create(h.open(), {
        access: READ_ATTRIBUTES,
        options: CREATE_OPTIONS.FILE_RESERVE_OPFILTER,
      });
      expect(open.result.preop).toBe(waits ? PENDING : PROCEED);
      expect(h.completion(holder.op)?.toLevel).toBe('NONE');
    },
  );

  it('the reservation (fsctrl on the create) is refused with a second handle open', () => {
    const h = new Harness();
    const op = h.createOp(h.open(), {
      access: READ_ATTRIBUTES,
      options: CREATE_OPTIONS.FILE_RESERVE_OPFILTER,
    });
    expect(h.oplock.fsctrl(op, 2, 0)).toMatchObject({
      preop: COMPLETE,
      ioStatus: S.STATUS_OPLOCK_NOT_GRANTED,
    });
  });

  it('FltOplockFsctrl page: the reservation on the only handle succeeds and FSCTL_REQUEST_FILTER_OPLOCK on that handle turns it into the filter oplock', () => {
    const h = new Harness();
    const fo = h.open();
    const op = h.createOp(fo, {
      access: READ_ATTRIBUTES,
      options: CREATE_OPTIONS.FILE_RESERVE_OPFILTER,
    });
    expect(h.oplock.fsctrl(op, 1, 0)).toMatchObject({
      preop: COMPLETE,
      ioStatus: S.STATUS_SUCCESS,
    });
    expect(snapshot(h.oplock).state).toEqual(['PENDING_FILTER']);
    expect(h.legacy(h.open(), 'LEVEL2').result.ioStatus).toBe(S.STATUS_OPLOCK_NOT_GRANTED);
    expect(h.legacy(fo, 'FILTER').result.preop).toBe(PENDING);
    expect(snapshot(h.oplock).exclusive?.level).toBe('FILTER');
  });

  it('a breaking open drops a filter reservation silently; BACK_OUT drops it too', () => {
    const h = new Harness();
    const fo = h.open();
    h.oplock.fsctrl(
      h.createOp(fo, { access: READ_ATTRIBUTES, options: CREATE_OPTIONS.FILE_RESERVE_OPFILTER }),
      1,
      0,
    );
    expect(h.create(h.open(), { access: WRITE_DATA }).result.preop).toBe(PROCEED);
    expect(snapshot(h.oplock).pendingFilterFileObjectId).toBeUndefined();
    h.oplock.fsctrl(
      h.createOp(fo, { access: READ_ATTRIBUTES, options: CREATE_OPTIONS.FILE_RESERVE_OPFILTER }),
      1,
      0,
    );
    h.check(h.createOp(fo), 0x4);
    expect(h.oplock.isEmpty()).toBe(true);
  });
});

describe('FILE_OPEN_REQUIRING_OPLOCK (atomic oplocks)', () => {
  it.each(['LEVEL1', 'BATCH', 'RW', 'RWH'] as const)(
    'btrfs oplock.cpp (NTFS) / FsRtlCheckOplock page: %s held -> the check fails with STATUS_CANNOT_BREAK_OPLOCK and breaks nothing',
    (held) => {
      const h = new Harness();
      const holder = h.request(h.open(), held);
      const open = h.create(h.open(), { options: CREATE_OPTIONS.FILE_OPEN_REQUIRING_OPLOCK });
      expect(open.result).toMatchObject({
        preop: COMPLETE,
        ioStatus: S.STATUS_CANNOT_BREAK_OPLOCK,
      });
      expect(h.completion(holder.op)).toBeUndefined();
    },
  );

  it.each(['LEVEL2', 'FILTER'] as const)(
    'btrfs oplock.cpp oplockii1/oplockf1 (NTFS): %s held (a plain open would not break it) -> the atomic request fails with STATUS_CANNOT_BREAK_OPLOCK',
    (held) => {
      const h = new Harness();
      const holder = h.request(h.open(), held);
      const fo = h.open();
      const open = h.create(fo, { options: CREATE_OPTIONS.FILE_OPEN_REQUIRING_OPLOCK });
      expect(open.result.preop).toBe(PROCEED);
      const atomic = h.createOp(fo, { options: CREATE_OPTIONS.FILE_OPEN_REQUIRING_OPLOCK });
      expect(h.oplock.fsctrl(atomic, 2, 0).ioStatus).toBe(S.STATUS_CANNOT_BREAK_OPLOCK);
      expect(h.completion(holder.op)).toBeUndefined();
    },
  );

  it.each(['R', 'RH'] as const)(
    'btrfs oplock.cpp oplockr1/oplockrh1 (NTFS): %s held -> the atomic open succeeds and nothing breaks',
    (held) => {
      const h = new Harness();
      const holder = h.request(h.open(), held);
      const fo = h.open();
      expect(
        h.create(fo, { options: CREATE_OPTIONS.FILE_OPEN_REQUIRING_OPLOCK }).result.preop,
      ).toBe(PROCEED);
      const atomic = h.createOp(fo, { options: CREATE_OPTIONS.FILE_OPEN_REQUIRING_OPLOCK });
      expect(h.oplock.fsctrl(atomic, 2, 0).ioStatus).toBe(S.STATUS_SUCCESS);
      expect(snapshot(h.oplock).atomicFileObjectIds).toEqual([fo.id]);
      expect(h.completion(holder.op)).toBeUndefined();
      expect(h.win7(fo, 'R').result.preop).toBe(PENDING);
      expect(snapshot(h.oplock).atomicFileObjectIds).toEqual([]);
    },
  );

  it('FltCheckOplockEx page: OPLOCK_FLAG_BACK_OUT_ATOMIC_OPLOCK undoes the atomic record of a failed create', () => {
    const h = new Harness();
    const fo = h.open();
    h.oplock.fsctrl(h.createOp(fo, { options: CREATE_OPTIONS.FILE_OPEN_REQUIRING_OPLOCK }), 1, 0);
    expect(h.oplock.isEmpty()).toBe(false);
    expect(h.check(h.createOp(fo), 0x4).preop).toBe(PROCEED);
    expect(h.oplock.isEmpty()).toBe(true);
  });

  it('FltOplockFsctrl on a create without either option -> STATUS_INVALID_PARAMETER', () => {
    const h = new Harness();
    expect(h.oplock.fsctrl(h.createOp(h.open()), 1, 0).ioStatus).toBe(S.STATUS_INVALID_PARAMETER);
  });
});

describe('REQUEST_OPLOCK_OUTPUT_BUFFER of a break caused by a create', () => {
  // REQUEST_OPLOCK_OUTPUT_BUFFER page, Remarks: MODES_PROVIDED "may be provided on breaks where
  // the OPLOCK_LEVEL_CACHE_HANDLE level is being lost ... The primary case where this flag will
  // be set is if the break is a result of a create operation that needs the
  // OPLOCK_LEVEL_CACHE_HANDLE oplock to be broken to avoid failing with ERROR_SHARING_VIOLATION".
  it('REQUEST_OPLOCK_OUTPUT_BUFFER page: a create that keeps H (RWH -> RH) gives ACK_REQUIRED only, no modes', () => {
    const h = new Harness();
    const r = h.win7(h.open(), 'RWH');
    h.create(h.open(), { access: READ_DATA, share: 0x3 });
    expect(h.completion(r.op)?.output).toEqual({
      structureVersion: 1,
      structureLength: 24,
      originalOplockLevel: 7,
      newOplockLevel: 3,
      flags: 0x1,
      accessMode: 0,
      shareMode: 0,
    });
    expect(h.completion(r.op)?.information).toBe(24);
  });

  it.each(['RH', 'RWH'] as const)(
    "REQUEST_OPLOCK_OUTPUT_BUFFER page: the sharing-violation break of %s (H lost) carries MODES_PROVIDED with the opener's access and share",
    (held) => {
      const h = new Harness();
      const r = h.win7(h.open(), held);
      h.breakH(h.open(), { access: READ_DATA | WRITE_DATA, share: 0x1 });
      expect(h.completion(r.op)?.output).toMatchObject({
        originalOplockLevel: held === 'RH' ? 3 : 7,
        newOplockLevel: held === 'RH' ? 1 : 5,
        flags: 0x3,
        accessMode: READ_DATA | WRITE_DATA,
        shareMode: 0x1,
      });
    },
  );

  it('a create that breaks R or RW (no H involved) gives no MODES_PROVIDED', () => {
    const h = new Harness();
    const r = h.win7(h.open(), 'RW');
    h.create(h.open(), { access: READ_DATA, share: 0x3 });
    expect(h.completion(r.op)?.output).toMatchObject({ flags: 0x1, accessMode: 0, shareMode: 0 });
  });

  it('the output of a break caused by a write has no MODES_PROVIDED', () => {
    const h = new Harness();
    const r = h.win7(h.open(), 'RW');
    h.write(h.open());
    expect(h.completion(r.op)?.output).toMatchObject({
      flags: 0x1,
      accessMode: 0,
      shareMode: 0,
      newOplockLevel: 0,
    });
  });

  it('KEY_CHECK_ONLY records nothing and breaks nothing (FltCheckOplockEx page)', () => {
    const h = new Harness();
    const b = h.legacy(h.open(), 'BATCH');
    expect(h.create(h.open(), {}, 0x2).result.preop).toBe(PROCEED);
    expect(h.completion(b.op)).toBeUndefined();
  });

  it('an unknown FltCheckOplockEx flag, or CLOSING_DELETE_ON_CLOSE (not modelled) -> STATUS_INVALID_PARAMETER', () => {
    const h = new Harness();
    expect(h.create(h.open(), {}, 0x80).result.ioStatus).toBe(S.STATUS_INVALID_PARAMETER);
    expect(h.create(h.open(), {}, 0x20).result.ioStatus).toBe(S.STATUS_INVALID_PARAMETER);
  });

  it('FsRtlCheckOplockEx page: OPLOCK_FLAG_REMOVING_FILE_OR_LINK "must be combined with OPLOCK_FLAG_PARENT_OBJECT"', () => {
    const h = new Harness();
    expect(h.create(h.open(), {}, 0x40).result.ioStatus).toBe(S.STATUS_INVALID_PARAMETER);
  });
});

/**
 * OPLOCK_FLAG_PARENT_OBJECT (FsRtlCheckOplockEx page, Windows 8+): the oplock checked is the
 * parent directory's. [MS-FSA] 2.1.4.12 PARENT_OBJECT: BreakCacheLevel = (READ_CACHING|
 * WRITE_CACHING) for OPEN, CLOSE, FLUSH_DATA, set_encryption and SET_INFORMATION(Basic,
 * Allocation, EoF, Rename, Link, Shortname, VDL); keys compared as the child's ParentOplockKey
 * against the holder's TargetOplockKey (2.1.4.12.2).
 */
describe('directory oplocks broken through a child (OPLOCK_FLAG_PARENT_OBJECT)', () => {
  it.each(['R', 'RH'] as const)(
    'btrfs oplock.cpp oplockr4/oplockrh4 (NTFS) "Create file in directory": %s on the directory -> none; the create does not wait (FSCTL_REQUEST_OPLOCK page: advisory-only)',
    (held) => {
      const h = new Harness();
      const dir = h.open({ directory: true });
      const r = h.win7(dir, held);
      expect(r.result.preop).toBe(PENDING);
      const child = h.create(h.open(), { access: READ_DATA | WRITE_DATA, disposition: 2 }, 0x10);
      expect(child.result.preop).toBe(PROCEED);
      expect(h.completion(r.op)).toMatchObject({
        reason: 'break',
        toLevel: 'NONE',
        ackRequired: held === 'RH',
      });
      expect(h.completion(r.op)?.output?.newOplockLevel).toBe(0);
    },
  );

  it("a child opened with the directory holder's key as its parent key does not break it", () => {
    const h = new Harness();
    const r = h.win7(h.open({ directory: true, key: 'dirkey' }), 'RH');
    const child = { ...h.open(), parentOplockKey: '{DIRKEY}' };
    expect(h.create(child, {}, 0x10).result.preop).toBe(PROCEED);
    expect(h.completion(r.op)).toBeUndefined();
    h.create(h.open(), {}, 0x10);
    expect(h.completion(r.op)?.toLevel).toBe('NONE');
  });

  it('reads and writes of a child do not break the parent; a child cleanup with PARENT_OBJECT does and is not a cleanup of the directory oplock', () => {
    const h = new Harness();
    const dir = h.open({ directory: true });
    const r = h.win7(dir, 'R');
    const child = h.open();
    expect(h.read(child, 0x10).result.preop).toBe(PROCEED);
    expect(h.write(child, 0x10).result.preop).toBe(PROCEED);
    expect(h.completion(r.op)).toBeUndefined();
    expect(h.check({ ...h.close(h.open()).op, fileObject: child }, 0x10).preop).toBe(PROCEED);
    expect(h.completion(r.op)).toMatchObject({ reason: 'break', toLevel: 'NONE' });
  });
});
