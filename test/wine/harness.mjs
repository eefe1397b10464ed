// Running the Wine scenarios: build the fltlib double, lay out the directory the double is loaded
// from, start the Linux port server, run Windows node.exe on a script with its output in files
// (node.exe under Wine cannot write to a pipe). Used by scripts/suites/70-wine.mjs and
// bench/port-double.bench.ts.
import { spawn } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { runSync } from '../../scripts/lib/proc.mjs';
import { WINE, windowsNodeExe, wineEnv } from '../../scripts/lib/wine.mjs';

export const MINGW_GCC = 'x86_64-w64-mingw32-gcc';

/** A Linux path as Wine's Z: drive sees it. */
export function winePath(path) {
  return `Z:${path.replace(/\//g, '\\')}`;
}

export function wineDir(root) {
  return join(root, 'build', 'wine');
}

export function addonBuildPath(root) {
  return join(root, 'build', 'native', 'Release', 'fltbridge.node');
}

/** Hard-link (or copy) `from` to `to`, replacing `to`. */
function place(from, to) {
  rmSync(to, { force: true });
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

/**
 * build/wine/double/: fltlib.dll (the double, built now), node.exe and fltbridge.node. The addon
 * must sit beside the double: node loads addons with LOAD_WITH_ALTERED_SEARCH_PATH, so FLTLIB.DLL
 * is looked up in the addon's directory first. Returns { dir, node, addon, build }.
 */
export function prepareDouble(root) {
  const dir = join(wineDir(root), 'double');
  mkdirSync(dir, { recursive: true });
  const source = join(root, 'test', 'wine', 'fltlib-double');
  const build = runSync(
    MINGW_GCC,
    [
      '-O2',
      '-Wall',
      '-Wextra',
      '-Werror',
      '-shared',
      '-o',
      join(dir, 'fltlib.dll'),
      join(source, 'fltlib_double.c'),
      join(source, 'fltlib.def'),
      '-lws2_32',
      '-lntdll',
      '-static-libgcc',
    ],
    { cwd: root },
  );
  const node = windowsNodeExe(root);
  if (node) place(node, join(dir, 'node.exe'));
  const addon = addonBuildPath(root);
  if (existsSync(addon)) copyFileSync(addon, join(dir, 'fltbridge.node'));
  return { dir, node: join(dir, 'node.exe'), addon: join(dir, 'fltbridge.node'), build };
}

/** build/wine/renamed/fltbridge-host.exe: node.exe under another name (the delay-load hook). */
export function prepareRenamedHost(root) {
  const dir = join(wineDir(root), 'renamed');
  mkdirSync(dir, { recursive: true });
  const node = windowsNodeExe(root);
  const exe = join(dir, 'fltbridge-host.exe');
  if (node) place(node, exe);
  return exe;
}

/**
 * Run node.exe (or a renamed copy) under Wine on `script` with `args`; stdout/stderr go to
 * files. Resolves { code, signal, ms, stdout, stderr, timedOut }.
 */
export function runWindowsNode(
  root,
  exe,
  script,
  args,
  { env = {}, timeoutMs = 180_000, name = 'run' } = {},
) {
  const logs = join(wineDir(root), 'logs');
  mkdirSync(logs, { recursive: true });
  const outFile = join(logs, `${name}.stdout.txt`);
  const errFile = join(logs, `${name}.stderr.txt`);
  const out = openSync(outFile, 'w');
  const err = openSync(errFile, 'w');
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(WINE, [exe, winePath(script), ...args], {
      cwd: root,
      env: wineEnv(root, env),
      stdio: ['ignore', out, err],
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      closeSync(out);
      closeSync(err);
      resolve({
        code,
        signal,
        timedOut,
        ms: Date.now() - started,
        stdout: readFileSync(outFile, 'utf8'),
        stderr: readFileSync(errFile, 'utf8'),
      });
    });
  });
}

/** Start test/wine/port-server.ts; resolves { port, control, stop() } once it listens. */
export async function startPortServer(root, { report } = {}) {
  const dir = wineDir(root);
  mkdirSync(dir, { recursive: true });
  const portsFile = join(dir, 'port-server.ports.json');
  rmSync(portsFile, { force: true });
  const args = [
    '--import',
    'tsx',
    join(root, 'test', 'wine', 'port-server.ts'),
    '--ports-file',
    portsFile,
  ];
  if (report) args.push('--report', report);
  const log = openSync(join(dir, 'port-server.log'), 'w');
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', log, log] });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const deadline = Date.now() + 60_000;
  while (!existsSync(portsFile) || statSync(portsFile).size === 0) {
    if (exited || Date.now() > deadline) {
      closeSync(log);
      throw new Error(`port-server did not start (see ${join(dir, 'port-server.log')})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const { port, control } = JSON.parse(readFileSync(portsFile, 'utf8'));
  return {
    port,
    control,
    stop: () =>
      new Promise((resolve) => {
        if (exited) {
          closeSync(log);
          resolve();
          return;
        }
        const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(kill);
          closeSync(log);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

export function resultsDir(root) {
  const dir = join(wineDir(root), 'results');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export { dirname, windowsNodeExe };
