// Test-client I/O: what a real application does to a file, with every completion (status, Win32
// error, byte count) reported through the session's IOCP pump.
//
// A session is one pump (IOCP + thread + TSFN). Handles opened in it are ids in the per-env
// handle table. Overlapped handles are associated with the session's IOCP, and their ReadFile,
// WriteFile, DeviceIoControl and LockFileEx complete there natively. Calls that are synchronous
// by nature (CreateFileW, CloseHandle, SetFileInformationByHandle, FlushFileBuffers,
// UnlockFileEx) and every call on a synchronous handle run on the session's blocking runner and
// post their completion to the same IOCP.
#pragma once

#include <windows.h>

#include <napi.h>

#include <atomic>
#include <memory>

#include "iocp_pump.h"

namespace fltb {

struct FileSession {
  std::shared_ptr<Pump> pump;
  std::atomic<bool> closing{false};
};

struct FileHandle {
  FileHandle(HANDLE h, bool is_overlapped, FileSession* owner, std::shared_ptr<Pump> p);
  ~FileHandle();
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;

  // CloseHandle, once. The outcome of the first call; later calls report STATUS_INVALID_HANDLE.
  StatusInfo CloseNow();

  const HANDLE handle;
  const bool overlapped;
  FileSession* const session;  // identity only (never dereferenced after the session closes)
  const std::shared_ptr<Pump> pump;
  // Set when JS asked to close: CancelIoEx must no longer use `handle` (it may be reused).
  std::atomic<bool> close_started{false};

 private:
  std::atomic<bool> closed_{false};
};

// File handles alive in the process (diagnostics).
size_t FileHandlesAlive();

// The live session named by argument `index` (JS thread). False after throwing E_INVALID_ARGUMENT
// (unknown id) or E_DISPOSED (closed or closing).
bool GetSession(const Napi::CallbackInfo& info, size_t index, std::shared_ptr<FileSession>* out);

Napi::Value SessionOpen(const Napi::CallbackInfo& info);
Napi::Value SessionRef(const Napi::CallbackInfo& info);
Napi::Value SessionClose(const Napi::CallbackInfo& info);
Napi::Value SessionCancel(const Napi::CallbackInfo& info);
Napi::Value SessionStats(const Napi::CallbackInfo& info);
Napi::Value FileOpen(const Napi::CallbackInfo& info);
Napi::Value FileClose(const Napi::CallbackInfo& info);
Napi::Value FileRead(const Napi::CallbackInfo& info);
Napi::Value FileWrite(const Napi::CallbackInfo& info);
Napi::Value FileIoctl(const Napi::CallbackInfo& info);
Napi::Value FileLock(const Napi::CallbackInfo& info);
Napi::Value FileUnlock(const Napi::CallbackInfo& info);
Napi::Value FileSetInformation(const Napi::CallbackInfo& info);
Napi::Value FileFlush(const Napi::CallbackInfo& info);
Napi::Value FileInfo(const Napi::CallbackInfo& info);

}  // namespace fltb
