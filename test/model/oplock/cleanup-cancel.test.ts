/**
 * Cleanup of a handle and cancellation. Sources: [MS-FSA] 2.1.4.12 CLOSE case, quoted in illumos
 * smb_cmn_oplock.c smb_oplock_break_CLOSE (Level 2 completes with STATUS_SUCCESS; R and RH with
 * STATUS_OPLOCK_HANDLE_CLOSED; the exclusive holder with STATUS_OPLOCK_HANDLE_CLOSED "if
 * Oplock.State contains any of READ_CACHING, WRITE_CACHING, or HANDLE_CACHING", STATUS_SUCCESS
 * otherwise, i.e. for Level 1 and batch; waiters released), FSCTL_REQUEST_OPLOCK page (STATUS_OPLOCK_HANDLE_CLOSED), fastfat cleanup.c ("cleanup
 * can always proceed"), IRP cancellation (STATUS_CANCELLED; FsRtl wait routine called with it).
 */
import { describe, expect, it } from 'vitest';
import { cancel, snapshot } from '../../../src/model/oplock/index.js';
import { Harness, PENDING, PROCEED, S } from './harness.js';

describe('cleanup', () => {
  it.each([
    ['LEVEL2', S.STATUS_SUCCESS, 8],
    ['LEVEL1', S.STATUS_SUCCESS, 8],
    ['BATCH', S.STATUS_SUCCESS, 8],
    ['FILTER', S.STATUS_SUCCESS, 8],
    ['R', S.STATUS_OPLOCK_HANDLE_CLOSED, 24],
    ['RH', S.STATUS_OPLOCK_HANDLE_CLOSED, 24],
    ['RW', S.STATUS_OPLOCK_HANDLE_CLOSED, 24],
    ['RWH', S.STATUS_OPLOCK_HANDLE_CLOSED, 24],
  ] as const)(
    'closing the handle holding %s completes its request with status %i',
    (held, status, info) => {
      const h = new Harness();
      const fo = h.open();
      const r = h.request(fo, held);
      const close = h.close(fo);
      expect(close.result).toMatchObject({ preop: PROCEED, ioStatus: S.STATUS_SUCCESS });
      expect(h.completion(r.op)).toMatchObject({
        status,
        reason: 'handle-closed',
        toLevel: 'NONE',
        information: info,
      });
      expect(h.completion(r.op)?.cause?.operation).toBe(close.op);
      expect(h.oplock.isEmpty()).toBe(true);
    },
  );

  it('closing a holder whose break is waiting for its ack releases the waiters (reason handle-closed)', () => {
    const h = new Harness();
    const a = h.open();
    h.legacy(a, 'LEVEL1');
    const w = h.create(h.open());
    const close = h.close(a);
    expect(h.released(w.op)).toEqual({
      status: S.STATUS_SUCCESS,
      reason: 'handle-closed',
      releasedBy: close.op,
    });
    expect(h.oplock.isEmpty()).toBe(true);
  });

  it('closing the last breaking RH holder releases the waiters; closing one of two does not', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.open();
    h.win7(a, 'RH');
    h.win7(b, 'RH');
    const w = h.breakH(h.open());
    h.close(a);
    expect(h.released(w.op)).toBeUndefined();
    h.close(b);
    expect(h.released(w.op)?.reason).toBe('handle-closed');
  });

  it('closing another handle leaves the holder alone', () => {
    const h = new Harness();
    const r = h.legacy(h.open(), 'BATCH');
    h.close(h.open());
    expect(h.completion(r.op)).toBeUndefined();
  });

  it('closing a handle that holds several shared requests completes each once, in grant order', () => {
    const h = new Harness();
    const fo = h.open();
    const l2 = h.legacy(fo, 'LEVEL2');
    const r = h.win7(fo, 'R');
    h.close(fo);
    expect(h.log.map((e) => e.opId)).toEqual([l2.op.operationId, r.op.operationId]);
  });

  it('cleanup through check() (FltCheckOplock on IRP_MJ_CLEANUP) is the same verb', () => {
    const h = new Harness();
    const fo = h.open();
    const r = h.win7(fo, 'R');
    const op = { operationId: 500n, processId: 1, fileObject: fo, major: 'CLEANUP' as const };
    expect(h.check(op).preop).toBe(PROCEED);
    expect(h.completion(r.op)?.status).toBe(S.STATUS_OPLOCK_HANDLE_CLOSED);
  });
});

describe('cancellation (CancelIoEx)', () => {
  it.each(['LEVEL1', 'LEVEL2', 'BATCH', 'R', 'RH', 'RWH'] as const)(
    'a held %s request is cancelled with STATUS_CANCELLED and the oplock goes',
    (level) => {
      const h = new Harness();
      const r = h.request(h.open(), level);
      expect(cancel(h.oplock, r.op.operationId)).toBe(true);
      expect(h.completion(r.op)).toMatchObject({
        status: S.STATUS_CANCELLED,
        reason: 'cancelled',
        information: 0,
      });
      expect(h.oplock.isEmpty()).toBe(true);
    },
  );

  it('a waiting operation is cancelled: its wait routine runs with STATUS_CANCELLED and the break goes on', () => {
    const h = new Harness();
    const a = h.open();
    const b = h.legacy(a, 'BATCH');
    const w = h.create(h.open());
    expect(cancel(h.oplock, w.op.operationId)).toBe(true);
    expect(h.released(w.op)).toEqual({ status: S.STATUS_CANCELLED, reason: 'cancelled' });
    expect(snapshot(h.oplock).exclusive?.breakingTo).toBe('LEVEL2');
    expect(h.completions(b.op)).toHaveLength(1);
  });

  it('a request already completed by its break cannot be cancelled', () => {
    const h = new Harness();
    const r = h.legacy(h.open(), 'BATCH');
    h.create(h.open());
    expect(cancel(h.oplock, r.op.operationId)).toBe(false);
    expect(h.completions(r.op)).toHaveLength(1);
  });

  it('cancelling a held break-notify completes it with STATUS_CANCELLED', () => {
    const h = new Harness();
    h.legacy(h.open(), 'BATCH');
    h.create(h.open());
    const n = h.ackLegacy(h.open(), 0x00090014);
    expect(n.result.preop).toBe(PENDING);
    expect(cancel(h.oplock, n.op.operationId)).toBe(true);
    expect(h.completion(n.op)?.status).toBe(S.STATUS_CANCELLED);
  });

  it('an unknown operation id -> false', () => {
    expect(cancel(new Harness().oplock, 42n)).toBe(false);
  });
});
