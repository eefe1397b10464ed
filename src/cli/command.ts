/** The shape of a command module under src/cli/commands/. */

import type { Argv } from 'yargs';
import type { CliContext } from './context.js';

export type Args = Record<string, unknown> & { readonly _: readonly (string | number)[] };

export interface CommandModule {
  /** Options, positionals and at least one example. */
  builder(y: Argv): Argv;
  /** Runs the command; resolves with the exit code. */
  handler(args: Args, ctx: CliContext): Promise<number>;
}
