#!/usr/bin/env node
// fltbridge command-line entry. Runs the compiled CLI in dist/. In a source checkout where dist/
// has not been built yet (npm install runs no build scripts), it builds dist/ once with the local
// TypeScript compiler, says so in one line on stderr, and continues.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const entry = join(root, 'dist', 'cli', 'main.js');

if (!existsSync(entry)) {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const config = join(root, 'tsconfig.json');
  if (!existsSync(tsc) || !existsSync(config)) {
    process.stderr.write(
      'fltbridge: dist/ is missing and TypeScript is not installed — run npm install, then npm run build\n',
    );
    process.exit(1);
  }
  process.stderr.write(
    'fltbridge: first run in a source checkout: building dist/ with tsc (once)\n',
  );
  const build = spawnSync(process.execPath, [tsc, '-p', config], { cwd: root, encoding: 'utf8' });
  if (!existsSync(entry)) {
    process.stderr.write(build.stdout ?? '');
    process.stderr.write(build.stderr ?? '');
    process.stderr.write(
      'fltbridge: the build did not produce dist/cli/main.js — run npm run build\n',
    );
    process.exit(1);
  }
}

const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
