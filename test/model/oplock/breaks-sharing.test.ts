/**
 * Handle-caching breaks after a sharing violation (FltOplockBreakH): RH -> R and RWH -> RW, the
 * create waits for the acknowledgement and re-checks sharing afterwards. Sources: FltOplockBreakH
 * page (flags COMPLETE_IF_OPLOCKED, IGNORE_OPLOCK_KEYS), [MS-FSA] 2.1.4.12 OPEN_BREAK_H, fastfat
 * create.c (driver-research §1.2: batch oplocks are checked before the share check, BreakH after).
 */
import { describe, expect, it } from 'vitest';
import { snapshot } from '../../../src/model/oplock/index.js';
import { COMPLETE, Harness, PENDING, PROCEED, READ_DATA, S } from './harness.js';

describe('FltOplockBreakH', () => {
  it('RH -> R, ack required, the create waits', () => {
    const h = new Harness();
    const r = h.win7(h.open(), 'RH');
    const open = h.breakH(h.open(), { share: 0 });
    expect(open.result.preop).toBe(PENDING);
    expect(h.completion(r.op)).toMatchObject({
      toLevel: 'R',
      ackRequired: true,
      cause: { waits: true },
    });
    expect(h.completion(r.op)?.output?.flags).toBe(0x3);
  });

  it('RWH -> RW, ack required, the create waits', () => {
    const h = new Harness();
    const r = h.win7(h.open(), 'RWH');
    expect(h.breakH(h.open()).result.preop).toBe(PENDING);
    expect(h.completion(r.op)?.toLevel).toBe('RW');
  });

  it.each(['R', 'RW', 'LEVEL2', 'LEVEL1', 'BATCH', 'FILTER'] as const)(
    '%s has no Windows 7 handle caching: BreakH does nothing',
    (held) => {
      const h = new Harness();
      const r = h.request(h.open(), held);
      expect(h.breakH(h.open()).result).toMatchObject({
        preop: PROCEED,
        ioStatus: S.STATUS_SUCCESS,
      });
      expect(h.completion(r.op)).toBeUndefined();
    },
  );

  it('every RH holder of another key breaks, in grant order; the waiter is released when the last acknowledges', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.open();
    const ra = h.win7(a, 'RH');
    const rb = h.win7(b, 'RH');
    const open = h.breakH(h.open());
    expect(open.result.preop).toBe(PENDING);
    expect(h.completion(ra.op)?.toLevel).toBe('R');
    expect(h.completion(rb.op)?.toLevel).toBe('R');
    h.ackWin7(a, 'R');
    expect(h.released(open.op)).toBeUndefined();
    const last = h.ackWin7(b, 0);
    expect(h.released(open.op)).toMatchObject({ reason: 'acknowledged', releasedBy: last.op });
    expect(snapshot(h.oplock).read).toHaveLength(1);
  });

  // [MS-FSA] 2.1.5.19: after an RHOpContext leaves the RHBreakQueue, "For each Open WaitingOpen
  // on Oplock.WaitList: If (Oplock.RHBreakQueue is empty) or (all RHOpContext.Open.TargetOplockKey
  // values on Oplock.RHBreakQueue are equal to WaitingOpen.TargetOplockKey)", the waiter goes.
  it('[MS-FSA] 2.1.5.19: a waiter goes as soon as the breaks left are all of its own key', () => {
    const h = new Harness();
    const a = h.open();
    const k = h.open({ key: 'k' });
    h.win7(a, 'RH');
    h.win7(k, 'RH');
    const open = h.breakH(h.open({ key: 'j' }));
    expect(open.result.preop).toBe(PENDING);
    expect(snapshot(h.oplock).readHandleBreaking).toHaveLength(2);
    // A second sharing violation, from key k: of the two breaking RH oplocks only a's has
    // another key, so this create waits for a alone.
    const sameKey = h.breakH(h.open({ key: 'k' }));
    expect(sameKey.result.preop).toBe(PENDING);
    const ack = h.ackWin7(a, 0);
    expect(h.released(sameKey.op)).toMatchObject({ reason: 'acknowledged', releasedBy: ack.op });
    expect(h.released(open.op)).toBeUndefined();
    const last = h.close(k);
    expect(h.released(open.op)).toMatchObject({ reason: 'handle-closed', releasedBy: last.op });
  });

  it('a waiter that checked with IGNORE_OPLOCK_KEYS waits for the RHBreakQueue to empty', () => {
    const h = new Harness();
    const a = h.open();
    const k = h.open({ key: 'k' });
    h.win7(a, 'RH');
    h.win7(k, 'RH');
    const w = h.breakH(h.open({ key: 'k' }), {}, 0x8);
    expect(w.result.preop).toBe(PENDING);
    h.ackWin7(a, 0);
    expect(h.released(w.op)).toBeUndefined();
    h.ackWin7(k, 0);
    expect(h.released(w.op)?.reason).toBe('acknowledged');
  });

  it("RH holders with the opener's key are not broken; IGNORE_OPLOCK_KEYS breaks them anyway", () => {
    const h = new Harness();
    const r = h.win7(h.open({ key: 'k' }), 'RH');
    expect(h.breakH(h.open({ key: 'k' })).result.preop).toBe(PROCEED);
    expect(h.completion(r.op)).toBeUndefined();
    expect(h.breakH(h.open({ key: 'k' }), {}, 0x8).result.preop).toBe(PENDING);
    expect(h.completion(r.op)?.toLevel).toBe('R');
  });

  it('COMPLETE_IF_OPLOCKED: the break starts but the create returns STATUS_OPLOCK_BREAK_IN_PROGRESS', () => {
    const h = new Harness();
    h.win7(h.open(), 'RH');
    expect(h.breakH(h.open(), {}, 0x1).result).toMatchObject({
      preop: PROCEED,
      ioStatus: S.STATUS_OPLOCK_BREAK_IN_PROGRESS,
    });
    expect(snapshot(h.oplock).waitingOperationIds).toEqual([]);
  });

  it('a second sharing violation while the RH break is in progress waits as well', () => {
    const h = new Harness();
    const a = h.open();
    h.win7(a, 'RH');
    const first = h.breakH(h.open());
    const second = h.breakH(h.open());
    expect([first.result.preop, second.result.preop]).toEqual([PENDING, PENDING]);
    h.ackWin7(a, 'R');
    expect(h.log.filter((e) => e.kind === 'release').map((e) => e.opId)).toEqual([
      first.op.operationId,
      second.op.operationId,
    ]);
  });

  it('after the release the create re-checks: a second BreakH finds nothing left to break', () => {
    const h = new Harness();
    const a = h.open();
    h.win7(a, 'RWH');
    const fo = h.open();
    h.breakH(fo, { access: READ_DATA });
    h.ackWin7(a, 'RW');
    expect(h.breakH(fo, { access: READ_DATA }).result.preop).toBe(PROCEED);
  });

  it('BreakH on something other than a create, or with flags it does not take -> STATUS_INVALID_PARAMETER', () => {
    const h = new Harness();
    const fo = h.open();
    const read = {
      operationId: 99n,
      processId: 1,
      fileObject: fo,
      major: 'READ' as const,
      offset: 0n,
      length: 1,
    };
    expect(h.oplock.breakH(read, 0, undefined, undefined, undefined).ioStatus).toBe(
      S.STATUS_INVALID_PARAMETER,
    );
    expect(h.breakH(fo, {}, 0x2).result).toMatchObject({
      preop: COMPLETE,
      ioStatus: S.STATUS_INVALID_PARAMETER,
    });
  });
});
