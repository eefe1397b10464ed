/**
 * Opening a Bridge by backend name, for the CLI, the fuzzer and the test helper. Backends are
 * imported lazily (the windows backend loads the addon only on Windows).
 *
 * Test hook: when FLTBRIDGE_TEST_BACKEND names an ES module exporting
 * `createTestBridge() => Bridge | Promise<Bridge>`, the backend name "test" opens it. The fuzz
 * and diff acceptance tests use it to run a deliberately broken backend (a wrapper over the
 * model) through the real CLI, without touching the model. It is not meant for anything else.
 */

import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ModelBridgeOptions } from '../backends/model.js';
import type { WindowsBridgeOptions } from '../backends/windows.js';
import { FltBridgeError, InvalidArgumentError } from '../bridge/errors.js';
import type { BackendName, Bridge } from '../bridge/types.js';
import type { RunOptions } from './runner.js';
import type { Scenario } from './schema.js';

export const BACKENDS: readonly BackendName[] = ['model', 'windows'];

/** A backend name the CLI accepts: the real ones, and "test" when the test hook is set. */
export type BackendChoice = BackendName | 'test';

export function parseBackendName(value: string): BackendChoice {
  if (value === 'model' || value === 'windows') return value;
  if (value === 'test' && process.env.FLTBRIDGE_TEST_BACKEND) return 'test';
  if (value === 'remote') {
    throw new InvalidArgumentError(
      "backend 'remote' is not available yet",
      'use --backend model (everywhere) or --backend windows (on a Windows machine with the driver)',
    );
  }
  throw new InvalidArgumentError(`unknown backend '${value}'`, 'use model or windows');
}

export interface OpenBackendOptions {
  /** Options of the model backend (namespaces, seeded files ...). */
  readonly modelOptions?: ModelBridgeOptions;
  /** Options of the windows backend (`configure`: namespaces sent as CONFIGURE after HELLO). */
  readonly windowsOptions?: WindowsBridgeOptions;
}

async function openTestBackend(): Promise<Bridge> {
  const path = process.env.FLTBRIDGE_TEST_BACKEND ?? '';
  const mod = (await import(pathToFileURL(resolve(path)).href)) as {
    createTestBridge?: () => Bridge | Promise<Bridge>;
  };
  if (typeof mod.createTestBridge !== 'function') {
    throw new InvalidArgumentError(
      `FLTBRIDGE_TEST_BACKEND module ${path} does not export createTestBridge`,
      'export async function createTestBridge() { return someBridge; }',
    );
  }
  return mod.createTestBridge();
}

/** A fresh bridge on the named backend. Throws a FltBridgeError when it is not available here. */
export async function openBackend(
  name: BackendChoice,
  options: OpenBackendOptions = {},
): Promise<Bridge> {
  switch (name) {
    case 'model': {
      const { createModelBridge } = await import('../backends/model.js');
      return createModelBridge(options.modelOptions ?? {});
    }
    case 'windows': {
      const { createWindowsBridge } = await import('../backends/windows.js');
      return createWindowsBridge(options.windowsOptions ?? {});
    }
    case 'test':
      return openTestBackend();
    default:
      return parseBackendName(name) as never;
  }
}

export interface BackendProbe {
  readonly backend: BackendName;
  readonly available: boolean;
  /** Why not, with what to do, when unavailable. */
  readonly reason?: string;
}

/** Whether a backend answers here: opens a bridge and disposes it. */
export async function probeBackend(name: BackendName): Promise<BackendProbe> {
  try {
    const bridge = await openBackend(name);
    await bridge.dispose();
    return { backend: name, available: true };
  } catch (error) {
    if (error instanceof FltBridgeError) {
      return {
        backend: name,
        available: false,
        reason: error.hint ? `${error.message} — ${error.hint}` : error.message,
      };
    }
    return { backend: name, available: false, reason: String(error) };
  }
}

let runCounter = 0;

/** Where scenario directories and scratch files go on windows when no root is given. */
export function defaultWindowsRoot(): string {
  return join(tmpdir(), 'fltbridge-scenarios');
}

/**
 * Run options that suit a backend: no grace period on the model; on windows a 100 ms grace
 * period, setup through Node's fs (CreateFileW cannot create directories), and, for each
 * scenario, a directory of its own under `root` (default: defaultWindowsRoot(); it must be
 * inside a namespace the driver manages or observes: the CLI configures it, see
 * src/cli/namespaces.ts).
 */
export function runOptionsFor(
  backend: BackendChoice,
  choices: { readonly graceMs?: number; readonly root?: string } = {},
  scenario?: Scenario,
): RunOptions {
  if (backend !== 'windows') {
    return {
      graceMs: choices.graceMs ?? 0,
      ...(choices.root ? { root: choices.root, separator: '/' as const } : {}),
    };
  }
  let root = choices.root ?? defaultWindowsRoot();
  if (scenario) {
    runCounter += 1;
    const slug = scenario.name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .slice(0, 40);
    root = join(root, `${slug}-${process.pid}-${Date.now().toString(36)}-${runCounter}`);
  }
  return { graceMs: choices.graceMs ?? 100, root, separator: '\\', setupWith: 'fs' };
}
