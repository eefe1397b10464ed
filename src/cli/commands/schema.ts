/** fltbridge schema: print the JSON Schema of scenario files (for editors and validators). */

import type { Argv } from 'yargs';
import { scenarioJsonSchema } from '../../scenario/schema.js';
import type { Args } from '../command.js';
import { type CliContext, ExitCode } from '../context.js';

export function builder(y: Argv): Argv {
  return y.example(
    '$0 schema > scenarios.schema.json',
    'the schema docs/scenarios.schema.json holds',
  );
}

export async function handler(_args: Args, ctx: CliContext): Promise<number> {
  ctx.stdout.write(`${JSON.stringify(scenarioJsonSchema, null, 2)}\n`);
  return ExitCode.OK;
}
