#include "final_path.h"

#include <windows.h>

#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "file_io.h"
#include "iocp_pump.h"
#include "js_util.h"
#include "ntstatus_util.h"

namespace fltb {
namespace {

constexpr uint32_t kStatusNoMemory = 0xC0000017u;
constexpr DWORD kFinalPathFlags = FILE_NAME_NORMALIZED | VOLUME_NAME_NT;
// GetFinalPathNameByHandleW reports the size it needs; the name can change between two calls
// (a rename), so the retries are bounded.
constexpr int kSizeAttempts = 4;

// Owns one file handle (CloseHandle at scope exit).
class ScopedHandle {
 public:
  explicit ScopedHandle(HANDLE handle) : handle_(handle) {}
  ~ScopedHandle() {
    if (valid()) CloseHandle(handle_);
  }
  ScopedHandle(const ScopedHandle&) = delete;
  ScopedHandle& operator=(const ScopedHandle&) = delete;

  bool valid() const { return handle_ != nullptr && handle_ != INVALID_HANDLE_VALUE; }
  HANDLE get() const { return handle_; }

 private:
  HANDLE handle_;
};

StatusInfo Status(uint32_t status, uint32_t win32, StatusSource source) {
  StatusInfo info;
  info.status = status;
  info.win32 = win32;
  info.source = source;
  return info;
}

class FinalPathOp : public Operation {
 public:
  FinalPathOp(uint32_t request, std::u16string path)
      : Operation(request), path_(std::move(path)) {}

  void Completed(Pump& /*pump*/, DWORD bytes, bool /*posted*/, std::vector<Record>* out) override {
    Record r;
    r.kind = Record::Kind::kIo;
    r.request = request();
    FillStatus(bytes, &r);
    r.has_data = true;
    r.data = std::move(name_);
    out->push_back(std::move(r));
  }

  // On a runner thread. Sets the outcome; never throws (an allocation failure is reported as
  // STATUS_NO_MEMORY, not as an exception on a thread nobody catches on).
  void Run(bool cancelled) {
    if (cancelled) {
      SetImmediate(Status(kStatusCancelled, ERROR_OPERATION_ABORTED, StatusSource::kFromWin32));
      return;
    }
    try {
      Resolve();
    } catch (const std::bad_alloc&) {
      name_.clear();
      SetImmediate(Status(kStatusNoMemory, ERROR_NOT_ENOUGH_MEMORY, StatusSource::kFromWin32));
    }
  }

 private:
  void Resolve() {
    SetLastError(0);
    ScopedHandle file(CreateFileW(reinterpret_cast<LPCWSTR>(path_.c_str()), FILE_READ_ATTRIBUTES,
                                  FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                  OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, nullptr));
    if (!file.valid()) {
      SetImmediate(StatusForLastError(GetLastError()));
      return;
    }
    std::vector<wchar_t> buffer(MAX_PATH + 1);
    for (int attempt = 0; attempt < kSizeAttempts; ++attempt) {
      DWORD chars = GetFinalPathNameByHandleW(file.get(), buffer.data(),
                                              static_cast<DWORD>(buffer.size()), kFinalPathFlags);
      if (chars == 0) {
        SetImmediate(StatusForLastError(GetLastError()));
        return;
      }
      if (chars < buffer.size()) {
        const size_t bytes = static_cast<size_t>(chars) * sizeof(wchar_t);
        name_.assign(reinterpret_cast<const char*>(buffer.data()), bytes);
        SetImmediate(Status(kStatusSuccess, 0, StatusSource::kTebLastStatus), bytes);
        return;
      }
      // Too small: `chars` is the size needed, terminating NUL included.
      buffer.resize(static_cast<size_t>(chars) + 1);
    }
    SetImmediate(Status(kStatusUnsuccessful, ERROR_GEN_FAILURE, StatusSource::kFromWin32));
  }

  std::u16string path_;
  std::string name_;  // UTF-16LE
};

}  // namespace

Napi::Value FinalPath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<FileSession> session;
  uint32_t request = 0;
  std::u16string path;
  if (!GetSession(info, 0, &session) || !ArgU32(info, 1, "request", &request) ||
      !ArgString16(info, 2, "path", &path)) {
    return env.Undefined();
  }
  if (path.empty()) return ThrowTyped(env, "E_INVALID_ARGUMENT", "path must not be empty");
  Pump& pump = *session->pump;
  auto* op = new FinalPathOp(request, std::move(path));
  pump.Track(op, true);
  // The pump owns `op` from here; when it refuses (shutting down) it has already freed it.
  if (!pump.RunBlocking(op, [](Operation* o, bool cancelled) {
        static_cast<FinalPathOp*>(o)->Run(cancelled);
      })) {
    return ThrowTyped(env, "E_DISPOSED", "the I/O session is closing");
  }
  return env.Undefined();
}

}  // namespace fltb
