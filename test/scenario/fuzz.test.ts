import { describe, expect, it } from 'vitest';
import { createModelBridge } from '../../src/backends/model.js';
import type { Bridge } from '../../src/bridge/types.js';
import { compareRuns } from '../../src/scenario/diff.js';
import { fuzz } from '../../src/scenario/fuzz/fuzz.js';
import { InvariantChecker } from '../../src/scenario/fuzz/invariants.js';
import { parseScenario } from '../../src/scenario/parse.js';
import { runScenario, type ScenarioResult } from '../../src/scenario/runner.js';
import type { Scenario } from '../../src/scenario/schema.js';
// The deliberately broken backend: reports a refused lock as granted. The model is untouched.
import { wrapBridge } from './fixtures/buggy-backend.mjs';

const model = async (): Promise<Bridge> => createModelBridge();
const buggy = async (): Promise<Bridge> => wrapBridge(createModelBridge());

async function runOn(
  open: () => Promise<Bridge>,
  scenario: Scenario,
  invariants = false,
): Promise<ScenarioResult> {
  const bridge = await open();
  try {
    return await runScenario(
      scenario,
      bridge,
      invariants ? { observer: new InvariantChecker() } : {},
    );
  } finally {
    await bridge.dispose();
  }
}

describe('fuzz on the model', () => {
  it('finds no invariant violation in a clean model, reproducibly from the seed', async () => {
    const a = await fuzz({ seed: 11, count: 60, steps: 30, openSubject: model });
    const b = await fuzz({ seed: 11, count: 60, steps: 30, openSubject: model });
    expect(a.failures).toEqual([]);
    expect(a.scenarios).toBe(60);
    expect(a.steps).toBe(1800);
    expect(a.stepsPerSecond).toBeGreaterThan(0);
    expect(b.steps).toBe(a.steps);
  });

  it('finds an injected bug, shrinks it to a minimal scenario and writes a YAML file that reproduces it', async () => {
    const report = await fuzz({
      seed: 3,
      count: 200,
      steps: 30,
      openSubject: buggy,
      outDir: 'out',
    });
    expect(report.failures).toHaveLength(1);
    const f = report.failures[0];
    if (!f) throw new Error('no failure');
    expect(f.failure.signature).toBe('invariant:conflicting-locks');
    // Minimal: one open and two conflicting locks; numbers shrunk toward 0 and 1.
    expect(f.shrunk.steps.map((s) => s.verb)).toEqual(['open', 'lock', 'lock']);
    expect(f.original.steps.length).toBe(30);
    for (const s of f.shrunk.steps) {
      if (s.verb === 'lock') {
        expect(s.offset).toBe(0n);
        expect(s.length).toBe(1n);
        expect(s.wait).toBe(false);
      }
    }
    expect(f.yaml).toMatch(/^# fltbridge fuzz --seed 3 found this/);
    expect(f.yaml).toContain('Reproduce: fltbridge run out/fuzz-3-');
    // The file is ready to run: it parses, fails on the buggy backend the same way, passes on the model.
    const repro = parseScenario(f.yaml, f.fileName);
    expect(repro.invariants).toBe(true);
    const onBuggy = await runOn(buggy, repro, true);
    expect(onBuggy.passed).toBe(false);
    expect(onBuggy.violations[0]?.invariant).toBe('conflicting-locks');
    const onModel = await runOn(model, repro, true);
    expect(onModel.passed).toBe(true);
    // Same seed, same finding.
    const again = await fuzz({ seed: 3, count: 200, steps: 30, openSubject: buggy, outDir: 'out' });
    expect(again.failures[0]?.yaml).toBe(f.yaml);
  });

  it('differential mode: the divergence is shrunk and the file expects what the reference answered', async () => {
    const report = await fuzz({
      seed: 5,
      count: 100,
      steps: 25,
      openSubject: buggy,
      openReference: model,
      subjectName: 'buggy',
      referenceName: 'model',
      // Invariants would catch it first; turn the grammar's lock pairs into a divergence.
      grammar: { weights: { cancel: 0, wait: 0 } },
    });
    const f = report.failures[0];
    if (!f) throw new Error('no failure');
    expect(['invariant:conflicting-locks', 'diverge:lock:status']).toContain(f.failure.signature);
    const repro = parseScenario(f.yaml, f.fileName);
    const onModel = await runOn(model, repro);
    expect(onModel.passed).toBe(true);
    const onBuggy = await runOn(buggy, repro);
    expect(onBuggy.passed).toBe(false);
  });
});

describe('compareRuns', () => {
  const scenario = parseScenario(
    `setup: { files: [f] }
steps:
  - open h1 f rw
  - open h2 f rw process=2
  - lock h1 0 10
  - lock h2 5 10
  - oplock h1 R
`,
    'd.yaml',
  );

  it('two runs on the model agree, events included', async () => {
    const a = await runOn(model, scenario);
    const b = await runOn(model, scenario);
    expect(compareRuns(a, b)).toBeUndefined();
  });

  it('reports the first divergence: the step, the field and both sides', async () => {
    const a = await runOn(buggy, scenario);
    const b = await runOn(model, scenario);
    const d = compareRuns(a, b);
    expect(d?.step?.index).toBe(3);
    expect(d?.field).toBe('status');
    expect(d?.a).toBe('STATUS_SUCCESS');
    expect(d?.b).toBe('STATUS_LOCK_NOT_GRANTED');
    expect(d?.stepA?.actual.events.map((e) => e.type)).toEqual(['lock-denied']);
    // Results only: the event lists are the same, so only the status differs.
    expect(compareRuns(a, b, { events: false })?.field).toBe('status');
  });
});
