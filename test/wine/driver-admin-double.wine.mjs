// The driver-management bindings' "loaded" paths under Wine, through the enumeration double
// (test/wine/driver-admin-fltlib.c, beside this node.exe, WINEDLLOVERRIDES=fltlib=n): filter and
// instance enumeration decoded from buffers the C compiler laid out from the SDK headers, DOS
// names, status of a loaded filter, each FilterLoad answer mapped to its DriverError, and
// `fltbridge driver status` as the CLI prints it. Writes observations only; the assertions are in
// test/wine/driver-admin.test.ts.
//
// argv: <repo root> <result file>
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { args, importDist, writeJson } from './scripts/common.mjs';

const { root, out } = args();
const result = { steps: [] };
const save = () => writeJson(out, result);

async function step(name, fn) {
  result.steps.push(name);
  result.current = name;
  save();
  try {
    result[name] = { value: await fn() };
  } catch (error) {
    result[name] =
      error instanceof Error
        ? {
            error: {
              name: error.name,
              code: error.code,
              problem: error.problem,
              codeValue: error.codeValue,
              message: error.message,
              hint: error.hint,
            },
          }
        : { error: { thrown: String(error) } };
  }
  delete result.current;
  save();
}

const requireDist = createRequire(join(root, 'dist', 'backends', 'windows', 'driver-win32.js'));
const { createKoffiDriverWin32 } = await importDist(root, 'backends/windows/driver-win32.js');
const { DriverAdmin } = await importDist(root, 'backends/windows/driver-admin.js');
const api = createKoffiDriverWin32();
const admin = new DriverAdmin(api);

// Which fltlib.dll the binding got: the double beside node.exe, not Wine's builtin.
await step('fltlib', () => {
  const koffi = requireDist('koffi');
  const kernel32 = koffi.load('kernel32.dll');
  const GetModuleHandleW = kernel32.func('void * __stdcall GetModuleHandleW(const char16_t *name)');
  const GetModuleFileNameW = kernel32.func(
    'uint32_t __stdcall GetModuleFileNameW(void *module, _Out_ uint8_t *name, uint32_t size)',
  );
  const module = GetModuleHandleW('fltlib.dll');
  const name = Buffer.alloc(1024);
  const n = module ? GetModuleFileNameW(module, name, 512) : 0;
  return { path: name.toString('utf16le', 0, n * 2), exe: process.execPath };
});

await step('listFilters', () => api.listFilters());
await step('listInstances', () => api.listInstances('fltbridge'));
await step('listInstancesOther', () => api.listInstances('NoSuchFilter'));
await step('status', () => admin.status());

// FilterLoad's answers (the double returns FLTBRIDGE_DOUBLE_LOAD_HR, read at each call).
const loads = {
  ok: undefined,
  alreadyRunning: '80070420',
  instanceNameCollision: '801F0012',
  imageHash: '80070241',
  notFound: '80070002',
  accessDenied: '80070005',
  altitudeCollision: '801F0011',
  serviceDisabled: '80070422',
  notSupported: '80070032',
};
await step('load', () => {
  const answers = {};
  for (const [name, hr] of Object.entries(loads)) {
    if (hr === undefined) delete process.env.FLTBRIDGE_DOUBLE_LOAD_HR;
    else process.env.FLTBRIDGE_DOUBLE_LOAD_HR = hr;
    try {
      answers[name] = { value: admin.load() };
    } catch (error) {
      answers[name] = {
        error: { problem: error.problem, codeValue: error.codeValue, message: error.message },
      };
    }
  }
  delete process.env.FLTBRIDGE_DOUBLE_LOAD_HR;
  return answers;
});
await step('unload', () => admin.unload());

// The CLI through the same double (a child node.exe from this directory).
await step('cliStatus', () =>
  run(process.execPath, [join(root, 'bin', 'fltbridge.js'), 'driver', 'status'], {
    env: { ...process.env, NO_COLOR: '1' },
  }),
);

result.done = true;
save();

function run(file, argv, options) {
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
