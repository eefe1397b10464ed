/**
 * Driver management for real under Wine: the koffi bindings (driver-win32.ts), DriverAdmin and
 * the built CLI, run by Windows node.exe against Wine's service control manager, registry and
 * fltlib (test/wine/driver-admin.wine.mjs), and the "loaded" paths through an enumeration double
 * of fltlib (test/wine/driver-admin-double.wine.mjs, test/wine/driver-admin-fltlib.c). Expected
 * values come from driver/fltbridge.inf itself. Where Wine answers differently from Windows the
 * test pins Wine's answer and says what Windows gives; docs/addon.md lists them too.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRegistryData, parseServiceConfig } from '../../src/backends/windows/driver-win32.js';
import { unavailable } from '../helpers/toolchain.js';
import { type Json, loadResult, resultPath } from './results.js';

const skip = unavailable('wine', [resultPath('driver-admin'), resultPath('driver-admin-double')]);

const SERVICE_KEY = 'SYSTEM\\CurrentControlSet\\Services\\fltbridge';
const HR = {
  NOT_SUPPORTED: 0x80070032,
  FLT_FILTER_NOT_FOUND: 0x801f0013,
} as const;

/** What driver/fltbridge.inf installs: the service section and the AddReg lines, resolved. */
function infExpectations() {
  const text = readFileSync(
    join(import.meta.dirname, '..', '..', 'driver', 'fltbridge.inf'),
    'utf8',
  );
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/;.*$/, '').trim();
    if (!line) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header?.[1]) {
      current = [];
      sections.set(header[1].toLowerCase(), current);
    } else current?.push(line);
  }
  const pairs = (name: string) =>
    new Map(
      (sections.get(name.toLowerCase()) ?? []).map((l) => {
        const at = l.indexOf('=');
        return [l.slice(0, at).trim(), l.slice(at + 1).trim()] as const;
      }),
    );
  const strings = pairs('Strings');
  const resolve = (v: string) =>
    v.replace(/%([^%]+)%/g, (_, k: string) => (strings.get(k) ?? `%${k}%`).replace(/^"|"$/g, ''));
  const unquote = (v: string) => resolve(v).replace(/"/g, '');
  const service = pairs('FltBridge.Service');
  const get = (k: string) => unquote(service.get(k) ?? '');
  const registry: Record<string, Record<string, { type: string; value: string | number }>> = {};
  for (const line of sections.get('fltbridge.addregistry') ?? []) {
    const [root, subkey = '', name = '', flags = '0', value = ''] = line.split(',');
    if (root !== 'HKR') throw new Error(`fltbridge.inf AddRegistry: unexpected root in ${line}`);
    const key = `${SERVICE_KEY}\\${unquote(subkey)}`;
    const dword = (Number.parseInt(flags, 16) & 0x00010001) === 0x00010001;
    const data = unquote(value);
    registry[key] ??= {};
    registry[key][unquote(name)] = dword
      ? { type: 'dword', value: Number.parseInt(data, data.startsWith('0x') ? 16 : 10) }
      : { type: 'sz', value: data };
  }
  return {
    displayName: get('DisplayName'),
    description: get('Description'),
    serviceType: Number(get('ServiceType')),
    startType: Number(get('StartType')),
    errorControl: Number(get('ErrorControl')),
    group: get('LoadOrderGroup'),
    dependencies: get('Dependencies').split(',').filter(Boolean),
    registry,
  };
}

describe.skipIf(skip !== undefined)(
  `driver management under Wine${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    const r: Json = skip ? {} : loadResult('driver-admin');
    const d: Json = skip ? {} : loadResult('driver-admin-double');
    const inf = infExpectations();
    const value = (step: string) => {
      expect(r[step], `step ${step}`).toBeDefined();
      expect(r[step].error, `step ${step} threw`).toBeUndefined();
      return r[step].value;
    };

    it('ran every step in Windows node.exe with koffi 3 and its win32-x64 binary', () => {
      expect(r.done, `stopped in step ${r.current}`).toBe(true);
      expect(r.platform).toBe('win32');
      const koffi = value('koffi');
      expect(koffi.version).toBe(
        JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package-lock.json'), 'utf8'))
          .packages['node_modules/koffi'].version,
      );
      // From the toolchain's cache (NODE_PATH), not from the project's node_modules.
      expect(koffi.binary).toMatch(
        /\\\.cache\\koffi-win32-x64-[^\\]+\\node_modules\\@koromix\\koffi-win32-x64\\index\.js$/,
      );
    });

    it('reads the token, boot options and privileges (what doctor shows)', () => {
      const p = value('probes');
      // Wine's default token is an elevated administrator's; on Windows it depends on the prompt.
      expect(p.elevated).toBe(true);
      // Wine has no SystemStartOptions and no SecureBoot\State key (ERROR_FILE_NOT_FOUND), so both
      // are unknown; Windows always has SystemStartOptions (readable without elevation) and, on
      // UEFI machines, UEFISecureBootEnabled.
      expect(p.systemStartOptions).toBe(2);
      expect(p.secureBootState).toBe(2);
      expect(p.testSigning).toBeNull();
      expect(p.secureBoot).toBeNull();
      expect(p.systemRoot).toMatch(/^C:\\windows$/i);
      // SeLoadDriverPrivilege is held and enabled; SeCreateTokenPrivilege is not held by an
      // administrator's token (ERROR_NOT_ALL_ASSIGNED, as on Windows); an unknown name is
      // ERROR_NO_SUCH_PRIVILEGE.
      expect(p.privilegeLoadDriver).toBe(0);
      expect(p.privilegeCreateToken).toBe(1300);
      expect(p.privilegeUnknown).toBe(1313);
      // Wine's FilterFindFirst: ERROR_NO_MORE_ITEMS (no minifilters), read as an empty list.
      expect(p.listFilters).toEqual([]);
      expect(p.missingService).toBe(1060); // ERROR_SERVICE_DOES_NOT_EXIST
      expect(p.missingValue).toBe(2);
    });

    it('status with nothing installed: not installed, not loaded', () => {
      expect(value('leftover').service).toBe(false);
      expect(value('statusBefore')).toEqual({
        installed: false,
        loaded: false,
        instances: [],
        instanceDetails: [],
        elevated: true,
      });
    });

    it('install copies fltbridge.sys and creates the service the INF describes', () => {
      expect(value('install')).toMatchObject({
        imagePath: 'C:\\windows\\System32\\drivers\\fltbridge.sys',
        existed: false,
      });
      expect(value('install').copiedFrom).toMatch(/\\driver-pkg\\fltbridge\.sys$/);
      expect(value('image')).toMatchObject({ exists: true, sameBytes: true });
      expect(value('readBack').service).toEqual({
        serviceType: inf.serviceType, // 2: SERVICE_FILE_SYSTEM_DRIVER
        startType: inf.startType, // 3: demand start
        errorControl: inf.errorControl,
        // The INF's ServiceBinary is %13% (the driver store, filled by an INF install); the
        // direct install copies into System32\drivers and points the service there.
        binaryPath: 'System32\\drivers\\fltbridge.sys',
        group: inf.group,
        tagId: 0,
        // Wine's QueryServiceConfigW never returns dependencies (programs/services/rpc.c sets
        // lpDependencies to NULL, "TODO"); they are in the registry (next test). Windows
        // returns FltMgr here.
        dependencies: [],
        // Wine records LocalSystem for every service; Windows writes no ObjectName for a driver
        // created without one (the I/O manager's default driver object name is used).
        startName: 'LocalSystem',
        displayName: inf.displayName,
      });
      expect(inf).toMatchObject({
        serviceType: 2,
        startType: 3,
        group: 'FSFilter Activity Monitor',
        dependencies: ['FltMgr'],
      });
    });

    it('install writes every value of the INF, read back through advapi32 with its type', () => {
      const reg = value('readBack').registry;
      const service = reg[SERVICE_KEY];
      expect(service).toMatchObject({
        Type: { type: 'dword', value: inf.serviceType },
        Start: { type: 'dword', value: inf.startType },
        ErrorControl: { type: 'dword', value: inf.errorControl },
        Group: { type: 'sz', value: inf.group },
        DependOnService: { type: 'multi_sz', value: inf.dependencies },
        DisplayName: { type: 'sz', value: inf.displayName },
        Description: { type: 'sz', value: inf.description },
      });
      // Wine stores ImagePath as REG_SZ; Windows' CreateServiceW writes REG_EXPAND_SZ.
      expect(service.ImagePath).toEqual({ type: 'sz', value: 'System32\\drivers\\fltbridge.sys' });
      // Parameters, Instances, DefaultInstance, each instance's Altitude and Flags.
      expect(Object.keys(inf.registry).length).toBeGreaterThanOrEqual(4);
      for (const [key, values] of Object.entries(inf.registry)) {
        expect(reg[key], key).toEqual(values);
      }
      expect(reg[`${SERVICE_KEY}\\Parameters\\Instances\\FltBridge Instance`]).toEqual({
        Altitude: { type: 'sz', value: '370030' },
        Flags: { type: 'dword', value: 0 },
      });
    });

    it("Wine's reg.exe reads the same keys and values", () => {
      const reg = value('regExe');
      expect(reg.code).toBe(0);
      const keys = reg.keys as Record<string, Record<string, [string, string]>>;
      const service = keys[`HKEY_LOCAL_MACHINE\\${SERVICE_KEY}`];
      expect(service).toMatchObject({
        Type: ['REG_DWORD', '0x2'],
        Start: ['REG_DWORD', '0x3'],
        Group: ['REG_SZ', inf.group],
        DependOnService: ['REG_MULTI_SZ', 'FltMgr'],
        Description: ['REG_SZ', inf.description],
      });
      // Wine-only: services.exe writes a PreshutdownTimeout for every service.
      expect(service?.PreshutdownTimeout?.[0]).toBe('REG_DWORD');
      for (const [key, values] of Object.entries(inf.registry)) {
        const seen = keys[`HKEY_LOCAL_MACHINE\\${key}`];
        for (const [name, v] of Object.entries(values)) {
          expect(seen?.[name], `${key}\\${name}`).toEqual(
            v.type === 'dword'
              ? ['REG_DWORD', `0x${(v.value as number).toString(16)}`]
              : ['REG_SZ', v.value],
          );
        }
      }
    });

    it('status once installed: installed, not loaded, with the image path', () => {
      expect(value('statusInstalled')).toEqual({
        installed: true,
        loaded: false,
        instances: [],
        instanceDetails: [],
        elevated: true,
        imagePath: 'System32\\drivers\\fltbridge.sys',
      });
    });

    it('installing again says it existed and repairs a service changed since', () => {
      const tamper = value('tamper');
      expect(tamper.code).toBe(1073); // ERROR_SERVICE_EXISTS, configuration rewritten
      expect(tamper.service).toMatchObject({
        serviceType: 1,
        startType: 4,
        errorControl: 0,
        group: 'FSFilter Bottom',
        displayName: 'tampered',
      });
      // No dependencies left: Wine deletes DependOnService (ERROR_FILE_NOT_FOUND on reading).
      expect(tamper.dependOnService).toBe(2);
      expect(value('install2')).toMatchObject({ existed: true });
      expect(value('readBack2')).toEqual(value('readBack'));
    });

    it("load: Wine's ERROR_NOT_SUPPORTED as one typed DriverError line", () => {
      expect(value('filterLoadRaw')).toBe(HR.NOT_SUPPORTED);
      const e = r.load.error;
      expect(e).toMatchObject({
        name: 'DriverError',
        code: 'E_DRIVER',
        problem: 'unsupported',
        codeValue: HR.NOT_SUPPORTED,
      });
      expect(e.message).toBe(
        "fltbridge driver load failed with HRESULT 0x80070032 (ERROR_NOT_SUPPORTED): this system's filter manager cannot load minifilters (as under Wine, whose fltlib.dll does not implement FilterLoad)",
      );
      expect(e.message).not.toContain('\n');
      expect(e.hint).toContain('model backend');
    });

    it("unload: Wine's FilterUnload answers S_OK for any name", () => {
      // Windows answers ERROR_FLT_FILTER_NOT_FOUND (0x801F0013) for a filter that is not
      // loaded, which unload reports as { wasLoaded: false }.
      expect(value('unload')).toEqual({ wasLoaded: true });
    });

    it('uninstall removes the service and its keys; twice is fine', () => {
      expect(value('uninstall')).toEqual({ removed: true });
      expect(value('afterUninstall')).toEqual({
        serviceExists: false,
        service: 1060,
        serviceKey: false,
        instancesKey: false,
        imagePath: 2,
        // The image stays in System32\drivers (as after sc delete, on Windows too).
        image: true,
      });
      expect(value('uninstall2')).toEqual({ removed: false });
      expect(value('statusAfter')).toMatchObject({ installed: false, loaded: false });
    });

    describe('the built CLI under Wine', () => {
      const cli = (step: string, part?: string) => {
        const v = value(step);
        return part ? v[part] : v;
      };
      const json = (text: string) => JSON.parse(text.trim());

      it('fltbridge driver status --json: not installed, exit 3', () => {
        const run = cli('cliStart', 'status');
        expect(run.code).toBe(3);
        expect(run.stderr).toBe('');
        expect(json(run.stdout)).toMatchObject({
          v: 1,
          type: 'driver-status',
          installed: false,
          loaded: false,
          instances: [],
          instanceDetails: [],
          elevated: true,
        });
      });

      it('fltbridge doctor --json: what Wine answers to each check', () => {
        const run = cli('cliStart', 'doctor');
        expect(run.code).toBe(1);
        const out = json(run.stdout);
        expect(out).toMatchObject({ type: 'doctor', platform: 'win32-x64', ok: false });
        const checks = Object.fromEntries(
          (out.checks as { name: string; state: string; detail: string }[]).map((c) => [c.name, c]),
        );
        expect(Object.keys(checks)).toEqual(
          expect.arrayContaining([
            'fltbridge',
            'node',
            'model',
            'platform',
            'administrator',
            'test signing',
            'driver',
            'port',
          ]),
        );
        expect(checks.platform).toMatchObject({ state: 'ok' });
        expect(checks.platform?.detail).toMatch(/^Windows 10\.0\.\d+ \(x64\)$/);
        expect(checks.administrator).toEqual({
          name: 'administrator',
          state: 'ok',
          detail: 'elevated',
        });
        // Unknown: Wine has no SystemStartOptions (see the probes above).
        expect(checks['test signing']).toMatchObject({ state: 'warn' });
        expect(checks['test signing']?.detail).toMatch(/^unknown/);
        expect(checks.driver).toEqual({
          name: 'driver',
          state: 'fail',
          detail: 'not installed: fltbridge driver install, then fltbridge driver load',
        });
        // The addon loads; Wine's fltlib has no ports.
        expect(checks.port).toMatchObject({ state: 'fail' });
        expect(checks.port?.detail).toContain('HRESULT 0x80004001 (E_NOTIMPL');
      });

      it('install, twice: the second says the configuration was rewritten, exit 0', () => {
        expect(cli('cliInstall')).toMatchObject({
          code: 0,
          stdout: '✓ fltbridge driver installed; load it with: fltbridge driver load\n',
          stderr: '',
        });
        expect(cli('cliInstalled', 'install2')).toMatchObject({
          code: 0,
          stdout:
            '✓ fltbridge driver reinstalled (its configuration was rewritten); load it with: fltbridge driver load\n',
          stderr: '',
        });
        const status = cli('cliInstalled', 'status');
        expect(status.code).toBe(3);
        expect(json(status.stdout)).toMatchObject({
          installed: true,
          loaded: false,
          imagePath: 'System32\\drivers\\fltbridge.sys',
        });
      });

      it('load: one line on stderr naming ERROR_NOT_SUPPORTED, exit 3 (not possible here)', () => {
        const run = cli('cliInstalled', 'load');
        expect(run.code).toBe(3);
        expect(run.stdout).toBe('');
        expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
        expect(run.stderr).toMatch(
          /^fltbridge: fltbridge driver load failed with HRESULT 0x80070032 \(ERROR_NOT_SUPPORTED\): .* — load the driver on Windows/,
        );
      });

      it('unload, then uninstall twice: exit 0 each time', () => {
        // Wine's FilterUnload answers S_OK, so the CLI says unloaded.
        expect(cli('cliUnloadUninstall', 'unload')).toMatchObject({
          code: 0,
          stdout: '✓ fltbridge driver unloaded\n',
        });
        // The second uninstall finds no service ({ removed: false }) and says so.
        expect(cli('cliUnloadUninstall', 'uninstall')).toMatchObject({
          code: 0,
          stdout: '✓ fltbridge driver uninstalled\n',
          stderr: '',
        });
        expect(cli('cliUninstall2')).toMatchObject({
          code: 0,
          stdout: '✓ fltbridge driver was not installed; nothing to uninstall\n',
          stderr: '',
        });
        expect(value('cliEnd')).toEqual({ serviceExists: false, serviceKey: false });
      });
    });

    describe('through the fltlib enumeration double (a loaded filter)', () => {
      const dv = (step: string) => {
        expect(d[step], `step ${step}`).toBeDefined();
        expect(d[step].error, `step ${step} threw`).toBeUndefined();
        return d[step].value;
      };

      it("loads the double beside node.exe, not Wine's builtin fltlib", () => {
        expect(d.done, `stopped in step ${d.current}`).toBe(true);
        expect(dv('fltlib').path).toMatch(/\\driver-double\\fltlib\.dll$/i);
      });

      it('decodes FILTER_AGGREGATE_STANDARD_INFORMATION as the SDK lays it out', () => {
        // The legacy filter is skipped; FilterFindNext walks to ERROR_NO_MORE_ITEMS.
        expect(dv('listFilters')).toEqual([
          { name: 'WdFilter', altitude: '328010', instances: 4 },
          { name: 'FltBridge', altitude: '370030', instances: 3 },
        ]);
      });

      it('decodes INSTANCE_FULL_INFORMATION and asks FilterGetDosName for each volume', () => {
        expect(dv('listInstances')).toEqual([
          {
            name: 'FltBridge Instance',
            altitude: '370030',
            volume: '\\Device\\HarddiskVolume3',
            dosName: 'C:',
          },
          {
            name: 'FltBridge Watch Instance',
            altitude: '370040',
            volume: '\\Device\\HarddiskVolume3',
            dosName: 'C:',
          },
          { name: 'FltBridge Instance', altitude: '370030', volume: '\\Device\\HarddiskVolume5' },
        ]);
        expect(dv('listInstancesOther')).toBe(HR.FLT_FILTER_NOT_FOUND);
      });

      it('status of a loaded filter: altitude, each volume once', () => {
        expect(dv('status')).toMatchObject({
          installed: false, // the double answers fltlib; the service is Wine's (none)
          loaded: true,
          altitude: '370030',
          instances: ['C:', '\\Device\\HarddiskVolume5'],
          elevated: true,
        });
        expect(dv('status').instanceDetails).toHaveLength(3);
      });

      it('maps each FilterLoad answer to its result or DriverError', () => {
        const load = dv('load');
        expect(load.ok).toEqual({ value: { alreadyLoaded: false } });
        expect(load.alreadyRunning).toEqual({ value: { alreadyLoaded: true } });
        expect(load.instanceNameCollision).toEqual({ value: { alreadyLoaded: true } });
        const problem = (name: string) => load[name].error.problem;
        // Test signing is unknown under Wine (not "off"), so a refused signature reads as an
        // untrusted certificate rather than as test signing being off.
        expect(problem('imageHash')).toBe('unsigned');
        expect(problem('notFound')).toBe('not-installed');
        expect(problem('accessDenied')).toBe('elevation');
        expect(problem('altitudeCollision')).toBe('altitude-collision');
        expect(problem('serviceDisabled')).toBe('failed');
        expect(problem('notSupported')).toBe('unsupported');
        for (const name of Object.keys(load).filter((n) => load[n].error)) {
          expect(load[name].error.message).not.toContain('\n');
        }
        expect(dv('unload')).toEqual({ wasLoaded: true });
      });

      it('fltbridge driver status: loaded at 370030, attached to C: and an unlettered volume', () => {
        const run = dv('cliStatus');
        expect(run.code).toBe(0);
        expect(run.stdout.split('\n').slice(0, 2)).toEqual([
          'installed: no  loaded: yes  altitude: 370030',
          'attached to: C:, \\Device\\HarddiskVolume5',
        ]);
      });
    });
  },
);

// The read-back decoders, on buffers laid out here (these run everywhere, Wine or not).
describe('read-back decoders', () => {
  const wide = (text: string) => Buffer.from(`${text}\0`, 'utf16le');

  it('decodes QUERY_SERVICE_CONFIGW, whose pointers point into the buffer', () => {
    const base = 0x7ff0_0000_1000n;
    const buf = Buffer.alloc(256);
    buf.writeUInt32LE(2, 0);
    buf.writeUInt32LE(3, 4);
    buf.writeUInt32LE(1, 8);
    buf.writeUInt32LE(7, 32);
    let at = 64;
    const put = (field: number, data: Buffer) => {
      buf.writeBigUInt64LE(base + BigInt(at), field);
      data.copy(buf, at);
      at += data.length;
    };
    put(16, wide('System32\\drivers\\fltbridge.sys'));
    put(24, wide('FSFilter Activity Monitor'));
    put(40, Buffer.concat([wide('FltMgr'), wide('Other'), wide('')]));
    put(56, wide('fltbridge'));
    // lpServiceStartName NULL: an empty string.
    expect(parseServiceConfig(buf, base, at)).toEqual({
      serviceType: 2,
      startType: 3,
      errorControl: 1,
      binaryPath: 'System32\\drivers\\fltbridge.sys',
      group: 'FSFilter Activity Monitor',
      tagId: 7,
      dependencies: ['FltMgr', 'Other'],
      startName: '',
      displayName: 'fltbridge',
    });
    // A pointer outside what the call filled is refused, not followed.
    buf.writeBigUInt64LE(base + 4096n, 56);
    expect(() => parseServiceConfig(buf, base, at)).toThrow(RangeError);
    expect(() => parseServiceConfig(Buffer.alloc(32), base, 32)).toThrow(RangeError);
  });

  it('decodes registry data by type', () => {
    const sz = wide('370030');
    expect(parseRegistryData(1, sz, sz.length)).toEqual({ type: 'sz', value: '370030' });
    expect(parseRegistryData(2, sz, sz.length)).toEqual({ type: 'expand_sz', value: '370030' });
    const multi = Buffer.concat([wide('FltMgr'), wide('')]);
    expect(parseRegistryData(7, multi, multi.length)).toEqual({
      type: 'multi_sz',
      value: ['FltMgr'],
    });
    const dword = Buffer.alloc(8);
    dword.writeUInt32LE(0xffffffff, 0);
    expect(parseRegistryData(4, dword, 4)).toEqual({ type: 'dword', value: 0xffffffff });
    dword.writeBigUInt64LE(1n << 40n, 0);
    expect(parseRegistryData(11, dword, 8)).toEqual({ type: 'qword', value: 1n << 40n });
    expect(parseRegistryData(3, Buffer.from([1, 2, 3, 4]), 3)).toMatchObject({
      type: 'binary',
      rawType: 3,
    });
  });
});
