/**
 * The fuzz loop: generate scenario i from (seed, i), run it on the subject backend with the
 * invariant checks (and, in differential mode, on a reference backend too, comparing the runs),
 * shrink any failure and produce a ready-to-run reproduction. Deterministic from the seed.
 */

import { join } from 'node:path';
import type { Bridge } from '../../bridge/types.js';
import { compareRuns, type Divergence } from '../diff.js';
import { scenarioToYaml } from '../format.js';
import { parseScenario } from '../parse.js';
import { stepsWithRecordedExpectations } from '../record.js';
import { type RunOptions, runScenario, type ScenarioResult, type Violation } from '../runner.js';
import type { Scenario } from '../schema.js';
import { type GrammarOptions, generateScenario } from './grammar.js';
import { InvariantChecker } from './invariants.js';
import { shrinkScenario } from './shrink.js';

export interface FuzzConfig {
  readonly seed: number;
  readonly count: number;
  readonly steps: number;
  /** First scenario index (to reproduce scenario i alone: from i, count 1). */
  readonly from?: number;
  readonly openSubject: () => Promise<Bridge>;
  /** Differential mode: the backend whose answers count as right. */
  readonly openReference?: () => Promise<Bridge>;
  readonly subjectName?: string;
  readonly referenceName?: string;
  /** Run options, or a function giving them per scenario (a directory of its own on windows). */
  readonly run?: RunOptions | ((scenario: Scenario) => RunOptions);
  readonly referenceRun?: RunOptions | ((scenario: Scenario) => RunOptions);
  readonly grammar?: Omit<GrammarOptions, 'steps'>;
  /** Keep fuzzing after a failure. Default false. */
  readonly keepGoing?: boolean;
  readonly maxShrinkRuns?: number;
  /** Where reproductions will be written (used in their header). */
  readonly outDir?: string;
  /** Called after each scenario. */
  readonly onProgress?: (done: number, total: number, stepsRun: number) => void;
}

export interface Failure {
  /** Kind of failure, kept while shrinking: "invariant:conflicting-locks", "diverge:lock:status", "crash". */
  readonly signature: string;
  readonly message: string;
  readonly violations: readonly Violation[];
  readonly divergence?: Divergence;
  readonly subject: ScenarioResult;
  readonly reference?: ScenarioResult;
}

export interface FuzzFailure {
  readonly index: number;
  readonly original: Scenario;
  readonly shrunk: Scenario;
  readonly failure: Failure;
  readonly shrinkRuns: number;
  /** The reproduction file's text. */
  readonly yaml: string;
  readonly fileName: string;
}

export interface FuzzReport {
  readonly seed: number;
  readonly scenarios: number;
  readonly steps: number;
  readonly seconds: number;
  readonly stepsPerSecond: number;
  readonly failures: readonly FuzzFailure[];
}

async function runOn(
  open: () => Promise<Bridge>,
  scenario: Scenario,
  options: RunOptions,
  checker?: InvariantChecker,
) {
  const bridge = await open();
  try {
    return await runScenario(scenario, bridge, {
      ...options,
      ...(checker ? { observer: checker } : {}),
    });
  } finally {
    await bridge.dispose();
  }
}

function optionsFor(
  options: RunOptions | ((scenario: Scenario) => RunOptions) | undefined,
  scenario: Scenario,
): RunOptions {
  return typeof options === 'function' ? options(scenario) : (options ?? {});
}

/** Run one scenario the fuzz way; undefined when it passes. */
export async function checkScenario(
  scenario: Scenario,
  config: FuzzConfig,
): Promise<Failure | undefined> {
  const subject = await runOn(
    config.openSubject,
    scenario,
    optionsFor(config.run, scenario),
    new InvariantChecker(),
  );
  if (subject.fatal?.startsWith('backend crashed')) {
    return { signature: 'crash', message: subject.fatal, violations: [], subject };
  }
  const v = subject.violations[0];
  if (v) {
    return {
      signature: `invariant:${v.invariant}`,
      message: `${v.invariant}: ${v.message}`,
      violations: subject.violations,
      subject,
    };
  }
  if (config.openReference) {
    const reference = await runOn(
      config.openReference,
      scenario,
      optionsFor(config.referenceRun ?? config.run, scenario),
    );
    const d = compareRuns(subject, reference);
    if (d) {
      const where = d.step ? `step ${d.step.index + 1} (${d.step.verb})` : 'the end';
      return {
        signature: `diverge:${d.step?.verb ?? 'end'}:${d.field}`,
        message: `${config.subjectName ?? 'subject'} and ${config.referenceName ?? 'reference'} differ at ${where} in ${d.field}: ${d.a.split('\n')[0]} vs ${d.b.split('\n')[0]}`,
        violations: [],
        divergence: d,
        subject,
        reference,
      };
    }
  }
  return undefined;
}

/** The reproduction file: expectations from the reference (differential) or invariants: true. */
export function reproduction(
  shrunk: Scenario,
  failure: Failure,
  header: readonly string[],
): string {
  let scenario: Scenario = { ...shrunk, invariants: true };
  if (failure.reference) {
    scenario = { ...scenario, steps: stepsWithRecordedExpectations(failure.reference.steps) };
  }
  const text = scenarioToYaml(scenario, { header });
  // The file must run as written: parse it back (a failure here is a bug in the writer).
  parseScenario(text, '<reproduction>');
  return text;
}

export async function fuzz(config: FuzzConfig): Promise<FuzzReport> {
  const started = performance.now();
  const from = config.from ?? 0;
  const failures: FuzzFailure[] = [];
  let steps = 0;
  let done = 0;
  let shrinkMs = 0;
  for (let i = from; i < from + config.count; i++) {
    const scenario = generateScenario(config.seed, i, { steps: config.steps, ...config.grammar });
    const failure = await checkScenario(scenario, config);
    steps += scenario.steps.length;
    done += 1;
    if (failure) {
      const shrinkStarted = performance.now();
      let shrinkRuns = 0;
      const shrunk = await shrinkScenario(
        scenario,
        async (candidate) => {
          const f = await checkScenario(candidate, config);
          shrinkRuns += 1;
          return f?.signature === failure.signature;
        },
        config.maxShrinkRuns ?? 600,
      );
      // Re-check the shrunk scenario to get its own results (a flaky backend may not repeat).
      const recheck = await checkScenario(shrunk.scenario, config);
      const final = recheck ?? failure;
      const base = recheck ? shrunk.scenario : scenario;
      const fileName = `fuzz-${config.seed}-${i}.yaml`;
      const named: Scenario = {
        ...base,
        name: `fuzz seed ${config.seed} #${i}: ${final.signature}`,
        file: fileName,
      };
      const header = [
        `fltbridge fuzz --seed ${config.seed} found this (scenario ${i}, shrunk from ${scenario.steps.length} to ${named.steps.length} steps in ${shrinkRuns} runs).`,
        final.message,
        config.openReference
          ? `Expectations are what ${config.referenceName ?? 'the reference'} answered; ${config.subjectName ?? 'the subject'} differs.`
          : 'invariants: true makes fltbridge run check the invariant that failed.',
        `Reproduce: fltbridge run ${config.outDir ? join(config.outDir, fileName) : fileName}${config.subjectName && config.subjectName !== 'model' ? ` --backend ${config.subjectName}` : ''}`,
      ];
      failures.push({
        index: i,
        original: scenario,
        shrunk: named,
        failure: final,
        shrinkRuns,
        yaml: reproduction(named, final, header),
        fileName,
      });
      shrinkMs += performance.now() - shrinkStarted;
    }
    config.onProgress?.(done, config.count, steps);
    if (failures.length > 0 && !config.keepGoing) break;
  }
  const seconds = (performance.now() - started) / 1000;
  // Throughput counts generating and running, not shrinking.
  const running = seconds - shrinkMs / 1000;
  return {
    seed: config.seed,
    scenarios: done,
    steps,
    seconds,
    stepsPerSecond: running > 0 ? steps / running : 0,
    failures,
  };
}
