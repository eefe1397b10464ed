/**
 * DriverWin32 (driver-admin.ts) over koffi: advapi32 (service control manager, registry, token),
 * fltlib (FilterLoad, FilterUnload, FilterFindFirst/Next, FilterInstanceFindFirst/Next,
 * FilterGetDosName) and kernel32. Short synchronous calls only. koffi is imported when this is
 * first used, and only on Windows.
 *
 * Pointers are BigInts in koffi 3. Out parameters are one-element arrays; structures the calls
 * fill are Buffers decoded here (offsets from fltuserstructures.h and winsvc.h, checked against
 * the mingw-w64 headers: FILTER_AGGREGATE_STANDARD_INFORMATION, INSTANCE_FULL_INFORMATION,
 * QUERY_SERVICE_CONFIGW). koffi keeps each call's last error for the next foreign call, so
 * GetLastError() called through koffi right after a failed call answers for that call.
 *
 * Run for real by the wine suite (test/wine/driver-admin.wine.mjs under Windows node.exe, against
 * Wine's service control manager, registry and fltlib); docs/addon.md lists what Wine answers
 * differently from Windows.
 */
import { copyFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { UnsupportedPlatformError } from '../../bridge/errors.js';
import type {
  DriverWin32,
  FilterInfo,
  InstanceInfo,
  RegistryValue,
  ServiceSpec,
} from './driver-admin.js';

/** HKEY_LOCAL_MACHINE as a 64-bit handle value (sign-extended 0x80000002). */
const HKLM = 0xffffffff80000002n;
/** GetCurrentProcess() pseudo handle. */
const CURRENT_PROCESS = 0xffffffffffffffffn;

const SC_MANAGER_CONNECT = 0x0001;
const SC_MANAGER_CREATE_SERVICE = 0x0002;
const SERVICE_QUERY_CONFIG = 0x0001;
const SERVICE_CHANGE_CONFIG = 0x0002;
const SERVICE_QUERY_STATUS = 0x0004;
const DELETE = 0x00010000;
const SERVICE_ALL_ACCESS = 0x000f01ff;
const KEY_SET_VALUE = 0x0002;
const KEY_CREATE_SUB_KEY = 0x0004;
const KEY_READ = 0x00020019;
const REG_OPTION_NON_VOLATILE = 0;
const REG_SZ = 1;
const REG_EXPAND_SZ = 2;
const REG_BINARY = 3;
const REG_DWORD = 4;
const REG_MULTI_SZ = 7;
const REG_QWORD = 11;
const RRF_RT_ANY = 0x0000ffff;
const RRF_NOEXPAND = 0x10000000;
const ERROR_INSUFFICIENT_BUFFER = 122;
const ERROR_MORE_DATA = 234;
const ERROR_SERVICE_EXISTS = 1073;
const TOKEN_QUERY = 0x0008;
const TOKEN_ADJUST_PRIVILEGES = 0x0020;
const TOKEN_ELEVATION = 20;
const SE_PRIVILEGE_ENABLED = 0x00000002;
const FILTER_AGGREGATE_STANDARD_INFORMATION = 2;
const INSTANCE_FULL_INFORMATION = 2;
const FLTFL_ASI_IS_MINIFILTER = 0x00000001;
const HR_NO_MORE_ITEMS = 0x80070103;
const HR_INSUFFICIENT_BUFFER = 0x8007007a;

type Fn = (...args: unknown[]) => unknown;
interface KoffiLib {
  func(prototype: string): Fn;
}
interface Koffi {
  load(name: string): KoffiLib;
  /** The address of a Buffer's memory (to turn pointers into it back into offsets). */
  address(value: unknown): bigint;
}

function utf16(text: string, terminators = 1): Buffer {
  return Buffer.from(`${text}${'\0'.repeat(terminators)}`, 'utf16le');
}

function readUtf16(buf: Buffer, offset: number, bytes: number): string {
  return buf.toString('utf16le', offset, offset + bytes);
}

/** Decode one FILTER_AGGREGATE_STANDARD_INFORMATION entry chain (exported for tests). */
export function parseFilterAggregate(buf: Buffer, length: number): FilterInfo[] {
  const out: FilterInfo[] = [];
  let at = 0;
  for (;;) {
    if (at + 28 > length) break;
    const next = buf.readUInt32LE(at);
    const flags = buf.readUInt32LE(at + 4);
    if (flags & FLTFL_ASI_IS_MINIFILTER) {
      const instances = buf.readUInt32LE(at + 16);
      const nameLength = buf.readUInt16LE(at + 20);
      const nameOffset = buf.readUInt16LE(at + 22);
      const altitudeLength = buf.readUInt16LE(at + 24);
      const altitudeOffset = buf.readUInt16LE(at + 26);
      out.push({
        name: readUtf16(buf, at + nameOffset, nameLength),
        altitude: readUtf16(buf, at + altitudeOffset, altitudeLength),
        instances,
      });
    }
    if (next === 0) break;
    at += next;
  }
  return out;
}

/** Decode one INSTANCE_FULL_INFORMATION entry chain (exported for tests). */
export function parseInstanceFull(buf: Buffer, length: number): InstanceInfo[] {
  const out: InstanceInfo[] = [];
  let at = 0;
  for (;;) {
    if (at + 20 > length) break;
    const next = buf.readUInt32LE(at);
    const field = (o: number) =>
      readUtf16(buf, at + buf.readUInt16LE(at + o + 2), buf.readUInt16LE(at + o));
    out.push({ name: field(4), altitude: field(8), volume: field(12) });
    if (next === 0) break;
    at += next;
  }
  return out;
}

/** A service's configuration as QueryServiceConfigW reports it. */
export interface ServiceConfig {
  readonly serviceType: number;
  readonly startType: number;
  readonly errorControl: number;
  readonly binaryPath: string;
  readonly group: string;
  readonly tagId: number;
  readonly dependencies: readonly string[];
  readonly startName: string;
  readonly displayName: string;
}

/** A registry value with its type, as RegGetValueW returns it (REG_EXPAND_SZ unexpanded). */
export type RegistryData =
  | { readonly type: 'sz' | 'expand_sz'; readonly value: string }
  | { readonly type: 'multi_sz'; readonly value: readonly string[] }
  | { readonly type: 'dword'; readonly value: number }
  | { readonly type: 'qword'; readonly value: bigint }
  | { readonly type: 'binary' | 'other'; readonly value: Buffer; readonly rawType: number };

/** The koffi binding: DriverWin32 plus read-back of what install wrote (diagnosis, Wine tests). */
export interface KoffiDriverWin32 extends DriverWin32 {
  /** OpenServiceW + QueryServiceConfigW: the configuration, or the Win32 error (1060: none). */
  queryService(name: string): ServiceConfig | number;
  /** RegGetValueW under HKLM: the typed value, or the Win32 error (2: no such key or value). */
  readRegistryValue(subkey: string, name: string): RegistryData | number;
  /** RegOpenKeyExW under HKLM for reading succeeds. */
  registryKeyExists(subkey: string): boolean;
}

/** The NUL-terminated UTF-16 string at `offset`, within `end`. */
function wideAt(buf: Buffer, offset: number, end: number): string {
  let stop = offset;
  while (stop + 1 < end && buf.readUInt16LE(stop) !== 0) stop += 2;
  return buf.toString('utf16le', offset, stop);
}

/** The strings of a REG_MULTI_SZ-style list (each NUL-terminated, an empty one ends it). */
function multiAt(buf: Buffer, offset: number, end: number): string[] {
  const out: string[] = [];
  let at = offset;
  while (at + 1 < end) {
    const text = wideAt(buf, at, end);
    if (text === '') break;
    out.push(text);
    at += (text.length + 1) * 2;
  }
  return out;
}

/**
 * Decode QUERY_SERVICE_CONFIGW (x64: three DWORDs, then pointers at 16, 24, 40, 48 and 56 and
 * dwTagId at 32). Its pointers point into the same buffer, whose address is `base`; a pointer
 * outside the first `length` bytes is refused rather than followed (exported for tests).
 */
export function parseServiceConfig(buf: Buffer, base: bigint, length: number): ServiceConfig {
  const end = Math.min(length, buf.length);
  if (end < 64) throw new RangeError(`QUERY_SERVICE_CONFIGW needs 64 bytes, got ${end}`);
  const offsetOf = (at: number): number | undefined => {
    const pointer = buf.readBigUInt64LE(at);
    if (pointer === 0n) return undefined;
    const offset = pointer - base;
    if (offset < 64n || offset >= BigInt(end))
      throw new RangeError(`QUERY_SERVICE_CONFIGW pointer at ${at} is outside the buffer`);
    return Number(offset);
  };
  const text = (at: number) => {
    const offset = offsetOf(at);
    return offset === undefined ? '' : wideAt(buf, offset, end);
  };
  const deps = offsetOf(40);
  return {
    serviceType: buf.readUInt32LE(0),
    startType: buf.readUInt32LE(4),
    errorControl: buf.readUInt32LE(8),
    binaryPath: text(16),
    group: text(24),
    tagId: buf.readUInt32LE(32),
    dependencies: deps === undefined ? [] : multiAt(buf, deps, end),
    startName: text(48),
    displayName: text(56),
  };
}

/** Decode RegGetValueW's answer: `size` bytes of `type` (exported for tests). */
export function parseRegistryData(type: number, data: Buffer, size: number): RegistryData {
  const bytes = data.subarray(0, size);
  switch (type) {
    case REG_SZ:
    case REG_EXPAND_SZ:
      return { type: type === REG_SZ ? 'sz' : 'expand_sz', value: wideAt(bytes, 0, size) };
    case REG_MULTI_SZ:
      return { type: 'multi_sz', value: multiAt(bytes, 0, size) };
    case REG_DWORD:
      return { type: 'dword', value: bytes.readUInt32LE(0) };
    case REG_QWORD:
      return { type: 'qword', value: bytes.readBigUInt64LE(0) };
    default:
      return {
        type: type === REG_BINARY ? 'binary' : 'other',
        value: Buffer.from(bytes),
        rawType: type,
      };
  }
}

/** The koffi-backed DriverWin32. Windows only. */
export function createKoffiDriverWin32(): KoffiDriverWin32 {
  if (process.platform !== 'win32') {
    throw new UnsupportedPlatformError(
      'driver management (fltlib and the service control manager)',
    );
  }
  const require = createRequire(import.meta.url);
  const koffi = require('koffi') as Koffi;
  const advapi = koffi.load('advapi32.dll');
  const kernel32 = koffi.load('kernel32.dll');
  const fltlib = koffi.load('fltlib.dll');

  const GetLastError = kernel32.func('uint32_t __stdcall GetLastError()');
  const CloseHandle = kernel32.func('int __stdcall CloseHandle(void *h)');
  const GetEnvironmentVariableW = kernel32.func(
    'uint32_t __stdcall GetEnvironmentVariableW(const char16_t *name, _Out_ uint8_t *buffer, uint32_t size)',
  );
  const OpenSCManagerW = advapi.func(
    'void * __stdcall OpenSCManagerW(const char16_t *machine, const char16_t *database, uint32_t access)',
  );
  const CreateServiceW = advapi.func(
    'void * __stdcall CreateServiceW(void *scm, const char16_t *name, const char16_t *display, uint32_t access, uint32_t type, uint32_t start, uint32_t errorControl, const char16_t *path, const char16_t *group, void *tag, const uint8_t *dependencies, const char16_t *user, const char16_t *password)',
  );
  const OpenServiceW = advapi.func(
    'void * __stdcall OpenServiceW(void *scm, const char16_t *name, uint32_t access)',
  );
  const ChangeServiceConfigW = advapi.func(
    'int __stdcall ChangeServiceConfigW(void *service, uint32_t type, uint32_t start, uint32_t errorControl, const char16_t *path, const char16_t *group, void *tag, const uint8_t *dependencies, const char16_t *user, const char16_t *password, const char16_t *display)',
  );
  const QueryServiceConfigW = advapi.func(
    // A plain pointer, not _Out_: the strings' pointers must point into this very Buffer.
    'int __stdcall QueryServiceConfigW(void *service, uint8_t *config, uint32_t size, _Out_ uint32_t *needed)',
  );
  const DeleteService = advapi.func('int __stdcall DeleteService(void *service)');
  const CloseServiceHandle = advapi.func('int __stdcall CloseServiceHandle(void *h)');
  const RegCreateKeyExW = advapi.func(
    'int32_t __stdcall RegCreateKeyExW(void *key, const char16_t *subkey, uint32_t reserved, void *klass, uint32_t options, uint32_t sam, void *security, _Out_ void **result, void *disposition)',
  );
  const RegSetValueExW = advapi.func(
    'int32_t __stdcall RegSetValueExW(void *key, const char16_t *name, uint32_t reserved, uint32_t type, const uint8_t *data, uint32_t size)',
  );
  const RegCloseKey = advapi.func('int32_t __stdcall RegCloseKey(void *key)');
  const RegOpenKeyExW = advapi.func(
    'int32_t __stdcall RegOpenKeyExW(void *key, const char16_t *subkey, uint32_t options, uint32_t sam, _Out_ void **result)',
  );
  const RegGetValueW = advapi.func(
    'int32_t __stdcall RegGetValueW(void *key, const char16_t *subkey, const char16_t *value, uint32_t flags, _Out_ uint32_t *type, _Out_ uint8_t *data, _Inout_ uint32_t *size)',
  );
  const OpenProcessToken = advapi.func(
    'int __stdcall OpenProcessToken(void *process, uint32_t access, _Out_ void **token)',
  );
  const GetTokenInformation = advapi.func(
    'int __stdcall GetTokenInformation(void *token, int klass, _Out_ uint8_t *info, uint32_t length, _Out_ uint32_t *returned)',
  );
  const LookupPrivilegeValueW = advapi.func(
    'int __stdcall LookupPrivilegeValueW(const char16_t *system, const char16_t *name, _Out_ uint8_t *luid)',
  );
  const AdjustTokenPrivileges = advapi.func(
    'int __stdcall AdjustTokenPrivileges(void *token, int disableAll, const uint8_t *state, uint32_t length, void *previous, void *returned)',
  );
  const FilterLoad = fltlib.func('int32_t __stdcall FilterLoad(const char16_t *name)');
  const FilterUnload = fltlib.func('int32_t __stdcall FilterUnload(const char16_t *name)');
  const FilterFindFirst = fltlib.func(
    'int32_t __stdcall FilterFindFirst(int klass, _Out_ uint8_t *buffer, uint32_t size, _Out_ uint32_t *returned, _Out_ void **find)',
  );
  const FilterFindNext = fltlib.func(
    'int32_t __stdcall FilterFindNext(void *find, int klass, _Out_ uint8_t *buffer, uint32_t size, _Out_ uint32_t *returned)',
  );
  const FilterFindClose = fltlib.func('int32_t __stdcall FilterFindClose(void *find)');
  const FilterInstanceFindFirst = fltlib.func(
    'int32_t __stdcall FilterInstanceFindFirst(const char16_t *filter, int klass, _Out_ uint8_t *buffer, uint32_t size, _Out_ uint32_t *returned, _Out_ void **find)',
  );
  const FilterInstanceFindNext = fltlib.func(
    'int32_t __stdcall FilterInstanceFindNext(void *find, int klass, _Out_ uint8_t *buffer, uint32_t size, _Out_ uint32_t *returned)',
  );
  const FilterInstanceFindClose = fltlib.func(
    'int32_t __stdcall FilterInstanceFindClose(void *find)',
  );
  const FilterGetDosName = fltlib.func(
    'int32_t __stdcall FilterGetDosName(const char16_t *volume, _Out_ uint8_t *dos, uint32_t size)',
  );

  const lastError = () => GetLastError() as number;
  const hr = (value: unknown) => (value as number) >>> 0;

  const withScm = <T>(access: number, body: (scm: unknown) => T, denied: T): T | number => {
    const scm = OpenSCManagerW(null, null, access);
    if (!scm) return lastError() || (denied as unknown as number);
    try {
      return body(scm);
    } finally {
      CloseServiceHandle(scm);
    }
  };

  const readValue = (subkey: string, name: string): RegistryData | number => {
    // Grow the buffer to what RegGetValueW asks for (values can change between calls).
    for (let capacity = 512; ; ) {
      const data = Buffer.alloc(capacity);
      const type = [0];
      const size = [capacity];
      const rc = RegGetValueW(HKLM, subkey, name, RRF_RT_ANY | RRF_NOEXPAND, type, data, size);
      if (rc === ERROR_MORE_DATA && (size[0] ?? 0) > capacity && capacity < 1 << 20) {
        capacity = (size[0] ?? capacity) + 64;
        continue;
      }
      if (rc !== 0) return rc as number;
      return parseRegistryData(type[0] ?? 0, data, size[0] ?? 0);
    }
  };

  const readDword = (subkey: string, name: string): number | undefined => {
    const value = readValue(subkey, name);
    return typeof value === 'object' && value.type === 'dword' ? value.value : undefined;
  };

  const readString = (subkey: string, name: string): string | undefined => {
    const value = readValue(subkey, name);
    return typeof value === 'object' && (value.type === 'sz' || value.type === 'expand_sz')
      ? value.value
      : undefined;
  };

  return {
    isElevated() {
      const token: unknown[] = [null];
      if (!OpenProcessToken(CURRENT_PROCESS, TOKEN_QUERY, token)) return false;
      try {
        const info = Buffer.alloc(4);
        const returned = [0];
        if (!GetTokenInformation(token[0], TOKEN_ELEVATION, info, 4, returned)) return false;
        return info.readUInt32LE(0) !== 0;
      } finally {
        CloseHandle(token[0]);
      }
    },
    testSigning() {
      const options = readString('SYSTEM\\CurrentControlSet\\Control', 'SystemStartOptions');
      return options === undefined ? undefined : /\bTESTSIGNING\b/i.test(options);
    },
    secureBoot() {
      const state = readDword(
        'SYSTEM\\CurrentControlSet\\Control\\SecureBoot\\State',
        'UEFISecureBootEnabled',
      );
      return state === undefined ? undefined : state !== 0;
    },
    systemRoot() {
      const buf = Buffer.alloc(1024);
      const n = GetEnvironmentVariableW('SystemRoot', buf, buf.length / 2) as number;
      return n > 0 && n < buf.length / 2 ? buf.toString('utf16le', 0, n * 2) : 'C:\\Windows';
    },
    createService(spec: ServiceSpec) {
      const result = withScm(
        SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE,
        (scm) => {
          const deps = utf16(spec.dependencies.join('\0'), 2);
          const service = CreateServiceW(
            scm,
            spec.name,
            spec.displayName,
            SERVICE_ALL_ACCESS,
            spec.serviceType,
            spec.startType,
            spec.errorControl,
            spec.binaryPath,
            spec.group,
            null,
            deps,
            null,
            null,
          );
          if (service) {
            CloseServiceHandle(service);
            return 0;
          }
          const error = lastError();
          if (error !== ERROR_SERVICE_EXISTS) return error;
          // Already there: bring its configuration back to `spec` (a reinstall repairs a
          // service changed since), and still answer ERROR_SERVICE_EXISTS.
          const existing = OpenServiceW(scm, spec.name, SERVICE_CHANGE_CONFIG);
          if (!existing) return lastError();
          try {
            const changed = ChangeServiceConfigW(
              existing,
              spec.serviceType,
              spec.startType,
              spec.errorControl,
              spec.binaryPath,
              spec.group,
              null,
              deps,
              null,
              null,
              spec.displayName,
            );
            return changed ? ERROR_SERVICE_EXISTS : lastError();
          } finally {
            CloseServiceHandle(existing);
          }
        },
        5,
      );
      return result as number;
    },
    deleteService(name: string) {
      return withScm(
        SC_MANAGER_CONNECT,
        (scm) => {
          const service = OpenServiceW(scm, name, DELETE);
          if (!service) return lastError();
          try {
            return DeleteService(service) ? 0 : lastError();
          } finally {
            CloseServiceHandle(service);
          }
        },
        5,
      ) as number;
    },
    serviceExists(name: string) {
      const found = withScm(
        SC_MANAGER_CONNECT,
        (scm) => {
          const service = OpenServiceW(scm, name, SERVICE_QUERY_STATUS);
          if (!service) return false;
          CloseServiceHandle(service);
          return true;
        },
        false,
      );
      return found === true;
    },
    setRegistryValues(subkey: string, values: readonly RegistryValue[]) {
      const key: unknown[] = [null];
      const rc = RegCreateKeyExW(
        HKLM,
        subkey,
        0,
        null,
        REG_OPTION_NON_VOLATILE,
        KEY_SET_VALUE | KEY_CREATE_SUB_KEY,
        null,
        key,
        null,
      ) as number;
      if (rc !== 0) return rc;
      try {
        for (const v of values) {
          const data = v.type === 'sz' ? utf16(v.value) : Buffer.alloc(4);
          if (v.type === 'dword') data.writeUInt32LE(v.value >>> 0, 0);
          const set = RegSetValueExW(
            key[0],
            v.name,
            0,
            v.type === 'sz' ? REG_SZ : REG_DWORD,
            data,
            data.length,
          ) as number;
          if (set !== 0) return set;
        }
        return 0;
      } finally {
        RegCloseKey(key[0]);
      }
    },
    readRegistryString: readString,
    readRegistryValue: readValue,
    registryKeyExists(subkey: string) {
      const key: unknown[] = [null];
      const rc = RegOpenKeyExW(HKLM, subkey, 0, KEY_READ, key) as number;
      if (rc === 0) RegCloseKey(key[0]);
      return rc === 0;
    },
    queryService(name: string) {
      return withScm(
        SC_MANAGER_CONNECT,
        (scm) => {
          const service = OpenServiceW(scm, name, SERVICE_QUERY_CONFIG);
          if (!service) return lastError();
          try {
            for (let capacity = 1024; ; ) {
              const buf = Buffer.alloc(capacity);
              const needed = [0];
              if (QueryServiceConfigW(service, buf, capacity, needed)) {
                return parseServiceConfig(buf, koffi.address(buf), capacity);
              }
              const error = lastError();
              if (error !== ERROR_INSUFFICIENT_BUFFER || capacity >= 1 << 16) return error;
              capacity = Math.max(capacity * 2, needed[0] ?? 0);
            }
          } finally {
            CloseServiceHandle(service);
          }
        },
        5,
      );
    },
    enablePrivilege(name: string) {
      const token: unknown[] = [null];
      if (!OpenProcessToken(CURRENT_PROCESS, TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, token))
        return lastError();
      try {
        const luid = Buffer.alloc(8);
        if (!LookupPrivilegeValueW(null, name, luid)) return lastError();
        // TOKEN_PRIVILEGES with one LUID_AND_ATTRIBUTES: count, LUID (4-byte aligned), attributes.
        const state = Buffer.alloc(16);
        state.writeUInt32LE(1, 0);
        luid.copy(state, 4);
        state.writeUInt32LE(SE_PRIVILEGE_ENABLED, 12);
        if (!AdjustTokenPrivileges(token[0], 0, state, state.length, null, null))
          return lastError();
        return lastError(); // ERROR_NOT_ALL_ASSIGNED when the token lacks the privilege
      } finally {
        CloseHandle(token[0]);
      }
    },
    filterLoad: (name) => hr(FilterLoad(name)),
    filterUnload: (name) => hr(FilterUnload(name)),
    listFilters() {
      const out: FilterInfo[] = [];
      const buf = Buffer.alloc(4096);
      const returned = [0];
      const find: unknown[] = [null];
      let rc = hr(
        FilterFindFirst(FILTER_AGGREGATE_STANDARD_INFORMATION, buf, buf.length, returned, find),
      );
      if (rc === HR_NO_MORE_ITEMS) return out;
      if (rc !== 0) return rc;
      try {
        while (rc === 0) {
          out.push(...parseFilterAggregate(buf, returned[0] ?? 0));
          rc = hr(
            FilterFindNext(
              find[0],
              FILTER_AGGREGATE_STANDARD_INFORMATION,
              buf,
              buf.length,
              returned,
            ),
          );
        }
        return rc === HR_NO_MORE_ITEMS || rc === HR_INSUFFICIENT_BUFFER ? out : rc;
      } finally {
        FilterFindClose(find[0]);
      }
    },
    listInstances(filter: string) {
      const out: InstanceInfo[] = [];
      const buf = Buffer.alloc(4096);
      const returned = [0];
      const find: unknown[] = [null];
      let rc = hr(
        FilterInstanceFindFirst(filter, INSTANCE_FULL_INFORMATION, buf, buf.length, returned, find),
      );
      if (rc === HR_NO_MORE_ITEMS) return out;
      if (rc !== 0) return rc;
      try {
        while (rc === 0) {
          out.push(...parseInstanceFull(buf, returned[0] ?? 0));
          rc = hr(
            FilterInstanceFindNext(find[0], INSTANCE_FULL_INFORMATION, buf, buf.length, returned),
          );
        }
      } finally {
        FilterInstanceFindClose(find[0]);
      }
      return out.map((i) => {
        const dos = Buffer.alloc(512);
        const got = hr(FilterGetDosName(i.volume, dos, dos.length / 2));
        if (got !== 0) return i;
        const text = dos.toString('utf16le');
        const end = text.indexOf('\0');
        return { ...i, dosName: end >= 0 ? text.slice(0, end) : text };
      });
    },
    copyFile: (from, to) => copyFileSync(from, to),
  };
}
