// The minifilter on Linux (issue #5): cross-build fltbridge.sys with clang (x86_64-w64-windows-gnu,
// real SEH) against the mingw-w64 ddk headers and driver/include/fltk_compat.h, link it with GNU
// ld against import libraries made from driver/fltmgr.def and driver/ntoskrnl_extra.def, test-sign
// a copy, run the static analysers (clang --analyze, clang-tidy-14, cppcheck win64) over every
// driver source, and build and run the host harness (driver/test/host) under ASan/UBSan.
// Artifacts go to build/driver/ (fltbridge.sys, compile_commands.json, host/ outputs read by
// test/driver/*.test.ts). Every step is one counted check.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Checks, commandVerdict } from '../lib/checks.mjs';
import { runSync, which } from '../lib/proc.mjs';

const MINGW_INCLUDE = '/usr/share/mingw-w64/include';
const MINGW_LIB = '/usr/x86_64-w64-mingw32/lib';

/** Defines and codegen flags of the cross-build (TOOLCHAIN.md, Driver section). */
export const CROSS_DEFINES = [
  '-D_WIN32_WINNT=0x0A00',
  '-DNTDDI_VERSION=0x0A000000',
  '-D_AMD64_',
  '-D_WIN64',
  '-D__INTRINSIC_DEFINED_InterlockedBitTestAndSet',
  '-D__INTRINSIC_DEFINED_InterlockedBitTestAndReset',
];

export const WARNINGS = [
  '-Wall',
  '-Wextra',
  '-Wshadow',
  '-Wconversion',
  '-Wformat=2',
  '-Wstrict-prototypes',
  '-Wmissing-prototypes',
  '-Wmissing-variable-declarations',
  '-Wcast-qual',
  '-Wpointer-arith',
  '-Wundef',
  '-Wvla',
  '-Wimplicit-fallthrough',
  '-Werror',
];

function crossFlags(root) {
  return [
    '--target=x86_64-w64-windows-gnu',
    '-fms-extensions',
    '-std=gnu11',
    '-isystem',
    join(MINGW_INCLUDE, 'ddk'),
    '-isystem',
    MINGW_INCLUDE,
    '-I',
    join(root, 'driver', 'include'),
    ...CROSS_DEFINES,
    '-Wno-pragma-pack',
    '-ffreestanding',
    '-fno-builtin',
    '-fno-stack-protector',
    '-mno-stack-arg-probe',
    '-fasynchronous-unwind-tables',
    '-fno-common',
    '-O2',
  ];
}

function driverSources(root) {
  const dir = join(root, 'driver', 'src');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.c'))
    .sort()
    .map((f) => join(dir, f));
}

function findingsVerdict(result, label, pattern) {
  const out = `${result.stdout}\n${result.stderr}`;
  const findings = out.split('\n').filter((line) => pattern.test(line));
  if (result.code === 0 && findings.length === 0) return true;
  return `${label}: exit ${result.code}, ${findings.length} finding(s)\n${(findings.length ? findings : out.split('\n')).slice(0, 40).join('\n')}`;
}

export default {
  name: 'driver',
  order: 50,
  needs: [
    'clang-14',
    'x86_64-w64-mingw32-ld',
    'x86_64-w64-mingw32-dlltool',
    'cppcheck',
    'clang-tidy-14',
  ],
  async run({ root }) {
    const checks = new Checks('driver');
    const out = join(root, 'build', 'driver');
    const objDir = join(out, 'obj');
    rmSync(out, { recursive: true, force: true });
    mkdirSync(objDir, { recursive: true });

    const sources = driverSources(root);
    const flags = crossFlags(root);
    const objects = [];

    // 1. Cross-compile every source, -Werror, and record compile_commands.json for clang-tidy.
    const commands = [];
    await checks.check(
      `cross-compile ${sources.length} driver sources (clang-14, x86_64-w64-windows-gnu, -Werror)`,
      () => {
        const failures = [];
        for (const src of sources) {
          const obj = join(objDir, `${basename(src, '.c')}.o`);
          const args = [...flags, ...WARNINGS, '-c', src, '-o', obj];
          commands.push({ directory: root, file: src, arguments: ['clang-14', ...args] });
          const r = runSync('clang-14', args, { cwd: root });
          if (r.code !== 0)
            failures.push(`${basename(src)}:\n${r.stderr.split('\n').slice(0, 12).join('\n')}`);
          else objects.push(obj);
        }
        writeFileSync(join(out, 'compile_commands.json'), `${JSON.stringify(commands, null, 2)}\n`);
        return failures.length === 0 ? true : failures.join('\n');
      },
    );

    // 2. Import libraries: fltmgr.sys (none ships with mingw-w64) and the ntoskrnl exports mingw lacks.
    const fltmgrLib = join(out, 'libfltmgr.a');
    const extraLib = join(out, 'libntoskrnl_extra.a');
    await checks.check('import libraries from fltmgr.def and ntoskrnl_extra.def (dlltool)', () => {
      for (const [def, lib] of [
        ['fltmgr.def', fltmgrLib],
        ['ntoskrnl_extra.def', extraLib],
      ]) {
        const r = runSync('x86_64-w64-mingw32-dlltool', [
          '-d',
          join(root, 'driver', def),
          '-l',
          lib,
        ]);
        if (r.code !== 0) return commandVerdict(r, `dlltool ${def}`);
      }
      return true;
    });

    // 3. Link with GNU ld (it writes the PE checksum drivers need).
    const sys = join(out, 'fltbridge.sys');
    await checks.check(
      'link build/driver/fltbridge.sys (GNU ld: native subsystem, DriverEntry, dynamicbase, nxcompat)',
      () => {
        if (objects.length !== sources.length) return 'not every source compiled';
        const r = runSync('x86_64-w64-mingw32-ld', [
          '-o',
          sys,
          '-shared',
          '--subsystem',
          'native:10.0',
          '--entry',
          'DriverEntry',
          '--image-base',
          '0x140000000',
          '--dynamicbase',
          '--nxcompat',
          '--high-entropy-va',
          '--file-alignment',
          '0x200',
          '--section-alignment',
          '0x1000',
          '--exclude-all-symbols',
          '--no-insert-timestamp',
          '-nostdlib',
          ...objects,
          fltmgrLib,
          extraLib,
          '-L',
          MINGW_LIB,
          '-lntoskrnl',
          '-lhal',
        ]);
        if (r.code !== 0) return commandVerdict(r, 'ld');
        const digest = createHash('sha256').update(readFileSync(sys)).digest('hex');
        writeFileSync(join(out, 'fltbridge.sys.sha256'), `${digest}  fltbridge.sys\n`);
        return true;
      },
    );

    // 4. Test-sign a copy with a throwaway certificate (what scripts/vm/ does on Windows; TESTSIGNING
    //    accepts any certificate). Optional: needs openssl and osslsigncode.
    if (which('osslsigncode') && which('openssl') && existsSync(sys)) {
      await checks.check('test-sign a copy with a throwaway certificate (osslsigncode)', () => {
        const signDir = join(out, 'signed');
        mkdirSync(signDir, { recursive: true });
        const key = join(signDir, 'test.key');
        const cert = join(signDir, 'test.crt');
        let r = runSync('openssl', [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-keyout',
          key,
          '-out',
          cert,
          '-days',
          '7',
          '-subj',
          '/CN=fltbridge throwaway test signing',
          '-addext',
          'extendedKeyUsage=codeSigning',
        ]);
        if (r.code !== 0) return commandVerdict(r, 'openssl req');
        r = runSync('osslsigncode', [
          'sign',
          '-certs',
          cert,
          '-key',
          key,
          '-h',
          'sha256',
          '-n',
          'fltbridge',
          '-in',
          sys,
          '-out',
          join(signDir, 'fltbridge.sys'),
        ]);
        rmSync(key, { force: true });
        return commandVerdict(r, 'osslsigncode sign');
      });
    } else {
      console.log('  note  driver: test signing not run (osslsigncode or openssl missing)');
    }

    // 5. clang static analyzer over the cross build.
    await checks.check(`clang --analyze over ${sources.length} sources: no findings`, () => {
      const results = [];
      for (const src of sources) {
        const r = runSync('clang-14', [
          ...flags,
          '--analyze',
          '-Xanalyzer',
          '-analyzer-output=text',
          '-Xanalyzer',
          '-analyzer-checker=core,deadcode,security,unix.Malloc,nullability',
          // memcpy_s / memset_s do not exist in the kernel: RtlCopyMemory and RtlZeroMemory are
          // the DDI, and every length is checked before the copy. The only checker turned off.
          '-Xanalyzer',
          '-analyzer-disable-checker=security.insecureAPI.DeprecatedOrUnsafeBufferHandling',
          '-Werror',
          '-o',
          '/dev/null',
          src,
        ]);
        if (r.code !== 0 || /warning:/.test(r.stderr))
          results.push(`${basename(src)}:\n${r.stderr.split('\n').slice(0, 20).join('\n')}`);
      }
      return results.length === 0 ? true : results.join('\n');
    });

    // 6. clang-tidy with driver/.clang-tidy (checks and the reason for each disabled one live there).
    await checks.check(`clang-tidy-14 over ${sources.length} sources: no findings`, () => {
      const r = runSync(
        'clang-tidy-14',
        ['-p', out, '--quiet', `--config-file=${join(root, 'driver', '.clang-tidy')}`, ...sources],
        {
          cwd: root,
        },
      );
      return findingsVerdict(r, 'clang-tidy', /(warning|error):/);
    });

    // 7. cppcheck, Windows x64 platform model.
    await checks.check(
      `cppcheck --platform=win64 over ${sources.length} sources: no findings`,
      () => {
        const r = runSync('cppcheck', [
          '--platform=win64',
          '--std=c11',
          '--enable=warning,style,portability,performance',
          '--inline-suppr',
          '--error-exitcode=1',
          '--quiet',
          `--suppressions-list=${join(root, 'driver', 'cppcheck.suppressions')}`,
          '-D_WIN64',
          '-D_AMD64_',
          '-DFB_CPPCHECK',
          `-I${join(root, 'driver', 'include')}`,
          `-I${join(root, 'driver', 'src')}`,
          ...sources,
        ]);
        return findingsVerdict(r, 'cppcheck', /(error|warning|portability|performance|style):/);
      },
    );

    // 8. The host harness: comm.c, events.c and policy.c on Linux against a fake of the kernel
    //    primitives they use, under ASan/UBSan; it prints one line per check.
    const hostDir = join(out, 'host');
    mkdirSync(hostDir, { recursive: true });
    const harness = join(hostDir, 'fb_host_test');
    const hostSrc = join(root, 'driver', 'test', 'host');
    const built = await checks.check(
      'host harness builds (gcc, -fsanitize=address,undefined, -Werror)',
      () => {
        const cc = which('gcc') ? 'gcc' : 'clang-14';
        const r = runSync(cc, [
          '-std=gnu11',
          '-fshort-wchar',
          '-g',
          '-O1',
          '-fsanitize=address,undefined',
          '-fno-sanitize-recover=all',
          '-fno-omit-frame-pointer',
          '-DFB_HOST_HARNESS',
          '-I',
          hostSrc,
          '-I',
          join(root, 'driver', 'include'),
          '-I',
          join(root, 'driver', 'src'),
          '-Wall',
          '-Wextra',
          '-Wshadow',
          '-Wconversion',
          '-Wno-sign-conversion',
          '-Werror',
          join(hostSrc, 'fb_host.c'),
          join(hostSrc, 'harness.c'),
          join(root, 'driver', 'src', 'comm.c'),
          join(root, 'driver', 'src', 'events.c'),
          join(root, 'driver', 'src', 'policy.c'),
          '-lpthread',
          '-o',
          harness,
        ]);
        return commandVerdict(r, cc);
      },
    );
    if (built) {
      const r = runSync(harness, [hostDir], {
        env: {
          ...process.env,
          ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0',
          UBSAN_OPTIONS: 'print_stacktrace=1',
        },
        timeout: 300_000,
      });
      let seen = 0;
      for (const line of r.stdout.split('\n')) {
        const m = /^(ok|FAIL) (.*)$/.exec(line);
        if (!m) continue;
        seen += 1;
        const detail = m[1] === 'ok' ? true : m[2];
        await checks.check(`host: ${m[2].split(' :: ')[0]}`, () => detail);
      }
      await checks.check('host harness exits cleanly (no sanitizer report, no leak)', () => {
        if (r.code === 0 && seen > 0) return true;
        return `exit ${r.code}, ${seen} check lines\n${r.stderr.split('\n').slice(0, 40).join('\n')}`;
      });
    }

    return checks.result();
  },
};
