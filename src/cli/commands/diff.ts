/** fltbridge diff <files..> --backend A --against B: the first divergence per scenario. */

import type { Argv } from 'yargs';
import { openBackend } from '../../scenario/backends.js';
import { compareRuns, type Divergence } from '../../scenario/diff.js';
import { stepCommand } from '../../scenario/format.js';
import type { ScenarioResult, StepResult } from '../../scenario/runner.js';
import type { Args } from '../command.js';
import { type CliContext, ExitCode } from '../context.js';
import { backendOptions, executeScenario, resolveBackend } from '../exec.js';
import { loadAll } from '../files.js';
import { configureRoot } from '../namespaces.js';
import { eventObject, record } from '../render/jsonl.js';
import { ProgressBar } from '../render/progress.js';
import { EventTable } from '../render/table.js';

export function builder(y: Argv): Argv {
  return backendOptions(
    y
      .positional('files', {
        describe: 'Scenario files or directories',
        type: 'string',
        array: true,
      })
      .option('against', {
        type: 'string',
        describe: 'The second backend (model or windows)',
        demandOption: true,
        requiresArg: true,
      })
      .option('events', {
        type: 'boolean',
        default: true,
        describe: 'Compare the normalised events too (--no-events: results only)',
      })
      .option('json', {
        type: 'boolean',
        describe: 'JSON Lines: one object per scenario, then a summary',
      }),
  )
    .example(
      '$0 diff examples/ --backend model --against windows',
      'does the model answer as Windows does?',
    )
    .example('$0 diff s.yaml --against model --no-events', 'compare results only');
}

function eventsBlock(
  r: StepResult | undefined,
  result: ScenarioResult,
  title: string,
  ctx: CliContext,
): void {
  const p = ctx.color;
  ctx.stdout.write(`      ${p.bold(title)}\n`);
  if (!r || r.actual.events.length === 0) {
    ctx.stdout.write(p.dim('        (no events)\n'));
    return;
  }
  const table = new EventTable((l) => ctx.stdout.write(`        ${l}\n`), {
    palette: p,
    time: 'relative',
  });
  for (const e of r.actual.events) table.row(e, result.labels);
}

function printDivergence(
  d: Divergence,
  a: ScenarioResult,
  b: ScenarioResult,
  names: [string, string],
  ctx: CliContext,
): void {
  const p = ctx.color;
  const where = d.step
    ? `step ${d.step.index + 1}, line ${d.step.line}: ${p.bold(stepCommand(d.step))}`
    : 'after the last step';
  ctx.stdout.write(
    `${p.red('≠')} ${a.scenario.file} ${p.dim('—')} ${a.scenario.name}: first divergence at ${where}\n`,
  );
  const w = Math.max(14, d.field.length + 2);
  const aLines = d.a.split('\n');
  const bLines = d.b.split('\n');
  const col = Math.min(60, Math.max(names[0].length, ...aLines.map((l) => l.length)) + 2);
  ctx.stdout.write(
    p.dim(
      `      ${'FIELD'.padEnd(w)}${names[0].toUpperCase().padEnd(col)}${names[1].toUpperCase()}\n`,
    ),
  );
  for (let i = 0; i < Math.max(aLines.length, bLines.length); i++) {
    const left = aLines[i] ?? '';
    const right = bLines[i] ?? '';
    const mark = left === right ? p.dim : (t: string) => t;
    ctx.stdout.write(
      `      ${(i === 0 ? d.field : '').padEnd(w)}${mark(left.padEnd(col))}${mark(right)}\n`,
    );
  }
  if (d.field !== 'events') {
    eventsBlock(d.stepA, a, `events on ${names[0]}:`, ctx);
    eventsBlock(d.stepB, b, `events on ${names[1]}:`, ctx);
  }
}

export async function handler(args: Args, ctx: CliContext): Promise<number> {
  const backendA = resolveBackend(args);
  const backendB = resolveBackend(args, 'against');
  const scenarios = await loadAll((args.files as string[] | undefined) ?? [], ctx);
  if (!scenarios) return ExitCode.USAGE;
  for (const b of new Set([backendA, backendB])) {
    if (b !== 'model') await (await openBackend(b)).dispose();
  }
  await configureRoot(args, [backendA, backendB], ctx);
  const json = Boolean(args.json);
  const progress = new ProgressBar(
    ctx.stderr,
    scenarios.length,
    !json && scenarios.length > 1 && Boolean(ctx.stderr.isTTY),
  );
  let diverged = 0;
  for (const [i, scenario] of scenarios.entries()) {
    progress.update(i, scenario.file);
    const a = await executeScenario(scenario, backendA, args);
    const b = await executeScenario(scenario, backendB, args);
    const d = compareRuns(a, b, { events: args.events !== false });
    progress.clear();
    if (d) diverged += 1;
    if (json) {
      ctx.stdout.write(
        `${record('scenario', {
          file: scenario.file,
          name: scenario.name,
          backends: [backendA, backendB],
          diverged: Boolean(d),
          ...(d
            ? {
                divergence: {
                  step: d.step
                    ? {
                        index: d.step.index,
                        id: d.step.id,
                        line: d.step.line,
                        command: stepCommand(d.step),
                      }
                    : null,
                  field: d.field,
                  [backendA === backendB ? 'a' : backendA]: d.a,
                  [backendA === backendB ? 'b' : backendB]: d.b,
                  events: [
                    (d.stepA?.actual.events ?? []).map((e) => eventObject(e, a.labels)),
                    (d.stepB?.actual.events ?? []).map((e) => eventObject(e, b.labels)),
                  ],
                },
              }
            : {}),
        })}\n`,
      );
    } else if (d) {
      printDivergence(
        d,
        a,
        b,
        [backendA, backendB === backendA ? `${backendB} (2nd run)` : backendB],
        ctx,
      );
    } else {
      ctx.stdout.write(
        `${ctx.color.green('=')} ${scenario.file} ${ctx.color.dim(`— same on ${backendA} and ${backendB} (${a.steps.length} steps)`)}\n`,
      );
    }
  }
  progress.clear();
  if (json) {
    ctx.stdout.write(
      `${record('summary', { scenarios: scenarios.length, diverged, backends: [backendA, backendB] })}\n`,
    );
  } else {
    ctx.stdout.write(
      `\n${diverged ? ctx.color.red(`${diverged} diverged`) : ctx.color.green('no divergence')} ${ctx.color.dim(`(${scenarios.length} scenario(s), ${backendA} vs ${backendB})`)}\n`,
    );
  }
  return diverged > 0 ? ExitCode.FAILURES : ExitCode.OK;
}
