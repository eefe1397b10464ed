/** fltbridge driver install|uninstall|load|unload|status: the minifilter on Windows. */

import type { Argv } from 'yargs';
import { FltBridgeError } from '../../bridge/errors.js';
import type { Args } from '../command.js';
import { type CliContext, ExitCode } from '../context.js';
import { record } from '../render/jsonl.js';
import type { DriverAction, DriverManager } from '../windows-driver.js';

export const ACTIONS = ['install', 'uninstall', 'load', 'unload', 'status'] as const;

export function builder(y: Argv): Argv {
  return y
    .positional('action', { choices: ACTIONS, describe: 'What to do with the driver' })
    .option('inf', {
      type: 'string',
      describe: 'install: path to fltbridge.inf (default: the packaged one)',
      requiresArg: true,
    })
    .option('json', { type: 'boolean', describe: 'status as one JSON object' })
    .example('$0 driver install', 'register the minifilter (administrator)')
    .example('$0 driver load && $0 driver status', 'load it and show where it is attached');
}

/** The one line every Windows-only command gives elsewhere. */
export function notHere(what: string): FltBridgeError {
  return new FltBridgeError(
    'E_UNSUPPORTED_PLATFORM',
    `${what} needs Windows: the fltbridge minifilter runs only there (this is ${process.platform})`,
    'here, the embedded model answers the same questions: fltbridge demo, fltbridge run --backend model examples/, fltbridge shell',
  );
}

export async function handler(args: Args, ctx: CliContext): Promise<number> {
  const action = args.action as DriverAction;
  if (process.platform !== 'win32') throw notHere(`fltbridge driver ${action}`);
  const { driverManager } = await import('../windows-driver.js');
  return runDriverAction(action, await driverManager(), args, ctx);
}

/** The action on a driver manager (the real one on Windows; tests pass a fake). */
export async function runDriverAction(
  action: DriverAction,
  manager: DriverManager,
  args: Args,
  ctx: CliContext,
): Promise<number> {
  const p = ctx.color;
  switch (action) {
    case 'install':
      await manager.install(typeof args.inf === 'string' ? args.inf : undefined);
      ctx.stdout.write(
        `${p.green('✓')} fltbridge driver installed; load it with: fltbridge driver load\n`,
      );
      return ExitCode.OK;
    case 'uninstall':
      await manager.uninstall();
      ctx.stdout.write(`${p.green('✓')} fltbridge driver uninstalled\n`);
      return ExitCode.OK;
    case 'load':
      await manager.load();
      ctx.stdout.write(`${p.green('✓')} fltbridge driver loaded\n`);
      return ExitCode.OK;
    case 'unload':
      await manager.unload();
      ctx.stdout.write(`${p.green('✓')} fltbridge driver unloaded\n`);
      return ExitCode.OK;
    case 'status': {
      const s = await manager.status();
      if (args.json) {
        ctx.stdout.write(`${record('driver-status', { ...s })}\n`);
      } else {
        const yes = (v: boolean) => (v ? p.green('yes') : p.red('no'));
        ctx.stdout.write(
          `installed: ${yes(s.installed)}  loaded: ${yes(s.loaded)}` +
            `${s.version ? `  version: ${s.version}` : ''}${s.altitude ? `  altitude: ${s.altitude}` : ''}\n` +
            `attached to: ${s.instances.length ? s.instances.join(', ') : p.dim('(no volume)')}\n`,
        );
      }
      return s.loaded ? ExitCode.OK : ExitCode.UNAVAILABLE;
    }
  }
}
