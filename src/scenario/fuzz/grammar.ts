/**
 * Random scenarios from a weighted grammar over every step kind: a few small files, up to six
 * handles, several processes, lock keys and oplock keys, and offsets and lengths drawn from edge
 * values near 0, 2^32, 2^63 and 2^64 as well as small numbers. Generated scenarios are valid by
 * construction (every step uses a handle an earlier open declared), so they parse back from the
 * YAML the fuzzer writes.
 */

import {
  AccessAlias,
  CreateOption,
  Disposition,
  type OplockLevel,
  ShareMode,
  U64_MAX,
  type Win7OplockLevel,
} from '../../bridge/flags.js';
import type { Scenario, SetupEntry, Step, StepVerb } from '../schema.js';
import { Rng } from './rng.js';

export type Weights = Readonly<Record<StepVerb, number>>;

export const DEFAULT_WEIGHTS: Weights = {
  open: 12,
  close: 5,
  oplock: 10,
  ack: 6,
  'break-notify': 1,
  read: 4,
  write: 4,
  lock: 10,
  unlock: 5,
  'unlock-all': 2,
  'unlock-all-by-key': 2,
  'set-information': 3,
  flush: 1,
  cancel: 2,
  wait: 1,
  sleep: 0.5,
};

export interface GrammarOptions {
  readonly steps: number;
  readonly maxHandles?: number;
  readonly weights?: Partial<Weights>;
}

const FILES = ['a.txt', 'b.txt', 'd/c.txt'];
const NEW_NAMES = ['new.txt', 'd/new.txt', 'a.txt'];
const OPLOCK_KEYS = [
  '11111111-2222-3333-4444-555555555555',
  'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee',
];
const LEVELS: readonly OplockLevel[] = [
  'LEVEL1',
  'LEVEL2',
  'BATCH',
  'FILTER',
  'R',
  'RW',
  'RH',
  'RWH',
];
const ACK_LEVELS: readonly (Win7OplockLevel | 'NONE')[] = ['R', 'RW', 'RH', 'RWH', 'NONE'];

const EDGE_OFFSETS: readonly bigint[] = [
  0n,
  1n,
  2n,
  10n,
  99n,
  100n,
  4095n,
  4096n,
  (1n << 32n) - 1n,
  1n << 32n,
  (1n << 63n) - 1n,
  1n << 63n,
  U64_MAX - 1n,
  U64_MAX,
];

const ACCESS = [
  AccessAlias.read,
  AccessAlias.write,
  AccessAlias.read | AccessAlias.write,
  AccessAlias.read | AccessAlias.write | AccessAlias.delete,
  AccessAlias.attributes,
  AccessAlias.delete,
  AccessAlias['read-data'],
].map((m) => m >>> 0);
const SHARE = [
  0,
  ShareMode.FILE_SHARE_READ,
  ShareMode.FILE_SHARE_READ | ShareMode.FILE_SHARE_WRITE,
  ShareMode.FILE_SHARE_READ | ShareMode.FILE_SHARE_WRITE | ShareMode.FILE_SHARE_DELETE,
  ShareMode.FILE_SHARE_WRITE,
];

/** Symbolic state: which handle names are open as far as the scenario text goes. */
interface State {
  readonly open: string[];
  readonly everUsed: Set<string>;
  readonly steps: Step[];
  readonly locks: {
    handle: string;
    offset: bigint;
    length: bigint;
    key?: number;
    process?: number;
  }[];
}

function offset(rng: Rng): bigint {
  return rng.chance(0.55) ? rng.pick(EDGE_OFFSETS) : BigInt(rng.int(200));
}

function length(rng: Rng, off: bigint): bigint {
  const r = rng.int(10);
  if (r < 5) return BigInt(rng.int(120));
  if (r === 5) return 0n;
  if (r === 6) return U64_MAX - off + 1n === 0n ? 1n : U64_MAX - off; // up to the last byte
  if (r === 7) return U64_MAX - off + 1n; // one past the end (wraps unless off = 0)
  if (r === 8) return 1n << 63n;
  return U64_MAX;
}

/** Keep lengths inside 2^64-1 (the format's limit), even the one-past-the-end choice. */
function clampU64(v: bigint): bigint {
  return v > U64_MAX ? U64_MAX : v;
}

export function generateScenario(seed: number, index: number, options: GrammarOptions): Scenario {
  const rng = new Rng(seed, index);
  const weights = { ...DEFAULT_WEIGHTS, ...options.weights };
  const maxHandles = options.maxHandles ?? 6;
  const state: State = { open: [], everUsed: new Set(), steps: [], locks: [] };
  const setup: SetupEntry[] = [{ path: 'd', directory: true, size: 0n, line: 0 }];
  for (const path of FILES) {
    if (path === 'b.txt' && rng.chance(0.3)) continue;
    setup.push({ path, directory: false, size: rng.pick([0n, 1n, 100n, 4096n]), line: 0 });
  }
  for (let i = 0; i < options.steps; i++) {
    const verb = rng.weighted(
      (Object.keys(weights) as StepVerb[]).map((v) => {
        let w = weights[v];
        if (v === 'open' && state.open.length >= maxHandles) w = 0;
        if (
          v !== 'open' &&
          v !== 'cancel' &&
          v !== 'wait' &&
          v !== 'sleep' &&
          state.open.length === 0
        )
          w = 0;
        if ((v === 'cancel' || v === 'wait') && state.steps.length === 0) w = 0;
        if (v === 'open' && state.open.length === 0) w += 100;
        return [v, w] as const;
      }),
    );
    state.steps.push(makeStep(rng, verb, state, maxHandles));
  }
  return {
    name: `fuzz seed ${seed} #${index}`,
    file: `<fuzz ${seed}:${index}>`,
    setup,
    steps: state.steps,
    invariants: true,
  };
}

function makeStep(rng: Rng, verb: StepVerb, state: State, maxHandles: number): Step {
  const index = state.steps.length;
  const common = { index, id: `s${index + 1}`, line: 0 };
  const handle = () => rng.pick(state.open);
  const proc = () => (rng.chance(0.2) ? { process: rng.pick([1, 2, 3]) } : {});
  const key = () => (rng.chance(0.25) ? { key: rng.pick([1, 2, 3]) } : {});
  switch (verb) {
    case 'open': {
      let name: string | undefined;
      for (let n = 1; n <= maxHandles; n++) {
        const candidate = `h${n}`;
        if (!state.open.includes(candidate)) {
          name = candidate;
          break;
        }
      }
      const h = name ?? 'h1';
      state.open.push(h);
      state.everUsed.add(h);
      const path = rng.chance(0.85) ? rng.pick(FILES) : rng.pick(NEW_NAMES);
      let options = 0;
      const o = rng.int(12);
      if (o === 0) options = CreateOption.FILE_COMPLETE_IF_OPLOCKED;
      if (o === 1) options = CreateOption.FILE_OPEN_REQUIRING_OPLOCK;
      if (o === 2) options = CreateOption.FILE_RESERVE_OPFILTER;
      if (o === 3) options = CreateOption.FILE_DELETE_ON_CLOSE;
      const disposition = rng.chance(0.8)
        ? Disposition.open
        : rng.pick([
            Disposition['open-if'],
            Disposition['overwrite-if'],
            Disposition.create,
            Disposition.supersede,
            Disposition.overwrite,
          ]);
      return {
        ...common,
        verb,
        handle: h,
        path,
        access: rng.pick(ACCESS),
        share: rng.pick(SHARE),
        ...(disposition !== Disposition.open ? { disposition } : {}),
        ...(options ? { options } : {}),
        ...(rng.chance(0.1) ? { overlapped: false } : {}),
        ...(rng.chance(0.2) ? { oplockKey: rng.pick(OPLOCK_KEYS) } : {}),
        ...proc(),
      };
    }
    case 'close': {
      const h = handle();
      state.open.splice(state.open.indexOf(h), 1);
      for (let i = state.locks.length - 1; i >= 0; i--)
        if (state.locks[i]?.handle === h) state.locks.splice(i, 1);
      return { ...common, verb, handle: h };
    }
    case 'oplock': {
      const level = rng.pick(LEVELS);
      const win7 = level === 'R' || level === 'RW' || level === 'RH' || level === 'RWH';
      return {
        ...common,
        verb,
        handle: handle(),
        level,
        ...(win7 && rng.chance(0.15) ? { completeAckOnClose: true } : {}),
      };
    }
    case 'ack': {
      const r = rng.int(5);
      if (r < 2)
        return { ...common, verb, handle: handle(), kind: 'ack', level: rng.pick(ACK_LEVELS) };
      return {
        ...common,
        verb,
        handle: handle(),
        kind: rng.pick(['acknowledge', 'ack-no-2', 'ack-close-pending'] as const),
      };
    }
    case 'break-notify':
    case 'flush':
      return { ...common, verb, handle: handle() };
    case 'read':
      return {
        ...common,
        verb,
        handle: handle(),
        offset: offset(rng),
        length: rng.int(150),
        ...key(),
        ...proc(),
      };
    case 'write':
      return {
        ...common,
        verb,
        handle: handle(),
        offset: offset(rng),
        data: rng.chance(0.2) ? 'xyz' : rng.int(150),
        ...key(),
        ...proc(),
      };
    case 'lock': {
      const h = handle();
      const off = offset(rng);
      const len = clampU64(length(rng, off));
      const extra = { ...key(), ...proc() };
      state.locks.push({ handle: h, offset: off, length: len, ...extra });
      return {
        ...common,
        verb,
        handle: h,
        offset: off,
        length: len,
        exclusive: rng.chance(0.6),
        wait: rng.chance(0.3),
        ...extra,
      };
    }
    case 'unlock': {
      const mine = state.locks.filter((l) => state.open.includes(l.handle));
      if (mine.length > 0 && rng.chance(0.7)) {
        const l = rng.pick(mine);
        return {
          ...common,
          verb,
          handle: l.handle,
          offset: l.offset,
          length: l.length,
          ...(l.key !== undefined ? { key: l.key } : {}),
          ...(l.process !== undefined ? { process: l.process } : {}),
        };
      }
      const off = offset(rng);
      return {
        ...common,
        verb,
        handle: handle(),
        offset: off,
        length: clampU64(length(rng, off)),
        ...key(),
        ...proc(),
      };
    }
    case 'unlock-all':
      return { ...common, verb, handle: handle(), ...proc() };
    case 'unlock-all-by-key':
      return { ...common, verb, handle: handle(), key: rng.pick([0, 1, 2, 3]), ...proc() };
    case 'set-information': {
      const r = rng.int(4);
      const info =
        r === 0
          ? ({ class: 'end-of-file', size: rng.pick([0n, 1n, 50n, 5000n]) } as const)
          : r === 1
            ? ({ class: 'allocation', size: rng.pick([0n, 4096n, 8192n]) } as const)
            : r === 2
              ? ({
                  class: 'rename',
                  target: rng.pick(['r.txt', 'd/r.txt', 'b.txt']),
                  replaceIfExists: rng.chance(0.5),
                } as const)
              : ({ class: 'disposition', deleteFile: rng.chance(0.8) } as const);
      return { ...common, verb, handle: handle(), info };
    }
    case 'cancel': {
      const candidates = state.steps.filter(
        (s) => s.verb === 'oplock' || s.verb === 'lock' || s.verb === 'open' || s.verb === 'ack',
      );
      const target = candidates.length > 0 ? rng.pick(candidates) : rng.pick(state.steps);
      return { ...common, verb, target: target.id };
    }
    case 'wait': {
      const target = rng.pick(state.steps);
      return { ...common, verb, targets: [target.id], timeoutMs: 200 };
    }
    case 'sleep':
      return { ...common, verb, ms: rng.int(3) };
  }
}

/**
 * Drop the steps that no longer make sense after others were removed (a handle no open
 * declares, a reference to a removed step) and renumber the rest. Used by the shrinker.
 */
export function normalizeSteps(steps: readonly Step[]): Step[] {
  const open = new Set<string>();
  const ids = new Set<string>();
  const out: Step[] = [];
  for (const s of steps) {
    let ok = true;
    if (s.verb === 'open') ok = !open.has(s.handle);
    else if (s.verb === 'cancel') ok = ids.has(s.target);
    else if (s.verb === 'wait') ok = s.targets.every((t) => ids.has(t));
    else if (s.verb !== 'sleep') ok = open.has(s.handle);
    if (ok && s.expect) {
      const refs = [
        ...(s.expect.completes ?? []).map((c) => c.step),
        ...(s.expect.breaks ?? []).flatMap((b) => (b.request !== undefined ? [b.request] : [])),
      ];
      ok = refs.every((r) => ids.has(r));
    }
    if (!ok) continue;
    if (s.verb === 'open') open.add(s.handle);
    if (s.verb === 'close') open.delete(s.handle);
    ids.add(s.id);
    out.push({ ...s, index: out.length } as Step);
  }
  return out;
}
