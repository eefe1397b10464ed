/**
 * fltbridge shell: an interactive REPL over a bridge. The scenario step verbs are its commands,
 * in the compact syntax scenario files accept too ("open h1 f.txt rw share=r", "oplock h1 RWH",
 * "lock h2 0 100 excl wait"); events print as they happen; tab completes verbs, handles, levels
 * and options; history persists; `save FILE` writes the session as a scenario file (with the
 * expectations it observed, or --bare without them).
 *
 * With stdin not a terminal it reads commands line by line (a script), echoes each one, and
 * exits 2 if any line was bad input.
 */

import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { Argv } from 'yargs';
import { FltBridgeError } from '../../bridge/errors.js';
import { CreateOption, Disposition, OPLOCK_LEVELS } from '../../bridge/flags.js';
import { ntStatusName } from '../../bridge/ntstatus.js';
import type { Bridge } from '../../bridge/types.js';
import { openBackend } from '../../scenario/backends.js';
import { ScenarioError } from '../../scenario/errors.js';
import { breakText, completionText } from '../../scenario/expect.js';
import { scenarioToYaml, stepCommand } from '../../scenario/format.js';
import { normalizePath, parseScenario, StepValidator } from '../../scenario/parse.js';
import { stepsWithRecordedExpectations } from '../../scenario/record.js';
import { ScenarioRun, type StepResult } from '../../scenario/runner.js';
import { type Scenario, type SetupEntry, STEP_VERBS } from '../../scenario/schema.js';
import type { Args } from '../command.js';
import { type CliContext, ExitCode, reportError } from '../context.js';
import { resolveBackend, runOptionsFrom } from '../exec.js';
import { configureRoot, rootOptions } from '../namespaces.js';
import { EventTable } from '../render/table.js';

const SHELL_COMMANDS = ['help', 'mkfile', 'mkdir', 'handles', 'pending', 'save', 'exit', 'quit'];

const HELP: Record<string, string> = {
  open: 'open <h> <path> [access] [share=r|rw|rwd|none] [disp=open|create|open-if|overwrite|overwrite-if|supersede] [opts=complete_if_oplocked,open_requiring_oplock,reserve_opfilter,delete_on_close] [sync] [key=<guid>] [process=<n>]',
  close: 'close <h>',
  oplock: 'oplock <h> <LEVEL1|LEVEL2|BATCH|FILTER|R|RW|RH|RWH> [ack-on-close]',
  ack: 'ack <h> [R|RW|RH|RWH|NONE | no-2 | close-pending]   (no argument: legacy acknowledge)',
  'break-notify': 'break-notify <h>',
  read: 'read <h> <offset> <length> [key=<k>] [process=<n>]',
  write: 'write <h> <offset> <length|"text"> [key=<k>] [process=<n>]',
  lock: 'lock <h> <offset> <length> [excl|shared] [wait] [key=<k>] [process=<n>]',
  unlock: 'unlock <h> <offset> <length> [key=<k>] [process=<n>]',
  'unlock-all': 'unlock-all <h> [process=<n>]',
  'unlock-all-by-key': 'unlock-all-by-key <h> <key> [process=<n>]',
  'set-information':
    'set-information <h> eof <size> | allocation <size> | rename <target> [replace] | delete [true|false]',
  flush: 'flush <h>',
  cancel: 'cancel <step>          (CancelIoEx on an in-flight step, by number or id)',
  wait: 'wait <step>... [timeout=<ms>]',
  sleep: 'sleep <ms>',
  mkfile: 'mkfile <path> [size]     (create a file now; saved as setup)',
  mkdir: 'mkdir <path>',
  handles: 'handles                  (open handles and their files)',
  pending: 'pending                  (steps still in flight)',
  save: 'save <file.yaml> [--bare] (the session as a scenario; --bare leaves out the observed expectations)',
  exit: 'exit                     (closes every handle; Ctrl-D does the same)',
};

export function builder(y: Argv): Argv {
  return rootOptions(y)
    .option('backend', {
      alias: 'b',
      type: 'string',
      default: 'model',
      describe: 'model or windows',
      requiresArg: true,
    })
    .option('history', {
      type: 'string',
      describe: 'History file (default ~/.fltbridge_history; FLTBRIDGE_HISTORY)',
      requiresArg: true,
    })
    .option('root', {
      type: 'string',
      describe:
        "Directory paths are relative to (windows: configured as the driver's managed namespace)",
      requiresArg: true,
    })
    .option('grace', {
      type: 'number',
      describe: 'Extra ms per step on asynchronous backends',
      requiresArg: true,
    })
    .example(
      '$0 shell',
      'then: mkfile f.txt 100, open h1 f.txt rw, oplock h1 RWH, open h2 f.txt, ...',
    )
    .example('$0 shell < session.txt', 'run commands from a file (echoed, one per line)');
}

/** The session: bridge, run, validator, setup; executes one line at a time. */
export class ShellSession {
  readonly validator = new StepValidator('<shell>');
  readonly setup: SetupEntry[] = [];
  readonly results: StepResult[] = [];
  private readonly run: ScenarioRun;
  private readonly table: EventTable;
  private lineNo = 0;
  badInput = 0;
  done = false;

  constructor(
    readonly bridge: Bridge,
    private readonly ctx: CliContext,
    args: Args,
  ) {
    const scenario: Scenario = {
      name: 'shell',
      file: '<shell>',
      setup: [],
      steps: [],
      invariants: false,
    };
    this.table = new EventTable((l) => ctx.stdout.write(`  ${l}\n`), {
      palette: ctx.color,
      time: 'relative',
    });
    this.run = new ScenarioRun(scenario, bridge, {
      ...runOptionsFrom(args, bridge.backend === 'windows' ? 'windows' : 'model'),
      onStepEnd: (r, view) => {
        for (const e of r.actual.events) this.table.row(e, view.labels);
      },
      skipTeardown: true,
    });
  }

  async start(): Promise<void> {
    await this.run.setup();
  }

  openHandles(): string[] {
    return this.validator.openHandles();
  }

  inFlight(): StepResult[] {
    return this.results.filter((r) => {
      const t = this.run.requests.get(r.step.id);
      return t !== undefined && t.request.completed === undefined;
    });
  }

  /** Execute one line; returns false when the session should end. */
  async execute(line: string): Promise<boolean> {
    this.lineNo += 1;
    const text = line.trim();
    if (text === '' || text.startsWith('#')) return true;
    const [word = '', ...rest] = text.split(/\s+/);
    const p = this.ctx.color;
    try {
      switch (word.toLowerCase()) {
        case 'exit':
        case 'quit':
          return false;
        case 'help':
          this.help(rest[0]);
          return true;
        case 'handles':
          for (const [name, info] of this.run.handles) {
            this.ctx.stdout.write(
              `  ${name.padEnd(6)} ${info.path}  ${p.dim(`process ${info.process}`)}\n`,
            );
          }
          if (this.run.handles.size === 0) this.ctx.stdout.write(p.dim('  (no open handles)\n'));
          return true;
        case 'pending':
          for (const r of this.inFlight())
            this.ctx.stdout.write(`  ${r.step.id}. ${stepCommand(r.step)}\n`);
          if (this.inFlight().length === 0) this.ctx.stdout.write(p.dim('  (nothing in flight)\n'));
          return true;
        case 'mkfile':
        case 'mkdir': {
          const [path, size] = rest;
          if (!path)
            throw new ScenarioError(
              '<shell>',
              this.lineNo,
              `${word} needs a path`,
              `write ${word} data.txt${word === 'mkfile' ? ' 4096' : ''}`,
            );
          const entry: SetupEntry = {
            path: normalizePath(path, '<shell>', this.lineNo),
            directory: word === 'mkdir',
            size: size !== undefined && /^\d+$/.test(size) ? BigInt(size) : 0n,
            line: this.lineNo,
          };
          if (size !== undefined && !/^\d+$/.test(size)) {
            throw new ScenarioError(
              '<shell>',
              this.lineNo,
              `size '${size}' is not a number`,
              'write mkfile f.txt 4096',
            );
          }
          await this.run.createEntry(entry);
          await this.run.settle();
          this.setup.push(entry);
          this.ctx.stdout.write(
            p.dim(`  created ${entry.path}${entry.directory ? '/' : ` (${entry.size} bytes)`}\n`),
          );
          return true;
        }
        case 'save':
          await this.save(rest);
          return true;
        default:
          break;
      }
      // Reusing the name of a handle whose open failed: record the (harmless) close first, so
      // the saved scenario stays valid.
      if (word.toLowerCase() === 'open' && rest[0] && this.run.handleState(rest[0]) === 'failed') {
        const close = this.validator.add({
          kind: 'scalar',
          line: this.lineNo,
          value: `close ${rest[0]}`,
        });
        this.results.push(await this.run.step(close));
      }
      const step = this.validator.add({ kind: 'scalar', line: this.lineNo, value: text });
      const result = await this.run.step(step);
      this.results.push(result);
      this.ctx.stdout.write(`${this.describe(result)}\n`);
    } catch (error) {
      if (error instanceof FltBridgeError) {
        this.badInput += 1;
        const message = error instanceof ScenarioError ? error.problem : error.message;
        this.ctx.stdout.write(
          `  ${p.red('error:')} ${message}${error.hint ? ` — ${error.hint}` : ''}\n`,
        );
      } else {
        throw error;
      }
    }
    return true;
  }

  private describe(r: StepResult): string {
    const p = this.ctx.color;
    const a = r.actual;
    const parts: string[] = [];
    if (a.skipped) parts.push(p.yellow(`not issued: ${a.skipped}`));
    else if (a.error) parts.push(p.red(`refused: ${a.error}`));
    else if (a.pending) parts.push(p.yellow('in flight'));
    else if (a.status !== undefined) {
      const name = ntStatusName(a.status);
      parts.push(a.status >>> 30 === 3 ? p.red(name) : p.green(name));
      if (a.bytes !== undefined) parts.push(`${a.bytes} bytes`);
      else if (a.information) parts.push(`info=${a.information}`);
      if (a.level) parts.push(`level ${a.level}`);
    }
    for (const b of a.breaks) parts.push(p.magenta(`break: ${breakText(b)}`));
    for (const c of a.completes) parts.push(`completes ${completionText(c)}`);
    return `  ${p.bold(`→ ${r.step.id}`)} ${stepCommand(r.step)}: ${parts.join(p.dim(' · '))}`;
  }

  private help(topic: string | undefined): void {
    const w = (t: string) => this.ctx.stdout.write(`${t}\n`);
    if (topic && HELP[topic]) {
      w(`  ${HELP[topic]}`);
      return;
    }
    w('  Steps (as in scenario files; docs/scenarios.md):');
    for (const v of STEP_VERBS) w(`    ${HELP[v] ?? v}`);
    w('  Shell:');
    for (const c of ['mkfile', 'mkdir', 'handles', 'pending', 'save', 'exit']) w(`    ${HELP[c]}`);
    w('  Steps are numbered; cancel and wait take the number. Tab completes; history is kept.');
  }

  scenario(name: string, bare: boolean): Scenario {
    const steps = bare ? this.validator.steps : stepsWithRecordedExpectations(this.results);
    return { name, file: '<shell>', setup: this.setup, steps, invariants: false };
  }

  private async save(rest: string[]): Promise<void> {
    const bare = rest.includes('--bare');
    const file = rest.find((r) => r !== '--bare');
    if (!file)
      throw new ScenarioError(
        '<shell>',
        this.lineNo,
        'save needs a file name',
        'write save session.yaml',
      );
    const scenario = this.scenario(basename(file, extname(file)), bare);
    const yaml = scenarioToYaml(scenario, {
      header: [
        `Recorded with fltbridge shell on the ${this.bridge.backend} backend.`,
        `Run it: fltbridge run ${file}`,
      ],
    });
    parseScenario(yaml, file);
    await writeFile(file, yaml);
    this.ctx.stdout.write(
      `  wrote ${file} (${scenario.steps.length} steps${bare ? '' : ', with the observed expectations'})\n`,
    );
  }

  async close(): Promise<number> {
    const open = this.run.handles.size;
    await this.run.teardown();
    return open;
  }

  /** Tab completion for readline. */
  complete(line: string): [string[], string] {
    const words = line.split(/\s+/);
    const current = words[words.length - 1] ?? '';
    const position = words.length - 1;
    const verb = (words[0] ?? '').toLowerCase();
    let candidates: string[] = [];
    const handleVerbs = STEP_VERBS.filter(
      (v) => v !== 'cancel' && v !== 'wait' && v !== 'sleep' && v !== 'open',
    );
    const freeHandle = () => {
      for (let i = 1; ; i++) if (!this.openHandles().includes(`h${i}`)) return `h${i}`;
    };
    if (position === 0) candidates = [...STEP_VERBS, ...SHELL_COMMANDS];
    else if (position === 1 && (handleVerbs as readonly string[]).includes(verb))
      candidates = this.openHandles();
    else if (position === 1 && verb === 'open') candidates = [freeHandle()];
    else if (position === 1 && (verb === 'cancel' || verb === 'wait'))
      candidates = this.inFlight().map((r) => r.step.id);
    else if (position === 1 && verb === 'help') candidates = Object.keys(HELP);
    else if (verb === 'open' && position === 2) candidates = this.setup.map((e) => e.path);
    else if (verb === 'oplock' && position === 2)
      candidates = OPLOCK_LEVELS.filter((l) => l !== 'NONE');
    else if (verb === 'ack' && position === 2)
      candidates = ['R', 'RW', 'RH', 'RWH', 'NONE', 'no-2', 'close-pending'];
    else if (verb === 'lock' && position >= 4)
      candidates = ['excl', 'shared', 'wait', 'key=', 'process='];
    else if (verb === 'set-information' && position === 2)
      candidates = ['eof', 'allocation', 'rename', 'delete'];
    else if (verb === 'open' && position >= 3) {
      if (current.startsWith('opts=')) {
        const prefix = current.slice(0, current.lastIndexOf(',') + 1 || 5);
        candidates = Object.keys(CreateOption).map(
          (o) => `${prefix}${o.replace(/^FILE_/, '').toLowerCase()}`,
        );
      } else if (current.startsWith('disp=')) {
        candidates = Object.keys(Disposition).map((d) => `disp=${d}`);
      } else if (current.startsWith('share=')) {
        candidates = ['share=none', 'share=read', 'share=read,write', 'share=read,write,delete'];
      } else {
        candidates = [
          'read',
          'write',
          'rw',
          'share=',
          'disp=',
          'opts=',
          'sync',
          'key=',
          'process=',
        ];
      }
    } else if (
      ['read', 'write', 'unlock', 'unlock-all', 'unlock-all-by-key'].includes(verb) &&
      position >= 3
    ) {
      candidates = ['key=', 'process='];
    }
    const hits = candidates.filter((c) => c.toLowerCase().startsWith(current.toLowerCase()));
    return [hits, current];
  }
}

function historyFile(args: Args, env: NodeJS.ProcessEnv): string {
  if (typeof args.history === 'string') return args.history;
  return env.FLTBRIDGE_HISTORY ?? join(homedir(), '.fltbridge_history');
}

export async function handler(args: Args, ctx: CliContext): Promise<number> {
  const backend = resolveBackend(args);
  const bridge = await openBackend(backend);
  try {
    await configureRoot(args, [backend], ctx);
  } catch (error) {
    await bridge.dispose();
    throw error;
  }
  const session = new ShellSession(bridge, ctx, args);
  const interactive = Boolean((ctx.stdin as NodeJS.ReadStream).isTTY) && Boolean(ctx.stdout.isTTY);
  const p = ctx.color;
  let rl: Interface | undefined;
  try {
    await session.start();
    const histPath = historyFile(args, ctx.env);
    let history: string[] = [];
    if (interactive && existsSync(histPath)) {
      try {
        history = readFileSync(histPath, 'utf8')
          .split('\n')
          .filter(Boolean)
          .reverse()
          .slice(0, 1000);
      } catch {
        history = [];
      }
    }
    rl = createInterface({
      input: ctx.stdin,
      output: process.stdout,
      terminal: interactive,
      history,
      historySize: 1000,
      completer: (line: string) => session.complete(line),
      prompt: p.bold('fltbridge> '),
    });
    if (interactive) {
      ctx.stdout.write(
        `${p.bold('fltbridge shell')} ${p.dim(`on the ${backend} backend — help lists the commands, Tab completes, Ctrl-D or exit leaves`)}\n`,
      );
      rl.prompt();
    }
    for await (const line of rl) {
      if (!interactive && line.trim() !== '') ctx.stdout.write(`${p.dim('fltbridge>')} ${line}\n`);
      if (interactive && line.trim() !== '') {
        try {
          appendFileSync(histPath, `${line}\n`);
        } catch {
          // history is a convenience; an unwritable file does not stop the shell
        }
      }
      const more = await session.execute(line);
      if (!more) break;
      if (interactive) rl.prompt();
    }
  } catch (error) {
    return reportError(error, ctx);
  } finally {
    rl?.close();
    const closed = await session.close().catch(() => 0);
    if (closed > 0) ctx.stdout.write(p.dim(`closed ${closed} handle(s)\n`));
    await bridge.dispose();
  }
  return !interactive && session.badInput > 0 ? ExitCode.USAGE : ExitCode.OK;
}
