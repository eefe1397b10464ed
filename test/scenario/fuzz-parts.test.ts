import { describe, expect, it } from 'vitest';
import { U64_MAX } from '../../src/bridge/flags.js';
import { scenarioToYaml } from '../../src/scenario/format.js';
import { generateScenario, normalizeSteps } from '../../src/scenario/fuzz/grammar.js';
import { Rng } from '../../src/scenario/fuzz/rng.js';
import { renumberIds, shrinkScenario } from '../../src/scenario/fuzz/shrink.js';
import { parseScenario } from '../../src/scenario/parse.js';
import type { Scenario, Step } from '../../src/scenario/schema.js';

const json = (x: unknown) => JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));

describe('Rng', () => {
  it('is deterministic per (seed, stream) and streams differ', () => {
    const a = new Rng(42, 3);
    const b = new Rng(42, 3);
    const c = new Rng(42, 4);
    const sa = Array.from({ length: 50 }, () => a.next());
    expect(Array.from({ length: 50 }, () => b.next())).toEqual(sa);
    expect(Array.from({ length: 50 }, () => c.next())).not.toEqual(sa);
  });

  it('draws uniformly enough and respects weights', () => {
    const r = new Rng(7);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 40_000; i++) counts[r.int(4)] = (counts[r.int(4)] ?? 0) + 1;
    for (const n of counts) expect(n).toBeGreaterThan(9_000);
    let heavy = 0;
    for (let i = 0; i < 10_000; i++)
      if (
        r.weighted([
          ['a', 9],
          ['b', 1],
          ['c', 0],
        ] as const) === 'a'
      )
        heavy++;
    expect(heavy).toBeGreaterThan(8_500);
    expect(heavy).toBeLessThan(9_500);
  });

  it('handles seeds beyond 32 bits', () => {
    expect(new Rng(2 ** 40 + 5).next()).not.toBe(new Rng(5).next());
  });
});

describe('grammar', () => {
  it('is reproducible from the seed', () => {
    expect(json(generateScenario(99, 5, { steps: 40 }))).toBe(
      json(generateScenario(99, 5, { steps: 40 })),
    );
    expect(json(generateScenario(99, 5, { steps: 40 }))).not.toBe(
      json(generateScenario(99, 6, { steps: 40 })),
    );
  });

  it('writes scenarios that parse back unchanged, covering every step kind and edge numbers', () => {
    const verbs = new Set<string>();
    let edge = false;
    let maxHandles = 0;
    for (let i = 0; i < 100; i++) {
      const s = generateScenario(1234, i, { steps: 40 });
      const text = scenarioToYaml(s);
      const back = parseScenario(text, `gen-${i}.yaml`);
      expect(back.steps.length).toBe(s.steps.length);
      const strip = (x: unknown) =>
        JSON.parse(json(x), (k, v) => (k === 'line' || k === 'index' ? undefined : v));
      expect(strip(back.steps.map((st) => ({ ...st, id: undefined })))).toEqual(
        strip(s.steps.map((st) => ({ ...st, id: undefined }))),
      );
      for (const st of s.steps) {
        verbs.add(st.verb);
        if (
          (st.verb === 'lock' || st.verb === 'unlock') &&
          (st.offset === U64_MAX || st.length === U64_MAX)
        )
          edge = true;
      }
      let open = 0;
      for (const st of s.steps) {
        if (st.verb === 'open') open++;
        if (st.verb === 'close') open--;
        maxHandles = Math.max(maxHandles, open);
      }
      expect(maxHandles).toBeLessThanOrEqual(6);
    }
    expect([...verbs].sort()).toEqual(
      [
        'ack',
        'break-notify',
        'cancel',
        'close',
        'flush',
        'lock',
        'oplock',
        'open',
        'read',
        'set-information',
        'sleep',
        'unlock',
        'unlock-all',
        'unlock-all-by-key',
        'wait',
        'write',
      ].sort(),
    );
    expect(edge).toBe(true);
    expect(maxHandles).toBe(6);
  });
});

function scenario(lines: string): Scenario {
  const s = parseScenario(`steps:\n${lines}`, 't.yaml');
  return { ...s, steps: renumberIds(s.steps) };
}

describe('normalizeSteps', () => {
  it('drops steps whose handle or target is gone', () => {
    const s = scenario(
      '  - open h1 a\n  - lock h1 0 1\n  - open h2 a\n  - cancel 2\n  - close h1\n  - read h2 0 1\n',
    );
    const withoutOpen = normalizeSteps(s.steps.filter((st) => st.id !== 's1'));
    expect(withoutOpen.map((st) => st.verb)).toEqual(['open', 'read']);
    const withoutLock = normalizeSteps(s.steps.filter((st) => st.id !== 's2'));
    expect(withoutLock.map((st) => st.verb)).toEqual(['open', 'open', 'close', 'read']);
  });
});

describe('shrinkScenario', () => {
  it('finds the minimal failing core: fewer steps, fewer handles, smaller numbers', async () => {
    // "Fails" when some handle takes an exclusive lock whose range includes byte 1000 while a
    // second lock step exists on any handle.
    const fails = async (s: Scenario) => {
      const locks = s.steps.filter(
        (st): st is Extract<Step, { verb: 'lock' }> => st.verb === 'lock',
      );
      return (
        locks.length >= 2 &&
        locks.some((l) => l.exclusive && l.offset <= 1000n && l.offset + l.length > 1000n)
      );
    };
    const big = scenario(
      [
        '  - open h1 a rw',
        '  - open h2 a rw share=rw process=2',
        '  - oplock h1 RWH',
        '  - write h2 0 50',
        '  - lock h2 5000 7 shared key=3',
        '  - open h3 b',
        '  - read h3 0 10',
        '  - lock h1 900 18446744073709551615 excl wait key=2 process=3',
        '  - unlock-all h2',
        '  - close h3',
      ].join('\n'),
    );
    expect(await fails(big)).toBe(true);
    const { scenario: small, runs } = await shrinkScenario(big, fails, 2000);
    expect(await fails(small)).toBe(true);
    expect(runs).toBeGreaterThan(0);
    const verbs = small.steps.map((st) => st.verb);
    expect(verbs.filter((v) => v === 'open')).toHaveLength(1);
    expect(verbs.filter((v) => v === 'lock')).toHaveLength(2);
    expect(small.steps).toHaveLength(3);
    const locks = small.steps.filter((st) => st.verb === 'lock');
    // Numbers went down: the big exclusive lock is now a small range reaching byte 1000.
    for (const l of locks) {
      if (l.verb !== 'lock') continue;
      expect(l.key).toBeUndefined();
      expect(l.process).toBeUndefined();
      expect(l.wait).toBe(false);
      expect(l.length).toBeLessThan(2000n);
      expect(l.offset).toBeLessThanOrEqual(1000n);
    }
    const covering = locks.filter(
      (l) => l.verb === 'lock' && l.exclusive && l.offset <= 1000n && l.offset + l.length > 1000n,
    );
    expect(covering).toHaveLength(1);
    // Handles renamed compactly, ids canonical, and the result is a valid file.
    expect(small.steps[0]).toMatchObject({ verb: 'open', handle: 'h1', id: 's1' });
    parseScenario(scenarioToYaml(small), 'small.yaml');
  });
});
