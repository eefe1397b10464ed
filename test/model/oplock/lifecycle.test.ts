/**
 * Lifetime and queries: FltInitializeOplock / FltUninitializeOplock, FltOplockIsFastIoPossible,
 * FltCurrentBatchOplock, FltCurrentOplock(H). Sources: the DDI pages of those routines
 * (learn.microsoft.com, fltkernel.h); misuse that Windows bug-checks is a BugCheckError.
 */
import { describe, expect, it } from 'vitest';
import { BugCheckError, InvalidArgumentError } from '../../../src/bridge/errors.js';
import {
  createOplock,
  currentBatchOplock,
  currentOplock,
  currentOplockH,
  fsctrl,
  initialize,
  isFastIoPossible,
  snapshot,
  uninitialize,
} from '../../../src/model/oplock/index.js';
import { COMPLETE, Harness, PENDING, PROCEED, S } from './harness.js';

describe('lifetime (FltInitializeOplock / FltUninitializeOplock pages)', () => {
  it('a new oplock has no state after initialize', () => {
    const o = createOplock();
    initialize(o);
    expect(snapshot(o).state).toEqual(['NO_OPLOCK']);
    expect(o.isEmpty()).toBe(true);
  });

  it('a request on an oplock that was never initialized is a bug check, not a silent success', () => {
    const h = new Harness(false);
    const fo = h.open();
    expect(() => h.legacy(fo, 'LEVEL1')).toThrow(BugCheckError);
  });

  it('check on a never-initialized oplock is a bug check', () => {
    const h = new Harness(false);
    expect(() => h.read(h.open())).toThrow(BugCheckError);
  });

  it('initializing twice is refused (the OPLOCK must be NULL before FltInitializeOplock)', () => {
    const o = createOplock();
    initialize(o);
    expect(() => initialize(o)).toThrow(BugCheckError);
  });

  it('use after FltUninitializeOplock is a bug check', () => {
    const h = new Harness();
    uninitialize(h.oplock);
    expect(() => h.legacy(h.open(), 'LEVEL2')).toThrow(BugCheckError);
    expect(() => isFastIoPossible(h.oplock)).toThrow(BugCheckError);
  });

  it('an oplock may be initialized again after uninitialize (DDI: "may be re-initialized")', () => {
    const h = new Harness();
    uninitialize(h.oplock);
    initialize(h.oplock);
    expect(h.legacy(h.open(), 'LEVEL2').result.preop).toBe(PENDING);
  });

  it('uninitialize completes held requests and lets waiting operations go, in order', () => {
    const h = new Harness();
    const a = h.open();
    const held = h.legacy(a, 'LEVEL1');
    const w = h.create(h.open());
    expect(w.result.preop).toBe(PENDING);
    uninitialize(h.oplock);
    expect(h.released(w.op)).toMatchObject({ status: S.STATUS_SUCCESS, reason: 'teardown' });
    expect(h.completions(held.op)).toHaveLength(1);
    expect(h.oplock.initialized).toBe(false);
  });

  it('uninitialize completes a granted R request with STATUS_SUCCESS and level none', () => {
    const h = new Harness();
    const r = h.win7(h.open(), 'R');
    uninitialize(h.oplock);
    expect(h.completion(r.op)).toMatchObject({ status: S.STATUS_SUCCESS, toLevel: 'NONE' });
  });

  it('a negative OpenCount is a caller error', () => {
    const h = new Harness();
    const op = h.fsctlOp(h.open(), 0x90000);
    expect(() => fsctrl(h.oplock, op, -1)).toThrow(InvalidArgumentError);
  });

  it('a granted request without a completion callback is refused (the package would own it)', () => {
    const h = new Harness();
    const fo = h.open();
    const { complete: _dropped, ...op } = h.fsctlOp(fo, 0x90000);
    expect(() => fsctrl(h.oplock, op, 1)).toThrow(InvalidArgumentError);
  });
});

describe('FltOplockIsFastIoPossible', () => {
  it('is TRUE with no oplock', () => {
    expect(isFastIoPossible(new Harness().oplock)).toBe(true);
  });

  it('is TRUE with an exclusive oplock that is not breaking', () => {
    const h = new Harness();
    h.legacy(h.open(), 'LEVEL1');
    expect(isFastIoPossible(h.oplock)).toBe(true);
  });

  it('is FALSE while an exclusive oplock is breaking', () => {
    const h = new Harness();
    h.legacy(h.open(), 'BATCH');
    h.create(h.open());
    expect(isFastIoPossible(h.oplock)).toBe(false);
  });

  it('is FALSE while Level 2 oplocks exist (a fast write would have to break them)', () => {
    const h = new Harness();
    h.legacy(h.open(), 'LEVEL2');
    expect(isFastIoPossible(h.oplock)).toBe(false);
  });

  it('is FALSE while R oplocks exist and TRUE again once they are broken', () => {
    const h = new Harness();
    h.win7(h.open(), 'R');
    expect(isFastIoPossible(h.oplock)).toBe(false);
    h.write(h.open());
    expect(isFastIoPossible(h.oplock)).toBe(true);
  });
});

describe('FltCurrentBatchOplock / FltCurrentOplock / FltCurrentOplockH', () => {
  it('currentBatchOplock is TRUE for batch and filter, FALSE for Level 1 and RWH', () => {
    for (const [level, expected] of [
      ['BATCH', true],
      ['FILTER', true],
      ['LEVEL1', false],
    ] as const) {
      const h = new Harness();
      h.legacy(h.open(), level);
      expect(currentBatchOplock(h.oplock)).toBe(expected);
    }
    const h = new Harness();
    h.win7(h.open(), 'RWH');
    expect(currentBatchOplock(h.oplock)).toBe(false);
  });

  it('currentBatchOplock stays TRUE while the batch oplock breaks, until it is acknowledged', () => {
    const h = new Harness();
    const a = h.open();
    h.legacy(a, 'BATCH');
    h.create(h.open());
    expect(currentBatchOplock(h.oplock)).toBe(true);
    h.ackLegacy(a, 0x00090050);
    expect(currentBatchOplock(h.oplock)).toBe(false);
  });

  it('currentOplock follows any holder; currentOplockH only handle caching', () => {
    const h = new Harness();
    expect(currentOplock(h.oplock)).toBe(false);
    const a = h.open();
    h.win7(a, 'R');
    expect(currentOplock(h.oplock)).toBe(true);
    expect(currentOplockH(h.oplock)).toBe(false);
    h.win7(a, 'RH');
    expect(currentOplockH(h.oplock)).toBe(true);
  });

  it('a write that breaks everything leaves no oplock and fast I/O possible', () => {
    const h = new Harness();
    h.legacy(h.open(), 'LEVEL2');
    const w = h.write(h.open());
    expect(w.result.preop).toBe(PROCEED);
    expect(currentOplock(h.oplock)).toBe(false);
    expect(snapshot(h.oplock).state).toEqual(['NO_OPLOCK']);
  });

  it('an unknown FSCTL code is refused with STATUS_INVALID_PARAMETER (FltOplockFsctrl page)', () => {
    const h = new Harness();
    const op = h.fsctlOp(h.open(), 0x900ff);
    expect(fsctrl(h.oplock, op, 1)).toMatchObject({
      preop: COMPLETE,
      ioStatus: S.STATUS_INVALID_PARAMETER,
    });
  });
});
