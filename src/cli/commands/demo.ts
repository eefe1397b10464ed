/** fltbridge demo: the built-in narrated scenario on the embedded model, as a live event table. */

import type { Argv } from 'yargs';
import type { BridgeEvent } from '../../bridge/events.js';
import { ntStatusName } from '../../bridge/ntstatus.js';
import { openBackend } from '../../scenario/backends.js';
import { breakText } from '../../scenario/expect.js';
import { stepCommand } from '../../scenario/format.js';
import { parseScenario } from '../../scenario/parse.js';
import { runScenario, type StepResult } from '../../scenario/runner.js';
import type { Args } from '../command.js';
import { type CliContext, ExitCode } from '../context.js';
import { DEMO_MODEL_OPTIONS, DEMO_SCENARIO } from '../demo-scenario.js';
import { eventLine, record } from '../render/jsonl.js';
import { sideBySide, stepLabel } from '../render/results.js';
import { EventTable } from '../render/table.js';

export function builder(y: Argv): Argv {
  return y
    .option('json', { type: 'boolean', describe: 'The same events as JSON Lines on stdout' })
    .option('quiet', { alias: 'q', type: 'boolean', describe: 'Events only, no narration' })
    .example('$0 demo', 'the narrated trace, right after npm install')
    .example('$0 demo --json | head -3', 'the events as JSON Lines');
}

export async function handler(args: Args, ctx: CliContext): Promise<number> {
  const started = performance.now();
  const json = Boolean(args.json);
  const narrate = !json && !args.quiet;
  const p = ctx.color;
  const scenario = parseScenario(DEMO_SCENARIO, '<demo>');
  // The demo runs in the model's default configuration: its files are managed, so the filter
  // owns their oplock and byte-range locks (in NTFS's order) and reports full causality.
  const bridge = await openBackend('model', { modelOptions: DEMO_MODEL_OPTIONS });
  const table = new EventTable((line) => ctx.stdout.write(`${line}\n`), {
    palette: p,
    time: 'relative',
  });
  let events = 0;
  if (narrate) {
    ctx.stdout.write(
      `${p.bold('fltbridge demo')} ${p.dim('— on the embedded model of Windows oplocks and byte-range locks')}\n` +
        `${p.dim('Two clients: A is process 1, B is process 2. Each step says what it does; the rows are the events the filter reports.')}\n\n`,
    );
    table.header();
  }
  const failing: StepResult[] = [];
  const print = (list: readonly BridgeEvent[], labels: ReadonlyMap<bigint, string>) => {
    for (const event of list) {
      events += 1;
      if (json) ctx.stdout.write(`${eventLine(event, labels)}\n`);
      else table.row(event, labels);
    }
  };
  let result: Awaited<ReturnType<typeof runScenario>>;
  try {
    result = await runScenario(scenario, bridge, {
      onStepStart: (step) => {
        if (narrate && step.note) {
          ctx.stdout.write(`${p.yellow('▸')} ${step.note} ${p.dim(`[${stepCommand(step)}]`)}\n`);
        }
      },
      onStepEnd: (r, view) => {
        print(r.actual.events, view.labels);
        if (r.failures.length > 0) failing.push(r);
      },
      onTeardown: (t, view) => {
        if (narrate && t.events.length > 0) {
          ctx.stdout.write(`${p.yellow('▸')} The clients exit: their remaining handles close.\n`);
        }
        print(t.events, view.labels);
      },
    });
  } finally {
    await bridge.dispose();
  }
  const ms = performance.now() - started;
  const breaks = result.steps.flatMap((s) => s.actual.breaks);
  const refused = result.steps.filter(
    (s) => s.step.verb === 'write' && s.actual.status === 0xc0000054,
  ).length;
  const waited = result.steps
    .flatMap((s) => s.actual.completes)
    .filter((c) => c.verb === 'lock' && c.status === 0).length;
  if (json) {
    ctx.stdout.write(
      `${record('summary', {
        scenario: scenario.name,
        backend: 'model',
        steps: result.steps.length,
        events,
        breaks: breaks.length,
        passed: result.passed,
        ms: Math.round(ms),
      })}\n`,
    );
    return result.passed ? ExitCode.OK : ExitCode.FAILURES;
  }
  if (!args.quiet) {
    ctx.stdout.write('\n');
    const lines = [
      `${result.steps.length} steps, ${events} events on the model in ${ms.toFixed(0)} ms.`,
      `Oplock: ${breaks.map(breakText).join('; ') || 'no break'}; the open that caused it waited for the acknowledgement.`,
      `Locks: ${refused} write refused (${ntStatusName(0xc0000054)}), ${waited} waiting lock granted on unlock.`,
    ];
    for (const l of lines) ctx.stdout.write(`${p.bold('•')} ${l}\n`);
    if (result.passed) {
      ctx.stdout.write(
        `${p.green('✓')} Every step did what Windows does (the demo checks its own expectations).\n`,
      );
    } else {
      ctx.stdout.write(`${p.red('✗')} The model disagreed with the demo's expectations:\n`);
      for (const r of failing) {
        ctx.stdout.write(`    ${stepLabel(r)}: ${stepCommand(r.step)}\n`);
        for (const l of sideBySide(r.failures, p)) ctx.stdout.write(`${l}\n`);
      }
      if (result.fatal) ctx.stdout.write(`    ${result.fatal}\n`);
    }
    ctx.stdout.write(
      `\n${p.dim('Next: fltbridge run examples/  ·  fltbridge shell  ·  fltbridge --help  ·  docs/scenarios.md')}\n`,
    );
  }
  return result.passed ? ExitCode.OK : ExitCode.FAILURES;
}
