/**
 * DriverWin32 (driver-admin.ts) over koffi: advapi32 (service control manager, registry, token),
 * fltlib (FilterLoad, FilterUnload, FilterFindFirst/Next, FilterInstanceFindFirst/Next,
 * FilterGetDosName) and kernel32. Short synchronous calls only. koffi is imported when this is
 * first used, and only on Windows.
 *
 * Pointers are BigInts in koffi 3. Out parameters are one-element arrays; structures the calls
 * fill are Buffers decoded here (offsets from fltuserstructures.h, checked against the mingw-w64
 * headers: FILTER_AGGREGATE_STANDARD_INFORMATION and INSTANCE_FULL_INFORMATION).
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
const SERVICE_QUERY_STATUS = 0x0004;
const DELETE = 0x00010000;
const SERVICE_ALL_ACCESS = 0x000f01ff;
const KEY_SET_VALUE = 0x0002;
const KEY_CREATE_SUB_KEY = 0x0004;
const REG_OPTION_NON_VOLATILE = 0;
const REG_SZ = 1;
const REG_DWORD = 4;
const RRF_RT_REG_SZ = 0x00000002;
const RRF_RT_REG_EXPAND_SZ = 0x00000004;
const RRF_RT_REG_DWORD = 0x00000010;
const RRF_NOEXPAND = 0x10000000;
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

/** The koffi-backed DriverWin32. Windows only. */
export function createKoffiDriverWin32(): DriverWin32 {
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
  const DeleteService = advapi.func('int __stdcall DeleteService(void *service)');
  const CloseServiceHandle = advapi.func('int __stdcall CloseServiceHandle(void *h)');
  const RegCreateKeyExW = advapi.func(
    'int32_t __stdcall RegCreateKeyExW(void *key, const char16_t *subkey, uint32_t reserved, void *klass, uint32_t options, uint32_t sam, void *security, _Out_ void **result, void *disposition)',
  );
  const RegSetValueExW = advapi.func(
    'int32_t __stdcall RegSetValueExW(void *key, const char16_t *name, uint32_t reserved, uint32_t type, const uint8_t *data, uint32_t size)',
  );
  const RegCloseKey = advapi.func('int32_t __stdcall RegCloseKey(void *key)');
  const RegGetValueW = advapi.func(
    'int32_t __stdcall RegGetValueW(void *key, const char16_t *subkey, const char16_t *value, uint32_t flags, void *type, _Out_ uint8_t *data, _Inout_ uint32_t *size)',
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

  const readDword = (subkey: string, name: string): number | undefined => {
    const data = Buffer.alloc(4);
    const size = [4];
    const rc = RegGetValueW(HKLM, subkey, name, RRF_RT_REG_DWORD, null, data, size) as number;
    return rc === 0 ? data.readUInt32LE(0) : undefined;
  };

  const readString = (subkey: string, name: string): string | undefined => {
    const data = Buffer.alloc(4096);
    const size = [data.length];
    const rc = RegGetValueW(
      HKLM,
      subkey,
      name,
      RRF_RT_REG_SZ | RRF_RT_REG_EXPAND_SZ | RRF_NOEXPAND,
      null,
      data,
      size,
    ) as number;
    if (rc !== 0) return undefined;
    return data.toString('utf16le', 0, Math.max(0, (size[0] ?? 2) - 2));
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
          if (!service) return lastError();
          CloseServiceHandle(service);
          return 0;
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
