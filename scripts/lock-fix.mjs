#!/usr/bin/env node
// npm run lock:fix — complete package-lock.json for platforms this registry cannot serve.
//
// Why: npm records the optional platform packages of a dependency (Biome's @biomejs/cli-win32-x64,
// ...) in the lock so that `npm ci` can check package.json and the lock are in sync. When the
// registry in use does not carry some of them (a mirror with only Linux binaries), npm leaves them
// out and `npm ci` then refuses the lock ("Missing: @biomejs/cli-win32-x64@ from lock file").
// This adds an entry with the platform fields (os, cpu, libc) for each missing one, taken from
// `npm view` when the registry knows the package and from its <os>-<cpu>[-<libc>] name otherwise.
// npm skips such entries on other platforms without fetching them. `--check` only reports.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSync } from './lib/proc.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const lockPath = join(root, 'package-lock.json');
const checkOnly = process.argv.includes('--check');
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const packages = lock.packages ?? {};

const PLATFORM_NAME =
  /-(android|darwin|freebsd|linux|netbsd|openbsd|sunos|win32|aix)-(x64|arm64|ia32|arm|ppc64|s390x|riscv64|loong64)(?:-(musl|gnu|glibc|msvc))?$/;

/** Where npm would place `name` for the package at `parentPath` (nested first, then hoisted). */
function located(parentPath, name) {
  const nested = `${parentPath ? `${parentPath}/` : ''}node_modules/${name}`;
  if (packages[nested]) return nested;
  const hoisted = `node_modules/${name}`;
  return packages[hoisted] ? hoisted : undefined;
}

function platformOf(name, version) {
  const view = runSync('npm', ['view', `${name}@${version}`, 'os', 'cpu', 'libc', '--json'], {
    timeout: 30_000,
  });
  if (view.code === 0 && view.stdout.trim()) {
    try {
      const meta = JSON.parse(view.stdout);
      if (meta.os || meta.cpu) return { os: meta.os, cpu: meta.cpu, libc: meta.libc };
    } catch {}
  }
  const m = PLATFORM_NAME.exec(name);
  if (!m) return undefined;
  const libc =
    m[3] === 'musl' ? ['musl'] : m[3] === 'gnu' || m[3] === 'glibc' ? ['glibc'] : undefined;
  return { os: [m[1]], cpu: [m[2]], ...(libc ? { libc } : {}) };
}

const missing = [];
for (const [path, entry] of Object.entries(packages)) {
  for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    if (!located(path, name)) missing.push({ parent: path || '(root)', entry, name, spec });
  }
}

if (missing.length === 0) {
  console.log('package-lock.json: every optional platform package is recorded.');
  process.exit(0);
}
if (checkOnly) {
  for (const m of missing)
    console.log(
      `missing from package-lock.json: ${m.name}@${m.spec} (optional dependency of ${m.parent})`,
    );
  console.log('npm ci would refuse this lock: run npm run lock:fix');
  process.exit(1);
}

let unresolved = 0;
for (const { name, spec, entry } of missing) {
  if (!/^\d+\.\d+\.\d+/.test(spec)) {
    console.log(`cannot complete ${name}@${spec}: not an exact version`);
    unresolved += 1;
    continue;
  }
  const platform = platformOf(name, spec);
  if (!platform) {
    console.log(`cannot complete ${name}@${spec}: no platform fields known`);
    unresolved += 1;
    continue;
  }
  const stub = { version: spec, ...(platform.cpu ? { cpu: platform.cpu } : {}) };
  if (entry.dev) stub.dev = true;
  if (platform.libc) stub.libc = platform.libc;
  if (entry.license) stub.license = entry.license;
  stub.optional = true;
  if (platform.os) stub.os = platform.os;
  if (entry.engines) stub.engines = entry.engines;
  packages[`node_modules/${name}`] = stub;
  console.log(
    `recorded ${name}@${spec} (${[platform.os, platform.cpu, platform.libc].flat().filter(Boolean).join(' ')})`,
  );
}

const sorted = {};
for (const key of Object.keys(packages).sort((a, b) =>
  a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0,
)) {
  sorted[key] = packages[key];
}
lock.packages = sorted;
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
process.exit(unresolved > 0 ? 1 : 0);
