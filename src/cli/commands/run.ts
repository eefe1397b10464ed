/** fltbridge run <files..>: run scenarios on a backend and check their expectations. */

import { writeFile } from 'node:fs/promises';
import type { Argv } from 'yargs';
import type { BackendName } from '../../bridge/types.js';
import { openBackend } from '../../scenario/backends.js';
import type { ScenarioResult } from '../../scenario/runner.js';
import type { Args } from '../command.js';
import { type CliContext, ExitCode, UsageError } from '../context.js';
import { backendOptions, executeScenario, resolveBackend } from '../exec.js';
import { loadAll } from '../files.js';
import { configureRoot } from '../namespaces.js';
import { record } from '../render/jsonl.js';
import { ProgressBar } from '../render/progress.js';
import {
  formatScenarioResult,
  type JunitCase,
  junitXml,
  scenarioResultObject,
} from '../render/results.js';

export function builder(y: Argv): Argv {
  return backendOptions(
    y
      .positional('files', {
        describe: 'Scenario files (YAML or JSON) or directories of them',
        type: 'string',
        array: true,
      })
      .option('json', {
        type: 'boolean',
        describe: 'JSON Lines on stdout: one object per scenario, then a summary',
      })
      .option('junit', {
        type: 'string',
        describe: 'Also write a JUnit XML report to FILE',
        requiresArg: true,
      })
      .option('verbose', {
        alias: 'v',
        type: 'boolean',
        describe: 'Print every step and its events',
      })
      .option('invariants', {
        type: 'boolean',
        describe: 'Also check the model invariants fuzz checks (no incompatible oplocks, ...)',
      }),
  )
    .example('$0 run examples/', 'run every example on the embedded model')
    .example(
      '$0 run s.yaml --backend windows --root C:\\fltb',
      'run on Windows: C:\\fltb becomes the managed namespace',
    )
    .example(
      '$0 run s.yaml --backend windows --root C:\\fltb --no-configure',
      "leave the driver's namespaces as they are",
    )
    .example('$0 run examples/*.yaml --json --junit report.xml', 'for CI');
}

export async function handler(args: Args, ctx: CliContext): Promise<number> {
  const files = (args.files as string[] | undefined) ?? [];
  if (files.length === 0)
    throw new UsageError('no scenario files given', 'name files or directories');
  const backend = resolveBackend(args);
  const scenarios = await loadAll(files, ctx);
  if (!scenarios) return ExitCode.USAGE;
  if (scenarios.length === 0) {
    throw new UsageError(
      `no scenario files found in ${files.join(', ')}`,
      'name .yaml, .yml or .json files',
    );
  }
  // Fail early, in one line, when the backend is not available here.
  if (backend !== 'model') await (await openBackend(backend)).dispose();
  // On windows: --root becomes the driver's managed (or observed) namespace.
  await configureRoot(args, [backend], ctx);
  const json = Boolean(args.json);
  const progress = new ProgressBar(
    ctx.stderr,
    scenarios.length,
    !json && scenarios.length > 1 && Boolean(ctx.stderr.isTTY),
  );
  const cases: JunitCase[] = [];
  const results: ScenarioResult[] = [];
  let steps = 0;
  const started = performance.now();
  for (const [i, scenario] of scenarios.entries()) {
    progress.update(i, scenario.file);
    if (scenario.backends && !scenario.backends.includes(backend as BackendName)) {
      const reason = `written for ${scenario.backends.join(', ')}, not ${backend}`;
      cases.push({ skipped: { file: scenario.file, name: scenario.name, reason } });
      progress.clear();
      if (json)
        ctx.stdout.write(
          `${record('skipped', { file: scenario.file, name: scenario.name, reason })}\n`,
        );
      else
        ctx.stdout.write(
          `${ctx.color.yellow('-')} ${scenario.file} ${ctx.color.dim(`— skipped: ${reason}`)}\n`,
        );
      continue;
    }
    const result = await executeScenario(scenario, backend, args, {
      invariants: Boolean(args.invariants),
    });
    results.push(result);
    cases.push({ result });
    steps += result.steps.length;
    progress.clear();
    if (json) {
      ctx.stdout.write(`${record('scenario', scenarioResultObject(result))}\n`);
    } else {
      const root = typeof args.root === 'string' ? args.root : undefined;
      ctx.stdout.write(
        formatScenarioResult(result, {
          palette: ctx.color,
          verbose: Boolean(args.verbose),
          ...(root ? { root } : {}),
        }),
      );
    }
  }
  progress.clear();
  const passed = results.filter((r) => r.passed).length;
  const failed = results.length - passed;
  const skipped = cases.length - results.length;
  const seconds = (performance.now() - started) / 1000;
  if (typeof args.junit === 'string') {
    await writeFile(args.junit, junitXml(cases, `fltbridge run (${backend})`));
  }
  if (json) {
    ctx.stdout.write(
      `${record('summary', { backend, scenarios: cases.length, passed, failed, skipped, steps, seconds: Math.round(seconds * 1000) / 1000 })}\n`,
    );
  } else {
    const p = ctx.color;
    const parts = [p.green(`${passed} passed`)];
    if (failed) parts.push(p.red(`${failed} failed`));
    if (skipped) parts.push(p.yellow(`${skipped} skipped`));
    ctx.stdout.write(
      `\n${parts.join(', ')} ${p.dim(`(${cases.length} scenario${cases.length === 1 ? '' : 's'}, ${steps} steps, ${backend}) in ${seconds.toFixed(2)} s`)}\n`,
    );
  }
  return failed > 0 ? ExitCode.FAILURES : ExitCode.OK;
}
