/**
 * Shrinking a failing scenario to a small one that still fails the same way: delta debugging over
 * the steps, then whole handles, then the setup, then each step's numbers (toward 0 and small
 * values) and optional fields, then handle names made compact. Every candidate is normalised
 * (steps that lost their handle or target are dropped) and kept only if the predicate says it
 * still fails.
 */

import type { Scenario, Step } from '../schema.js';
import { normalizeSteps } from './grammar.js';

export type StillFails = (scenario: Scenario) => Promise<boolean>;

export interface ShrinkResult {
  readonly scenario: Scenario;
  /** Candidate runs spent. */
  readonly runs: number;
}

function smaller(v: bigint): bigint[] {
  const c = [0n, 1n, v >> 1n, v - 1n].filter((x) => x >= 0n && x < v);
  return [...new Set(c)];
}

function smallerNumber(v: number): number[] {
  return [...new Set([0, 1, Math.floor(v / 2), v - 1].filter((x) => x >= 0 && x < v))];
}

/** Simpler variants of one step, most aggressive first. */
function variants(s: Step): Step[] {
  const out: Step[] = [];
  const without = (key: string) => {
    if (key in s) {
      const copy: Record<string, unknown> = { ...s };
      delete copy[key];
      out.push(copy as unknown as Step);
    }
  };
  const withValue = (key: string, values: readonly unknown[]) => {
    for (const v of values) out.push({ ...s, [key]: v } as Step);
  };
  switch (s.verb) {
    case 'open':
      for (const k of [
        'options',
        'oplockKey',
        'process',
        'allocationSize',
        'overlapped',
        'disposition',
        'share',
        'access',
      ])
        without(k);
      break;
    case 'oplock':
    case 'ack':
      without('completeAckOnClose');
      break;
    case 'read':
      withValue('offset', smaller(s.offset));
      withValue('length', smallerNumber(s.length));
      without('key');
      without('process');
      break;
    case 'write':
      withValue('offset', smaller(s.offset));
      if (typeof s.data === 'number') withValue('data', smallerNumber(s.data));
      else withValue('data', [1]);
      without('key');
      without('process');
      break;
    case 'lock':
      withValue('offset', smaller(s.offset));
      withValue('length', smaller(s.length));
      if (s.wait) withValue('wait', [false]);
      if (!s.exclusive) withValue('exclusive', [true]);
      without('key');
      without('process');
      break;
    case 'unlock':
      withValue('offset', smaller(s.offset));
      withValue('length', smaller(s.length));
      without('key');
      without('process');
      break;
    case 'unlock-all':
      without('process');
      break;
    case 'unlock-all-by-key':
      withValue('key', smallerNumber(s.key));
      without('process');
      break;
    case 'set-information':
      if (s.info.class === 'end-of-file' || s.info.class === 'allocation') {
        const info = s.info;
        for (const size of smaller(info.size)) out.push({ ...s, info: { ...info, size } });
      }
      break;
    case 'wait':
      without('timeoutMs');
      break;
    case 'sleep':
      withValue('ms', smallerNumber(s.ms));
      break;
    default:
      break;
  }
  return out;
}

function handlesOf(steps: readonly Step[]): string[] {
  const names: string[] = [];
  for (const s of steps) if (s.verb === 'open' && !names.includes(s.handle)) names.push(s.handle);
  return names;
}

function renameHandles(steps: readonly Step[], map: ReadonlyMap<string, string>): Step[] {
  return steps.map((s) => {
    const out = { ...s } as Step & { handle?: string };
    if ('handle' in s && s.handle !== undefined)
      (out as { handle: string }).handle = map.get(s.handle) ?? s.handle;
    if (s.expect?.breaks) {
      return {
        ...out,
        expect: {
          ...s.expect,
          breaks: s.expect.breaks.map((b) => ({ ...b, handle: map.get(b.handle) ?? b.handle })),
        },
      } as Step;
    }
    return out as Step;
  });
}

/** Give steps canonical ids s<number>, rewriting every reference. */
export function renumberIds(steps: readonly Step[]): Step[] {
  const map = new Map(steps.map((s, i) => [s.id, `s${i + 1}`]));
  const ref = (id: string) => map.get(id) ?? id;
  return steps.map((s, i) => {
    let out = { ...s, index: i, id: `s${i + 1}` } as Step;
    if (out.verb === 'cancel') out = { ...out, target: ref(out.target) };
    if (out.verb === 'wait') out = { ...out, targets: out.targets.map(ref) };
    if (out.expect) {
      const e = out.expect;
      out = {
        ...out,
        expect: {
          ...e,
          ...(e.breaks
            ? {
                breaks: e.breaks.map((b) =>
                  b.request !== undefined ? { ...b, request: ref(b.request) } : b,
                ),
              }
            : {}),
          ...(e.completes
            ? { completes: e.completes.map((c) => ({ ...c, step: ref(c.step) })) }
            : {}),
        },
      } as Step;
    }
    return out;
  });
}

function usedPaths(steps: readonly Step[]): Set<string> {
  const paths = new Set<string>();
  for (const s of steps) {
    if (s.verb === 'open') paths.add(s.path.toLowerCase());
    if (s.verb === 'set-information' && s.info.class === 'rename')
      paths.add(s.info.target.toLowerCase());
  }
  return paths;
}

export async function shrinkScenario(
  original: Scenario,
  stillFails: StillFails,
  maxRuns = 600,
): Promise<ShrinkResult> {
  let current: Scenario = { ...original, steps: normalizeSteps(original.steps) };
  let runs = 0;
  const key = (s: Scenario) =>
    JSON.stringify([s.setup, s.steps], (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
  const seen = new Set<string>([key(current)]);

  const attempt = async (steps: readonly Step[], setup = current.setup): Promise<boolean> => {
    if (runs >= maxRuns) return false;
    const candidate: Scenario = { ...current, setup, steps: normalizeSteps(steps) };
    const k = key(candidate);
    if (seen.has(k)) return false;
    seen.add(k);
    runs += 1;
    if (await stillFails(candidate)) {
      current = candidate;
      return true;
    }
    return false;
  };

  for (let round = 0; round < 8 && runs < maxRuns; round++) {
    const before = key(current);

    // 1. Delta debugging over steps.
    let n = 2;
    while (current.steps.length > 1 && runs < maxRuns) {
      const steps = current.steps;
      const chunk = Math.ceil(steps.length / n);
      let reduced = false;
      for (let start = 0; start < steps.length; start += chunk) {
        if (await attempt([...steps.slice(0, start), ...steps.slice(start + chunk)])) {
          reduced = true;
          n = Math.max(n - 1, 2);
          break;
        }
      }
      if (!reduced) {
        if (chunk <= 1) break;
        n = Math.min(n * 2, steps.length);
      }
    }

    // 2. Fewer handles: drop one with all its steps, or merge it into an earlier one.
    for (const h of handlesOf(current.steps)) {
      await attempt(current.steps.filter((s) => !('handle' in s) || s.handle !== h));
    }
    const names = handlesOf(current.steps);
    merge: for (let j = names.length - 1; j > 0; j--) {
      for (let i = 0; i < j; i++) {
        const from = names[j] as string;
        const into = names[i] as string;
        const merged = renameHandles(
          current.steps.filter(
            (s) => !((s.verb === 'open' || s.verb === 'close') && s.handle === from),
          ),
          new Map([[from, into]]),
        );
        if (await attempt(merged)) continue merge;
      }
    }

    // 3. Setup: unused entries, then sizes.
    const used = usedPaths(current.steps);
    for (const entry of current.setup) {
      const needed =
        used.has(entry.path.toLowerCase()) ||
        (entry.directory && [...used].some((p) => p.startsWith(`${entry.path.toLowerCase()}/`)));
      if (!needed)
        await attempt(
          current.steps,
          current.setup.filter((e) => e !== entry),
        );
    }
    for (const entry of current.setup) {
      if (entry.directory || entry.size === 0n) continue;
      for (const size of smaller(entry.size)) {
        const { data: _d, ...rest } = entry;
        if (
          await attempt(
            current.steps,
            current.setup.map((e) => (e === entry ? { ...rest, size } : e)),
          )
        )
          break;
      }
    }

    // 4. Numbers and optional fields, step by step, until nothing changes.
    let changed = true;
    while (changed && runs < maxRuns) {
      changed = false;
      for (let i = 0; i < current.steps.length; i++) {
        const step = current.steps[i] as Step;
        for (const v of variants(step)) {
          const steps = [...current.steps];
          steps[i] = v;
          if (await attempt(steps)) {
            changed = true;
            break;
          }
        }
      }
    }

    if (key(current) === before) break;
  }

  // 5. Compact handle names and step ids (kept only if it still fails).
  const names = handlesOf(current.steps);
  const map = new Map(names.map((h, i) => [h, `h${i + 1}`]));
  if (names.some((h, i) => h !== `h${i + 1}`)) await attempt(renameHandles(current.steps, map));
  const renumbered = renumberIds(current.steps);
  if (renumbered.some((s, i) => s.id !== current.steps[i]?.id)) await attempt(renumbered);
  return { scenario: current, runs };
}
