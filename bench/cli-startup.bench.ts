// CLI start-up: wall time of `fltbridge --help` (answered without loading yargs) against a bare
// `node -e 0` and against `fltbridge run --help` (the yargs path). Target: --help under 150 ms.
// Run: npm run bench -- cli-startup
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatRatio, printTable, writeResults } from './lib/harness.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'fltbridge.js');
if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
  spawnSync(process.execPath, [bin, '--version']); // builds dist/ once
}
const RUNS = Number(process.env.STARTUP_BENCH_RUNS ?? 15);

function wall(args: readonly string[]): { median: number; best: number } {
  const times: number[] = [];
  spawnSync(process.execPath, args); // warm the file cache
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  }
  times.sort((a, b) => a - b);
  return {
    median: times[Math.floor(times.length / 2)] ?? Number.NaN,
    best: times[0] ?? Number.NaN,
  };
}

const node = wall(['-e', '0']);
const help = wall([bin, '--help']);
const runHelp = wall([bin, 'run', '--help']);
const version = wall([bin, '--version']);
const rows = [
  ['node -e 0 (floor)', node],
  ['fltbridge --help', help],
  ['fltbridge --version', version],
  ['fltbridge run --help (yargs)', runHelp],
] as const;
printTable(
  `CLI start-up, wall time (${RUNS} runs each)`,
  ['command', 'median ms', 'best ms', 'vs --help'],
  rows.map(([name, t]) => [
    name,
    t.median.toFixed(1),
    t.best.toFixed(1),
    formatRatio(t.median / help.median),
  ]),
);
console.log(`\nfltbridge --help: ${help.median.toFixed(0)} ms median (target < 150 ms)`);
writeResults('cli-startup', Object.fromEntries(rows.map(([name, t]) => [name, t])));
