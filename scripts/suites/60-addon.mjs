// The addon: cmake-js cross-build of native/ for win-x64 with mingw-w64 (posix threads, static
// C++ runtime, NODE.EXE delay-loaded), then the PE contract of the .node: what it imports (only
// KERNEL32, the C runtime, FLTLIB, and NODE.EXE delay-loaded), what it exports. The built file is
// copied into packages/win32-x64/ (the optional platform package; never committed).
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Checks, commandVerdict } from '../lib/checks.mjs';
import { runSync, which } from '../lib/proc.mjs';

export function addonPath(root) {
  return join(root, 'build', 'native', 'Release', 'fltbridge.node');
}

/** cmake-js compile in Node-API mode with the mingw toolchain file. Returns the command result. */
export function buildAddon(root) {
  const cmakeJs = join(root, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
  const toolchain = join(root, 'native', 'cmake', 'mingw-w64-x86_64.cmake');
  return runSync(
    process.execPath,
    [
      cmakeJs,
      'compile',
      '-d',
      'native',
      '-O',
      join('build', 'native'),
      `--CDCMAKE_TOOLCHAIN_FILE=${toolchain}`,
    ],
    { cwd: root, env: { ...process.env, npm_config_loglevel: 'error' } },
  );
}

/**
 * Imports of a PE file as { imports: { dll: symbols[] }, delay: { dll: symbols[] } }, from
 * llvm-readobj --coff-imports (or x86_64-w64-mingw32-objdump -p when llvm is missing).
 */
export function readImports(file) {
  if (which('llvm-readobj-14')) {
    const r = runSync('llvm-readobj-14', ['--coff-imports', file]);
    if (r.code !== 0) throw new Error(`llvm-readobj failed: ${r.stderr}`);
    const imports = {};
    const delay = {};
    let table;
    for (const line of r.stdout.split('\n')) {
      const t = line.trim();
      // Top-level blocks start in column 0; a DelayImport nests one "Import {" per symbol.
      if (line.startsWith('Import {')) table = imports;
      else if (line.startsWith('DelayImport {')) table = delay;
      else if (t.startsWith('Name: ') && table) {
        table.current = t.slice(6);
        table[table.current] = [];
      } else if (t.startsWith('Symbol: ') && table?.current) {
        table[table.current].push(t.slice(8).replace(/ \(\d+\)$/, ''));
      }
    }
    delete imports.current;
    delete delay.current;
    return { imports, delay };
  }
  const r = runSync('x86_64-w64-mingw32-objdump', ['-p', file]);
  if (r.code !== 0) throw new Error(`objdump failed: ${r.stderr}`);
  const imports = {};
  for (const m of r.stdout.matchAll(/DLL Name: (\S+)/g)) imports[m[1]] = [];
  // objdump does not read the delay-import directory: report the DLL name string instead.
  const delay = readFileSync(file).includes(Buffer.from('NODE.EXE\0', 'latin1'))
    ? { 'NODE.EXE': [] }
    : {};
  return { imports, delay };
}

/** Exported names (llvm-readobj --coff-exports). */
export function readExports(file) {
  const tool = which('llvm-readobj-14') ? 'llvm-readobj-14' : undefined;
  if (!tool) {
    const r = runSync('x86_64-w64-mingw32-objdump', ['-p', file]);
    const section = r.stdout.split('[Ordinal/Name Pointer] Table')[1] ?? '';
    return [...section.matchAll(/\[\s*\d+\] (\S+)/g)].map((m) => m[1]);
  }
  const r = runSync(tool, ['--coff-exports', file]);
  return [...r.stdout.matchAll(/Name: (\S+)/g)].map((m) => m[1]);
}

const ALLOWED_IMPORTS = [
  /^KERNEL32\.dll$/i,
  /^msvcrt\.dll$/i,
  /^ucrtbase\.dll$/i,
  /^api-ms-win-crt-[a-z0-9-]+\.dll$/i,
  /^FLTLIB\.DLL$/i,
];

export default {
  name: 'addon',
  order: 60,
  needs: ['cmake', 'ninja', 'x86_64-w64-mingw32-g++-posix', 'x86_64-w64-mingw32-dlltool'],
  async run({ root }) {
    const checks = new Checks('addon');
    const file = addonPath(root);
    const built = await checks.check(
      'cmake-js cross-build (mingw-w64 posix, Node-API 8) -> build/native/Release/fltbridge.node',
      () => {
        const verdict = commandVerdict(buildAddon(root), 'cmake-js compile');
        if (verdict !== true) return verdict;
        return existsSync(file) || `${file} was not produced`;
      },
    );
    if (!built) return checks.result();

    await checks.check('PE32+ x86-64 DLL', () => {
      const b = readFileSync(file);
      if (b.readUInt16LE(0) !== 0x5a4d) return 'no MZ header';
      const pe = b.readUInt32LE(0x3c);
      if (b.readUInt32LE(pe) !== 0x4550) return 'no PE signature';
      if (b.readUInt16LE(pe + 4) !== 0x8664)
        return `machine 0x${b.readUInt16LE(pe + 4).toString(16)}`;
      if ((b.readUInt16LE(pe + 22) & 0x2000) === 0) return 'not a DLL';
      return b.readUInt16LE(pe + 24) === 0x20b || 'not PE32+';
    });

    const { imports, delay } = readImports(file);
    console.log(
      `        imports: ${Object.keys(imports).join(', ')}; delay-loaded: ${Object.keys(delay).join(', ')}`,
    );
    await checks.check('imports only KERNEL32, the C runtime (msvcrt/ucrt) and FLTLIB', () => {
      const bad = Object.keys(imports).filter((dll) => !ALLOWED_IMPORTS.some((re) => re.test(dll)));
      if (bad.length > 0) return `unexpected imports: ${bad.join(', ')}`;
      return Object.keys(imports).some((d) => /^KERNEL32\.dll$/i.test(d)) || 'KERNEL32 missing';
    });
    await checks.check('FLTLIB: exactly the port functions the addon calls', () => {
      const fltlib = Object.entries(imports).find(([dll]) => /^FLTLIB\.DLL$/i.test(dll))?.[1] ?? [];
      const want = ['FilterConnectCommunicationPort', 'FilterGetMessage', 'FilterSendMessage'];
      return (
        JSON.stringify([...fltlib].sort()) === JSON.stringify(want) ||
        `FLTLIB symbols: ${fltlib.join(', ')}`
      );
    });
    await checks.check(
      'NODE.EXE is delay-loaded (not a normal import) and only for Node-API',
      () => {
        if (Object.keys(imports).some((d) => /node\.exe/i.test(d)))
          return 'NODE.EXE is a normal import';
        const names = Object.keys(delay);
        if (names.length !== 1 || names[0]?.toUpperCase() !== 'NODE.EXE')
          return `delay imports: ${names.join(', ') || 'none'}`;
        const symbols = delay[names[0]];
        const other = symbols.filter((s) => !/^(napi|node_api)_/.test(s));
        if (other.length > 0) return `non-Node-API NODE.EXE imports: ${other.join(', ')}`;
        return symbols.length > 0 || !which('llvm-readobj-14') || 'no NODE.EXE symbols listed';
      },
    );
    await checks.check('no libstdc++/libgcc/winpthread DLLs (static runtime)', () => {
      const bad = [...Object.keys(imports), ...Object.keys(delay)].filter((d) =>
        /libstdc|libgcc|winpthread/i.test(d),
      );
      return bad.length === 0 || `dynamic runtime: ${bad.join(', ')}`;
    });
    await checks.check('exports only the Node-API module entry points', () => {
      const names = readExports(file).sort();
      const want = ['napi_register_module_v1', 'node_api_module_get_api_version_v1'];
      return JSON.stringify(names) === JSON.stringify(want) || `exports: ${names.join(', ')}`;
    });
    await checks.check('copied into packages/win32-x64/fltbridge.node', () => {
      const target = join(root, 'packages', 'win32-x64', 'fltbridge.node');
      copyFileSync(file, target);
      return readFileSync(target).equals(readFileSync(file)) || 'copy differs';
    });
    return checks.result();
  },
};
