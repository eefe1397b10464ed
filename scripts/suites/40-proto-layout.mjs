// The wire contract, proven byte for byte: test/c/proto_layout.c (generated from the TS layout
// table) and test/c/proto_samples.c (hand-written sample messages) are built from
// driver/include/fltbridge_proto.h by the host gcc and by clang for x86_64-w64-windows-gnu
// (linked by mingw's gcc, run under Wine). Their JSON goes to build/proto/{host,win}/ where
// test/protocol/*.test.ts compares it with the TypeScript codec. The header is also compiled as
// C++11 and through its MSVC branch, and each static-assert flavour is shown to fire.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Checks, commandVerdict } from '../lib/checks.mjs';
import { runSync, which } from '../lib/proc.mjs';
import { runWine } from '../lib/wine.mjs';

const C_FLAGS = ['-std=c11', '-Wall', '-Wextra', '-Werror', '-pedantic'];
const WIN_FLAGS = ['--target=x86_64-w64-windows-gnu', '-fms-extensions', ...C_FLAGS];
const PROGRAMS = ['layout', 'samples'];

export default {
  name: 'proto-layout',
  order: 40,
  needs: ['gcc', 'clang-14', 'x86_64-w64-mingw32-gcc', '/usr/lib/wine/wine64'],
  async run({ root }) {
    const checks = new Checks('proto-layout');
    const include = join(root, 'driver', 'include');
    const header = join(include, 'fltbridge_proto.h');
    const sources = {
      layout: join(root, 'test', 'c', 'proto_layout.c'),
      samples: join(root, 'test', 'c', 'proto_samples.c'),
    };
    const out = join(root, 'build', 'proto');
    const hostDir = join(out, 'host');
    const winDir = join(out, 'win');
    const scratch = join(out, 'scratch');
    // Stale artifacts must never pass for fresh ones.
    rmSync(out, { recursive: true, force: true });
    for (const dir of [hostDir, winDir, scratch]) mkdirSync(dir, { recursive: true });
    const run = (cmd, args, options = {}) =>
      runSync(cmd, args, { cwd: root, timeout: 180_000, ...options });

    await checks.check('test/c/proto_layout.c is up to date with src/protocol/layout.ts', () =>
      commandVerdict(
        run(process.execPath, ['--import', 'tsx', 'test/c/proto_layout_gen.ts', '--check']),
        'proto_layout_gen --check',
      ),
    );

    // The header on its own, through each branch of FLTB_STATIC_ASSERT.
    const cxx = which('g++') ? ['g++'] : ['clang-14', '-x', 'c++'];
    await checks.check(`header compiles as C++11 (${cxx[0]} -std=c++11, static_assert)`, () =>
      commandVerdict(
        run(cxx[0], [
          ...cxx.slice(1),
          '-std=c++11',
          '-Wall',
          '-Wextra',
          '-Werror',
          '-pedantic',
          '-fsyntax-only',
          '-x',
          'c++',
          header,
        ]),
        'c++ -fsyntax-only',
      ),
    );
    await checks.check(
      'header compiles through its MSVC branch (gcc -D_MSC_VER, typedef trick)',
      () =>
        commandVerdict(
          run('gcc', [...C_FLAGS, '-D_MSC_VER=1930', '-fsyntax-only', '-x', 'c', header]),
          'gcc -D_MSC_VER',
        ),
    );
    await checks.check('header compiles as C99 -pedantic (gcc, and clang for Windows)', () => {
      const c99 = [
        '-std=c99',
        '-Wall',
        '-Wextra',
        '-Werror',
        '-pedantic',
        '-fsyntax-only',
        '-x',
        'c',
      ];
      const host = run('gcc', [...c99, header]);
      if (host.code !== 0) return commandVerdict(host, 'gcc -std=c99');
      return commandVerdict(
        run('clang-14', ['--target=x86_64-w64-windows-gnu', '-fms-extensions', ...c99, header]),
        'clang-14 -std=c99',
      );
    });
    const falseAssert = join(scratch, 'false_assert.c');
    writeFileSync(
      falseAssert,
      '#include "fltbridge_proto.h"\nFLTB_ASSERT_SIZE(FLTB_RECORD_HEADER, 65);\n',
    );
    const flavours = [
      ['_Static_assert (C11)', 'gcc', [...C_FLAGS, '-I', include, '-fsyntax-only', falseAssert]],
      [
        'static_assert (C++11)',
        cxx[0],
        [...cxx.slice(1), '-std=c++11', '-I', include, '-fsyntax-only', '-x', 'c++', falseAssert],
      ],
      [
        'typedef char[-1] (C99)',
        'gcc',
        ['-std=c99', '-pedantic', '-I', include, '-fsyntax-only', falseAssert],
      ],
      [
        'typedef char[-1] (MSVC branch)',
        'gcc',
        [...C_FLAGS, '-D_MSC_VER=1930', '-I', include, '-fsyntax-only', falseAssert],
      ],
    ];
    for (const [flavour, cmd, args] of flavours) {
      await checks.check(`a false FLTB_ASSERT_SIZE fails to compile: ${flavour}`, () => {
        const r = run(cmd, args);
        return r.code !== 0 ? true : `${cmd} accepted FLTB_ASSERT_SIZE(FLTB_RECORD_HEADER, 65)`;
      });
    }
    await checks.check('a field the TS table names but the header lacks fails to compile', () => {
      const text = readFileSync(sources.layout, 'utf8');
      const marker = '    END_STRUCT();';
      const i = text.indexOf(marker);
      if (i < 0) return 'no END_STRUCT() in proto_layout.c';
      const bogus = join(scratch, 'bogus_field.c');
      writeFileSync(
        bogus,
        `${text.slice(0, i)}    FIELD(FLTB_CONNECT_CONTEXT, NoSuchField);\n${text.slice(i)}`,
      );
      const r = run('gcc', [...C_FLAGS, '-I', include, '-fsyntax-only', bogus]);
      if (r.code === 0) return 'gcc accepted FIELD(FLTB_CONNECT_CONTEXT, NoSuchField)';
      return /NoSuchField/.test(r.stderr) ? true : `failed for another reason:\n${r.stderr}`;
    });

    // Host build and run.
    for (const program of PROGRAMS) {
      const exe = join(hostDir, `proto_${program}`);
      await checks.check(`host gcc builds proto_${program}`, () =>
        commandVerdict(run('gcc', [...C_FLAGS, '-I', include, sources[program], '-o', exe]), 'gcc'),
      );
      await checks.check(`host proto_${program} writes build/proto/host/${program}.json`, () => {
        if (!existsSync(exe)) return 'not built';
        const r = run(exe, [`${program}.json`], { cwd: hostDir });
        if (r.code !== 0) return commandVerdict(r, `proto_${program}`);
        JSON.parse(readFileSync(join(hostDir, `${program}.json`), 'utf8'));
        return true;
      });
    }

    // Windows build (clang compiles, mingw gcc links) and run under Wine.
    for (const program of PROGRAMS) {
      const obj = join(winDir, `proto_${program}.o`);
      const exe = join(winDir, `proto_${program}.exe`);
      await checks.check(`clang-14 --target=x86_64-w64-windows-gnu compiles proto_${program}`, () =>
        commandVerdict(
          run('clang-14', [...WIN_FLAGS, '-I', include, '-c', sources[program], '-o', obj]),
          'clang-14',
        ),
      );
      await checks.check(`x86_64-w64-mingw32-gcc links proto_${program}.exe`, () => {
        if (!existsSync(obj)) return 'not compiled';
        return commandVerdict(run('x86_64-w64-mingw32-gcc', [obj, '-o', exe]), 'mingw gcc');
      });
      await checks.check(
        `proto_${program}.exe under Wine writes build/proto/win/${program}.json`,
        () => {
          if (!existsSync(exe)) return 'not linked';
          const r = runWine(root, exe, [`${program}.json`], { cwd: winDir, timeout: 300_000 });
          if (r.code !== 0) return commandVerdict(r, `wine proto_${program}.exe`);
          JSON.parse(readFileSync(join(winDir, `${program}.json`), 'utf8'));
          return true;
        },
      );
    }

    // The two compilers agree (the vitest suite compares both with the TypeScript codec).
    const load = (dir, program) => JSON.parse(readFileSync(join(dir, `${program}.json`), 'utf8'));
    await checks.check('host and Windows layouts agree (structs, constants, macros)', () => {
      const a = load(hostDir, 'layout');
      const b = load(winDir, 'layout');
      for (const key of ['structs', 'constants', 'payloadBytes', 'alignUp']) {
        if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) return `'${key}' differs`;
      }
      return true;
    });
    await checks.check('host and Windows sample bytes agree', () => {
      const a = load(hostDir, 'samples').samples;
      const b = load(winDir, 'samples').samples;
      const names = Object.keys(a);
      if (names.length === 0) return 'no samples';
      const diff = names.filter((n) => a[n] !== b[n]);
      if (Object.keys(b).length !== names.length) diff.push('(sample sets differ)');
      return diff.length === 0 ? true : `differ: ${diff.join(', ')}`;
    });
    rmSync(scratch, { recursive: true, force: true });
    return checks.result();
  },
};
