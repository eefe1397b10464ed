/**
 * fltbridge's entry point. Kept small on purpose: `fltbridge --help` and `--version` are answered
 * here without loading yargs (whose import alone takes longer than the whole 150 ms budget on a
 * slow machine); everything else loads the yargs app, which in turn loads only the module of the
 * command being run.
 */

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface CommandSpec {
  /** yargs command string, e.g. "run <files..>". */
  readonly command: string;
  readonly describe: string;
  /** Import path of the command module, relative to this file. */
  readonly module: string;
}

/** Every command, in the order help lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    command: 'demo',
    describe: 'A narrated oplock and byte-range-lock trace on the embedded model',
    module: './commands/demo.js',
  },
  {
    command: 'watch',
    describe: 'Live event stream from the driver (Windows), as a table or JSON Lines',
    module: './commands/watch.js',
  },
  {
    command: 'run <files..>',
    describe: 'Run scenario files and check their expectations',
    module: './commands/run.js',
  },
  {
    command: 'diff <files..>',
    describe: 'Run scenarios on two backends and report the first divergence',
    module: './commands/diff.js',
  },
  {
    command: 'fuzz',
    describe: 'Random scenarios with invariant checks; shrinks and writes any failure',
    module: './commands/fuzz.js',
  },
  {
    command: 'shell',
    describe: 'Interactive shell: open, oplock, lock ... and watch the events',
    module: './commands/shell.js',
  },
  {
    command: 'driver <action>',
    describe:
      'Install, load, unload, uninstall the minifilter, configure its namespaces, or its status (Windows)',
    module: './commands/driver.js',
  },
  {
    command: 'doctor',
    describe: 'Check this machine: platform, rights, test signing, driver, port, addon',
    module: './commands/doctor.js',
  },
  {
    command: 'schema',
    describe: 'Print the JSON Schema of scenario files',
    module: './commands/schema.js',
  },
];

export function packageRoot(): string {
  // dist/cli/main.js -> the package root two levels up.
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export const ROOT_EXAMPLES: readonly (readonly [string, string])[] = [
  ['fltbridge demo', 'a first look, right after npm install'],
  ['fltbridge run examples/*.yaml', 'run scenarios on the model and check them'],
  ['fltbridge watch --type oplock --json', 'stream oplock events as JSON Lines (Windows)'],
  ['fltbridge fuzz --seed 7 --count 200', 'random scenarios against the model invariants'],
];

const EPILOG =
  'Exit codes: 0 ok, 1 failures found, 2 bad input or usage, 3 not possible on this machine.\n' +
  'Documentation: docs/cli.md (commands), docs/scenarios.md (scenario files).';

/** The root help, formatted like yargs formats it. */
export function rootHelp(width = 100): string {
  const lines = [
    'fltbridge <command> [options]',
    '',
    'See and script Windows oplocks and byte-range locks.',
    '',
  ];
  lines.push('Commands:');
  const cmd = (c: CommandSpec) => `  fltbridge ${c.command}`;
  const w = Math.max(...COMMANDS.map((c) => cmd(c).length)) + 2;
  for (const c of COMMANDS)
    lines.push(`${cmd(c).padEnd(w)}${c.describe}`.slice(0, Math.max(width, 60)));
  lines.push('', 'Options:');
  const options: [string, string][] = [
    ['    --debug', 'Print stack traces with errors'],
    ['    --color', 'Colour output; --no-color turns it off (NO_COLOR is honoured)'],
    ['-h, --help', 'Show help'],
    ['    --version', 'Show version number'],
  ];
  for (const [flag, text] of options) lines.push(`  ${flag.padEnd(w - 2)}${text}`);
  lines.push('', 'Examples:');
  const ew = Math.max(...ROOT_EXAMPLES.map(([c]) => c.length)) + 4;
  for (const [c, text] of ROOT_EXAMPLES) lines.push(`  ${c.padEnd(ew)}${text}`);
  lines.push('', EPILOG, '');
  return lines.join('\n');
}

export { EPILOG };

const GLOBAL_FLAGS = new Set(['--debug', '--color', '--no-color']);

/** Run the CLI; resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  // A closed pipe (fltbridge ... | head) ends the command quietly, as other CLIs do.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  const rest = argv.filter((a) => !GLOBAL_FLAGS.has(a));
  if (rest.length === 1 && (rest[0] === '--help' || rest[0] === '-h' || rest[0] === 'help')) {
    process.stdout.write(rootHelp(process.stdout.columns ?? 100));
    return 0;
  }
  if (rest.length === 1 && rest[0] === '--version') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const { runApp } = await import('./app.js');
  return runApp(argv);
}
