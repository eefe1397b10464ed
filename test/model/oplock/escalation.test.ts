/**
 * Breaks that escalate while a break is in progress, and operations that arrive during a break.
 * Sources: [MS-FSA] 2.1.4.12 (BREAK_TO_TWO -> BREAK_TO_TWO_TO_NONE; NeedToWait for operations
 * arriving while the exclusive break is pending), [MS-FSA] 2.1.5.19 (ack of BREAK_TO_TWO_TO_NONE
 * ends with no oplock), FSCTL_OPLOCK_BREAK_ACKNOWLEDGE page.
 */
import { describe, expect, it } from 'vitest';
import { Fsctl } from '../../../src/bridge/flags.js';
import { snapshot } from '../../../src/model/oplock/index.js';
import { COMPLETE, FILE_OVERWRITE, Harness, PENDING, S } from './harness.js';

describe('escalation during a break', () => {
  it('a break to Level 2 becomes a break to none when a write arrives; the holder is not told twice', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.legacy(a, 'BATCH');
    h.create(h.open());
    const w = h.write(h.open());
    expect(w.result.preop).toBe(PENDING);
    expect(h.completions(b.op)).toHaveLength(1);
    expect(snapshot(h.oplock).state).toContain('BREAK_TO_TWO_TO_NONE');
  });

  it('acknowledging a break that escalated to none ends with no oplock and Information FILE_OPLOCK_BROKEN_TO_NONE', () => {
    const h = new Harness();
    const a = h.open();
    h.legacy(a, 'LEVEL1');
    h.read(h.open());
    h.lock(h.open());
    const ack = h.ackLegacy(a, Fsctl.FSCTL_OPLOCK_BREAK_ACKNOWLEDGE);
    expect(ack.result).toMatchObject({
      preop: COMPLETE,
      ioStatus: S.STATUS_SUCCESS,
      information: 8,
    });
    expect(h.oplock.isEmpty()).toBe(true);
  });

  it('RWH breaking to RH (open) escalates to none on a write; an ack to 0 is accepted and releases both', () => {
    const h = new Harness();
    const a = h.open();
    const r = h.win7(a, 'RWH');
    const c = h.create(h.open());
    const w = h.write(h.open());
    expect(snapshot(h.oplock).exclusive?.breakingTo).toBe('NONE');
    expect(h.completions(r.op)).toHaveLength(1);
    expect(h.ackWin7(a, 0).result.ioStatus).toBe(S.STATUS_SUCCESS);
    expect(h.released(c.op)?.reason).toBe('acknowledged');
    expect(h.released(w.op)?.reason).toBe('acknowledged');
  });

  // Samba smb2.lease.breaking3 (run against Windows): RWH lease broken to RH by an open, an
  // OVERWRITE open escalates it to none without a new break ("doesn't trigger an immediate lease
  // break to none") and waits; the RH ack is answered by a break RH -> R (both opens still
  // pending); the R ack by a break R -> none, and only then do both opens complete. The object
  // store steps are in illumos smb_cmn_oplock.c, smb_oplock_ack_break ("missing from [MS-FSA]").
  it('smb2.lease.breaking3 (Windows): RWH -> RH escalated to none; ack RH -> break to R in the ack, waiters stay; ack R -> break to none, waiters go', () => {
    const h = new Harness();
    const a = h.open();
    const r = h.win7(a, 'RWH');
    const open1 = h.create(h.open());
    const open2 = h.create(h.open(), { disposition: FILE_OVERWRITE });
    expect([open1.result.preop, open2.result.preop]).toEqual([PENDING, PENDING]);
    expect(h.completions(r.op)).toHaveLength(1);
    const ackRh = h.ackWin7(a, 'RH');
    expect(ackRh.result).toMatchObject({ preop: COMPLETE, ioStatus: S.STATUS_SUCCESS });
    expect(ackRh.result.output).toMatchObject({
      originalOplockLevel: 3,
      newOplockLevel: 1,
      flags: 0x1,
    });
    expect(h.released(open1.op)).toBeUndefined();
    expect(h.released(open2.op)).toBeUndefined();
    expect(snapshot(h.oplock).readHandleBreaking.map((x) => x.breakingTo)).toEqual(['NONE']);
    const ackR = h.ackWin7(a, 'R');
    expect(ackR.result).toMatchObject({ preop: COMPLETE, ioStatus: S.STATUS_SUCCESS });
    expect(ackR.result.output).toMatchObject({
      originalOplockLevel: 1,
      newOplockLevel: 0,
      flags: 0,
    });
    expect(h.released(open1.op)).toMatchObject({ reason: 'acknowledged', releasedBy: ackR.op });
    expect(h.released(open2.op)).toMatchObject({ reason: 'acknowledged', releasedBy: ackR.op });
    expect(h.oplock.isEmpty()).toBe(true);
  });

  it('RWH breaking to RW (sharing violation) escalates to R on a read from another handle', () => {
    const h = new Harness();
    const a = h.open();
    h.win7(a, 'RWH');
    h.breakH(h.open());
    expect(h.read(h.open()).result.preop).toBe(PENDING);
    expect(snapshot(h.oplock).exclusive?.breakingTo).toBe('R');
  });

  it('RH breaking to R (sharing violation) escalates to none on a write; the write does not wait', () => {
    const h = new Harness();
    const a = h.open();
    h.win7(a, 'RH');
    const w = h.breakH(h.open());
    expect(h.write(h.open()).result.preop).toBe('FLT_PREOP_SUCCESS_WITH_CALLBACK');
    expect(snapshot(h.oplock).readHandleBreaking[0]?.breakingTo).toBe('NONE');
    // While the sharing-violation create waits, an RH ack cannot be granted ([MS-FSA] 2.1.5.19:
    // BreakingToRead FALSE, level not 0, WaitList not empty -> STATUS_CANNOT_GRANT_REQUESTED_OPLOCK,
    // NewOplockLevel none, ack still required).
    const rh = h.ackWin7(a, 'RH');
    expect(rh.result).toMatchObject({
      preop: COMPLETE,
      ioStatus: S.STATUS_CANNOT_GRANT_REQUESTED_OPLOCK,
      output: { originalOplockLevel: 3, newOplockLevel: 0, flags: 0x1 },
    });
    expect(h.released(w.op)).toBeUndefined();
    // An R ack is answered by the break to none (smb2.lease.breaking3) and releases the waiter.
    const ack = h.ackWin7(a, 'R');
    expect(ack.result).toMatchObject({ preop: COMPLETE, ioStatus: S.STATUS_SUCCESS });
    expect(ack.result.output).toMatchObject({ newOplockLevel: 0, flags: 0 });
    expect(h.released(w.op)).toMatchObject({ reason: 'acknowledged', releasedBy: ack.op });
    expect(h.oplock.isEmpty()).toBe(true);
  });

  it('a read during a break to Level 2 waits for the same acknowledgement', () => {
    const h = new Harness();
    const a = h.open();
    h.legacy(a, 'LEVEL1');
    const c = h.create(h.open());
    const r = h.read(h.open());
    expect(r.result.preop).toBe(PENDING);
    h.ackLegacy(a, Fsctl.FSCTL_OPLOCK_BREAK_ACKNOWLEDGE);
    expect(h.released(c.op)?.reason).toBe('acknowledged');
    expect(h.released(r.op)?.reason).toBe('acknowledged');
  });

  it('no new request is granted while an exclusive break is in progress', () => {
    const h = new Harness();
    const a = h.open();
    h.legacy(a, 'BATCH');
    h.create(h.open());
    expect(h.legacy(h.open(), 'LEVEL2').result.ioStatus).toBe(S.STATUS_OPLOCK_NOT_GRANTED);
    expect(h.win7(h.open(), 'R').result.ioStatus).toBe(S.STATUS_OPLOCK_NOT_GRANTED);
    expect(h.win7(a, 'RWH').result.ioStatus).toBe(S.STATUS_OPLOCK_NOT_GRANTED);
  });

  // [MS-FSA] 2.1.4.13: with only breaking RH oplocks left, all breaking the same way, the state
  // carries BREAK_TO_READ_CACHING (or BREAK_TO_NO_CACHING); 2.1.5.18.2 then refuses every shared
  // request. With another RH holder left the state is plain (READ_CACHING|HANDLE_CACHING) and
  // both R and RH are granted.
  it('[MS-FSA] 2.1.4.13 / 2.1.5.18.2: while the only RH breaks, R and RH are refused', () => {
    const h = new Harness();
    h.win7(h.open(), 'RH');
    h.breakH(h.open());
    expect(snapshot(h.oplock).state).toContain('BREAK_TO_READ_CACHING');
    expect(h.win7(h.open(), 'R').result.ioStatus).toBe(S.STATUS_OPLOCK_NOT_GRANTED);
    expect(h.win7(h.open(), 'RH').result.ioStatus).toBe(S.STATUS_OPLOCK_NOT_GRANTED);
  });

  it('[MS-FSA] 2.1.4.13 / 2.1.5.18.2: with another RH holder left (same key as the opener), R and RH are granted while one RH breaks', () => {
    const h = new Harness();
    h.win7(h.open(), 'RH');
    const k1 = h.open({ key: 'k' });
    h.win7(k1, 'RH');
    h.breakH(h.open({ key: 'k' }));
    expect(snapshot(h.oplock).readHandleBreaking).toHaveLength(1);
    expect(snapshot(h.oplock).readHandle).toHaveLength(1);
    expect(h.win7(h.open(), 'R').result.preop).toBe(PENDING);
    expect(h.win7(h.open(), 'RH').result.preop).toBe(PENDING);
  });

  it('[MS-FSA] 2.1.5.18.2: R is refused while an RH of the same key is breaking', () => {
    const h = new Harness();
    const k1 = h.open({ key: 'k' });
    h.win7(k1, 'RH');
    h.win7(h.open({ key: 'j' }), 'RH');
    h.breakH(h.open({ key: 'j' }));
    expect(snapshot(h.oplock).readHandleBreaking.map((x) => x.fileObjectId)).toEqual([k1.id]);
    expect(h.win7(h.open({ key: 'k' }), 'R').result.ioStatus).toBe(S.STATUS_OPLOCK_NOT_GRANTED);
    expect(h.win7(h.open({ key: 'other' }), 'R').result.preop).toBe(PENDING);
  });
});
