/**
 * What every command gets: where to write, whether to colour, and the one place that turns
 * errors into one line and an exit code.
 *
 * Exit codes: 0 success; 1 failures found (scenarios failed, fuzz found a bug, doctor found a
 * problem) or an internal error; 2 bad input or usage; 3 not possible on this machine (needs
 * Windows, the driver or the addon); 130 interrupted (Ctrl-C) except for watch, where Ctrl-C is
 * the normal way to stop and exits 0.
 */

import { FltBridgeError } from '../bridge/errors.js';
import { colorEnabled, type Palette, palette } from './render/color.js';

export const ExitCode = {
  OK: 0,
  FAILURES: 1,
  USAGE: 2,
  UNAVAILABLE: 3,
  INTERRUPTED: 130,
} as const;

export interface Output {
  write(text: string): void;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface CliContext {
  readonly stdout: Output;
  readonly stderr: Output;
  readonly stdin: NodeJS.ReadableStream;
  /** Palette for stdout. */
  readonly color: Palette;
  /** Palette for stderr. */
  readonly errColor: Palette;
  readonly debug: boolean;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export function createContext(options: {
  color?: boolean;
  debug?: boolean;
  stdout?: Output;
  stderr?: Output;
}): CliContext {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  return {
    stdout,
    stderr,
    stdin: process.stdin,
    color: palette(colorEnabled(stdout, process.env, options.color)),
    errColor: palette(colorEnabled(stderr, process.env, options.color)),
    debug: options.debug ?? false,
    env: process.env,
    cwd: process.cwd(),
  };
}

/** A usage problem found by a command itself (yargs finds the others). */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();

/** Print an error as one line (plus the stack with --debug) and return its exit code. */
export function reportError(
  error: unknown,
  ctx: Pick<CliContext, 'stderr' | 'debug' | 'errColor'>,
): number {
  const p = ctx.errColor;
  let code: number = ExitCode.FAILURES;
  let line: string;
  if (error instanceof UsageError) {
    code = ExitCode.USAGE;
    line = `${oneLine(error.message)}${error.hint ? ` — ${oneLine(error.hint)}` : ''}`;
  } else if (error instanceof FltBridgeError) {
    code =
      error.code === 'E_UNSUPPORTED_PLATFORM' ||
      error.code === 'E_BACKEND_UNAVAILABLE' ||
      error.code === 'E_PORT' ||
      (error.code === 'E_DRIVER' && (error as { problem?: string }).problem === 'unsupported')
        ? ExitCode.UNAVAILABLE
        : error.code === 'E_INVALID_ARGUMENT' ||
            error.code === 'E_UNKNOWN_HANDLE' ||
            error.code === 'E_HANDLE_CLOSED'
          ? ExitCode.USAGE
          : ExitCode.FAILURES;
    line = `${oneLine(error.message)}${error.hint ? ` — ${oneLine(error.hint)}` : ''}`;
  } else if (error instanceof Error) {
    line = `internal error: ${oneLine(error.message)}${ctx.debug ? '' : ' (run with --debug for the stack trace)'}`;
  } else {
    line = `internal error: ${oneLine(String(error))}`;
  }
  ctx.stderr.write(`${p.red('fltbridge:')} ${line}\n`);
  if (ctx.debug && error instanceof Error && error.stack) ctx.stderr.write(`${error.stack}\n`);
  return code;
}
