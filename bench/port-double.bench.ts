/**
 * Event throughput of the real addon's port pump, end to end into JS, through the fltlib double
 * under Wine (test/wine/fltlib-double, test/wine/port-server.ts): the model's port twin produces
 * the events (model reads) on Linux; they cross TCP, the double's relay thread, a message-mode
 * pipe, the addon's IOCP thread and its ThreadSafeFunction, then either are counted from the
 * batch headers (raw) or decoded by src/protocol and delivered one by one to a subscriber
 * (decoded). Needs wine64, mingw-w64, the cross-built addon (npm test -- --only addon) and dist/
 * (npm run build). Numbers are what Wine on this machine does, not Windows.
 *
 *   npm run bench -- port-double
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  addonBuildPath,
  prepareDouble,
  resultsDir,
  runWindowsNode,
  startPortServer,
  windowsNodeExe,
  winePath,
} from '../test/wine/harness.mjs';
import { printTable, writeResults } from './lib/harness.js';

interface Run {
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** The Linux side: from resume until its queue ran dry (model batch encoding + TCP writes). */
  serverPush?: { recordsPerSecond: number };
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const perRun = Number(process.env.FLTBRIDGE_BENCH_EVENTS ?? 100_000);
const runs = Number(process.env.FLTBRIDGE_BENCH_RUNS ?? 3);

const missing = [
  windowsNodeExe(root) ? undefined : 'node.exe for Wine (npm run toolchain)',
  existsSync(addonBuildPath(root)) ? undefined : 'the cross-built addon (npm test -- --only addon)',
  existsSync(join(root, 'dist', 'backends', 'windows.js')) ? undefined : 'dist/ (npm run build)',
].filter((m) => m !== undefined);
if (missing.length > 0) {
  console.log(`port-double: skipped, missing ${missing.join(', ')}`);
  process.exit(0);
}

const double = prepareDouble(root);
if (double.build.code !== 0)
  throw new Error(`building the fltlib double failed:\n${double.build.stderr}`);
const server = await startPortServer(root);
const out = join(resultsDir(root), 'bench-port.json');
const run = await runWindowsNode(
  root,
  double.node,
  join(root, 'test', 'wine', 'scripts', 'bench-port.mjs'),
  [winePath(root), winePath(out), String(server.control), String(perRun), String(runs)],
  {
    env: {
      WINEDLLOVERRIDES: 'fltlib=n',
      FLTBRIDGE_PORT_DOUBLE: `127.0.0.1:${server.port}`,
      FLTBRIDGE_ADDON_PATH: winePath(double.addon),
    },
    name: 'bench-port',
    timeoutMs: 600_000,
  },
);
await server.stop();
if (run.code !== 0)
  throw new Error(`bench-port.mjs exited ${run.code}\n${run.stdout}\n${run.stderr}`);

const result = JSON.parse(readFileSync(out, 'utf8')) as { raw: Run[]; decoded: Run[] };
const median = (list: Run[]) => {
  const sorted = list.map((r) => r.eventsPerSecond).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};
const raw = median(result.raw);
const decoded = median(result.decoded);
const pushMedian = (list: Run[]) => {
  const sorted = list.map((r) => r.serverPush?.recordsPerSecond ?? 0).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
};
printTable(
  `port pump through the fltlib double under Wine: ${perRun} events per run, ${runs} runs (median)`,
  ['path', 'events/s', 'µs/event', 'vs raw', 'server push/s'],
  [
    [
      'raw (addon records, batch headers counted)',
      raw,
      (1e6 / raw).toFixed(2),
      '1.00×',
      pushMedian(result.raw),
    ],
    [
      'decoded (windows backend, one listener call per event)',
      decoded,
      (1e6 / decoded).toFixed(2),
      `${(decoded / raw).toFixed(2)}×`,
      pushMedian(result.decoded),
    ],
  ],
);
const file = writeResults('port-double', {
  perRun,
  runs,
  raw: result.raw,
  decoded: result.decoded,
  medians: { raw, decoded },
});
console.log(
  '\nserver push/s is how fast the Linux side (the model port twin encoding batches, then TCP) emptied its queue;\nwhen it is close to events/s, the server, not the addon, bounds the figure.',
);
console.log(`results: ${file}`);
