#include "ntstatus_util.h"

#include <cstring>
#include <mutex>

namespace fltb {
namespace {

using RtlGetLastNtStatusFn = LONG(WINAPI*)();
using RtlNtStatusToDosErrorFn = ULONG(WINAPI*)(LONG);

std::once_flag g_once;
RtlGetLastNtStatusFn g_get_last_status = nullptr;
RtlNtStatusToDosErrorFn g_status_to_dos = nullptr;
using WineGetVersionFn = const char*(CDECL*)();
const char* g_wine_version = nullptr;

template <class Fn>
Fn Resolve(HMODULE module, const char* name) {
  FARPROC proc = GetProcAddress(module, name);
  Fn fn = nullptr;
  static_assert(sizeof(fn) == sizeof(proc), "function pointer size");
  memcpy(&fn, &proc, sizeof(fn));
  return fn;
}

}  // namespace

void InitNtdllHelpers() {
  std::call_once(g_once, [] {
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    if (ntdll == nullptr) return;
    g_get_last_status = Resolve<RtlGetLastNtStatusFn>(ntdll, "RtlGetLastNtStatus");
    g_status_to_dos = Resolve<RtlNtStatusToDosErrorFn>(ntdll, "RtlNtStatusToDosError");
    WineGetVersionFn wine = Resolve<WineGetVersionFn>(ntdll, "wine_get_version");
    if (wine != nullptr) g_wine_version = wine();
  });
}

const char* WineVersion() { return g_wine_version; }

uint32_t Win32FromNtStatus(uint32_t status) {
  if (status == kStatusSuccess) return 0;
  if (g_status_to_dos == nullptr) return 0;
  // RtlNtStatusToDosError also records the status as the thread's last status; harmless here.
  return static_cast<uint32_t>(g_status_to_dos(static_cast<LONG>(status)));
}

StatusInfo StatusForLastError(DWORD win32_error) {
  StatusInfo info;
  info.win32 = win32_error;
  if (g_get_last_status != nullptr && win32_error != 0) {
    uint32_t last = static_cast<uint32_t>(g_get_last_status());
    uint32_t mapped = (last != kStatusSuccess && last != kStatusPending) ? Win32FromNtStatus(last) : 0;
    // CreateFileW reports CREATE_NEW on an existing file as ERROR_FILE_EXISTS, though the status
    // (OBJECT_NAME_COLLISION) maps to ERROR_ALREADY_EXISTS: the same failure.
    bool rewritten = mapped == ERROR_ALREADY_EXISTS && win32_error == ERROR_FILE_EXISTS;
    if (mapped != 0 && (mapped == win32_error || rewritten)) {
      info.status = last;
      info.source = StatusSource::kTebLastStatus;
      return info;
    }
  }
  info.status = NtStatusFromWin32(win32_error);
  info.source = StatusSource::kFromWin32;
  return info;
}

uint32_t NtStatusFromWin32(DWORD error) {
  switch (error) {
    case ERROR_SUCCESS: return kStatusSuccess;
    case ERROR_INVALID_FUNCTION: return 0xC0000010u;       // STATUS_INVALID_DEVICE_REQUEST
    case ERROR_FILE_NOT_FOUND: return 0xC0000034u;         // STATUS_OBJECT_NAME_NOT_FOUND
    case ERROR_PATH_NOT_FOUND: return 0xC000003Au;         // STATUS_OBJECT_PATH_NOT_FOUND
    case ERROR_ACCESS_DENIED: return 0xC0000022u;          // STATUS_ACCESS_DENIED
    case ERROR_INVALID_HANDLE: return 0xC0000008u;         // STATUS_INVALID_HANDLE
    case ERROR_NOT_ENOUGH_MEMORY: return 0xC0000017u;      // STATUS_NO_MEMORY
    case ERROR_SHARING_VIOLATION: return 0xC0000043u;      // STATUS_SHARING_VIOLATION
    case ERROR_LOCK_VIOLATION: return 0xC0000054u;         // STATUS_FILE_LOCK_CONFLICT (or LOCK_NOT_GRANTED)
    case ERROR_HANDLE_EOF: return 0xC0000011u;             // STATUS_END_OF_FILE
    case ERROR_NOT_SUPPORTED: return 0xC00000BBu;          // STATUS_NOT_SUPPORTED
    case ERROR_FILE_EXISTS: return 0xC0000035u;            // STATUS_OBJECT_NAME_COLLISION
    case ERROR_INVALID_PARAMETER: return kStatusInvalidParameter;
    case ERROR_BROKEN_PIPE: return 0xC000014Bu;            // STATUS_PIPE_BROKEN
    case ERROR_DISK_FULL: return 0xC000007Fu;              // STATUS_DISK_FULL
    case ERROR_INSUFFICIENT_BUFFER: return 0xC0000023u;    // STATUS_BUFFER_TOO_SMALL
    case ERROR_INVALID_NAME: return 0xC0000033u;           // STATUS_OBJECT_NAME_INVALID
    case ERROR_NOT_LOCKED: return 0xC000007Eu;             // STATUS_RANGE_NOT_LOCKED
    case ERROR_ALREADY_EXISTS: return 0xC0000035u;         // STATUS_OBJECT_NAME_COLLISION
    case ERROR_MORE_DATA: return 0x80000005u;              // STATUS_BUFFER_OVERFLOW
    case ERROR_OPLOCK_NOT_GRANTED: return 0xC00000E2u;     // STATUS_OPLOCK_NOT_GRANTED
    case ERROR_INVALID_OPLOCK_PROTOCOL: return 0xC00000E3u;
    case ERROR_OPERATION_ABORTED: return kStatusCancelled;
    case ERROR_IO_PENDING: return kStatusPending;
    case ERROR_NOT_FOUND: return 0xC0000225u;              // STATUS_NOT_FOUND
    case ERROR_DIR_NOT_EMPTY: return 0xC0000101u;          // STATUS_DIRECTORY_NOT_EMPTY
    case ERROR_DELETE_PENDING: return 0xC0000056u;         // STATUS_DELETE_PENDING
    case ERROR_CALL_NOT_IMPLEMENTED: return 0xC0000002u;   // STATUS_NOT_IMPLEMENTED
    default: return kStatusUnsuccessful;
  }
}

}  // namespace fltb
