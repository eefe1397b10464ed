/**
 * The yargs application: global options, one command per module (only the invoked command's
 * module is imported), usage errors as one line with exit code 2.
 */

import yargs from 'yargs';
import { suggest } from '../scenario/errors.js';
import type { Args, CommandModule } from './command.js';
import { createContext, ExitCode, reportError } from './context.js';
import { COMMANDS, EPILOG, packageVersion } from './main.js';

class UsageFailure extends Error {}

export async function runApp(argv: readonly string[]): Promise<number> {
  const debug = argv.includes('--debug');
  const colorFlag = argv.includes('--no-color')
    ? false
    : argv.includes('--color')
      ? true
      : undefined;
  const ctx = createContext({ debug, ...(colorFlag !== undefined ? { color: colorFlag } : {}) });
  const name = argv.find((a) => !a.startsWith('-'));
  const spec = COMMANDS.find((c) => c.command.split(' ')[0] === name);
  if (name !== undefined && !spec) {
    const guess = suggest(
      name,
      COMMANDS.map((c) => c.command.split(' ')[0] as string),
    );
    ctx.stderr.write(
      `${ctx.errColor.red('fltbridge:')} unknown command '${name}' — ${guess ? `did you mean '${guess}'? ` : ''}fltbridge --help lists the commands\n`,
    );
    return ExitCode.USAGE;
  }
  let mod: CommandModule | undefined;
  if (spec) {
    try {
      mod = (await import(spec.module)) as CommandModule;
    } catch (error) {
      return reportError(error, ctx);
    }
  }

  let exitCode: number = ExitCode.OK;
  let usage: string | undefined;
  const y = yargs([...argv])
    .scriptName('fltbridge')
    .usage('$0 <command> [options]\n\nSee and script Windows oplocks and byte-range locks.')
    .option('debug', { type: 'boolean', describe: 'Print stack traces with errors', global: true })
    .option('color', {
      type: 'boolean',
      describe: 'Colour output; --no-color turns it off (NO_COLOR is honoured)',
      global: true,
    })
    .strict()
    .demandCommand(1, 'no command given')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(packageVersion())
    .exitProcess(false)
    .epilog(EPILOG)
    .fail((message, error) => {
      if (error) throw error;
      // Throwing stops yargs before it runs the command's handler.
      throw new UsageFailure(message ?? 'invalid usage');
    });
  y.wrap(Math.min(100, y.terminalWidth()));
  for (const c of COMMANDS) {
    if (c === spec && mod) {
      const m = mod;
      y.command(
        c.command,
        c.describe,
        (sub) => m.builder(sub).epilog(EPILOG),
        async (args) => {
          try {
            exitCode = await m.handler(args as unknown as Args, ctx);
          } catch (error) {
            exitCode = reportError(error, ctx);
          }
        },
      );
    } else {
      y.command(c.command, c.describe);
    }
  }
  try {
    await y.parseAsync();
  } catch (error) {
    if (error instanceof UsageFailure) usage = error.message;
    else return reportError(error, ctx);
  }
  if (usage !== undefined) {
    const where = spec ? `fltbridge ${spec.command.split(' ')[0]} --help` : 'fltbridge --help';
    const text = friendlier(usage.replace(/\s*\n\s*/g, ' ').trim(), spec?.command);
    ctx.stderr.write(`${ctx.errColor.red('fltbridge:')} ${text} — see ${where}\n`);
    return ExitCode.USAGE;
  }
  return exitCode;
}

/** yargs' usage messages in the words the rest of the CLI uses. */
function friendlier(message: string, command: string | undefined): string {
  const unknown = /^Unknown arguments?: (.*)$/.exec(message);
  if (unknown?.[1]) {
    const names = unknown[1].split(', ').map((a) => (a.length === 1 ? `-${a}` : `--${a}`));
    return `unknown option${names.length > 1 ? 's' : ''} ${names.join(', ')}`;
  }
  if (/^Not enough non-option arguments/.test(message) && command) {
    return `missing argument: fltbridge ${command}`;
  }
  const required = /^Missing required arguments?: (.*)$/.exec(message);
  if (required?.[1])
    return `missing ${required[1]
      .split(', ')
      .map((a) => `--${a}`)
      .join(', ')}`;
  return message;
}
