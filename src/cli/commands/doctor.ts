/**
 * fltbridge doctor: what works on this machine. Everywhere: versions and the embedded model. On
 * Windows also: administrator rights, test signing, driver loaded and attached, port reachable,
 * addon loadable. Elsewhere the Windows checks are one line saying they need Windows.
 */

import { release } from 'node:os';
import type { Argv } from 'yargs';
import { FltBridgeError } from '../../bridge/errors.js';
import { ntSuccess } from '../../bridge/ntstatus.js';
import type { Bridge } from '../../bridge/types.js';
import type { Args } from '../command.js';
import { type CliContext, ExitCode } from '../context.js';
import { packageVersion } from '../main.js';
import { record } from '../render/jsonl.js';
import type { DriverManager } from '../windows-driver.js';

export type CheckState = 'ok' | 'warn' | 'fail' | 'n/a';

export interface Check {
  readonly name: string;
  readonly state: CheckState;
  readonly detail: string;
}

export function builder(y: Argv): Argv {
  return y
    .option('json', { type: 'boolean', describe: 'The checks as one JSON object' })
    .example('$0 doctor', 'is this machine ready for the windows backend?');
}

function nodeCheck(): Check {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const ok = major > 20 || (major === 20 && minor >= 19);
  return {
    name: 'node',
    state: ok ? 'ok' : 'fail',
    detail: ok
      ? `v${process.versions.node}`
      : `v${process.versions.node}; fltbridge needs Node 20.19 or newer`,
  };
}

async function modelCheck(): Promise<Check> {
  const started = performance.now();
  try {
    const { openBackend } = await import('../../scenario/backends.js');
    const bridge = await openBackend('model');
    try {
      const opened = await bridge.open('doctor.txt', {
        access: 'read,write',
        disposition: 'open-if',
      }).result;
      if (!opened.handle || !ntSuccess(opened.status))
        throw new Error(`open returned 0x${opened.status.toString(16)}`);
      await bridge.close(opened.handle).result;
    } finally {
      await bridge.dispose();
    }
    return {
      name: 'model',
      state: 'ok',
      detail: `the embedded model answers (${(performance.now() - started).toFixed(0)} ms)`,
    };
  } catch (error) {
    return {
      name: 'model',
      state: 'fail',
      detail: `the embedded model failed: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}

export interface WindowsProbes {
  /** The driver manager (status: installed, loaded, instances, elevated, test signing). */
  readonly manager: () => Promise<DriverManager>;
  /** Open (and dispose) a windows bridge: loads the addon and connects to the port. */
  readonly openBridge: () => Promise<Bridge>;
}

const defaultProbes: WindowsProbes = {
  manager: async () => (await import('../windows-driver.js')).driverManager(),
  openBridge: async () => (await import('../../scenario/backends.js')).openBackend('windows'),
};

function describeError(error: unknown): string {
  if (error instanceof FltBridgeError)
    return `${error.message}${error.hint ? ` — ${error.hint}` : ''}`;
  return error instanceof Error ? error.message : String(error);
}

/** The Windows checks, from the driver manager's status and a bridge connection. */
export async function windowsChecks(probes: WindowsProbes = defaultProbes): Promise<Check[]> {
  const checks: Check[] = [
    { name: 'platform', state: 'ok', detail: `Windows ${release()} (${process.arch})` },
  ];
  let status: Awaited<ReturnType<DriverManager['status']>> | undefined;
  try {
    status = await (await probes.manager()).status();
  } catch (error) {
    checks.push({
      name: 'driver',
      state: 'fail',
      detail: `cannot query the driver: ${describeError(error)}`,
    });
  }
  if (status) {
    checks.push({
      name: 'administrator',
      state: status.elevated ? 'ok' : 'warn',
      detail: status.elevated
        ? 'elevated'
        : 'not elevated: driver install, load and unload need an administrator prompt',
    });
    checks.push({
      name: 'test signing',
      state: status.testSigning === undefined ? 'warn' : status.testSigning ? 'ok' : 'warn',
      detail:
        status.testSigning === undefined
          ? 'unknown: the boot configuration did not say (from an elevated prompt: bcdedit /enum {current} shows testsigning)'
          : status.testSigning
            ? 'on: a test-signed fltbridge.sys can load'
            : `off: a test-signed fltbridge.sys will not load; bcdedit /set testsigning on, then reboot${status.secureBoot ? ' (turn Secure Boot off first)' : ''}`,
    });
    checks.push({
      name: 'driver',
      state: status.loaded ? 'ok' : 'fail',
      detail: status.loaded
        ? `fltbridge is loaded${status.altitude ? ` at altitude ${status.altitude}` : ''}${status.version ? `, version ${status.version}` : ''}`
        : status.installed
          ? 'installed but not loaded: fltbridge driver load'
          : 'not installed: fltbridge driver install, then fltbridge driver load',
    });
    if (status.loaded) {
      checks.push({
        name: 'attached',
        state: status.instances.length > 0 ? 'ok' : 'warn',
        detail:
          status.instances.length > 0
            ? `to ${status.instances.join(', ')}`
            : 'to no volume: fltmc attach fltbridge C:',
      });
    }
  }
  try {
    const bridge = await probes.openBridge();
    await bridge.dispose();
    checks.push({ name: 'addon', state: 'ok', detail: 'fltbridge.node loads' });
    checks.push({ name: 'port', state: 'ok', detail: 'connected to \\FltBridgePort' });
  } catch (error) {
    const message = describeError(error);
    const addonProblem = /addon|fltbridge\.node|module/i.test(message);
    checks.push({ name: addonProblem ? 'addon' : 'port', state: 'fail', detail: message });
  }
  return checks;
}

export async function collectChecks(
  platform: NodeJS.Platform = process.platform,
  probes: WindowsProbes = defaultProbes,
): Promise<Check[]> {
  const checks: Check[] = [
    { name: 'fltbridge', state: 'ok', detail: `v${packageVersion()}` },
    nodeCheck(),
    await modelCheck(),
  ];
  if (platform === 'win32') checks.push(...(await windowsChecks(probes)));
  else {
    checks.push({
      name: 'windows',
      state: 'n/a',
      detail: `not possible on ${platform}: the driver, the addon, the port, test signing and administrator checks need Windows; the model backend (demo, run, diff, fuzz, shell) works here`,
    });
  }
  return checks;
}

export async function handler(args: Args, ctx: CliContext): Promise<number> {
  const checks = await collectChecks();
  const failed = checks.some((c) => c.state === 'fail');
  if (args.json) {
    ctx.stdout.write(
      `${record('doctor', { platform: `${process.platform}-${process.arch}`, ok: !failed, checks })}\n`,
    );
    return failed ? ExitCode.FAILURES : ExitCode.OK;
  }
  const p = ctx.color;
  const mark = (s: CheckState) =>
    s === 'ok'
      ? p.green('✓')
      : s === 'warn'
        ? p.yellow('!')
        : s === 'fail'
          ? p.red('✗')
          : p.dim('–');
  const w = Math.max(...checks.map((c) => c.name.length)) + 2;
  for (const c of checks) ctx.stdout.write(`${mark(c.state)} ${c.name.padEnd(w)}${c.detail}\n`);
  return failed ? ExitCode.FAILURES : ExitCode.OK;
}
