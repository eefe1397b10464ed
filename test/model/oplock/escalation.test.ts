/**
 * Breaks that escalate while a break is in progress, and operations that arrive during a break.
 * Sources: [MS-FSA] 2.1.4.12 (BREAK_TO_TWO -> BREAK_TO_TWO_TO_NONE; NeedToWait for operations
 * arriving while the exclusive break is pending), [MS-FSA] 2.1.5.19 (ack of BREAK_TO_TWO_TO_NONE
 * ends with no oplock), FSCTL_OPLOCK_BREAK_ACKNOWLEDGE page.
 */
import { describe, expect, it } from 'vitest';
import { Fsctl } from '../../../src/bridge/flags.js';
import { snapshot } from '../../../src/model/oplock/index.js';
import { COMPLETE, Harness, PENDING, S } from './harness.js';

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

  it('RWH breaking to RH (open) escalates to none on a write; an ack to RH is then refused, to 0 accepted', () => {
    const h = new Harness();
    const a = h.open();
    const r = h.win7(a, 'RWH');
    h.create(h.open());
    h.write(h.open());
    expect(snapshot(h.oplock).exclusive?.breakingTo).toBe('NONE');
    expect(h.completions(r.op)).toHaveLength(1);
    expect(h.ackWin7(a, 'RH').result.ioStatus).toBe(S.STATUS_INVALID_PARAMETER);
    expect(h.ackWin7(a, 0).result.ioStatus).toBe(S.STATUS_SUCCESS);
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
    h.breakH(h.open());
    expect(h.write(h.open()).result.preop).toBe('FLT_PREOP_SUCCESS_WITH_CALLBACK');
    expect(snapshot(h.oplock).readHandleBreaking[0]?.breakingTo).toBe('NONE');
    expect(h.ackWin7(a, 'R').result.ioStatus).toBe(S.STATUS_INVALID_PARAMETER);
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

  it('R can be granted while RH holders break, RH cannot', () => {
    const h = new Harness();
    h.win7(h.open(), 'RH');
    h.breakH(h.open());
    expect(h.win7(h.open(), 'R').result.preop).toBe(PENDING);
    expect(h.win7(h.open(), 'RH').result.ioStatus).toBe(S.STATUS_OPLOCK_NOT_GRANTED);
  });
});
