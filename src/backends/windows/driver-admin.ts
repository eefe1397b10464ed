/**
 * Driver management for `fltbridge driver install|uninstall|load|unload|status` and `doctor`:
 * short synchronous Win32 calls (the service control manager, the registry, fltlib), made through
 * koffi (driver-win32.ts). The logic here talks to the `DriverWin32` interface only, so it is
 * tested everywhere with a fake (test/native/driver-admin.test.ts); the koffi binding runs under
 * Wine in the wine suite (test/wine/driver-admin.test.ts).
 *
 * Installing is what driver/fltbridge.inf does, done directly (no signed catalog needed): copy
 * fltbridge.sys to %SystemRoot%\System32\drivers, create the service (file system driver, demand
 * start, group "FSFilter Activity Monitor", depends on FltMgr; an existing one is reconfigured),
 * write its Description, and write the instance values under Parameters\Instances
 * (DefaultInstance, each instance's Altitude and Flags).
 *
 * Each of the three usual failures gets one clear message naming what to do: missing
 * administrator rights, test signing off, an unsigned (or untrusted) driver.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FltBridgeError } from '../../bridge/errors.js';
import { hexHresult } from './errors.js';

/** What driver/fltbridge.inf installs (kept identical). */
export const DRIVER = {
  service: 'fltbridge',
  displayName: 'fltbridge',
  description: 'fltbridge: oplock and byte-range lock bridge minifilter',
  image: 'fltbridge.sys',
  group: 'FSFilter Activity Monitor',
  dependencies: ['FltMgr'],
  /** SERVICE_FILE_SYSTEM_DRIVER, SERVICE_DEMAND_START, SERVICE_ERROR_NORMAL. */
  serviceType: 2,
  startType: 3,
  errorControl: 1,
  supportedFeatures: 3,
  defaultInstance: 'FltBridge Instance',
  instances: [
    { name: 'FltBridge Instance', altitude: '370030', flags: 0 },
    { name: 'FltBridge Watch Instance', altitude: '370040', flags: 1 },
  ],
} as const;

export const SERVICE_KEY = `SYSTEM\\CurrentControlSet\\Services\\${DRIVER.service}`;

export type RegistryValue =
  | { readonly name: string; readonly type: 'sz'; readonly value: string }
  | { readonly name: string; readonly type: 'dword'; readonly value: number };

export interface FilterInfo {
  readonly name: string;
  readonly altitude: string;
  readonly instances: number;
}

export interface InstanceInfo {
  readonly name: string;
  readonly altitude: string;
  /** \Device\HarddiskVolume3 */
  readonly volume: string;
  /** C: when fltlib knows it */
  readonly dosName?: string;
}

export interface ServiceSpec {
  readonly name: string;
  readonly displayName: string;
  readonly binaryPath: string;
  readonly serviceType: number;
  readonly startType: number;
  readonly errorControl: number;
  readonly group: string;
  readonly dependencies: readonly string[];
}

/** Result of a call that can fail: 0 or the Win32 error / HRESULT. */
export type Code = number;

/** The Win32 calls driver management makes. */
export interface DriverWin32 {
  /** TokenElevation of this process. */
  isElevated(): boolean;
  /** HKLM\SYSTEM\CurrentControlSet\Control\SystemStartOptions has TESTSIGNING; undefined if unknown. */
  testSigning(): boolean | undefined;
  /** UEFI Secure Boot is on; undefined if unknown. */
  secureBoot(): boolean | undefined;
  /** %SystemRoot% */
  systemRoot(): string;
  /** CreateServiceW; Win32 error (ERROR_SERVICE_EXISTS 1073 when it is there). */
  createService(spec: ServiceSpec): Code;
  /** OpenServiceW + DeleteService; Win32 error (ERROR_SERVICE_DOES_NOT_EXIST 1060). */
  deleteService(name: string): Code;
  /** OpenServiceW succeeds. */
  serviceExists(name: string): boolean;
  /** RegCreateKeyExW + RegSetValueExW under HKLM; Win32 error. */
  setRegistryValues(subkey: string, values: readonly RegistryValue[]): Code;
  /** RegGetValueW (REG_SZ / REG_EXPAND_SZ) under HKLM. */
  readRegistryString(subkey: string, name: string): string | undefined;
  /** AdjustTokenPrivileges; Win32 error (ERROR_NOT_ALL_ASSIGNED 1300 when not held). */
  enablePrivilege(name: string): Code;
  /** FilterLoad / FilterUnload: HRESULT. */
  filterLoad(name: string): Code;
  filterUnload(name: string): Code;
  /** FilterFindFirst/Next (FilterAggregateStandardInformation): minifilters, or the HRESULT. */
  listFilters(): readonly FilterInfo[] | Code;
  /** FilterInstanceFindFirst/Next (InstanceFullInformation), or the HRESULT. */
  listInstances(filter: string): readonly InstanceInfo[] | Code;
  copyFile(from: string, to: string): void;
}

export type DriverProblem =
  | 'elevation'
  | 'test-signing'
  | 'unsigned'
  | 'not-installed'
  | 'image-missing'
  | 'marked-for-delete'
  | 'altitude-collision'
  | 'no-image'
  /** This system's filter manager cannot load minifilters (Wine; FilterLoad: ERROR_NOT_SUPPORTED). */
  | 'unsupported'
  | 'failed';

/** A driver-management failure: one line naming the code and what to do. */
export class DriverError extends FltBridgeError {
  readonly problem: DriverProblem;
  /** The Win32 error or HRESULT behind it, when there is one. */
  readonly codeValue: number | undefined;

  constructor(problem: DriverProblem, message: string, hint: string, codeValue?: number) {
    super('E_DRIVER', message, hint);
    this.problem = problem;
    this.codeValue = codeValue;
  }
}

const ERROR_ACCESS_DENIED = 5;
const ERROR_SERVICE_DOES_NOT_EXIST = 1060;
const ERROR_SERVICE_MARKED_FOR_DELETE = 1072;
const ERROR_SERVICE_EXISTS = 1073;
const ERROR_NOT_ALL_ASSIGNED = 1300;
const ERROR_PRIVILEGE_NOT_HELD = 1314;

const HR = {
  FILE_NOT_FOUND: 0x80070002,
  PATH_NOT_FOUND: 0x80070003,
  ACCESS_DENIED: 0x80070005,
  NOT_SUPPORTED: 0x80070032, // ERROR_NOT_SUPPORTED: Wine's fltlib FilterLoad
  ALREADY_RUNNING: 0x80070420, // ERROR_SERVICE_ALREADY_RUNNING
  SERVICE_DISABLED: 0x80070422,
  MARKED_FOR_DELETE: 0x80070430,
  PRIVILEGE_NOT_HELD: 0x80070522,
  INVALID_IMAGE_HASH: 0x80070241, // ERROR_INVALID_IMAGE_HASH (577): signature refused
  FLT_ALTITUDE_COLLISION: 0x801f0011,
  FLT_INSTANCE_NAME_COLLISION: 0x801f0012,
  FLT_FILTER_NOT_FOUND: 0x801f0013,
  NO_MORE_ITEMS: 0x80070103,
} as const;

const ELEVATE =
  'open an elevated prompt (right-click Terminal or PowerShell, Run as administrator) and run the command again';

export function win32Text(code: number): string {
  return `Win32 error ${code}`;
}

/** The one message for missing administrator rights. */
export function elevationError(what: string, code?: number): DriverError {
  const detail =
    code === undefined
      ? ''
      : ` (${code > 0xffff ? `HRESULT ${hexHresult(code)}` : win32Text(code)})`;
  return new DriverError(
    'elevation',
    `${what} needs administrator rights: this prompt is not elevated${detail}`,
    ELEVATE,
    code,
  );
}

export interface InstallOptions {
  /** fltbridge.sys to install; default: beside `infPath`, else already in System32\drivers. */
  readonly sysPath?: string;
  /** driver/fltbridge.inf (or the packaged one): its directory holds fltbridge.sys. */
  readonly infPath?: string;
}

export interface InstallResult {
  readonly imagePath: string;
  readonly copiedFrom: string | undefined;
  /** The service already existed (its registry values were rewritten). */
  readonly existed: boolean;
}

export interface DriverStatusReport {
  readonly installed: boolean;
  readonly loaded: boolean;
  readonly altitude?: string;
  /** Volumes (DOS names where known) the filter is attached to, each once. */
  readonly instances: readonly string[];
  readonly instanceDetails: readonly InstanceInfo[];
  readonly imagePath?: string;
  readonly elevated: boolean;
  readonly testSigning?: boolean;
  readonly secureBoot?: boolean;
}

export class DriverAdmin {
  readonly #api: DriverWin32;

  constructor(api: DriverWin32) {
    this.#api = api;
  }

  #requireElevation(what: string): void {
    if (!this.#api.isElevated()) throw elevationError(what);
  }

  install(options: InstallOptions = {}): InstallResult {
    this.#requireElevation('fltbridge driver install');
    const api = this.#api;
    const target = join(api.systemRoot(), 'System32', 'drivers', DRIVER.image);
    const source =
      options.sysPath ??
      (options.infPath ? join(dirname(options.infPath), DRIVER.image) : undefined);
    if (source !== undefined) {
      if (!existsSync(source)) {
        throw new DriverError(
          'no-image',
          `${source} does not exist`,
          'build or download fltbridge.sys and pass its INF (--inf path\\to\\fltbridge.inf) or its path',
        );
      }
      try {
        api.copyFile(source, target);
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === 'EPERM' || code === 'EACCES')
          throw elevationError('copying fltbridge.sys to System32\\drivers');
        if (code === 'EBUSY') {
          throw new DriverError(
            'failed',
            `${target} is in use (the driver is loaded)`,
            'fltbridge driver unload first',
          );
        }
        throw error;
      }
    } else if (!existsSync(target)) {
      throw new DriverError(
        'no-image',
        `no fltbridge.sys to install: ${target} does not exist and no --inf was given`,
        'pass the driver package: fltbridge driver install --inf path\\to\\fltbridge.inf',
      );
    }
    const code = api.createService({
      name: DRIVER.service,
      displayName: DRIVER.displayName,
      binaryPath: `System32\\drivers\\${DRIVER.image}`,
      serviceType: DRIVER.serviceType,
      startType: DRIVER.startType,
      errorControl: DRIVER.errorControl,
      group: DRIVER.group,
      dependencies: DRIVER.dependencies,
    });
    if (code !== 0 && code !== ERROR_SERVICE_EXISTS)
      throw serviceError('creating the fltbridge service', code);
    const values: [string, RegistryValue[]][] = [
      // What the INF's AddService Description= leaves in the service key.
      [SERVICE_KEY, [{ name: 'Description', type: 'sz', value: DRIVER.description }]],
      [
        `${SERVICE_KEY}\\Parameters`,
        [{ name: 'SupportedFeatures', type: 'dword', value: DRIVER.supportedFeatures }],
      ],
      [
        `${SERVICE_KEY}\\Parameters\\Instances`,
        [{ name: 'DefaultInstance', type: 'sz', value: DRIVER.defaultInstance }],
      ],
      ...DRIVER.instances.map((i): [string, RegistryValue[]] => [
        `${SERVICE_KEY}\\Parameters\\Instances\\${i.name}`,
        [
          { name: 'Altitude', type: 'sz', value: i.altitude },
          { name: 'Flags', type: 'dword', value: i.flags },
        ],
      ]),
    ];
    for (const [key, list] of values) {
      const rc = api.setRegistryValues(key, list);
      if (rc === ERROR_ACCESS_DENIED) throw elevationError(`writing HKLM\\${key}`, rc);
      if (rc !== 0)
        throw new DriverError(
          'failed',
          `writing HKLM\\${key} failed with ${win32Text(rc)}`,
          ELEVATE,
          rc,
        );
    }
    return { imagePath: target, copiedFrom: source, existed: code === ERROR_SERVICE_EXISTS };
  }

  uninstall(): { removed: boolean } {
    this.#requireElevation('fltbridge driver uninstall');
    const api = this.#api;
    // A loaded filter is unloaded first (a deleted service stays until it stops).
    const unload = api.filterUnload(DRIVER.service) >>> 0;
    if (unload !== 0 && unload !== HR.FLT_FILTER_NOT_FOUND && unload !== HR.FILE_NOT_FOUND) {
      throw loadError('fltbridge driver uninstall (unloading it first)', unload, this.#api);
    }
    const code = api.deleteService(DRIVER.service);
    if (code === ERROR_SERVICE_DOES_NOT_EXIST) return { removed: false };
    if (code !== 0) throw serviceError('deleting the fltbridge service', code);
    return { removed: true };
  }

  load(): { alreadyLoaded: boolean } {
    const api = this.#api;
    if (!api.isElevated()) throw elevationError('fltbridge driver load');
    const privilege = api.enablePrivilege('SeLoadDriverPrivilege');
    if (privilege === ERROR_NOT_ALL_ASSIGNED || privilege === ERROR_PRIVILEGE_NOT_HELD) {
      throw elevationError('fltbridge driver load (SeLoadDriverPrivilege)', privilege);
    }
    const hr = api.filterLoad(DRIVER.service) >>> 0;
    if (hr === 0) return { alreadyLoaded: false };
    if (hr === HR.ALREADY_RUNNING || hr === HR.FLT_INSTANCE_NAME_COLLISION)
      return { alreadyLoaded: true };
    throw loadError('fltbridge driver load', hr, api);
  }

  unload(): { wasLoaded: boolean } {
    const api = this.#api;
    if (!api.isElevated()) throw elevationError('fltbridge driver unload');
    api.enablePrivilege('SeLoadDriverPrivilege');
    const hr = api.filterUnload(DRIVER.service) >>> 0;
    if (hr === 0) return { wasLoaded: true };
    if (hr === HR.FLT_FILTER_NOT_FOUND) return { wasLoaded: false };
    throw loadError('fltbridge driver unload', hr, api);
  }

  status(): DriverStatusReport {
    const api = this.#api;
    const elevated = api.isElevated();
    const installed = api.serviceExists(DRIVER.service);
    const imagePath = installed ? api.readRegistryString(SERVICE_KEY, 'ImagePath') : undefined;
    const testSigning = api.testSigning();
    const secureBoot = api.secureBoot();
    const extras = {
      ...(imagePath !== undefined ? { imagePath } : {}),
      ...(testSigning !== undefined ? { testSigning } : {}),
      ...(secureBoot !== undefined ? { secureBoot } : {}),
    };
    const filters = api.listFilters();
    if (typeof filters === 'number') {
      const hr = filters >>> 0;
      if (hr === HR.ACCESS_DENIED || hr === HR.PRIVILEGE_NOT_HELD)
        throw elevationError('fltbridge driver status', hr);
      if (hr !== HR.NO_MORE_ITEMS) {
        throw new DriverError(
          'failed',
          `FilterFindFirst failed with HRESULT ${hexHresult(hr)}`,
          'fltmc filters shows the same list',
          hr,
        );
      }
    }
    const mine =
      typeof filters === 'number'
        ? undefined
        : filters.find((f) => f.name.toLowerCase() === DRIVER.service);
    if (!mine)
      return { installed, loaded: false, instances: [], instanceDetails: [], elevated, ...extras };
    const found = api.listInstances(DRIVER.service);
    const details = typeof found === 'number' ? [] : found;
    return {
      installed,
      loaded: true,
      altitude: mine.altitude,
      // Each volume once: the owner and the watch instance share their volumes.
      instances: [...new Set(details.map((i) => i.dosName ?? i.volume))],
      instanceDetails: details,
      elevated,
      ...extras,
    };
  }
}

function serviceError(what: string, code: number): DriverError {
  if (code === ERROR_ACCESS_DENIED) return elevationError(what, code);
  if (code === ERROR_SERVICE_MARKED_FOR_DELETE) {
    return new DriverError(
      'marked-for-delete',
      `${what} failed: the fltbridge service is marked for deletion (${win32Text(code)})`,
      'close services.msc and any tool holding the service open, or reboot, then try again',
      code,
    );
  }
  return new DriverError(
    'failed',
    `${what} failed with ${win32Text(code)}`,
    'fltbridge driver status; sc.exe qc fltbridge',
    code,
  );
}

/** FilterLoad / FilterUnload failures, each with what to do. */
export function loadError(
  what: string,
  hresult: number,
  api: Pick<DriverWin32, 'testSigning' | 'secureBoot' | 'serviceExists'>,
): DriverError {
  const hr = hresult >>> 0;
  const text = `HRESULT ${hexHresult(hr)}`;
  switch (hr) {
    case HR.ACCESS_DENIED:
    case HR.PRIVILEGE_NOT_HELD:
      return elevationError(what, hr);
    case HR.INVALID_IMAGE_HASH: {
      const testSigning = api.testSigning();
      if (testSigning === false) {
        const secure =
          api.secureBoot() === true
            ? ' Secure Boot is on: turn it off in the firmware settings first;'
            : '';
        return new DriverError(
          'test-signing',
          `${what} failed with ${text} (ERROR_INVALID_IMAGE_HASH): Windows refused the driver's signature because test signing is off`,
          `turn test signing on:${secure} run bcdedit /set testsigning on in an elevated prompt, then reboot`,
          hr,
        );
      }
      return new DriverError(
        'unsigned',
        `${what} failed with ${text} (ERROR_INVALID_IMAGE_HASH): fltbridge.sys is unsigned or signed by a certificate this machine does not trust`,
        'sign it with a test certificate (signtool sign /fd SHA256 /f test.pfx fltbridge.sys, or osslsigncode) and add that certificate to the LocalMachine Root and TrustedPublisher stores, then fltbridge driver install again',
        hr,
      );
    }
    case HR.FILE_NOT_FOUND:
    case HR.PATH_NOT_FOUND:
      if (!api.serviceExists(DRIVER.service)) {
        return new DriverError(
          'not-installed',
          `${what} failed with ${text}: the fltbridge service is not installed`,
          'fltbridge driver install --inf path\\to\\fltbridge.inf',
          hr,
        );
      }
      return new DriverError(
        'image-missing',
        `${what} failed with ${text}: the service exists but fltbridge.sys is missing from System32\\drivers`,
        'fltbridge driver install --inf path\\to\\fltbridge.inf (copies the driver again)',
        hr,
      );
    case HR.NOT_SUPPORTED:
      return new DriverError(
        'unsupported',
        `${what} failed with ${text} (ERROR_NOT_SUPPORTED): this system's filter manager cannot load minifilters (as under Wine, whose fltlib.dll does not implement FilterLoad)`,
        'load the driver on Windows 10/11 or Windows Server (fltmc filters works there); here, use the model backend: fltbridge demo, fltbridge run --backend model',
        hr,
      );
    case HR.SERVICE_DISABLED:
      return new DriverError(
        'failed',
        `${what} failed with ${text} (ERROR_SERVICE_DISABLED)`,
        'sc.exe config fltbridge start= demand',
        hr,
      );
    case HR.MARKED_FOR_DELETE:
      return new DriverError(
        'marked-for-delete',
        `${what} failed with ${text}: the service is marked for deletion`,
        'reboot, then fltbridge driver install',
        hr,
      );
    case HR.FLT_ALTITUDE_COLLISION:
      return new DriverError(
        'altitude-collision',
        `${what} failed with ${text} (ERROR_FLT_INSTANCE_ALTITUDE_COLLISION): another filter uses fltbridge's altitude`,
        'fltmc filters lists the filters and their altitudes; change the Altitude values under HKLM\\' +
          `${SERVICE_KEY}\\Parameters\\Instances`,
        hr,
      );
    default:
      return new DriverError(
        'failed',
        `${what} failed with ${text}`,
        'fltmc filters and the System event log say more',
        hr,
      );
  }
}
