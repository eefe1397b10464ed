/**
 * fltbridge watch: the driver's live event stream as a table or JSON Lines (one object per line,
 * written as each event arrives; logs go to stderr). Ctrl-C stops it and prints the totals and
 * the exact number of dropped events (exit 0). `--managed DIR` / `--observe DIR` configure the
 * driver's namespaces first (CONFIGURE after HELLO, replacing every namespace; one stderr line
 * says what was configured). `--replay FILE` renders a JSON Lines capture instead, on any
 * platform.
 */

import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Argv } from 'yargs';
import type { DriverConfiguration } from '../../backends/windows.js';
import { FltBridgeError } from '../../bridge/errors.js';
import { type BridgeEvent, EVENT_TYPES, type EventType } from '../../bridge/events.js';
import type { Bridge } from '../../bridge/types.js';
import type { Args } from '../command.js';
import { type CliContext, ExitCode, UsageError } from '../context.js';
import { namespacesFrom, reportConfiguration } from '../namespaces.js';
import { eventFromObject, eventLine, record } from '../render/jsonl.js';
import { EventTable, type TimeMode } from '../render/table.js';

const ALL_TYPES = EVENT_TYPES.filter((t): t is EventType => t !== undefined);

export const TYPE_FAMILIES: Record<string, readonly EventType[]> = {
  oplock: ALL_TYPES.filter((t) => t.startsWith('oplock')),
  lock: ['lock-granted', 'lock-denied', 'lock-waiting', 'unlocked', 'unlock-all'],
  io: ['io', 'io-refused'],
  file: ['create', 'cleanup', 'close'],
  probe: ['probe-issued', 'probe-completed'],
};

/** --type values to the set of event types; `dropped` is always included. */
export function parseTypes(values: readonly string[]): Set<EventType> | undefined {
  const words = values
    .flatMap((v) => v.split(','))
    .map((w) => w.trim().toLowerCase())
    .filter(Boolean);
  if (words.length === 0) return undefined;
  const set = new Set<EventType>(['dropped']);
  for (const w of words) {
    const family = TYPE_FAMILIES[w];
    if (family) for (const t of family) set.add(t);
    else if ((ALL_TYPES as readonly string[]).includes(w)) set.add(w as EventType);
    else {
      throw new UsageError(
        `unknown event type '${w}'`,
        `use ${Object.keys(TYPE_FAMILIES).join(', ')} or a type such as ${ALL_TYPES.slice(1, 5).join(', ')}`,
      );
    }
  }
  return set;
}

/** A path glob (*, **, ?) to a test on event names; matches a whole trailing part of the path. */
export function globMatcher(glob: string): (name: string | undefined) => boolean {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^\\\\/]*';
    else if (c === '?') re += '[^\\\\/]';
    else if (c === '/' || c === '\\') re += '[\\\\/]';
    else re += c.replace(/[.+^${}()|[\]]/g, '\\$&');
  }
  const regex = new RegExp(`(^|[\\\\/])${re}$`, 'i');
  return (name) => name !== undefined && regex.test(name);
}

export interface WatchOptions {
  readonly json: boolean;
  readonly types: Set<EventType> | undefined;
  readonly path: ((name: string | undefined) => boolean) | undefined;
  readonly time: TimeMode;
}

/** Filters, renders and counts events; prints the totals at the end. */
export class WatchSink {
  shown = 0;
  filtered = 0;
  dropped = 0n;
  dropRecords = 0;
  gaps = 0n;
  private lastSeq: bigint | undefined;
  private readonly byType = new Map<string, number>();
  private readonly table: EventTable;
  private readonly labels = new Map<bigint, string>();

  constructor(
    private readonly ctx: CliContext,
    private readonly options: WatchOptions,
  ) {
    this.table = new EventTable((l) => ctx.stdout.write(`${l}\n`), {
      palette: ctx.color,
      time: options.time,
    });
    if (!options.json) this.table.header();
  }

  push(e: BridgeEvent): void {
    if (e.type === 'dropped') {
      this.dropped += e.count;
      this.dropRecords += 1;
      this.lastSeq = e.firstSequence + e.count - 1n;
    } else {
      if (this.lastSeq !== undefined && e.seq > this.lastSeq + 1n)
        this.gaps += e.seq - this.lastSeq - 1n;
      this.lastSeq = e.seq;
    }
    const wanted =
      e.type === 'dropped' ||
      ((!this.options.types || this.options.types.has(e.type)) &&
        (!this.options.path || this.options.path(e.name)));
    if (!wanted) {
      this.filtered += 1;
      return;
    }
    this.shown += 1;
    this.byType.set(e.type, (this.byType.get(e.type) ?? 0) + 1);
    if (this.options.json) this.ctx.stdout.write(`${eventLine(e, this.labels)}\n`);
    else this.table.row(e, this.labels);
  }

  /** Totals: on stdout as a summary record in JSON mode, on stderr otherwise. */
  finish(reason: string): void {
    const lost = this.dropped + this.gaps;
    if (this.options.json) {
      this.ctx.stdout.write(
        `${record('summary', {
          reason,
          shown: this.shown,
          filtered: this.filtered,
          byType: Object.fromEntries(this.byType),
          dropped: this.dropped,
          dropRecords: this.dropRecords,
          unexplainedGaps: this.gaps,
        })}\n`,
      );
      return;
    }
    const p = this.ctx.errColor;
    const types = [...this.byType]
      .sort((a, b) => b[1] - a[1])
      .map(([t, n]) => `${t} ${n}`)
      .join(', ');
    this.ctx.stderr.write(
      `\n${p.bold('watch:')} ${reason}; ${this.shown} event(s) shown, ${this.filtered} filtered out${types ? ` (${types})` : ''}\n`,
    );
    this.ctx.stderr.write(
      `${p.bold('dropped:')} ${lost === 0n ? p.green('0') : p.red(String(lost))} event(s)` +
        `${this.dropRecords ? ` in ${this.dropRecords} dropped record(s)` : ''}` +
        `${this.gaps ? `, ${this.gaps} missing without a dropped record` : ''}\n`,
    );
  }
}

export function builder(y: Argv): Argv {
  return y
    .option('path', {
      type: 'string',
      describe: 'Only events whose path matches this glob (*, **, ?)',
      requiresArg: true,
    })
    .option('type', {
      type: 'string',
      array: true,
      describe: `Only these event types or families (${Object.keys(TYPE_FAMILIES).join(', ')}); repeatable or comma-separated`,
      requiresArg: true,
    })
    .option('json', { type: 'boolean', describe: 'JSON Lines on stdout, one event per line' })
    .option('time', {
      choices: ['clock', 'relative'],
      describe: 'TIME column: time of day or since the first event',
    })
    .option('managed', {
      type: 'string',
      array: true,
      describe:
        'Configure the driver first: a directory it owns oplocks and locks for (repeatable; replaces every namespace)',
      requiresArg: true,
    })
    .option('observe', {
      type: 'string',
      array: true,
      describe: 'Configure the driver first: a directory it only reports on (repeatable)',
      requiresArg: true,
    })
    .option('replay', {
      type: 'string',
      describe: 'Render a JSON Lines capture (from watch --json) instead of the live stream',
      requiresArg: true,
    })
    .example('$0 watch --path "**/*.docx" --type oplock', 'oplock events on .docx files (Windows)')
    .example(
      '$0 watch --managed C:\\fltb',
      'make C:\\fltb the managed namespace, then stream (Windows)',
    )
    .example('$0 watch --json > capture.jsonl', 'capture the stream; Ctrl-C stops it with totals')
    .example('$0 watch --replay capture.jsonl --type lock', 'view a capture anywhere, filtered');
}

async function replay(file: string, sink: WatchSink): Promise<void> {
  const input = createReadStream(file, 'utf8');
  const opened = new Promise<void>((resolve, reject) => {
    input.once('open', () => resolve());
    input.once('error', reject);
  });
  try {
    await opened;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      `${file}: ${code === 'ENOENT' ? 'no such file' : `cannot read it (${code})`}`,
      'check the path',
    );
  }
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let n = 0;
  for await (const line of lines) {
    n += 1;
    if (line.trim() === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      throw new UsageError(
        `${file}:${n}: not JSON`,
        'replay reads the JSON Lines that watch --json writes',
      );
    }
    const rec = obj as { v?: unknown; type?: unknown; event?: unknown };
    if (rec.type !== 'event') continue;
    if (rec.v !== 1)
      throw new UsageError(
        `${file}:${n}: record version ${String(rec.v)} is not 1`,
        'use a capture from this fltbridge version',
      );
    const event = eventFromObject(rec.event);
    if (!event)
      throw new UsageError(
        `${file}:${n}: not an event record`,
        'replay reads the JSON Lines that watch --json writes',
      );
    sink.push(event);
  }
}

/** Stream a bridge's events into the sink until `stop` resolves. */
export async function watchBridge(
  bridge: Bridge,
  sink: WatchSink,
  stop: Promise<unknown>,
): Promise<void> {
  const unsubscribe = bridge.subscribe((e) => sink.push(e));
  try {
    await stop;
  } finally {
    unsubscribe();
    await bridge.settle();
  }
}

export async function handler(args: Args, ctx: CliContext): Promise<number> {
  const json = Boolean(args.json);
  const types = parseTypes((args.type as string[] | undefined) ?? []);
  const path = typeof args.path === 'string' ? globMatcher(args.path) : undefined;
  const namespaces = namespacesFrom(args);
  if (typeof args.replay === 'string') {
    if (namespaces.length > 0) {
      throw new UsageError(
        '--managed and --observe configure the driver; --replay does not use it',
        'leave them out, or configure with fltbridge driver configure',
      );
    }
    const sink = new WatchSink(ctx, {
      json,
      types,
      path,
      time: (args.time as TimeMode) ?? 'clock',
    });
    await replay(args.replay, sink);
    sink.finish('end of capture');
    return ExitCode.OK;
  }
  if (process.platform !== 'win32') {
    throw new FltBridgeError(
      'E_UNSUPPORTED_PLATFORM',
      `watch needs the fltbridge driver, which runs on Windows (this is ${process.platform})`,
      'here, fltbridge demo shows the same table on the model, and fltbridge watch --replay capture.jsonl renders a capture made on Windows',
    );
  }
  const { openBackend } = await import('../../scenario/backends.js');
  let bridge: Bridge;
  try {
    bridge = await openBackend(
      'windows',
      namespaces.length > 0 ? { windowsOptions: { configure: { namespaces } } } : {},
    );
  } catch (error) {
    if (error instanceof FltBridgeError && error.code !== 'E_INVALID_ARGUMENT') {
      throw new FltBridgeError(
        error.code,
        `watch cannot reach the fltbridge driver: ${error.message}`,
        'install and load it as administrator (fltbridge driver install, then fltbridge driver load); fltbridge doctor checks the setup',
      );
    }
    throw error;
  }
  if (bridge.backend === 'windows') {
    reportConfiguration((bridge as { configuration?: DriverConfiguration }).configuration, ctx);
  }
  const sink = new WatchSink(ctx, { json, types, path, time: (args.time as TimeMode) ?? 'clock' });
  if (!json)
    ctx.stderr.write(ctx.errColor.dim('watch: streaming; Ctrl-C stops and prints the totals\n'));
  const stop = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('stopped by Ctrl-C'));
    process.once('SIGTERM', () => resolve('stopped by SIGTERM'));
  });
  let reason = 'stopped';
  try {
    await watchBridge(
      bridge,
      sink,
      stop.then((r) => {
        reason = r;
      }),
    );
  } finally {
    await bridge.dispose();
  }
  sink.finish(reason);
  return ExitCode.OK;
}
