/**
 * Acknowledgements: FSCTL_OPLOCK_BREAK_ACKNOWLEDGE, FSCTL_OPLOCK_BREAK_ACK_NO_2,
 * FSCTL_OPBATCH_ACK_CLOSE_PENDING, FSCTL_OPLOCK_BREAK_NOTIFY, FSCTL_REQUEST_OPLOCK with ACK (an ack
 * to a non-zero level is a new held request), acks with nothing to acknowledge, and the order in
 * which waiters are released. Sources: the FSCTL pages of each code ("Status block" sections),
 * "Acknowledging Oplock Breaks" (learn.microsoft.com ifs), [MS-FSA] 2.1.5.19 and 2.1.4.12
 * ("for each Open WaitingOpen on Oplock.WaitList"), btrfs oplock.cpp ack threads (NTFS).
 */
import { describe, expect, it } from 'vitest';
import { Fsctl } from '../../../src/bridge/flags.js';
import { snapshot } from '../../../src/model/oplock/index.js';
import { COMPLETE, Harness, PENDING, PROCEED, S } from './harness.js';

const ACK = Fsctl.FSCTL_OPLOCK_BREAK_ACKNOWLEDGE;
const ACK_NO_2 = Fsctl.FSCTL_OPLOCK_BREAK_ACK_NO_2;
const CLOSE_PENDING = Fsctl.FSCTL_OPBATCH_ACK_CLOSE_PENDING;
const NOTIFY = Fsctl.FSCTL_OPLOCK_BREAK_NOTIFY;

function brokenToTwo(level: 'LEVEL1' | 'BATCH' = 'BATCH') {
  const h = new Harness();
  const a = h.open();
  const held = h.legacy(a, level);
  const waiter = h.create(h.open());
  return { h, a, held, waiter };
}

describe('legacy acknowledgements', () => {
  it('FSCTL_OPLOCK_BREAK_ACKNOWLEDGE page: ack of a break to Level 2 is held as the Level 2 oplock (FLT_PREOP_PENDING) and the waiter goes', () => {
    const { h, a, waiter } = brokenToTwo();
    const ack = h.ackLegacy(a, ACK);
    expect(ack.result.preop).toBe(PENDING);
    expect(h.released(waiter.op)).toMatchObject({
      status: S.STATUS_SUCCESS,
      reason: 'acknowledged',
      releasedBy: ack.op,
    });
    expect(snapshot(h.oplock).levelTwo.map((x) => x.operationId)).toEqual([ack.op.operationId]);
  });

  it('the Level 2 oplock an ack became is broken (no ack needed) by a later write', () => {
    const { h, a } = brokenToTwo();
    const ack = h.ackLegacy(a, ACK);
    h.write(h.open());
    expect(h.completion(ack.op)).toMatchObject({ information: 8, ackRequired: false });
  });

  it('FSCTL_OPLOCK_BREAK_ACK_NO_2 page: the holder gives up Level 2, FLT_PREOP_COMPLETE, STATUS_SUCCESS', () => {
    const { h, a, waiter } = brokenToTwo('LEVEL1');
    expect(h.ackLegacy(a, ACK_NO_2).result).toMatchObject({
      preop: COMPLETE,
      ioStatus: S.STATUS_SUCCESS,
    });
    expect(h.released(waiter.op)?.reason).toBe('acknowledged');
    expect(h.oplock.isEmpty()).toBe(true);
  });

  it('an ack of a break to none completes with STATUS_SUCCESS and removes the oplock', () => {
    const h = new Harness();
    const a = h.open();
    h.legacy(a, 'LEVEL1');
    const w = h.write(h.open());
    expect(h.ackLegacy(a, ACK).result).toMatchObject({
      preop: COMPLETE,
      ioStatus: S.STATUS_SUCCESS,
    });
    expect(h.released(w.op)?.reason).toBe('acknowledged');
    expect(h.oplock.isEmpty()).toBe(true);
  });

  it('"Acknowledging Oplock Breaks": ACK_CLOSE_PENDING on a Level 1 oplock relinquishes it and releases the waiters', () => {
    const { h, a, waiter } = brokenToTwo('LEVEL1');
    expect(h.ackLegacy(a, CLOSE_PENDING).result.ioStatus).toBe(S.STATUS_SUCCESS);
    expect(h.released(waiter.op)?.reason).toBe('acknowledged');
  });

  it('"Acknowledging Oplock Breaks": ACK_CLOSE_PENDING on a batch oplock keeps the waiters until the handle closes', () => {
    const { h, a, waiter } = brokenToTwo('BATCH');
    expect(h.ackLegacy(a, CLOSE_PENDING).result.ioStatus).toBe(S.STATUS_SUCCESS);
    expect(h.released(waiter.op)).toBeUndefined();
    const close = h.close(a);
    expect(h.released(waiter.op)).toMatchObject({ reason: 'handle-closed', releasedBy: close.op });
  });

  it('a second ack after ACK_CLOSE_PENDING is a protocol error', () => {
    const { h, a } = brokenToTwo('BATCH');
    h.ackLegacy(a, CLOSE_PENDING);
    expect(h.ackLegacy(a, ACK).result.ioStatus).toBe(S.STATUS_INVALID_OPLOCK_PROTOCOL);
  });

  it.each([
    ['FSCTL_OPLOCK_BREAK_ACKNOWLEDGE', ACK],
    ['FSCTL_OPLOCK_BREAK_ACK_NO_2', ACK_NO_2],
    ['FSCTL_OPBATCH_ACK_CLOSE_PENDING', CLOSE_PENDING],
  ])(
    '[MS-FSA] 2.1.5.19: %s with no oplock at all -> STATUS_INVALID_OPLOCK_PROTOCOL',
    (_name, code) => {
      const h = new Harness();
      expect(h.ackLegacy(h.open(), code).result).toMatchObject({
        preop: COMPLETE,
        ioStatus: S.STATUS_INVALID_OPLOCK_PROTOCOL,
      });
    },
  );

  it('legacy ack of an oplock that is not breaking -> STATUS_INVALID_OPLOCK_PROTOCOL, oplock kept', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.legacy(a, 'BATCH');
    expect(h.ackLegacy(a, ACK).result.ioStatus).toBe(S.STATUS_INVALID_OPLOCK_PROTOCOL);
    expect(h.completion(b.op)).toBeUndefined();
  });

  it("legacy ack through a handle that is not the holder's -> STATUS_INVALID_OPLOCK_PROTOCOL", () => {
    const { h } = brokenToTwo();
    expect(h.ackLegacy(h.open(), ACK).result.ioStatus).toBe(S.STATUS_INVALID_OPLOCK_PROTOCOL);
  });

  it('legacy ack of a Windows 7 break -> STATUS_INVALID_OPLOCK_PROTOCOL', () => {
    const h = new Harness();
    const a = h.open();
    h.win7(a, 'RW');
    h.create(h.open());
    expect(h.ackLegacy(a, ACK).result.ioStatus).toBe(S.STATUS_INVALID_OPLOCK_PROTOCOL);
  });

  it('FSCTL_OPLOCK_BREAK_ACKNOWLEDGE on a synchronous handle cannot hold a Level 2: it completes', () => {
    const h = new Harness();
    const a = h.open();
    h.legacy(a, 'BATCH');
    h.create(h.open());
    const syncView = { ...a, synchronous: true };
    expect(h.ackLegacy(syncView, ACK).result).toMatchObject({
      preop: COMPLETE,
      ioStatus: S.STATUS_SUCCESS,
    });
  });
});

describe('FSCTL_OPLOCK_BREAK_NOTIFY page', () => {
  it('with no break underway it completes at once with STATUS_SUCCESS', () => {
    const h = new Harness();
    h.legacy(h.open(), 'BATCH');
    expect(h.ackLegacy(h.open(), NOTIFY).result).toMatchObject({
      preop: COMPLETE,
      ioStatus: S.STATUS_SUCCESS,
    });
  });

  it('while a break is underway it pends and completes when the break completes', () => {
    const { h, a } = brokenToTwo();
    const n = h.ackLegacy(h.open(), NOTIFY);
    expect(n.result.preop).toBe(PENDING);
    expect(h.completion(n.op)).toBeUndefined();
    h.ackLegacy(a, ACK_NO_2);
    expect(h.completion(n.op)?.status).toBe(S.STATUS_SUCCESS);
  });
});

describe('Windows 7 acknowledgements (FSCTL_REQUEST_OPLOCK with REQUEST_OPLOCK_INPUT_FLAG_ACK)', () => {
  it('RWH broken to RH, acked to RH: the ack is the new RH request (pending), the waiter goes', () => {
    const h = new Harness();
    const a = h.open();
    h.win7(a, 'RWH');
    const w = h.create(h.open());
    const ack = h.ackWin7(a, 'RH');
    expect(ack.result.preop).toBe(PENDING);
    expect(h.released(w.op)).toMatchObject({ reason: 'acknowledged', releasedBy: ack.op });
    expect(snapshot(h.oplock).readHandle.map((x) => x.operationId)).toEqual([ack.op.operationId]);
  });

  it('RWH broken to RH, acked to R: the ack holds an R', () => {
    const h = new Harness();
    const a = h.open();
    h.win7(a, 'RWH');
    h.create(h.open());
    expect(h.ackWin7(a, 'R').result.preop).toBe(PENDING);
    expect(snapshot(h.oplock).state).toEqual(['READ_CACHING']);
  });

  it('an ack to level 0 completes with STATUS_SUCCESS and leaves no oplock', () => {
    const h = new Harness();
    const a = h.open();
    h.win7(a, 'RW');
    h.create(h.open());
    expect(h.ackWin7(a, 0).result).toMatchObject({ preop: COMPLETE, ioStatus: S.STATUS_SUCCESS });
    expect(h.oplock.isEmpty()).toBe(true);
  });

  it('RWH broken to RW by a sharing violation, acked to RW: the ack holds the exclusive RW', () => {
    const h = new Harness();
    const a = h.open();
    h.win7(a, 'RWH');
    h.breakH(h.open());
    expect(h.ackWin7(a, 'RW').result.preop).toBe(PENDING);
    expect(snapshot(h.oplock).exclusive?.level).toBe('RW');
  });

  // [MS-FSA] 2.1.5.19: "If Open.Stream.Oplock.WaitList is not empty and Open.Stream.Oplock.State
  // does not contain HANDLE_CACHING and RequestedOplockLevel is (READ_CACHING|WRITE_CACHING|
  // HANDLE_CACHING)": the ack completes with STATUS_CANNOT_GRANT_REQUESTED_OPLOCK, NewOplockLevel
  // = the level the break allows, ack still required; the break stays in progress.
  it('[MS-FSA] 2.1.5.19: RW breaking to R with a waiter, acked to RWH -> STATUS_CANNOT_GRANT_REQUESTED_OPLOCK (NewOplockLevel R, ack required), the break stays', () => {
    const h = new Harness();
    const a = h.open();
    h.win7(a, 'RW');
    const w = h.create(h.open());
    const ack = h.ackWin7(a, 'RWH');
    expect(ack.result).toMatchObject({
      preop: COMPLETE,
      ioStatus: S.STATUS_CANNOT_GRANT_REQUESTED_OPLOCK,
      information: 24,
      output: { originalOplockLevel: 7, newOplockLevel: 1, flags: 0x1 },
    });
    expect(h.released(w.op)).toBeUndefined();
    expect(snapshot(h.oplock).exclusive?.breakingTo).toBe('R');
    expect(h.ackWin7(a, 'R').result.preop).toBe(PENDING);
    expect(h.released(w.op)?.reason).toBe('acknowledged');
  });

  // [MS-FSA] 2.1.5.19 taken literally (unverified on NTFS: no public test acknowledges a local
  // break above its level; the SMB2 server refuses such acks itself, smb2.lease.breaking2): an
  // ack above the break level that the CANNOT_GRANT rule does not catch is granted as asked.
  it('[MS-FSA] 2.1.5.19 (literal, unverified): RWH breaking to RH acked to RWH keeps RWH and releases the waiter', () => {
    const h = new Harness();
    const a = h.open();
    h.win7(a, 'RWH');
    const w = h.create(h.open());
    const ack = h.ackWin7(a, 'RWH');
    expect(ack.result.preop).toBe(PENDING);
    expect(h.released(w.op)?.reason).toBe('acknowledged');
    expect(snapshot(h.oplock).exclusive).toMatchObject({ level: 'RWH' });
    expect(snapshot(h.oplock).exclusive?.breakingTo).toBeUndefined();
  });

  it('RH broken to R by BreakH, acked to R: the ack holds the R', () => {
    const h = new Harness();
    const a = h.open();
    h.win7(a, 'RH');
    const w = h.breakH(h.open());
    expect(h.ackWin7(a, 'R').result.preop).toBe(PENDING);
    expect(h.released(w.op)?.reason).toBe('acknowledged');
  });

  it('RH broken to none by a write is acknowledged to 0 (the write did not wait)', () => {
    const h = new Harness();
    const a = h.open();
    const r = h.win7(a, 'RH');
    expect(h.write(h.open()).result.preop).toBe(PROCEED);
    expect(h.completion(r.op)).toMatchObject({ toLevel: 'NONE', ackRequired: true });
    expect(h.ackWin7(a, 0).result.ioStatus).toBe(S.STATUS_SUCCESS);
    expect(h.oplock.isEmpty()).toBe(true);
  });

  // Windows: smb2.lease.breaking3 ("We ack the downgrade to R and get an immediate break to
  // none"); illumos smb_oplock_ack_break, case marked "missing from [MS-FSA]".
  it('smb2.lease.breaking3 (Windows): RH broken to none, acked to R -> the ack completes with a break to none (no ack required)', () => {
    const h = new Harness();
    const a = h.open();
    h.win7(a, 'RH');
    h.write(h.open());
    const ack = h.ackWin7(a, 'R');
    expect(ack.result).toMatchObject({
      preop: COMPLETE,
      ioStatus: S.STATUS_SUCCESS,
      information: 24,
      output: { originalOplockLevel: 1, newOplockLevel: 0, flags: 0 },
    });
    expect(h.oplock.isEmpty()).toBe(true);
  });

  // "To send an acknowledgment when no acknowledgment is expected is an error and the
  // acknowledgment FSCTL IRP is failed with STATUS_INVALID_OPLOCK_PROTOCOL" (IFS "Acknowledging
  // Oplock Breaks"); [MS-FSA] 2.1.5.19 likewise. STATUS_INVALID_DEVICE_STATE is the SMB2 server's
  // answer ([MS-SMB2] 3.3.5.22), not the object store's.
  it('"Acknowledging Oplock Breaks": an ack with no break in progress -> STATUS_INVALID_OPLOCK_PROTOCOL', () => {
    const h = new Harness();
    const a = h.open();
    h.win7(a, 'RWH');
    expect(h.ackWin7(a, 'RH').result.ioStatus).toBe(S.STATUS_INVALID_OPLOCK_PROTOCOL);
    expect(h.ackWin7(h.open(), 0).result.ioStatus).toBe(S.STATUS_INVALID_OPLOCK_PROTOCOL);
  });

  it('[MS-FSA] 2.1.5.19: an ack on a handle without the breaking oplock -> STATUS_INVALID_OPLOCK_PROTOCOL', () => {
    const h = new Harness();
    h.win7(h.open(), 'RW');
    h.create(h.open());
    expect(h.ackWin7(h.open(), 0).result.ioStatus).toBe(S.STATUS_INVALID_OPLOCK_PROTOCOL);
  });

  it('a Windows 7 ack of a legacy break -> STATUS_INVALID_OPLOCK_PROTOCOL', () => {
    const { h, a } = brokenToTwo();
    expect(h.ackWin7(a, 0).result.ioStatus).toBe(S.STATUS_INVALID_OPLOCK_PROTOCOL);
  });

  it('REQUEST_OPLOCK_INPUT_FLAG_COMPLETE_ACK_ON_CLOSE: the ack pends, waiters stay until the handle closes, then both complete', () => {
    const h = new Harness();
    const a = h.open();
    h.win7(a, 'RWH');
    const w = h.create(h.open());
    const ack = h.ackWin7(a, 0, 0x4);
    expect(ack.result.preop).toBe(PENDING);
    expect(h.released(w.op)).toBeUndefined();
    const close = h.close(a);
    expect(h.completion(ack.op)?.status).toBe(S.STATUS_SUCCESS);
    expect(h.released(w.op)).toMatchObject({ reason: 'handle-closed', releasedBy: close.op });
  });

  it('COMPLETE_ACK_ON_CLOSE with a non-zero level -> STATUS_INVALID_PARAMETER', () => {
    const h = new Harness();
    const a = h.open();
    h.win7(a, 'RWH');
    h.create(h.open());
    expect(h.ackWin7(a, 'RH', 0x4).result.ioStatus).toBe(S.STATUS_INVALID_PARAMETER);
  });
});

describe('the order waiters are released in ([MS-FSA] 2.1.4.12: the WaitList, in order)', () => {
  it('three operations waiting on one batch break are released in the order they started waiting, after their breaks', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.legacy(a, 'BATCH');
    const w1 = h.create(h.open());
    const w2 = h.read(h.open());
    const w3 = h.write(h.open());
    expect([w1, w2, w3].map((w) => w.result.preop)).toEqual([PENDING, PENDING, PENDING]);
    const ack = h.ackLegacy(a, ACK);
    const seq = h.log.map((e) => `${e.kind}:${e.opId}`);
    expect(seq).toEqual([
      `complete:${b.op.operationId}`,
      `prepost:${w1.op.operationId}`,
      `prepost:${w2.op.operationId}`,
      `prepost:${w3.op.operationId}`,
      `release:${w1.op.operationId}`,
      `release:${w2.op.operationId}`,
      `release:${w3.op.operationId}`,
    ]);
    expect(ack.result.ioStatus).toBe(S.STATUS_SUCCESS);
    expect(ack.result.information).toBe(8);
  });

  it('the same inputs give the same completions in the same order (determinism)', () => {
    const run = () => {
      const h = new Harness();
      const a = h.open();
      h.win7(a, 'RH');
      h.win7(h.open(), 'R');
      h.legacy(h.open(), 'LEVEL2');
      h.breakH(h.open());
      h.write(h.open());
      h.ackWin7(a, 0);
      return h.log.map(
        (e) =>
          `${e.kind}:${e.opId}:${e.kind === 'complete' ? e.completion.toLevel : e.kind === 'release' ? e.release.reason : ''}`,
      );
    };
    expect(run()).toEqual(run());
  });
});
