/**
 * Driver management logic over a fake Win32 layer: what install writes (the same as
 * driver/fltbridge.inf), and one clear message, with what to do, for each usual failure: no
 * administrator rights, test signing off, an unsigned driver, not installed. Also the decoding of
 * the fltlib find structures (layouts checked against the mingw-w64 headers).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDriverManager } from '../../src/backends/windows/driver.js';
import {
  DRIVER,
  DriverAdmin,
  DriverError,
  type DriverWin32,
  type FilterInfo,
  type InstanceInfo,
  type RegistryValue,
  type ServiceSpec,
} from '../../src/backends/windows/driver-admin.js';
import {
  parseFilterAggregate,
  parseInstanceFull,
} from '../../src/backends/windows/driver-win32.js';

class FakeWin32 implements DriverWin32 {
  elevated = true;
  signing: boolean | undefined = true;
  secure: boolean | undefined = false;
  root = mkdtempSync(join(tmpdir(), 'fltbridge-sysroot-'));
  services = new Map<string, ServiceSpec>();
  registry = new Map<string, RegistryValue[]>();
  copies: [string, string][] = [];
  privileges: string[] = [];
  loadResult = 0;
  unloadResult = 0;
  filters: FilterInfo[] | number = [];
  instances: InstanceInfo[] = [];
  isElevated = () => this.elevated;
  testSigning = () => this.signing;
  secureBoot = () => this.secure;
  systemRoot = () => this.root;
  createService(spec: ServiceSpec) {
    if (this.services.has(spec.name)) return 1073;
    this.services.set(spec.name, spec);
    return 0;
  }
  deleteService(name: string) {
    return this.services.delete(name) ? 0 : 1060;
  }
  serviceExists = (name: string) => this.services.has(name);
  setRegistryValues(subkey: string, values: readonly RegistryValue[]) {
    this.registry.set(subkey, [...values]);
    return 0;
  }
  readRegistryString = () => '\\SystemRoot\\System32\\drivers\\fltbridge.sys';
  enablePrivilege(name: string) {
    this.privileges.push(name);
    return this.elevated ? 0 : 1300;
  }
  filterLoad = () => this.loadResult;
  filterUnload = () => this.unloadResult;
  listFilters = () => this.filters;
  listInstances = () => this.instances;
  copyFile(from: string, to: string) {
    this.copies.push([from, to]);
  }
}

function driverPackage(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fltbridge-pkg-'));
  writeFileSync(join(dir, 'fltbridge.sys'), 'MZ');
  writeFileSync(join(dir, 'fltbridge.inf'), '; inf');
  return join(dir, 'fltbridge.inf');
}

function problem(fn: () => unknown): DriverError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DriverError) return error;
    throw error;
  }
  throw new Error('no error');
}

describe('install', () => {
  it('copies the driver and writes exactly what driver/fltbridge.inf installs', () => {
    const api = new FakeWin32();
    const inf = driverPackage();
    const result = new DriverAdmin(api).install({ infPath: inf });
    expect(api.copies).toEqual([
      [join(inf, '..', 'fltbridge.sys'), join(api.root, 'System32', 'drivers', 'fltbridge.sys')],
    ]);
    expect(result.existed).toBe(false);
    expect(api.services.get('fltbridge')).toEqual({
      name: 'fltbridge',
      displayName: 'fltbridge',
      binaryPath: 'System32\\drivers\\fltbridge.sys',
      serviceType: 2,
      startType: 3,
      errorControl: 1,
      group: 'FSFilter Activity Monitor',
      dependencies: ['FltMgr'],
    });
    const key = 'SYSTEM\\CurrentControlSet\\Services\\fltbridge\\Parameters';
    expect(api.registry.get(key)).toEqual([{ name: 'SupportedFeatures', type: 'dword', value: 3 }]);
    expect(api.registry.get(`${key}\\Instances`)).toEqual([
      { name: 'DefaultInstance', type: 'sz', value: 'FltBridge Instance' },
    ]);
    expect(api.registry.get(`${key}\\Instances\\FltBridge Instance`)).toEqual([
      { name: 'Altitude', type: 'sz', value: '370030' },
      { name: 'Flags', type: 'dword', value: 0 },
    ]);
    expect(api.registry.get(`${key}\\Instances\\FltBridge Watch Instance`)).toEqual([
      { name: 'Altitude', type: 'sz', value: '370040' },
      { name: 'Flags', type: 'dword', value: 1 },
    ]);
    // Reinstalling keeps the service and rewrites the values.
    expect(new DriverAdmin(api).install({ infPath: inf }).existed).toBe(true);
  });

  it('keeps DRIVER in step with driver/fltbridge.inf', () => {
    const inf = readFileSync(
      join(import.meta.dirname, '..', '..', 'driver', 'fltbridge.inf'),
      'utf8',
    );
    const value = (name: string) =>
      new RegExp(`^${name.replace('.', '\\.')}\\s*=\\s*"?([^"\\r\\n]*)"?`, 'm').exec(inf)?.[1];
    expect(value('ServiceName')).toBe(DRIVER.service);
    expect(value('DefaultInstance')).toBe(DRIVER.defaultInstance);
    expect(value('Instance1.Name')).toBe(DRIVER.instances[0].name);
    expect(value('Instance1.Altitude')).toBe(DRIVER.instances[0].altitude);
    expect(value('Instance2.Name')).toBe(DRIVER.instances[1].name);
    expect(value('Instance2.Altitude')).toBe(DRIVER.instances[1].altitude);
    expect(inf).toContain(`LoadOrderGroup   = "${DRIVER.group}"`);
    expect(inf).toContain('Dependencies     = "FltMgr"');
    expect(inf).toMatch(/ServiceType\s*=\s*2/);
    expect(inf).toMatch(/StartType\s*=\s*3/);
  });

  it('needs administrator rights, and says how to get them', () => {
    const api = new FakeWin32();
    api.elevated = false;
    const e = problem(() => new DriverAdmin(api).install({ infPath: driverPackage() }));
    expect(e.problem).toBe('elevation');
    expect(e.message).toContain('needs administrator rights');
    expect(e.hint).toContain('Run as administrator');
    expect(api.services.size).toBe(0);
  });

  it('refuses a package without fltbridge.sys', () => {
    const e = problem(() =>
      new DriverAdmin(new FakeWin32()).install({
        infPath: join(tmpdir(), 'nowhere', 'fltbridge.inf'),
      }),
    );
    expect(e.problem).toBe('no-image');
  });
});

describe('load and unload', () => {
  it('enables SeLoadDriverPrivilege and loads', () => {
    const api = new FakeWin32();
    expect(new DriverAdmin(api).load()).toEqual({ alreadyLoaded: false });
    expect(api.privileges).toEqual(['SeLoadDriverPrivilege']);
    api.loadResult = 0x80070420; // already running
    expect(new DriverAdmin(api).load()).toEqual({ alreadyLoaded: true });
  });

  it('without administrator rights: one message, what to do', () => {
    const api = new FakeWin32();
    api.elevated = false;
    const e = problem(() => new DriverAdmin(api).load());
    expect(e).toMatchObject({ problem: 'elevation', code: 'E_DRIVER' });
    expect(e.hint).toContain('Run as administrator');
  });

  it('test signing off: says to turn it on (and about Secure Boot)', () => {
    const api = new FakeWin32();
    api.signing = false;
    api.secure = true;
    api.loadResult = 0x80070241;
    const e = problem(() => new DriverAdmin(api).load());
    expect(e.problem).toBe('test-signing');
    expect(e.message).toContain('HRESULT 0x80070241 (ERROR_INVALID_IMAGE_HASH)');
    expect(e.message).toContain('test signing is off');
    expect(e.hint).toContain('bcdedit /set testsigning on');
    expect(e.hint).toContain('Secure Boot is on');
  });

  it('unsigned driver with test signing on: says to sign it and trust the certificate', () => {
    const api = new FakeWin32();
    api.loadResult = 0x80070241;
    const e = problem(() => new DriverAdmin(api).load());
    expect(e.problem).toBe('unsigned');
    expect(e.message).toContain('unsigned or signed by a certificate this machine does not trust');
    expect(e.hint).toContain('signtool sign');
    expect(e.hint).toContain('TrustedPublisher');
  });

  it('not installed, or installed without its image', () => {
    const api = new FakeWin32();
    api.loadResult = 0x80070002;
    expect(problem(() => new DriverAdmin(api).load())).toMatchObject({ problem: 'not-installed' });
    expect(problem(() => new DriverAdmin(api).load()).hint).toContain('fltbridge driver install');
    new DriverAdmin(api).install({ infPath: driverPackage() });
    expect(problem(() => new DriverAdmin(api).load())).toMatchObject({ problem: 'image-missing' });
  });

  it('names an altitude collision', () => {
    const api = new FakeWin32();
    api.loadResult = 0x801f0011;
    expect(problem(() => new DriverAdmin(api).load())).toMatchObject({
      problem: 'altitude-collision',
    });
  });

  it('unloads, and treats "not loaded" as done', () => {
    const api = new FakeWin32();
    expect(new DriverAdmin(api).unload()).toEqual({ wasLoaded: true });
    api.unloadResult = 0x801f0013;
    expect(new DriverAdmin(api).unload()).toEqual({ wasLoaded: false });
  });

  it('uninstall unloads and deletes the service', () => {
    const api = new FakeWin32();
    new DriverAdmin(api).install({ infPath: driverPackage() });
    expect(new DriverAdmin(api).uninstall()).toEqual({ removed: true });
    expect(new DriverAdmin(api).uninstall()).toEqual({ removed: false });
  });
});

describe('status', () => {
  it('reports loaded, altitude and attached volumes', async () => {
    const api = new FakeWin32();
    new DriverAdmin(api).install({ infPath: driverPackage() });
    api.filters = [
      { name: 'WdFilter', altitude: '328010', instances: 3 },
      { name: 'FltBridge', altitude: '370030', instances: 2 },
    ];
    api.instances = [
      {
        name: 'FltBridge Instance',
        altitude: '370030',
        volume: '\\Device\\HarddiskVolume3',
        dosName: 'C:',
      },
      { name: 'FltBridge Instance', altitude: '370030', volume: '\\Device\\HarddiskVolume5' },
    ];
    const s = await createDriverManager(api).status();
    expect(s).toMatchObject({
      installed: true,
      loaded: true,
      altitude: '370030',
      instances: ['C:', '\\Device\\HarddiskVolume5'],
      elevated: true,
      testSigning: true,
    });
  });

  it('not loaded when FilterFindFirst finds no filter of that name', () => {
    const api = new FakeWin32();
    api.filters = 0x80070103; // ERROR_NO_MORE_ITEMS
    expect(new DriverAdmin(api).status()).toMatchObject({
      installed: false,
      loaded: false,
      instances: [],
    });
  });

  it('needs elevation when fltlib refuses the query', () => {
    const api = new FakeWin32();
    api.filters = 0x80070005;
    expect(problem(() => new DriverAdmin(api).status())).toMatchObject({ problem: 'elevation' });
  });
});

describe('fltlib structures', () => {
  function utf16(s: string): Buffer {
    return Buffer.from(s, 'utf16le');
  }

  it('decodes FILTER_AGGREGATE_STANDARD_INFORMATION (minifilter entries)', () => {
    const name = utf16('fltbridge');
    const altitude = utf16('370030');
    const buf = Buffer.alloc(28 + name.length + altitude.length);
    buf.writeUInt32LE(0, 0); // NextEntryOffset
    buf.writeUInt32LE(1, 4); // FLTFL_ASI_IS_MINIFILTER
    buf.writeUInt32LE(2, 16); // NumberOfInstances
    buf.writeUInt16LE(name.length, 20);
    buf.writeUInt16LE(28, 22);
    buf.writeUInt16LE(altitude.length, 24);
    buf.writeUInt16LE(28 + name.length, 26);
    name.copy(buf, 28);
    altitude.copy(buf, 28 + name.length);
    expect(parseFilterAggregate(buf, buf.length)).toEqual([
      { name: 'fltbridge', altitude: '370030', instances: 2 },
    ]);
    buf.writeUInt32LE(2, 4); // a legacy filter: skipped
    expect(parseFilterAggregate(buf, buf.length)).toEqual([]);
  });

  it('decodes INSTANCE_FULL_INFORMATION', () => {
    const parts = ['FltBridge Instance', '370030', '\\Device\\HarddiskVolume3', 'fltbridge'].map(
      utf16,
    );
    const buf = Buffer.alloc(20 + parts.reduce((n, p) => n + p.length, 0));
    let at = 20;
    parts.forEach((p, i) => {
      buf.writeUInt16LE(p.length, 4 + i * 4);
      buf.writeUInt16LE(at, 6 + i * 4);
      p.copy(buf, at);
      at += p.length;
    });
    expect(parseInstanceFull(buf, buf.length)).toEqual([
      { name: 'FltBridge Instance', altitude: '370030', volume: '\\Device\\HarddiskVolume3' },
    ]);
  });
});
