/**
 * Hardware-in-the-loop testing with vitest: run one test body against each available backend.
 *
 *   import { forEachBackend } from 'fltbridge/testing';
 *
 *   forEachBackend('a write open breaks RWH to RH', async (bridge, backend) => {
 *     const h1 = (await bridge.open('f.txt', { access: 'read,write', disposition: 'open-if' }).result).handle!;
 *     ...
 *   });
 *
 * registers "a write open breaks RWH to RH [model]" and "... [windows]". The model always runs.
 * The windows backend runs when its driver answers; otherwise its test is skipped with the reason
 * in its name (off Windows) or as the skip note (driver not loaded, port unreachable).
 *
 * On windows the bridge configures the driver first: FLTBRIDGE_ROOT (default
 * %TEMP%\fltbridge-scenarios, created when missing) becomes its managed namespace, replacing every
 * other one (the driver's policy is global and stays after the tests); FLTBRIDGE_NO_CONFIGURE=1
 * leaves the driver's namespaces alone.
 *
 * FLTBRIDGE_BACKEND selects backends: "model", "windows", "model,windows" or "all" (the default,
 * same as unset). A backend named explicitly must be available: if it is not, its tests fail
 * with the reason instead of being skipped, so a VM run cannot pass by skipping everything.
 */

import { it } from 'vitest';
import { FltBridgeError, InvalidArgumentError } from '../bridge/errors.js';
import type { BackendName, Bridge } from '../bridge/types.js';
import {
  BACKENDS,
  defaultWindowsRoot,
  type OpenBackendOptions,
  openBackend,
  parseBackendName,
  runOptionsFor,
} from '../scenario/backends.js';
import { loadScenario, parseScenario } from '../scenario/parse.js';
import { type RunOptions, runScenario, type ScenarioResult } from '../scenario/runner.js';
import type { Scenario } from '../scenario/schema.js';

export interface BackendSelection {
  readonly backends: readonly BackendName[];
  /** True when FLTBRIDGE_BACKEND named them (unavailable means failure, not skip). */
  readonly explicit: boolean;
}

/** Which backends FLTBRIDGE_BACKEND asks for. */
export function selectedBackends(env: NodeJS.ProcessEnv = process.env): BackendSelection {
  const value = (env.FLTBRIDGE_BACKEND ?? '').trim();
  if (value === '' || value === 'all') return { backends: BACKENDS, explicit: false };
  const names = value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  const backends = names.map((n): BackendName => {
    try {
      const name = parseBackendName(n);
      if (name === 'test')
        throw new InvalidArgumentError("backend 'test' is for the CLI's own tests");
      return name;
    } catch (error) {
      if (error instanceof FltBridgeError) {
        throw new InvalidArgumentError(
          `FLTBRIDGE_BACKEND: ${error.message}`,
          'use model, windows, model,windows or all',
        );
      }
      throw error;
    }
  });
  return { backends: [...new Set(backends)], explicit: true };
}

/** Why a backend cannot run here without trying it, or undefined when it might. */
export function staticUnavailability(
  backend: BackendName,
  platform = process.platform,
): string | undefined {
  if (backend === 'windows' && platform !== 'win32')
    return `needs Windows with the fltbridge driver (this is ${platform})`;
  return undefined;
}

/** The directory scratch files and scenario roots go under on windows (FLTBRIDGE_ROOT). */
export function windowsRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.FLTBRIDGE_ROOT || defaultWindowsRoot();
}

/**
 * How forEachBackend opens a backend: on windows, the root as the managed namespace (CONFIGURE
 * after HELLO) unless FLTBRIDGE_NO_CONFIGURE=1.
 */
export function backendOpenOptions(
  backend: BackendName,
  env: NodeJS.ProcessEnv = process.env,
): OpenBackendOptions {
  if (backend !== 'windows' || env.FLTBRIDGE_NO_CONFIGURE === '1') return {};
  return {
    windowsOptions: {
      configure: { namespaces: [{ kind: 'managed', path: windowsRoot(env) }] },
    },
  };
}

export interface ForEachBackendOptions {
  /** Restrict to these backends (intersected with FLTBRIDGE_BACKEND). */
  readonly backends?: readonly BackendName[];
  /** Backends to skip, with the reason shown in the test name. */
  readonly skip?: Partial<Record<BackendName, string>>;
  /** Per-test timeout, ms. */
  readonly timeout?: number;
}

export type BackendTestBody = (bridge: Bridge, backend: BackendName) => Promise<void> | void;

/**
 * Register `name [backend]` for each selected backend. The bridge is opened before the body and
 * disposed after it.
 */
export function forEachBackend(
  name: string,
  body: BackendTestBody,
  options: ForEachBackendOptions = {},
): void {
  const selection = selectedBackends();
  const backends = selection.backends.filter(
    (b) => !options.backends || options.backends.includes(b),
  );
  for (const backend of backends) {
    const title = `${name} [${backend}]`;
    const skipped = options.skip?.[backend];
    if (skipped !== undefined) {
      it.skip(`${title} — skipped: ${skipped}`, () => {});
      continue;
    }
    const reason = staticUnavailability(backend);
    if (reason && !selection.explicit) {
      it.skip(`${title} — skipped: ${reason}`, () => {});
      continue;
    }
    it(
      title,
      async (ctx) => {
        let bridge: Bridge;
        try {
          const open = backendOpenOptions(backend);
          if (open.windowsOptions && process.platform === 'win32') {
            // The namespace must exist to be resolved to its NT path.
            const { mkdir } = await import('node:fs/promises');
            await mkdir(windowsRoot(), { recursive: true });
          }
          bridge = await openBackend(backend, open);
        } catch (error) {
          if (error instanceof FltBridgeError && !selection.explicit) {
            ctx.skip(
              `${backend} unavailable: ${error.message}${error.hint ? ` — ${error.hint}` : ''}`,
            );
          }
          throw error;
        }
        try {
          await body(bridge, backend);
        } finally {
          await bridge.dispose();
        }
      },
      options.timeout,
    );
  }
}

/** Thrown by expectScenarioPasses, with every failing step in the message. */
export class ScenarioFailedError extends Error {
  constructor(readonly result: ScenarioResult) {
    const lines = [
      `scenario ${result.scenario.name} (${result.scenario.file}) failed on ${result.backend}`,
    ];
    if (result.fatal) lines.push(`  ${result.fatal}`);
    for (const s of result.steps) {
      for (const f of s.failures) {
        lines.push(
          `  step ${s.step.index + 1} (line ${s.step.line}) ${s.step.verb}: ${f.field} expected ${f.expected}, got ${f.actual}`,
        );
      }
    }
    for (const v of result.violations) lines.push(`  invariant ${v.invariant}: ${v.message}`);
    super(lines.join('\n'));
    this.name = 'ScenarioFailedError';
  }
}

/**
 * Run a scenario (a Scenario, a file path, or YAML text when `yaml: true`) on the bridge and
 * throw ScenarioFailedError listing every mismatch if it fails. Resolves with the result.
 */
export async function expectScenarioPasses(
  bridge: Bridge,
  scenario: Scenario | string,
  options: RunOptions & { readonly yaml?: boolean } = {},
): Promise<ScenarioResult> {
  const s =
    typeof scenario !== 'string'
      ? scenario
      : options.yaml
        ? parseScenario(scenario, '<inline>')
        : await loadScenario(scenario);
  const root = options.root ?? process.env.FLTBRIDGE_ROOT;
  const defaults = runOptionsFor(
    bridge.backend === 'windows' ? 'windows' : 'model',
    {
      ...(options.graceMs !== undefined ? { graceMs: options.graceMs } : {}),
      ...(root !== undefined ? { root } : {}),
    },
    s,
  );
  const result = await runScenario(s, bridge, { ...options, ...defaults });
  if (!result.passed) throw new ScenarioFailedError(result);
  return result;
}

/**
 * Let the backend deliver what is ready: settle(), plus a grace period on windows, where
 * completions arrive from the driver through the addon's IOCP thread.
 */
export async function settled(
  bridge: Bridge,
  graceMs = bridge.backend === 'windows' ? 100 : 0,
): Promise<void> {
  await bridge.settle();
  if (graceMs > 0) {
    await new Promise<void>((resolve) => setTimeout(resolve, graceMs));
    await bridge.settle();
  }
}

let scratchCounter = 0;

/**
 * A fresh file for a test, `size` bytes long; returns the path to open. On the model it is made
 * through the bridge; on windows with Node's fs under FLTBRIDGE_ROOT (default:
 * %TEMP%\fltbridge-scenarios), which forEachBackend makes the driver's managed namespace (with
 * FLTBRIDGE_NO_CONFIGURE=1 it must already be a namespace the driver manages or observes).
 */
export async function scratchFile(bridge: Bridge, name: string, size = 0): Promise<string> {
  scratchCounter += 1;
  const file = `${name.replace(/[^A-Za-z0-9._-]/g, '_')}-${process.pid}-${scratchCounter}`;
  if (bridge.backend === 'windows') {
    const { mkdir, truncate, writeFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const dir = windowsRoot();
    await mkdir(dir, { recursive: true });
    const path = join(dir, file);
    await writeFile(path, '');
    if (size > 0) await truncate(path, size);
    return path;
  }
  const opened = await bridge.open(file, { access: 'read,write', disposition: 'create' }).result;
  if (!opened.handle)
    throw new Error(`scratchFile: creating ${file} failed with 0x${opened.status.toString(16)}`);
  if (size > 0)
    await bridge.setInformation(opened.handle, { class: 'end-of-file', size: BigInt(size) }).result;
  await bridge.close(opened.handle).result;
  return file;
}

export type { BackendName, Bridge } from '../bridge/types.js';
export type { ScenarioResult } from '../scenario/runner.js';
