/**
 * fltbridge fuzz: random scenarios on the model with its invariant checks, or differentially
 * against another backend; any failure is shrunk and written as a ready-to-run YAML file.
 */

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Argv } from 'yargs';
import { openBackend } from '../../scenario/backends.js';
import { stepCommand } from '../../scenario/format.js';
import { fuzz } from '../../scenario/fuzz/fuzz.js';
import type { Scenario } from '../../scenario/schema.js';
import type { Args } from '../command.js';
import { type CliContext, ExitCode, UsageError } from '../context.js';
import { resolveBackend, runOptionsFrom } from '../exec.js';
import { configureRoot, rootOptions } from '../namespaces.js';
import { record } from '../render/jsonl.js';
import { ProgressBar } from '../render/progress.js';

export function builder(y: Argv): Argv {
  return rootOptions(y)
    .option('seed', {
      type: 'number',
      describe: 'Seed (default: from the clock; printed, so any run can be repeated)',
      requiresArg: true,
    })
    .option('count', {
      type: 'number',
      default: 100,
      describe: 'Scenarios to generate',
      requiresArg: true,
    })
    .option('steps', {
      type: 'number',
      default: 30,
      describe: 'Steps per scenario',
      requiresArg: true,
    })
    .option('from', {
      type: 'number',
      default: 0,
      describe: 'Index of the first scenario (repeat one: --from I --count 1)',
      requiresArg: true,
    })
    .option('backend', {
      alias: 'b',
      type: 'string',
      default: 'model',
      describe: 'Backend under test',
      requiresArg: true,
    })
    .option('against', {
      type: 'string',
      describe: 'Differential mode: compare with this backend (its answers count as right)',
      requiresArg: true,
    })
    .option('out', {
      type: 'string',
      default: 'fuzz-out',
      describe: 'Directory for the shrunk reproductions',
      requiresArg: true,
    })
    .option('keep-going', { type: 'boolean', describe: 'Continue after the first failure' })
    .option('max-shrink', {
      type: 'number',
      default: 600,
      describe: 'Most scenario runs to spend shrinking one failure',
      requiresArg: true,
    })
    .option('grace', {
      type: 'number',
      describe: 'Extra ms per step on asynchronous backends (windows)',
      requiresArg: true,
    })
    .option('root', {
      type: 'string',
      describe:
        "Directory the scenario paths are relative to (windows: configured as the driver's managed namespace)",
      requiresArg: true,
    })
    .option('json', {
      type: 'boolean',
      describe: 'JSON Lines: one record per failure, then a summary',
    })
    .example('$0 fuzz --seed 7 --count 500', 'invariant checks on the model')
    .example(
      '$0 fuzz --against windows --count 50 --out repro/',
      'model versus Windows, shrunk repros in repro/',
    );
}

function intArg(args: Args, name: string, min: number, max: number): number | undefined {
  const v = args[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new UsageError(
      `--${name} ${String(v)} is not a whole number from ${min} to ${max}`,
      `give --${name} a value in range`,
    );
  }
  return v;
}

export async function handler(args: Args, ctx: CliContext): Promise<number> {
  const seed = intArg(args, 'seed', 0, Number.MAX_SAFE_INTEGER) ?? Date.now() % 2 ** 31;
  const count = intArg(args, 'count', 1, 10_000_000) ?? 100;
  const steps = intArg(args, 'steps', 1, 10_000) ?? 30;
  const from = intArg(args, 'from', 0, Number.MAX_SAFE_INTEGER) ?? 0;
  const maxShrink = intArg(args, 'max-shrink', 0, 1_000_000) ?? 600;
  const subject = resolveBackend(args);
  const reference = typeof args.against === 'string' ? resolveBackend(args, 'against') : undefined;
  const json = Boolean(args.json);
  const p = ctx.color;
  const out = typeof args.out === 'string' ? args.out : 'fuzz-out';
  if (!json) {
    ctx.stderr.write(
      ctx.errColor.dim(
        `fuzz: seed ${seed}, ${count} scenario(s) of ${steps} steps on ${subject}${reference ? ` against ${reference}` : ' with invariant checks'}\n`,
      ),
    );
  }
  // Fail early and clearly when a backend is not available here.
  for (const b of new Set([subject, ...(reference ? [reference] : [])]))
    await (await openBackend(b)).dispose();
  await configureRoot(args, [subject, ...(reference ? [reference] : [])], ctx);
  const progress = new ProgressBar(ctx.stderr, count, !json && Boolean(ctx.stderr.isTTY));
  const report = await fuzz({
    seed,
    count,
    steps,
    from,
    openSubject: () => openBackend(subject),
    ...(reference
      ? {
          openReference: () => openBackend(reference),
          referenceName: reference,
          referenceRun: (s: Scenario) => runOptionsFrom(args, reference, s),
        }
      : {}),
    subjectName: subject,
    run: (s: Scenario) => runOptionsFrom(args, subject, s),
    keepGoing: Boolean(args['keep-going']),
    outDir: out,
    maxShrinkRuns: maxShrink,
    onProgress: (done, _total, n) => progress.update(done, `${n} steps`),
  });
  progress.clear();
  if (report.failures.length > 0) await mkdir(out, { recursive: true });
  for (const f of report.failures) {
    const file = join(out, f.fileName);
    await writeFile(file, f.yaml);
    if (json) {
      ctx.stdout.write(
        `${record('failure', {
          seed,
          index: f.index,
          signature: f.failure.signature,
          message: f.failure.message,
          originalSteps: f.original.steps.length,
          shrunkSteps: f.shrunk.steps.length,
          shrinkRuns: f.shrinkRuns,
          file,
        })}\n`,
      );
      continue;
    }
    ctx.stdout.write(
      `${p.red('✗')} scenario ${f.index} (seed ${seed}): ${p.bold(f.failure.signature)}\n`,
    );
    ctx.stdout.write(`    ${f.failure.message}\n`);
    ctx.stdout.write(
      p.dim(
        `    shrunk from ${f.original.steps.length} to ${f.shrunk.steps.length} step(s) in ${f.shrinkRuns} runs:\n`,
      ),
    );
    for (const s of f.shrunk.steps) ctx.stdout.write(`      ${s.index + 1}. ${stepCommand(s)}\n`);
    ctx.stdout.write(
      `    written: ${p.bold(file)}\n    reproduce: fltbridge run ${file}${subject !== 'model' ? ` --backend ${subject}` : ''}\n`,
    );
  }
  const rate = Math.round(report.stepsPerSecond);
  if (json) {
    ctx.stdout.write(
      `${record('summary', {
        seed,
        scenarios: report.scenarios,
        steps: report.steps,
        seconds: Math.round(report.seconds * 1000) / 1000,
        stepsPerSecond: rate,
        failures: report.failures.length,
      })}\n`,
    );
  } else {
    const verdict = report.failures.length
      ? p.red(`${report.failures.length} failure(s)`)
      : p.green('no failure');
    ctx.stdout.write(
      `${verdict} ${p.dim(`— ${report.scenarios} scenario(s), ${report.steps} steps in ${report.seconds.toFixed(2)} s (${rate} steps/s without shrinking), seed ${seed}`)}\n`,
    );
  }
  return report.failures.length > 0 ? ExitCode.FAILURES : ExitCode.OK;
}
