/**
 * Property tests over random sequences of opens, oplock requests, acknowledgements, I/O,
 * sharing-violation breaks, cancellations and closes on up to 6 handles of one stream.
 *
 * Invariants (issue #3):
 * 1. never two incompatible grants at once ("Types of Opportunistic Locks": an exclusive oplock
 *    excludes every other; Level 2 and RH never coexist);
 * 2. every pending request (held FSCTL) and every waiting operation completes exactly once;
 * 3. after every handle closes no oplock state remains.
 *
 * fast-check with fixed seeds; 10,000 sequences in total.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Fsctl, type OplockLevel } from '../../../src/bridge/flags.js';
import {
  cancel,
  type FsctlOperation,
  type OplockFileObject,
  type OplockOperation,
  snapshot,
  win7Level,
} from '../../../src/model/oplock/index.js';
import { Harness, PENDING, READ_ATTRIBUTES, READ_DATA, type Sent, WRITE_DATA } from './harness.js';

const HANDLES = 6;
const KEYS = [undefined, 'key-a', 'key-b'] as const;
const LEVELS: readonly OplockLevel[] = [
  'LEVEL1',
  'LEVEL2',
  'BATCH',
  'FILTER',
  'R',
  'RH',
  'RW',
  'RWH',
];
const LEGACY_ACKS = [
  Fsctl.FSCTL_OPLOCK_BREAK_ACKNOWLEDGE,
  Fsctl.FSCTL_OPLOCK_BREAK_ACK_NO_2,
  Fsctl.FSCTL_OPBATCH_ACK_CLOSE_PENDING,
  Fsctl.FSCTL_OPLOCK_BREAK_NOTIFY,
];
const ACCESS = [READ_DATA, WRITE_DATA, READ_ATTRIBUTES, READ_DATA | WRITE_DATA];

type Command =
  | {
      t: 'open';
      h: number;
      key: number;
      access: number;
      disposition: number;
      options: number;
      sync: boolean;
    }
  | { t: 'request'; h: number; level: number }
  | { t: 'ackLegacy'; h: number; code: number }
  | { t: 'ackWin7'; h: number; bits: number; onClose: boolean }
  | { t: 'io'; h: number; kind: number; ignoreKeys: boolean }
  | { t: 'breakH'; h: number; completeIfOplocked: boolean }
  | { t: 'close'; h: number }
  | { t: 'cancel'; pick: number };

const handle = fc.integer({ min: 0, max: HANDLES - 1 });
const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('open' as const),
      h: handle,
      key: fc.integer({ min: 0, max: 2 }),
      access: fc.integer({ min: 0, max: 3 }),
      disposition: fc.integer({ min: 0, max: 5 }),
      options: fc.constantFrom(0, 0, 0, 0x100, 0x10000, 0x100000),
      sync: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('request' as const),
      h: handle,
      level: fc.integer({ min: 0, max: LEVELS.length - 1 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('ackLegacy' as const),
      h: handle,
      code: fc.integer({ min: 0, max: 3 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('ackWin7' as const),
      h: handle,
      bits: fc.constantFrom(0, 1, 3, 5, 7),
      onClose: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('io' as const),
      h: handle,
      kind: fc.integer({ min: 0, max: 5 }),
      ignoreKeys: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('breakH' as const),
      h: handle,
      completeIfOplocked: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('close' as const), h: handle }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('cancel' as const), pick: fc.nat() }) },
);

interface Slot {
  fo: OplockFileObject;
  locked: boolean;
}

/** The level a held FSCTL stands for while it is pending. */
function heldLevel(op: FsctlOperation): OplockLevel {
  switch (op.fsControlCode) {
    case Fsctl.FSCTL_REQUEST_OPLOCK_LEVEL_1:
      return 'LEVEL1';
    case Fsctl.FSCTL_REQUEST_BATCH_OPLOCK:
      return 'BATCH';
    case Fsctl.FSCTL_REQUEST_FILTER_OPLOCK:
      return 'FILTER';
    case Fsctl.FSCTL_REQUEST_OPLOCK_LEVEL_2:
    case Fsctl.FSCTL_OPLOCK_BREAK_ACKNOWLEDGE:
      return 'LEVEL2';
    case Fsctl.FSCTL_REQUEST_OPLOCK:
      return op.input && op.input.flags & 0x4
        ? 'NONE'
        : win7Level(op.input?.requestedOplockLevel ?? 0);
    default:
      return 'NONE'; // break-notify
  }
}

const EXCLUSIVE = new Set<OplockLevel>(['LEVEL1', 'BATCH', 'FILTER', 'RW', 'RWH']);

/** Run one sequence; returns the number of steps executed. Throws on any violated invariant. */
function runSequence(commands: readonly Command[]): number {
  const h = new Harness();
  const slots: Array<Slot | undefined> = new Array(HANDLES).fill(undefined);
  const pendingFsctl: FsctlOperation[] = [];
  const waiting: OplockOperation[] = [];
  const completedAtOnce: FsctlOperation[] = [];
  const issued: bigint[] = [];

  const openSlots = () => slots.filter((s): s is Slot => s !== undefined);
  const track = (sent: Sent) => {
    issued.push(sent.op.operationId);
    if (sent.op.major === 'FILE_SYSTEM_CONTROL') {
      if (sent.result.preop === PENDING) pendingFsctl.push(sent.op);
      else completedAtOnce.push(sent.op);
    } else if (sent.result.preop === PENDING) {
      waiting.push(sent.op);
    }
  };

  const checkGrants = () => {
    const live = pendingFsctl.filter((op) => h.completions(op).length === 0).map(heldLevel);
    const granted = live.filter((l) => l !== 'NONE');
    const exclusive = granted.filter((l) => EXCLUSIVE.has(l));
    if (exclusive.length > 1 || (exclusive.length === 1 && granted.length > 1)) {
      throw new Error(`incompatible grants: ${granted.join(', ')}`);
    }
    if (granted.includes('LEVEL2') && granted.includes('RH')) {
      throw new Error(`Level 2 and RH granted together: ${granted.join(', ')}`);
    }
    const s = snapshot(h.oplock);
    if (s.exclusive !== undefined && s.exclusive.breakingTo === undefined) {
      if (
        s.levelTwo.length + s.read.length + s.readHandle.length + s.readHandleBreaking.length >
        0
      ) {
        throw new Error('exclusive oplock next to shared ones');
      }
    }
  };

  for (const c of commands) {
    if (c.t === 'cancel') {
      const id = issued[c.pick % Math.max(1, issued.length)];
      if (id !== undefined) cancel(h.oplock, id);
      checkGrants();
      continue;
    }
    const slot = slots[c.h];
    if (c.t === 'open') {
      if (slot !== undefined) continue;
      const key = KEYS[c.key];
      const fo = h.open(key === undefined ? { synchronous: c.sync } : { key, synchronous: c.sync });
      slots[c.h] = { fo, locked: false };
      track(
        h.create(fo, {
          access: ACCESS[c.access] ?? READ_DATA,
          disposition: c.disposition,
          options: c.options,
        }),
      );
      checkGrants();
      continue;
    }
    if (slot === undefined) continue;
    const fo = slot.fo;
    switch (c.t) {
      case 'request': {
        const level = LEVELS[c.level] ?? 'R';
        const all = openSlots();
        const shared = level === 'LEVEL2' || level === 'R' || level === 'RH';
        const count = shared ? (all.some((s) => s.locked) ? 1 : 0) : all.length;
        const keys = new Set(all.map((s) => s.fo.oplockKey ?? `fo${s.fo.id}`));
        const flags = keys.size === 1 ? 1 : 0;
        const sent =
          level === 'LEVEL1' || level === 'LEVEL2' || level === 'BATCH' || level === 'FILTER'
            ? h.legacy(fo, level, count, flags)
            : h.win7(fo, level, count, flags);
        track(sent);
        break;
      }
      case 'ackLegacy':
        track(h.ackLegacy(fo, LEGACY_ACKS[c.code] ?? Fsctl.FSCTL_OPLOCK_BREAK_ACKNOWLEDGE));
        break;
      case 'ackWin7':
        track(h.ackWin7(fo, c.onClose ? 0 : c.bits, c.onClose ? 0x4 : 0));
        break;
      case 'io': {
        const flags = c.ignoreKeys ? 0x8 : 0;
        const sent = [
          () => h.read(fo, flags),
          () => h.write(fo, flags),
          () => h.flush(fo),
          () => h.setInfo(fo, 10),
          () => h.setInfo(fo, 13, true),
          () => h.lock(fo),
        ][c.kind]?.();
        if (c.kind === 5) slot.locked = true;
        if (sent !== undefined) track(sent);
        break;
      }
      case 'breakH':
        track(h.breakH(fo, { access: READ_DATA | WRITE_DATA }, c.completeIfOplocked ? 1 : 0));
        break;
      case 'close':
        h.close(fo);
        slots[c.h] = undefined;
        break;
    }
    checkGrants();
  }
  for (const s of openSlots()) h.close(s.fo);

  for (const op of pendingFsctl) {
    const n = h.completions(op).length;
    if (n !== 1) throw new Error(`held request ${op.operationId} completed ${n} times`);
  }
  for (const op of completedAtOnce) {
    const n = h.completions(op).length;
    if (n !== 0)
      throw new Error(`request ${op.operationId} completed synchronously and again ${n} times`);
  }
  for (const op of waiting) {
    const n = h.releases(op).length;
    if (n !== 1) throw new Error(`waiting operation ${op.operationId} released ${n} times`);
  }
  if (!h.oplock.isEmpty()) {
    throw new Error(
      `state left after every handle closed: ${JSON.stringify(snapshot(h.oplock), (_k, v) => (typeof v === 'bigint' ? `${v}` : v))}`,
    );
  }
  return commands.length;
}

describe('oplock package properties (fast-check, fixed seeds)', () => {
  const runs = [
    { seed: 20240601, numRuns: 4000, maxLength: 24 },
    { seed: 7, numRuns: 3000, maxLength: 40 },
    { seed: 424242, numRuns: 3000, maxLength: 12 },
  ];
  it.each(runs)(
    'seed $seed: $numRuns sequences of up to $maxLength steps on up to 6 handles keep all three invariants',
    ({ seed, numRuns, maxLength }) => {
      let steps = 0;
      fc.assert(
        fc.property(fc.array(command, { minLength: 1, maxLength }), (cmds) => {
          steps += runSequence(cmds);
        }),
        { seed, numRuns },
      );
      expect(steps).toBeGreaterThan(numRuns);
    },
  );

  it('the same sequence run twice gives the same completions in the same order', () => {
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 30 }), (cmds) => {
        const trace = () => {
          const h = new Harness();
          const fos = Array.from({ length: HANDLES }, (_, i) => h.open({ key: i % 2 ? 'k' : 'j' }));
          for (const c of cmds) {
            const fo = fos['h' in c ? c.h : 0];
            if (fo === undefined) continue;
            if (c.t === 'request') h.request(fo, LEVELS[c.level] ?? 'R', 0);
            else if (c.t === 'io') h.write(fo);
            else if (c.t === 'breakH') h.breakH(fo);
            else if (c.t === 'ackWin7') h.ackWin7(fo, c.bits);
            else if (c.t === 'ackLegacy') h.ackLegacy(fo, LEGACY_ACKS[c.code] ?? 0);
            else if (c.t === 'open') h.create(fo, { disposition: c.disposition });
          }
          for (const fo of fos) h.close(fo);
          return h.log.map(
            (e) =>
              `${e.kind}/${e.opId}/${e.kind === 'complete' ? `${e.completion.status}:${e.completion.toLevel}` : e.kind === 'release' ? e.release.reason : ''}`,
          );
        };
        expect(trace()).toEqual(trace());
      }),
      { seed: 99, numRuns: 300 },
    );
  });
});
