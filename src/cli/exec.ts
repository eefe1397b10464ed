/** Shared by run, diff, fuzz and shell: backend options and running one scenario on a fresh bridge. */

import type { Argv } from 'yargs';
import {
  type BackendChoice,
  openBackend,
  parseBackendName,
  runOptionsFor,
} from '../scenario/backends.js';
import { InvariantChecker } from '../scenario/fuzz/invariants.js';
import { type RunOptions, runScenario, type ScenarioResult } from '../scenario/runner.js';
import type { Scenario } from '../scenario/schema.js';
import type { Args } from './command.js';
import { UsageError } from './context.js';
import { rootOptions } from './namespaces.js';

export function backendOptions(y: Argv): Argv {
  return rootOptions(y)
    .option('backend', {
      alias: 'b',
      type: 'string',
      describe: 'Backend to run on: model (in-process, everywhere) or windows (driver + addon)',
      default: 'model',
      requiresArg: true,
    })
    .option('grace', {
      type: 'number',
      describe: 'Extra ms per step for completions to arrive (windows; default 100)',
      requiresArg: true,
    })
    .option('root', {
      type: 'string',
      describe:
        "Directory the scenario paths are relative to (windows: configured as the driver's managed namespace; default %TEMP%\\fltbridge-scenarios)",
      requiresArg: true,
    });
}

export function resolveBackend(args: Args, key = 'backend'): BackendChoice {
  const value = args[key];
  if (typeof value !== 'string')
    throw new UsageError(`--${key} needs a backend name`, 'use model or windows');
  return parseBackendName(value);
}

export function runOptionsFrom(
  args: Args,
  backend: BackendChoice,
  scenario?: Scenario,
): RunOptions {
  const grace =
    typeof args.grace === 'number' && Number.isFinite(args.grace) ? args.grace : undefined;
  if (grace !== undefined && (grace < 0 || grace > 60_000)) {
    throw new UsageError(`--grace ${grace} is out of range`, 'use 0 to 60000 ms');
  }
  const root = typeof args.root === 'string' ? args.root : undefined;
  return runOptionsFor(
    backend,
    { ...(grace !== undefined ? { graceMs: grace } : {}), ...(root ? { root } : {}) },
    scenario,
  );
}

/** Open a fresh bridge, run the scenario, dispose the bridge. */
export async function executeScenario(
  scenario: Scenario,
  backend: BackendChoice,
  args: Args,
  options: { invariants?: boolean; run?: Partial<RunOptions> } = {},
): Promise<ScenarioResult> {
  const bridge = await openBackend(backend);
  try {
    const observer = options.invariants ? new InvariantChecker() : undefined;
    return await runScenario(scenario, bridge, {
      ...runOptionsFrom(args, backend, scenario),
      ...(observer ? { observer } : {}),
      ...options.run,
    });
  } finally {
    await bridge.dispose();
  }
}
