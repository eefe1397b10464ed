/**
 * Property tests of the FILE_LOCK twin (fast-check, fixed seeds, 10,000 random sequences):
 *  - no two conflicting locks are ever granted;
 *  - unlock-all / cleanup leaves nothing of its owner, granted or waiting;
 *  - a compatible waiter is never left waiting;
 *  - every status is the one [MS-FSA] 2.1.4.10 / 2.1.5.8 / 2.1.5.9 predict from the granted
 *    set, computed here by a direct transcription of the algorithm (the oracle below);
 *  - the same script on a FILE_LOCK backed by the linear NaiveIndex gives the same answers.
 */

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FileLockInfo, LockControlData } from '../../../src/model/filelock/index.js';
import * as fl from '../../../src/model/filelock/index.js';
import { S } from './harness.js';

const U64_MAX = (1n << 64n) - 1n;

// --- The oracle: [MS-FSA] 2.1.4.10 verbatim ----------------------------------------------------

interface Range {
  offset: bigint;
  length: bigint;
}

function overlapFsa(a: Range, b: Range): boolean {
  if (a.offset === 0n && a.length === 0n) return false;
  if (b.offset === 0n && b.length === 0n) return false;
  const lastA = a.offset + a.length - 1n;
  const lastB = b.offset + b.length - 1n;
  return a.offset <= lastB && lastA >= b.offset;
}

interface Who {
  fo: bigint;
  pid: number;
  key: number;
}

function sameOwner(l: FileLockInfo, w: Who): boolean {
  return l.fileObject === w.fo && l.processId === w.pid && l.key === w.key;
}

/** [MS-FSA] 2.1.4.10: does the access conflict with the granted locks? */
function conflictsFsa(
  locks: FileLockInfo[],
  range: Range,
  isExclusive: boolean,
  lockIntent: boolean,
  who: Who,
): boolean {
  if (range.offset === 0n && range.length === 0n) return false;
  for (const l of locks) {
    if (!overlapFsa({ offset: l.startingByte, length: l.length }, range)) continue;
    if (l.exclusiveLock) {
      if (!sameOwner(l, who)) return true;
      if (isExclusive && lockIntent) return true;
    } else if (isExclusive) {
      return true;
    }
  }
  return false;
}

function wraps(r: Range): boolean {
  return r.length !== 0n && r.offset + r.length - 1n > U64_MAX;
}

// --- Scripts ---------------------------------------------------------------------------------

const owners: Who[] = [
  { fo: 1n, pid: 1, key: 0 },
  { fo: 1n, pid: 1, key: 1 },
  { fo: 2n, pid: 1, key: 0 },
  { fo: 1n, pid: 2, key: 0 },
  { fo: 3n, pid: 2, key: 5 },
];

const offsetArb = fc.oneof(
  { weight: 8, arbitrary: fc.bigInt({ min: 0n, max: 24n }) },
  { weight: 1, arbitrary: fc.bigInt({ min: U64_MAX - 4n, max: U64_MAX }) },
);
const lengthArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant(0n) },
  { weight: 7, arbitrary: fc.bigInt({ min: 1n, max: 8n }) },
  { weight: 1, arbitrary: fc.constant(U64_MAX) },
);

type Step =
  | {
      t: 'lock';
      who: number;
      offset: bigint;
      length: bigint;
      exclusive: boolean;
      fail: boolean;
      fast: boolean;
    }
  | { t: 'unlock'; who: number; pick: number; offset: bigint; length: bigint; exact: boolean }
  | { t: 'unlockAll'; who: number; byKey: boolean }
  | { t: 'cleanup'; who: number }
  | { t: 'cancel'; pick: number }
  | { t: 'io'; who: number; offset: bigint; length: number; write: boolean };

const who = fc.nat({ max: owners.length - 1 });
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      t: fc.constant('lock' as const),
      who,
      offset: offsetArb,
      length: lengthArb,
      exclusive: fc.boolean(),
      fail: fc.boolean(),
      fast: fc.oneof(
        { weight: 5, arbitrary: fc.constant(false) },
        { weight: 1, arbitrary: fc.constant(true) },
      ),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('unlock' as const),
      who,
      pick: fc.nat(),
      offset: offsetArb,
      length: lengthArb,
      exact: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('unlockAll' as const), who, byKey: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('cleanup' as const), who }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('cancel' as const), pick: fc.nat() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('io' as const),
      who,
      offset: fc.bigInt({ min: 0n, max: 30n }),
      length: fc.nat({ max: 10 }),
      write: fc.boolean(),
    }),
  },
);

/** How often each path ran, over all scripts: the run must reach every one. */
const reached = {
  pended: 0,
  grantedAfterWait: 0,
  ownerUnlockAll: 0,
  cancelled: 0,
  disallowedFastIo: 0,
  invalidRange: 0,
  refusedIo: 0,
  stackedShared: 0,
};

interface Run {
  lock: fl.FileLock;
  /** Completion-routine calls per request. */
  completions: Map<LockControlData, number>;
  pendedCompletions: Map<LockControlData, number>;
  trace: string[];
}

function newRun(naive: boolean): Run {
  const run: Run = {
    lock: undefined as unknown as fl.FileLock,
    completions: new Map(),
    pendedCompletions: new Map(),
    trace: [],
  };
  const complete: fl.CompleteLockCallbackDataRoutine = (_c, data, cause) => {
    run.completions.set(data, (run.completions.get(data) ?? 0) + 1);
    run.trace.push(`c${data.operationId}:${data.ioStatus.status}:${cause.reason}`);
    if (!naive) {
      if (cause.reason === 'granted-after-wait') reached.grantedAfterWait += 1;
      if (cause.reason === 'owner-unlock-all') reached.ownerUnlockAll += 1;
      if (cause.reason === 'cancelled') reached.cancelled += 1;
    }
    return data.ioStatus.status;
  };
  const unlock: fl.UnlockRoutine = (_c, info, cause) => {
    run.trace.push(`u${info.startingByte}+${info.length}:${info.fileObject}:${cause.releasedBy}`);
  };
  run.lock = naive
    ? fl.allocateWithIndex(() => new fl.NaiveIndex(), complete, unlock)
    : fl.allocate(complete, unlock);
  return run;
}

/** Run a script on a fresh FILE_LOCK, checking every invariant after every step. */
function execute(script: Step[], naive: boolean): string[] {
  const run = newRun(naive);
  const { lock } = run;
  const answers: string[] = [];
  let op = 0n;
  // ntoskrnl allocates FILE_LOCK.LockInformation at the first lock request; before that an
  // unlock is STATUS_RANGE_NOT_LOCKED whatever its range (FsRtlFastUnlockSingle).
  let lockInfo = false;
  for (const step of script) {
    op += 1n;
    const before = fl.enumerateLocks(lock);
    const waitingBefore = fl.waitingRequests(lock).map((w) => w.data);
    if (step.t === 'lock') {
      const w = owners[step.who] as Who;
      const data = fl.lockControlData({
        operationId: op,
        processId: w.pid,
        fileObject: w.fo,
        minor: 'LOCK',
        byteOffset: step.offset,
        length: step.length,
        key: w.key,
        exclusiveLock: step.exclusive,
        failImmediately: step.fail,
        fastIo: step.fast,
        completePended: (d) =>
          run.pendedCompletions.set(d, (run.pendedCompletions.get(d) ?? 0) + 1),
      });
      const preop = fl.process(lock, data);
      lockInfo = true;
      const range = { offset: step.offset, length: step.length };
      const conflict = conflictsFsa(before, range, step.exclusive, true, w);
      // [MS-FSA] 2.1.5.8: wrap -> INVALID_LOCK_RANGE; no conflict -> granted; conflict ->
      // LOCK_NOT_GRANTED or wait (fast I/O cannot wait: disallowed).
      if (wraps(range))
        expect([preop, data.ioStatus.status]).toEqual(['complete', S.INVALID_LOCK_RANGE]);
      else if (!conflict) expect([preop, data.ioStatus.status]).toEqual(['complete', S.SUCCESS]);
      else if (step.fail)
        expect([preop, data.ioStatus.status]).toEqual(['complete', S.LOCK_NOT_GRANTED]);
      else expect(preop).toBe(step.fast ? 'disallow-fast-io' : 'pending');
      if (step.fast) expect(run.completions.has(data)).toBe(false);
      if (!naive) {
        if (preop === 'pending') reached.pended += 1;
        if (preop === 'disallow-fast-io') reached.disallowedFastIo += 1;
        if (data.ioStatus.status === S.INVALID_LOCK_RANGE) reached.invalidRange += 1;
        if (
          !step.exclusive &&
          data.ioStatus.status === S.SUCCESS &&
          before.some(
            (l) =>
              l.exclusiveLock &&
              sameOwner(l, w) &&
              overlapFsa({ offset: l.startingByte, length: l.length }, range),
          )
        ) {
          reached.stackedShared += 1;
        }
      }
      answers.push(`${preop}:${data.ioStatus.status}`);
    } else if (step.t === 'unlock') {
      const w = owners[step.who] as Who;
      const own = before.filter((l) => sameOwner(l, w));
      const target =
        step.exact && own.length > 0
          ? (own[step.pick % own.length] as FileLockInfo)
          : { startingByte: step.offset, length: step.length };
      const data = fl.lockControlData({
        operationId: op,
        processId: w.pid,
        fileObject: w.fo,
        minor: 'UNLOCK_SINGLE',
        byteOffset: target.startingByte,
        length: target.length,
        key: w.key,
      });
      fl.process(lock, data);
      const matches = before.filter(
        (l) =>
          sameOwner(l, w) && l.startingByte === target.startingByte && l.length === target.length,
      );
      // [MS-FSA] 2.1.5.9: exact match or RANGE_NOT_LOCKED; an exclusive match goes first.
      const expected = !lockInfo
        ? S.RANGE_NOT_LOCKED
        : wraps({ offset: target.startingByte, length: target.length })
          ? S.INVALID_LOCK_RANGE
          : matches.length > 0
            ? S.SUCCESS
            : S.RANGE_NOT_LOCKED;
      expect(data.ioStatus.status).toBe(expected);
      if (expected === S.SUCCESS) {
        const removed = countDiff(before, fl.enumerateLocks(lock), w, target);
        expect(removed.exclusive).toBe(matches.some((m) => m.exclusiveLock));
      }
      answers.push(`unlock:${data.ioStatus.status}`);
    } else if (step.t === 'unlockAll' || step.t === 'cleanup') {
      const w = owners[step.who] as Who;
      const byKey = step.t === 'unlockAll' && step.byKey;
      let status: number;
      if (step.t === 'cleanup') {
        status = fl.fastUnlockAll(lock, w.fo, w.pid, undefined, op);
      } else {
        const data = fl.lockControlData({
          operationId: op,
          processId: w.pid,
          fileObject: w.fo,
          minor: byKey ? 'UNLOCK_ALL_BY_KEY' : 'UNLOCK_ALL',
          key: w.key,
        });
        fl.process(lock, data);
        status = data.ioStatus.status;
      }
      expect(status).toBe(before.length === 0 ? S.RANGE_NOT_LOCKED : S.SUCCESS);
      // Nothing of the owner survives, granted or waiting.
      const mine = (fo: bigint, pid: number, key: number) =>
        fo === w.fo && pid === w.pid && (!byKey || key === w.key);
      if (before.length > 0) {
        expect(
          fl.enumerateLocks(lock).filter((l) => mine(l.fileObject, l.processId, l.key)),
        ).toEqual([]);
        expect(
          fl
            .waitingRequests(lock)
            .filter((x) => mine(x.data.fileObject, x.data.processId, x.data.key)),
        ).toEqual([]);
        for (const d of waitingBefore) {
          if (mine(d.fileObject, d.processId, d.key))
            expect(d.ioStatus.status).toBe(S.RANGE_NOT_LOCKED);
        }
      }
      answers.push(`all:${status}`);
    } else if (step.t === 'cancel') {
      if (waitingBefore.length === 0) continue;
      const d = waitingBefore[step.pick % waitingBefore.length] as LockControlData;
      expect(fl.cancel(lock, d, op)).toBe(true);
      expect(d.ioStatus.status).toBe(S.CANCELLED);
      expect(fl.cancel(lock, d, op)).toBe(false);
      answers.push('cancel');
    } else {
      const w = owners[step.who] as Who;
      const init = {
        operationId: op,
        processId: w.pid,
        fileObject: w.fo,
        byteOffset: step.offset,
        length: step.length,
        key: w.key,
      };
      const allowed = step.write
        ? fl.checkForWrite(lock, fl.writeData(init))
        : fl.checkForRead(lock, fl.readData(init));
      const expected =
        step.length === 0 ||
        !conflictsFsa(
          before,
          { offset: step.offset, length: BigInt(step.length) },
          step.write,
          false,
          w,
        );
      expect(allowed).toBe(expected);
      if (!naive && !allowed) reached.refusedIo += 1;
      answers.push(`io:${allowed}`);
    }
    checkInvariants(lock);
  }
  // Close every handle: nothing may remain, and every pended request completed exactly once.
  for (const w of owners) fl.fastUnlockAll(lock, w.fo, w.pid);
  expect(fl.enumerateLocks(lock)).toEqual([]);
  expect(fl.waitingRequests(lock)).toEqual([]);
  for (const [data, n] of run.completions)
    expect([data.operationId, n]).toEqual([data.operationId, 1]);
  for (const [data, n] of run.pendedCompletions)
    expect([data.operationId, n]).toEqual([data.operationId, 1]);
  return [...answers, ...run.trace];
}

function countDiff(
  before: FileLockInfo[],
  after: FileLockInfo[],
  w: Who,
  target: { startingByte: bigint; length: bigint },
) {
  const key = (l: FileLockInfo) =>
    sameOwner(l, w) && l.startingByte === target.startingByte && l.length === target.length;
  const ex = (list: FileLockInfo[]) => list.filter((l) => key(l) && l.exclusiveLock).length;
  return { exclusive: ex(before) - ex(after) === 1 };
}

function checkInvariants(lock: fl.FileLock): void {
  const locks = fl.enumerateLocks(lock);
  // 1. No two conflicting locks are granted: overlapping pairs are shared/shared, or a shared
  //    lock stacked on its own owner's exclusive lock.
  for (let i = 0; i < locks.length; i++) {
    const a = locks[i] as FileLockInfo;
    for (let j = i + 1; j < locks.length; j++) {
      const b = locks[j] as FileLockInfo;
      if (
        !overlapFsa(
          { offset: a.startingByte, length: a.length },
          { offset: b.startingByte, length: b.length },
        )
      ) {
        continue;
      }
      expect(a.exclusiveLock && b.exclusiveLock).toBe(false);
      if (a.exclusiveLock || b.exclusiveLock) {
        expect(
          a.fileObject === b.fileObject && a.processId === b.processId && a.key === b.key,
        ).toBe(true);
      }
    }
  }
  // 2. No compatible waiter is left waiting.
  for (const { data } of fl.waitingRequests(lock)) {
    const fits = !conflictsFsa(
      locks,
      { offset: data.byteOffset, length: data.length },
      data.exclusiveLock,
      true,
      { fo: data.fileObject, pid: data.processId, key: data.key },
    );
    expect(fits).toBe(false);
    expect(data.ioStatus.status).toBe(S.PENDING);
  }
}

describe('FILE_LOCK properties (fast-check, fixed seed)', () => {
  it('10,000 random scripts keep every invariant, match the [MS-FSA] oracle, and match the naive-index twin', () => {
    let scripts = 0;
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 24 }), (script) => {
        scripts += 1;
        const tree = execute(script, false);
        const naive = execute(script, true);
        expect(tree).toEqual(naive);
      }),
      { seed: 0x0f11e10c, numRuns: 10_000 },
    );
    expect(scripts).toBeGreaterThanOrEqual(10_000);
    for (const [path, count] of Object.entries(reached)) {
      expect([path, count >= 100]).toEqual([path, true]);
    }
  });
});
