/**
 * The driver's namespaces from the CLI: `run|diff|fuzz|shell --backend windows --root DIR`
 * configure DIR (managed, or observed with --observe-root; --no-configure leaves the driver
 * alone), `watch --managed/--observe` and `driver configure` set what they are given.
 *
 * The driver's policy is global: a CONFIGURE with namespaces replaces every namespace for every
 * client and stays after the command ends (until the next one, or the driver's unload). Nothing
 * is restored afterwards (the driver cannot report the paths it had, only their counts); each
 * command says on stderr, in one line, what it configured.
 */

import { mkdir } from 'node:fs/promises';
import type { Argv } from 'yargs';
import { classifyNamespacePath, uncError } from '../backends/windows/namespaces.js';
import type {
  ConfigureOptions,
  DriverConfiguration,
  DriverPolicy,
  NamespaceInput,
  ResolvedNamespace,
} from '../backends/windows.js';
import { EVENT_MASK_ALL, EVENT_TYPES, type EventType, eventMaskBit } from '../bridge/events.js';
import { type BackendChoice, defaultWindowsRoot } from '../scenario/backends.js';
import type { Args } from './command.js';
import { type CliContext, UsageError } from './context.js';

/** The driver's port, as the CLI uses it (tests pass a fake). */
export interface DriverPort {
  /** Resolve the paths, send CONFIGURE on a connection of its own, disconnect. */
  configure(options: ConfigureOptions): Promise<DriverConfiguration>;
  /** Counts only: the driver never reports the namespaces' paths. */
  policy(): Promise<DriverPolicy>;
}

/** The real port (Windows): src/backends/windows.ts, imported only when used. */
export async function windowsDriverPort(): Promise<DriverPort> {
  const { configureWindowsDriver, readWindowsDriverPolicy } = await import(
    '../backends/windows.js'
  );
  return {
    configure: (options) => configureWindowsDriver(options),
    policy: () => readWindowsDriverPolicy(),
  };
}

/** --observe-root and --configure / --no-configure, for run, diff, fuzz and shell. */
export function rootOptions(y: Argv): Argv {
  return y
    .option('observe-root', {
      type: 'boolean',
      describe: 'windows: configure --root as an observed namespace instead of a managed one',
    })
    .option('configure', {
      type: 'boolean',
      default: true,
      describe:
        "windows: configure --root as the driver's namespace (--no-configure leaves the driver's policy alone)",
    });
}

/** "managed C:\fltb = \Device\HarddiskVolume3\fltb" (just the path when given as an NT path). */
export function namespaceText(ns: ResolvedNamespace): string {
  return ns.given === ns.path ? `${ns.kind} ${ns.path}` : `${ns.kind} ${ns.given} = ${ns.path}`;
}

/** What a configuration did, in one line (without the "fltbridge:" prefix). */
export function configurationLine(c: DriverConfiguration): string {
  const counts = `${c.reply.managedCount} managed, ${c.reply.observeCount} observed`;
  if (c.namespaces === undefined) return `namespaces left as they were (${counts})`;
  if (c.namespaces.length === 0) return `cleared every namespace (${counts})`;
  return `configured the driver: ${c.namespaces.map(namespaceText).join(', ')} (${counts}; every other namespace was replaced)`;
}

const GLOBAL_NOTE = 'the policy is global and stays after this command';

/**
 * For run, diff, fuzz and shell: when one of `backends` is windows, configure the root (default
 * defaultWindowsRoot(), created when missing: scenarios write there) as the only namespace and
 * say so on stderr. Nothing with --no-configure or without windows.
 */
export async function configureRoot(
  args: Args,
  backends: readonly BackendChoice[],
  ctx: CliContext,
  port?: DriverPort,
): Promise<DriverConfiguration | undefined> {
  if (!backends.includes('windows') || args.configure === false) return undefined;
  const root = typeof args.root === 'string' ? args.root : defaultWindowsRoot();
  const kind = args['observe-root'] === true ? 'observe' : 'managed';
  const driver = port ?? (await windowsDriverPort());
  // Refused in one line before the share is touched (mkdir below).
  if (classifyNamespacePath(root, process.cwd()).form === 'unc') throw uncError(root);
  try {
    await mkdir(root, { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new UsageError(
      `cannot create the root directory ${root} (${code})`,
      'give --root an existing directory on a local volume, such as C:\\fltb',
    );
  }
  const configuration = await driver.configure({ namespaces: [{ kind, path: root }] });
  ctx.stderr.write(
    `${ctx.errColor.dim(`fltbridge: ${configurationLine(configuration)}; ${GLOBAL_NOTE} (--no-configure leaves it alone)`)}\n`,
  );
  return configuration;
}

/** Strings of a repeatable option (`--managed A --managed B`). */
export function stringList(value: unknown, name: string): string[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  for (const v of list) {
    if (typeof v !== 'string' || v.length === 0) {
      throw new UsageError(`--${name} needs a directory`, `write --${name} C:\\fltb`);
    }
  }
  return list as string[];
}

/** --managed and --observe as namespaces, in that order. */
export function namespacesFrom(args: Args): NamespaceInput[] {
  return [
    ...stringList(args.managed, 'managed').map((path) => ({ kind: 'managed' as const, path })),
    ...stringList(args.observe, 'observe').map((path) => ({ kind: 'observe' as const, path })),
  ];
}

/** For watch: print what was configured (one line on stderr). */
export function reportConfiguration(c: DriverConfiguration | undefined, ctx: CliContext): void {
  if (!c) return;
  ctx.stderr.write(`${ctx.errColor.dim(`fltbridge: ${configurationLine(c)}; ${GLOBAL_NOTE}`)}\n`);
}

const ALL_TYPES = EVENT_TYPES.filter((t): t is EventType => t !== undefined);

/** An event-type mask as type names ("all" for every type). */
export function maskTypes(mask: bigint): string {
  if ((mask & EVENT_MASK_ALL) === EVENT_MASK_ALL) return 'all';
  const names = ALL_TYPES.filter((t) => t !== 'dropped' && (mask & eventMaskBit(t)) !== 0n);
  return names.length > 0 ? names.join(',') : 'none';
}

/** A mask from event types (the `dropped` bit is always set: drops are always reported). */
export function maskOf(types: Iterable<EventType>): bigint {
  let mask = eventMaskBit('dropped');
  for (const t of types) mask |= eventMaskBit(t);
  return mask & EVENT_MASK_ALL;
}
