// Driver management for real under Wine: the koffi bindings (dist/backends/windows/driver-win32.js)
// and DriverAdmin against Wine's service control manager, registry and fltlib, then the built CLI
// (bin/fltbridge.js: driver status|install|load|unload|uninstall, doctor) as child processes of
// this node.exe. Writes what it observed; test/wine/driver-admin.test.ts decides pass or fail.
// The result file is rewritten after every step, so a process that dies (a Wine fltlib stub
// aborts it) still says which step it was in.
//
// argv: <repo root> <result file> <driver package dir (fltbridge.inf + fltbridge.sys)>
// env: NODE_PATH holds @koromix/koffi-win32-x64; FLTBRIDGE_ADDON_PATH the addon (for doctor).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { args, importDist, writeJson } from './scripts/common.mjs';

const { root, out, rest } = args();
const pkg = rest[0];
if (!pkg) throw new Error('driver-admin.wine.mjs: driver package directory argument missing');
const inf = join(pkg, 'fltbridge.inf');

const result = { platform: process.platform, arch: process.arch, steps: [] };
const save = () => writeJson(out, result);

/** Run `fn`, keep its value (or the error's fields) under result[name]. */
async function step(name, fn) {
  result.steps.push(name);
  result.current = name;
  save();
  try {
    result[name] = { value: await fn() };
  } catch (error) {
    result[name] = { error: describe(error) };
  }
  delete result.current;
  save();
  return result[name];
}

function describe(error) {
  if (!(error instanceof Error)) return { thrown: String(error) };
  return {
    name: error.name,
    code: error.code,
    problem: error.problem,
    codeValue: error.codeValue,
    message: error.message,
    hint: error.hint,
  };
}

const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');

const requireDist = createRequire(join(root, 'dist', 'backends', 'windows', 'driver-win32.js'));
const { createKoffiDriverWin32 } = await importDist(root, 'backends/windows/driver-win32.js');
const { DRIVER, DriverAdmin, SERVICE_KEY } = await importDist(
  root,
  'backends/windows/driver-admin.js',
);

// Where koffi and its Windows binary came from (the binary through NODE_PATH).
await step('koffi', () => ({
  version: requireDist('koffi').version,
  binary: requireDist.resolve('@koromix/koffi-win32-x64'),
}));

const api = createKoffiDriverWin32();
const admin = new DriverAdmin(api);
const image = join(api.systemRoot(), 'System32', 'drivers', DRIVER.image);

// A run that died half-way leaves the service in the prefix: remove it first, and say so.
await step('leftover', () => {
  const service = api.serviceExists(DRIVER.service);
  const deleted = service ? api.deleteService(DRIVER.service) : undefined;
  const imageFile = existsSync(image);
  rmSync(image, { force: true });
  return { service, deleted, image: imageFile };
});

// ---- what doctor and status read: token, boot options, privileges, fltlib ----
await step('probes', () => ({
  elevated: api.isElevated(),
  testSigning: api.testSigning() ?? null,
  secureBoot: api.secureBoot() ?? null,
  systemStartOptions: api.readRegistryValue(
    'SYSTEM\\CurrentControlSet\\Control',
    'SystemStartOptions',
  ),
  secureBootState: api.readRegistryValue(
    'SYSTEM\\CurrentControlSet\\Control\\SecureBoot\\State',
    'UEFISecureBootEnabled',
  ),
  systemRoot: api.systemRoot(),
  privilegeLoadDriver: api.enablePrivilege('SeLoadDriverPrivilege'),
  privilegeCreateToken: api.enablePrivilege('SeCreateTokenPrivilege'),
  privilegeUnknown: api.enablePrivilege('SeNoSuchPrivilege'),
  listFilters: api.listFilters(),
  missingService: api.queryService(DRIVER.service),
  missingValue: api.readRegistryValue(SERVICE_KEY, 'ImagePath'),
}));

await step('statusBefore', () => admin.status());

// ---- install from the package, then read everything back through advapi32 ----
await step('install', () => admin.install({ infPath: inf }));
await step('image', () => ({
  path: image,
  exists: existsSync(image),
  sameBytes: existsSync(image) && sha256(image) === sha256(join(pkg, DRIVER.image)),
}));

const VALUES = {
  [SERVICE_KEY]: [
    'Type',
    'Start',
    'ErrorControl',
    'ImagePath',
    'Group',
    'DependOnService',
    'DisplayName',
    'Description',
    'ObjectName',
  ],
  [`${SERVICE_KEY}\\Parameters`]: ['SupportedFeatures'],
  [`${SERVICE_KEY}\\Parameters\\Instances`]: ['DefaultInstance'],
  ...Object.fromEntries(
    DRIVER.instances.map((i) => [
      `${SERVICE_KEY}\\Parameters\\Instances\\${i.name}`,
      ['Altitude', 'Flags'],
    ]),
  ),
};

function readBack() {
  const registry = {};
  for (const [key, names] of Object.entries(VALUES)) {
    registry[key] = Object.fromEntries(names.map((n) => [n, api.readRegistryValue(key, n)]));
  }
  return { service: api.queryService(DRIVER.service), registry };
}

await step('readBack', readBack);
await step('statusInstalled', () => admin.status());

// Wine's own reg.exe, an independent reader of the same keys.
await step('regExe', async () => {
  const run = await spawnCapture('reg', ['query', `HKLM\\${SERVICE_KEY}`, '/s']);
  return { code: run.code, keys: parseRegQuery(run.stdout) };
});

// ---- reinstall: answers "existed" and repairs a configuration changed since ----
await step('tamper', () => {
  const code = api.createService({
    name: DRIVER.service,
    displayName: 'tampered',
    binaryPath: 'System32\\drivers\\other.sys',
    serviceType: 1,
    startType: 4,
    errorControl: 0,
    group: 'FSFilter Bottom',
    dependencies: [],
  });
  return {
    code,
    service: api.queryService(DRIVER.service),
    dependOnService: api.readRegistryValue(SERVICE_KEY, 'DependOnService'),
  };
});
await step('install2', () => admin.install({ infPath: inf }));
await step('readBack2', readBack);

// ---- load, unload: what Wine's fltlib answers ----
await step('filterLoadRaw', () => api.filterLoad(DRIVER.service));
await step('load', () => admin.load());
await step('unload', () => admin.unload());

// ---- uninstall twice ----
await step('uninstall', () => admin.uninstall());
await step('afterUninstall', () => ({
  serviceExists: api.serviceExists(DRIVER.service),
  service: api.queryService(DRIVER.service),
  serviceKey: api.registryKeyExists(SERVICE_KEY),
  instancesKey: api.registryKeyExists(`${SERVICE_KEY}\\Parameters\\Instances`),
  imagePath: api.readRegistryValue(SERVICE_KEY, 'ImagePath'),
  image: existsSync(image),
}));
await step('uninstall2', () => admin.uninstall());
await step('statusAfter', () => admin.status());
rmSync(image, { force: true });

// ---- the built CLI, as a user runs it (child node.exe processes; pipes work for children) ----
const bin = join(root, 'bin', 'fltbridge.js');
const cli = (...argv) =>
  spawnCapture(process.execPath, [bin, ...argv], { env: { ...process.env, NO_COLOR: '1' } });
await step('cliStart', async () => {
  // Read-only: run side by side.
  const [status, doctor] = await Promise.all([
    cli('driver', 'status', '--json'),
    cli('doctor', '--json'),
  ]);
  return { status, doctor };
});
await step('cliInstall', () => cli('driver', 'install', '--inf', inf));
await step('cliInstalled', async () => {
  // Installed from here on whichever finishes first: the second install (rewrites the same
  // values), status and load (refused by Wine's fltlib) side by side.
  const [install2, status, load] = await Promise.all([
    cli('driver', 'install', '--inf', inf),
    cli('driver', 'status', '--json'),
    cli('driver', 'load'),
  ]);
  return { install2, status, load };
});
await step('cliUnloadUninstall', async () => {
  // Wine's FilterUnload answers S_OK whatever the state, so these two do not race.
  const [unload, uninstall] = await Promise.all([
    cli('driver', 'unload'),
    cli('driver', 'uninstall'),
  ]);
  return { unload, uninstall };
});
await step('cliUninstall2', () => cli('driver', 'uninstall'));
await step('cliEnd', () => ({
  serviceExists: api.serviceExists(DRIVER.service),
  serviceKey: api.registryKeyExists(SERVICE_KEY),
}));
rmSync(image, { force: true });

result.done = true;
save();

/** Run a program; resolves { code, stdout, stderr, ms }. */
function spawnCapture(file, argv, options = {}) {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(file, argv, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (t) => {
      stdout += t;
    });
    child.stderr.setEncoding('utf8').on('data', (t) => {
      stderr += t;
    });
    child.on('error', (error) => resolve({ code: null, stdout, stderr: String(error), ms: 0 }));
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

/** `reg query /s` output as { key: { value: [type, data] } }. */
function parseRegQuery(text) {
  const keys = {};
  let current;
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith('HKEY_')) {
      current = keys[line.trim()] = {};
    } else if (current && line.startsWith('    ')) {
      const match = /^ {4}(.*?) {4}(REG_[A-Z_]+)(?: {4}(.*))?$/.exec(line);
      if (match) current[match[1]] = [match[2], match[3] ?? ''];
    }
  }
  return keys;
}
