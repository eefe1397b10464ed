/**
 * fltbridge driver install|uninstall|load|unload|status|configure: the minifilter on Windows.
 *
 * install … status go through the driver manager (koffi over fltlib and the service manager);
 * configure and the policy part of status go through the driver's port (\FltBridgePort, the
 * addon): CONFIGURE with the namespaces, event types and queue limit. The driver reports counts
 * only (how many namespaces are managed and observed, the effective mask and queue limit), never
 * the namespaces' paths.
 */

import type { Argv } from 'yargs';
import { FltBridgeError } from '../../bridge/errors.js';
import { EVENT_MASK_ALL } from '../../bridge/events.js';
import type { Args } from '../command.js';
import { type CliContext, ExitCode, UsageError } from '../context.js';
import {
  type DriverPort,
  maskOf,
  maskTypes,
  namespacesFrom,
  namespaceText,
} from '../namespaces.js';
import { record } from '../render/jsonl.js';
import type { DriverAction, DriverManager } from '../windows-driver.js';
import { parseTypes } from './watch.js';

export const ACTIONS = ['install', 'uninstall', 'load', 'unload', 'status', 'configure'] as const;

const CONFIGURE_ONLY = ['managed', 'observe', 'events', 'queue-limit', 'clear'] as const;

export function builder(y: Argv): Argv {
  return y
    .positional('action', { choices: ACTIONS, describe: 'What to do with the driver' })
    .option('inf', {
      type: 'string',
      describe: 'install: path to fltbridge.inf (default: the packaged one)',
      requiresArg: true,
    })
    .option('managed', {
      type: 'string',
      array: true,
      describe:
        'configure: a directory the driver owns oplocks and locks for (repeatable; DOS or \\Device\\ path)',
      requiresArg: true,
    })
    .option('observe', {
      type: 'string',
      array: true,
      describe: 'configure: a directory the driver only reports on (repeatable)',
      requiresArg: true,
    })
    .option('events', {
      type: 'string',
      array: true,
      describe:
        'configure: event types or families to produce (oplock, lock, io, file, probe, all, or types such as oplock-break)',
      requiresArg: true,
    })
    .option('queue-limit', {
      type: 'number',
      describe: 'configure: records the driver queues per client before dropping (16 … 1048576)',
      requiresArg: true,
    })
    .option('clear', {
      type: 'boolean',
      describe: 'configure: remove every namespace (the driver then manages and observes nothing)',
    })
    .option('json', { type: 'boolean', describe: 'status / configure as one JSON object' })
    .example('$0 driver install', 'register the minifilter (administrator)')
    .example('$0 driver load && $0 driver status', 'load it and show where it is attached')
    .example(
      '$0 driver configure --managed C:\\fltb --observe D:\\logs',
      'manage C:\\fltb, observe D:\\logs (replaces every namespace)',
    );
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
  const { windowsDriverPort } = await import('../namespaces.js');
  if (action === 'configure') return runDriverConfigure(args, ctx, await windowsDriverPort());
  const { driverManager } = await import('../windows-driver.js');
  return runDriverAction(
    action,
    await driverManager(),
    args,
    ctx,
    action === 'status' ? await windowsDriverPort() : undefined,
  );
}

/** --events values to a mask ("all" for every type). */
export function eventsMask(values: readonly string[]): bigint | undefined {
  const words = values.flatMap((v) => v.split(',')).map((w) => w.trim().toLowerCase());
  if (words.filter(Boolean).length === 0) return undefined;
  if (words.includes('all')) {
    if (words.filter(Boolean).length > 1) {
      throw new UsageError('--events all cannot be combined with other types', 'give all alone');
    }
    return EVENT_MASK_ALL;
  }
  return maskOf(parseTypes(words) ?? []);
}

/** fltbridge driver configure: CONFIGURE through the port (tests pass a fake port). */
export async function runDriverConfigure(
  args: Args,
  ctx: CliContext,
  port: DriverPort,
): Promise<number> {
  const namespaces = namespacesFrom(args);
  const clear = args.clear === true;
  if (clear && namespaces.length > 0) {
    throw new UsageError(
      '--clear and --managed/--observe together',
      'namespaces given replace every namespace anyway: leave out --clear',
    );
  }
  const events = eventsMask((args.events as string[] | undefined) ?? []);
  const limit = args['queue-limit'];
  if (
    limit !== undefined &&
    (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 16 || limit > 1048576)
  ) {
    throw new UsageError(`--queue-limit ${String(limit)} is out of range`, 'use 16 to 1048576');
  }
  if (namespaces.length === 0 && !clear && events === undefined && limit === undefined) {
    throw new UsageError(
      'nothing to configure',
      'give --managed DIR, --observe DIR, --events TYPES, --queue-limit N or --clear',
    );
  }
  const c = await port.configure({
    ...(namespaces.length > 0 || clear ? { namespaces } : {}),
    ...(events !== undefined ? { eventTypeMask: events } : {}),
    ...(limit !== undefined ? { queueLimit: limit as number } : {}),
  });
  const { managedCount, observeCount, eventTypeMask, queueLimit } = c.reply;
  if (args.json) {
    ctx.stdout.write(
      `${record('driver-configure', {
        namespaces: c.namespaces?.map(({ kind, given, path }) => ({ kind, given, path })) ?? null,
        managed: managedCount,
        observed: observeCount,
        eventTypeMask,
        events: maskTypes(eventTypeMask),
        queueLimit,
      })}\n`,
    );
    return ExitCode.OK;
  }
  const p = ctx.color;
  const what =
    c.namespaces === undefined
      ? 'namespaces left as they were'
      : c.namespaces.length === 0
        ? 'every namespace removed'
        : c.namespaces.map(namespaceText).join(', ');
  ctx.stdout.write(
    `${p.green('✓')} fltbridge driver configured: ${what}\n` +
      `  namespaces: ${managedCount} managed, ${observeCount} observed  events: ${maskTypes(eventTypeMask)}  queue limit: ${queueLimit}\n` +
      p.dim(
        '  the policy is global: it applies to every client and stays until the next configure or the driver unloads\n',
      ),
  );
  return ExitCode.OK;
}

/** The action on a driver manager (the real one on Windows; tests pass a fake). */
export async function runDriverAction(
  action: DriverAction,
  manager: DriverManager,
  args: Args,
  ctx: CliContext,
  port?: DriverPort,
): Promise<number> {
  const p = ctx.color;
  if (action !== 'configure') {
    const misplaced = CONFIGURE_ONLY.find((o) => args[o] !== undefined);
    if (misplaced) {
      throw new UsageError(
        `--${misplaced} belongs to fltbridge driver configure`,
        `write fltbridge driver configure --${misplaced} …`,
      );
    }
  }
  switch (action) {
    case 'install': {
      const installed = await manager.install(typeof args.inf === 'string' ? args.inf : undefined);
      const verb = installed?.existed
        ? 'reinstalled (its configuration was rewritten)'
        : 'installed';
      ctx.stdout.write(
        `${p.green('✓')} fltbridge driver ${verb}; load it with: fltbridge driver load\n`,
      );
      return ExitCode.OK;
    }
    case 'uninstall': {
      const result = await manager.uninstall();
      ctx.stdout.write(
        result?.removed === false
          ? `${p.green('✓')} fltbridge driver was not installed; nothing to uninstall\n`
          : `${p.green('✓')} fltbridge driver uninstalled\n`,
      );
      return ExitCode.OK;
    }
    case 'load':
      await manager.load();
      ctx.stdout.write(`${p.green('✓')} fltbridge driver loaded\n`);
      return ExitCode.OK;
    case 'unload': {
      const result = await manager.unload();
      ctx.stdout.write(
        result?.wasLoaded === false
          ? `${p.green('✓')} fltbridge driver was not loaded; nothing to unload\n`
          : `${p.green('✓')} fltbridge driver unloaded\n`,
      );
      return ExitCode.OK;
    }
    case 'status': {
      const s = await manager.status();
      // The policy through the port: counts only (the driver never reports the paths).
      let policy: Awaited<ReturnType<DriverPort['policy']>> | undefined;
      let portError: string | undefined;
      if (port && s.loaded) {
        try {
          policy = await port.policy();
        } catch (error) {
          portError =
            error instanceof FltBridgeError
              ? `${error.message}${error.hint ? ` — ${error.hint}` : ''}`
              : String(error);
        }
      }
      if (args.json) {
        ctx.stdout.write(
          `${record('driver-status', {
            ...s,
            ...(policy
              ? {
                  policy: {
                    managed: policy.settings.managedCount,
                    observed: policy.settings.observeCount,
                    eventTypeMask: policy.settings.eventTypeMask,
                    events: maskTypes(policy.settings.eventTypeMask),
                    queueLimit: policy.settings.queueLimit,
                    queueDepth: policy.stats.queueDepth,
                    managedStreams: policy.stats.managedStreams,
                    connections: policy.stats.connections,
                    eventsProduced: policy.stats.eventsProduced,
                    eventsDropped: policy.stats.eventsDropped,
                  },
                }
              : {}),
            ...(portError ? { portError } : {}),
          })}\n`,
        );
      } else {
        const yes = (v: boolean) => (v ? p.green('yes') : p.red('no'));
        ctx.stdout.write(
          `installed: ${yes(s.installed)}  loaded: ${yes(s.loaded)}` +
            `${s.version ? `  version: ${s.version}` : ''}${s.altitude ? `  altitude: ${s.altitude}` : ''}\n` +
            `attached to: ${s.instances.length ? s.instances.join(', ') : p.dim('(no volume)')}\n`,
        );
        if (policy) {
          const { settings: c, stats } = policy;
          ctx.stdout.write(
            `namespaces: ${c.managedCount} managed, ${c.observeCount} observed ${p.dim('(the driver reports counts, not paths; fltbridge driver configure sets them)')}\n` +
              `events: ${maskTypes(c.eventTypeMask)}  queue limit: ${c.queueLimit}  managed streams: ${stats.managedStreams}  connections: ${stats.connections}  produced: ${stats.eventsProduced}  dropped: ${stats.eventsDropped}\n`,
          );
        } else if (portError) {
          ctx.stdout.write(
            `namespaces: ${p.dim(`unknown (the port could not be asked: ${portError})`)}\n`,
          );
        }
      }
      return s.loaded ? ExitCode.OK : ExitCode.UNAVAILABLE;
    }
    case 'configure':
      if (!port) throw new Error('driver configure needs the port');
      return runDriverConfigure(args, ctx, port);
  }
}
