// NTSTATUS helpers for the addon: the status behind a Win32 failure, the Win32 error of a status,
// and HRESULT pieces. ntdll's helpers are resolved at load with GetProcAddress, so the addon's
// import table stays KERNEL32 + C runtime + FLTLIB + (delay-loaded) NODE.EXE.
#pragma once

#include <windows.h>

#include <cstdint>

namespace fltb {

constexpr uint32_t kStatusSuccess = 0x00000000u;
constexpr uint32_t kStatusPending = 0x00000103u;
constexpr uint32_t kStatusUnsuccessful = 0xC0000001u;
constexpr uint32_t kStatusInvalidParameter = 0xC000000Du;
constexpr uint32_t kStatusCancelled = 0xC0000120u;

// Where a result's NTSTATUS came from. Reported to JS so a reader knows how exact it is.
enum class StatusSource : uint8_t {
  kIoStatusBlock = 0,  // OVERLAPPED.Internal, written by the I/O manager
  kTebLastStatus = 1,  // the thread's last NTSTATUS, set by kernelbase with the Win32 error
  kFromWin32 = 2,      // mapped back from the Win32 error (no exact status available)
  kEmulator = 3,       // the addon completed it because the platform (Wine) never will
};

struct StatusInfo {
  uint32_t status = kStatusSuccess;
  uint32_t win32 = 0;
  StatusSource source = StatusSource::kIoStatusBlock;
};

// Resolve the ntdll helpers once (idempotent, thread-safe).
void InitNtdllHelpers();

// Wine's version string when running under Wine (ntdll exports wine_get_version), else null.
const char* WineVersion();

// The Win32 error Windows reports for a status (RtlNtStatusToDosError); 0 for success codes
// without a Win32 equivalent; ERROR_MR_MID_NOT_FOUND (317) for unknown codes.
uint32_t Win32FromNtStatus(uint32_t status);

// The NTSTATUS behind the Win32 error a call just reported. Must be called on the thread that
// made the call, right after it: reads the TEB's last status when it is consistent with the
// error, otherwise maps the error back.
StatusInfo StatusForLastError(DWORD win32_error);

// The NTSTATUS of a Win32 error, by table (used when the TEB has nothing better).
uint32_t NtStatusFromWin32(DWORD win32_error);

inline bool NtError(uint32_t status) { return (status >> 30) == 3u; }
inline bool NtWarning(uint32_t status) { return (status >> 30) == 2u; }

inline uint32_t HresultFromWin32(DWORD error) {
  return error == 0 ? 0u : ((error & 0x0000FFFFu) | 0x80070000u);
}

// For a failed fltlib call: the Win32 error inside a FACILITY_WIN32 HRESULT, else 0.
inline uint32_t Win32FromHresult(uint32_t hr) {
  return (hr & 0xFFFF0000u) == 0x80070000u ? (hr & 0xFFFFu) : 0u;
}

}  // namespace fltb
