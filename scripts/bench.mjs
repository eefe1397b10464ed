#!/usr/bin/env node
// npm run bench: runs every bench/*.bench.ts (or those named: npm run bench -- oplock) one after
// the other in its own process, so they do not disturb each other. Each prints its tables and
// writes bench/results/<name>.json.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runStreaming } from './lib/proc.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const wanted = process.argv.slice(2);
const files = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();
if (files.length === 0) {
  console.error(`npm run bench: no benchmark matches ${wanted.join(', ') || '(none present)'}`);
  process.exit(2);
}
let failures = 0;
for (const file of files) {
  console.log(`\n=== ${file} ===`);
  const code = await runStreaming(
    process.execPath,
    ['--import', 'tsx', '--expose-gc', join('bench', file)],
    {
      cwd: root,
    },
  );
  if (code !== 0) {
    failures += 1;
    console.log(`${file} exited ${code}`);
  }
}
console.log(
  `\n${files.length - failures} benchmark(s) ran, ${failures} failed; results in bench/results/`,
);
process.exitCode = failures > 0 ? 1 : 0;
