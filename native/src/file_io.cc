#include "file_io.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "addon_data.h"
#include "js_util.h"

namespace fltb {
namespace {

std::atomic<size_t> g_handles_alive{0};
constexpr DWORD kSessionShutdownDeadlineMs = 10000;
constexpr uint32_t kStatusNotImplemented = 0xC0000002u;

StatusInfo Success() {
  StatusInfo info;
  info.status = kStatusSuccess;
  info.win32 = 0;
  info.source = StatusSource::kTebLastStatus;
  return info;
}

StatusInfo Cancelled() {
  StatusInfo info;
  info.status = kStatusCancelled;
  info.win32 = ERROR_OPERATION_ABORTED;
  info.source = StatusSource::kFromWin32;
  return info;
}

// ---------------------------------------------------------------------------------------------
// Operations

// An operation on an open handle (or an open): one Record of kind "io" when it completes.
class FileOp : public Operation {
 public:
  FileOp(uint32_t request, std::shared_ptr<FileHandle> handle)
      : Operation(request), handle_(std::move(handle)) {}

  HANDLE CancelTarget() override {
    if (!handle_ || handle_->close_started.load()) return nullptr;
    return handle_->handle;
  }

  void Completed(Pump& /*pump*/, DWORD bytes, bool /*posted*/, std::vector<Record>* out) override {
    Record r;
    r.kind = Record::Kind::kIo;
    r.request = request();
    FillStatus(bytes, &r);
    if (return_data) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(r.information, buffer.size()));
      r.has_data = true;
      r.data.assign(buffer.data(), n);
    }
    r.handle = result_handle;
    r.pended = pended;
    out->push_back(std::move(r));
  }

  // After the call on a runner thread: the status block if the I/O manager wrote it, else the
  // call's own outcome.
  void CaptureSync(BOOL ok, DWORD bytes) {
    DWORD error = ok ? 0 : GetLastError();
    if (IoStatusWritten()) return;
    SetImmediate(ok ? Success() : StatusForLastError(error), bytes);
  }

  std::shared_ptr<FileHandle> handle_;
  std::string buffer;  // read data, FSCTL output, write data
  std::string input;   // FSCTL input, set-information structure
  uint32_t code = 0;    // FSCTL code, lock flags, information class
  uint64_t length = 0;  // lock / unlock range length
  bool return_data = false;
  uint32_t result_handle = 0;
  bool pended = false;  // the overlapped call returned ERROR_IO_PENDING
};

// Work with no JS-visible result (closing a session's handles).
class InternalOp : public Operation {
 public:
  InternalOp() : Operation(0) {}
  void Completed(Pump&, DWORD, bool, std::vector<Record>*) override {}
};

using Call = BOOL (*)(FileOp* op, HANDLE handle, DWORD* bytes);

enum class IoKind { kGeneric, kLock };

// Issue `call` for `op` on its handle: natively overlapped on an overlapped handle, on the runner
// for a synchronous one. Takes ownership of `op`.
void Issue(FileOp* op, Call call, IoKind kind) {
  const std::shared_ptr<FileHandle>& fh = op->handle_;
  Pump& pump = *fh->pump;
  pump.Track(op, true);
  if (!fh->overlapped) {
    pump.RunBlocking(op, [call](Operation* o, bool cancelled) {
      FileOp* f = static_cast<FileOp*>(o);
      if (cancelled) {
        f->SetImmediate(Cancelled());
        return;
      }
      DWORD bytes = 0;
      BOOL ok = call(f, f->handle_->handle, &bytes);
      f->CaptureSync(ok, bytes);
    });
    return;
  }
  // Until this function returns, the completion (which frees `op`) waits.
  Pump::IssueScope issuing(pump, op);
  BOOL ok = call(op, fh->handle, nullptr);
  DWORD error = ok ? 0 : GetLastError();
  const bool wine_lock = kind == IoKind::kLock && WineVersion() != nullptr;
  if (ok) {
    // Windows queues a completion packet for an overlapped call that succeeded at once. Wine
    // does not for LockFileEx ("I/O completion on lock not implemented yet" in its NtLockFile):
    // post the outcome ourselves there.
    if (wine_lock) {
      op->SetImmediate(Success());
      pump.PostCompletion(op);
    }
    return;
  }
  if (error == ERROR_IO_PENDING) {
    op->pended = true;
    if (wine_lock) {
      // Wine returns STATUS_PENDING for a contested lock on an overlapped handle and never
      // completes it ("Async I/O lock wait not implemented"): no lock is queued. Say so now
      // instead of leaving a request that can never settle.
      StatusInfo info;
      info.status = kStatusNotImplemented;
      info.win32 = Win32FromNtStatus(kStatusNotImplemented);
      info.source = StatusSource::kEmulator;
      op->SetImmediate(info);
      pump.PostCompletion(op);
    }
    return;
  }
  // A success or warning status written to the status block still queues a packet (for example
  // STATUS_BUFFER_OVERFLOW from an FSCTL): wait for it. An error completed synchronously does
  // not: deliver it ourselves, with the status kernelbase recorded for the thread.
  if (op->IoStatusWritten() && !NtError(static_cast<uint32_t>(op->overlapped()->Internal))) {
    return;
  }
  op->SetImmediate(StatusForLastError(error));
  pump.PostCompletion(op);
}

// Run `work` (which sets the op's outcome) on the runner, for calls that are synchronous by
// nature. Takes ownership of `op`.
template <class Work>
void IssueBlocking(FileOp* op, Pump& pump, Work work) {
  pump.Track(op, true);
  pump.RunBlocking(op, [work](Operation* o, bool cancelled) {
    FileOp* f = static_cast<FileOp*>(o);
    if (cancelled) {
      f->SetImmediate(Cancelled());
      return;
    }
    work(f);
  });
}

uint64_t CreateInformation(DWORD creation, bool existed) {
  // IoStatus.Information values: FILE_OPENED 1, FILE_CREATED 2, FILE_OVERWRITTEN 3.
  switch (creation) {
    case CREATE_NEW: return 2;
    case CREATE_ALWAYS: return existed ? 3 : 2;
    case OPEN_EXISTING: return 1;
    case OPEN_ALWAYS: return existed ? 1 : 2;
    case TRUNCATE_EXISTING: return 3;
    default: return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Lookups (JS thread)

bool GetHandle(const Napi::CallbackInfo& info, size_t index, std::shared_ptr<FileHandle>* out) {
  uint32_t id = 0;
  if (!ArgU32(info, index, "handle", &id)) return false;
  AddonData* data = GetAddonData(info.Env());
  switch (data->handles->Find(id, out)) {
    case Lookup::kLive:
      if ((*out)->pump->shutting_down()) {
        ThrowTyped(info.Env(), "E_DISPOSED", "the I/O session of handle " + std::to_string(id) +
                                                  " is closed");
        return false;
      }
      return true;
    case Lookup::kClosed:
      ThrowTyped(info.Env(), "E_HANDLE_CLOSED", "handle " + std::to_string(id) + " is closed");
      return false;
    case Lookup::kUnknown:
    default:
      ThrowTyped(info.Env(), "E_UNKNOWN_HANDLE", "unknown handle " + std::to_string(id));
      return false;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Session lookup (JS thread)

bool GetSession(const Napi::CallbackInfo& info, size_t index,
                std::shared_ptr<FileSession>* out) {
  uint32_t id = 0;
  if (!ArgU32(info, index, "session", &id)) return false;
  AddonData* data = GetAddonData(info.Env());
  switch (data->sessions.Find(id, out)) {
    case Lookup::kLive:
      if ((*out)->closing.load()) break;
      return true;
    case Lookup::kClosed:
      break;
    case Lookup::kUnknown:
      ThrowTyped(info.Env(), "E_INVALID_ARGUMENT", "unknown I/O session " + std::to_string(id));
      return false;
  }
  ThrowTyped(info.Env(), "E_DISPOSED", "I/O session " + std::to_string(id) + " is closed");
  return false;
}

// ---------------------------------------------------------------------------------------------
// FileHandle

FileHandle::FileHandle(HANDLE h, bool is_overlapped, FileSession* owner, std::shared_ptr<Pump> p)
    : handle(h), overlapped(is_overlapped), session(owner), pump(std::move(p)) {
  g_handles_alive++;
}

FileHandle::~FileHandle() {
  if (!closed_.exchange(true)) CloseHandle(handle);
  g_handles_alive--;
}

StatusInfo FileHandle::CloseNow() {
  if (closed_.exchange(true)) {
    StatusInfo info;
    info.status = 0xC0000008u;  // STATUS_INVALID_HANDLE
    info.win32 = ERROR_INVALID_HANDLE;
    info.source = StatusSource::kFromWin32;
    return info;
  }
  if (CloseHandle(handle)) return Success();
  return StatusForLastError(GetLastError());
}

size_t FileHandlesAlive() { return g_handles_alive.load(); }

// ---------------------------------------------------------------------------------------------
// Sessions

// sessionOpen(callback(records)) -> session id
Napi::Value SessionOpen(const Napi::CallbackInfo& info) {
  Napi::Function callback;
  if (!ArgFunction(info, 0, "callback", &callback)) return info.Env().Undefined();
  std::string error;
  std::shared_ptr<Pump> pump = Pump::Create(info.Env(), callback, "fltbridge-io", &error);
  if (!pump) return ThrowTyped(info.Env(), "E_NATIVE", error);
  auto session = std::make_shared<FileSession>();
  session->pump = std::move(pump);
  uint32_t id = GetAddonData(info.Env())->sessions.Insert(session);
  return Napi::Number::New(info.Env(), id);
}

// sessionRef(session, ref): keep the event loop alive (requests in flight) or not.
Napi::Value SessionRef(const Napi::CallbackInfo& info) {
  std::shared_ptr<FileSession> session;
  bool ref = false;
  if (!GetSession(info, 0, &session) || !ArgBool(info, 1, "ref", &ref)) {
    return info.Env().Undefined();
  }
  session->pump->Ref(info.Env(), ref);
  return info.Env().Undefined();
}

// sessionClose(session) -> Promise<{ leaked }>: cancel everything, close every handle of the
// session, wait for the completions, stop the thread.
Napi::Value SessionClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id = 0;
  if (!ArgU32(info, 0, "session", &id)) return env.Undefined();
  AddonData* data = GetAddonData(env);
  std::shared_ptr<FileSession> session = data->sessions.Remove(id);
  if (!session) {
    if (data->sessions.Find(id, nullptr) == Lookup::kUnknown) {
      return ThrowTyped(env, "E_INVALID_ARGUMENT", "unknown I/O session " + std::to_string(id));
    }
    auto deferred = Napi::Promise::Deferred::New(env);
    Napi::Object result = Napi::Object::New(env);
    result.Set("leaked", Napi::Number::New(env, 0));
    deferred.Resolve(result);
    return deferred.Promise();
  }
  session->closing = true;
  FileSession* raw = session.get();
  auto handles = data->handles->RemoveIf([raw](const FileHandle& h) { return h.session == raw; });
  std::vector<std::shared_ptr<FileHandle>> owned;
  for (auto& entry : handles) {
    entry.second->close_started = true;
    CancelIoEx(entry.second->handle, nullptr);
    owned.push_back(std::move(entry.second));
  }
  Pump& pump = *session->pump;
  pump.CancelBlocking();
  if (!owned.empty()) {
    // A synchronous handle's close can wait for I/O in progress: close on the runner.
    auto* op = new InternalOp();
    pump.Track(op, true);
    pump.RunBlocking(op, [owned](Operation*, bool) {
      for (const auto& h : owned) h->CloseNow();
    });
  }
  return pump.Shutdown(env, kSessionShutdownDeadlineMs, nullptr);
}

// sessionCancel(session, request) -> boolean (CancelIoEx or CancelSynchronousIo found it).
Napi::Value SessionCancel(const Napi::CallbackInfo& info) {
  std::shared_ptr<FileSession> session;
  uint32_t request = 0;
  if (!GetSession(info, 0, &session) || !ArgU32(info, 1, "request", &request)) {
    return info.Env().Undefined();
  }
  return Napi::Boolean::New(info.Env(), session->pump->Cancel(request));
}

// sessionStats(session) -> { inFlight, runnerPending, runnerThreads, handles }
Napi::Value SessionStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id = 0;
  if (!ArgU32(info, 0, "session", &id)) return env.Undefined();
  AddonData* data = GetAddonData(env);
  std::shared_ptr<FileSession> session;
  if (data->sessions.Find(id, &session) != Lookup::kLive) {
    return ThrowTyped(env, "E_DISPOSED", "I/O session " + std::to_string(id) + " is closed");
  }
  FileSession* raw = session.get();
  size_t handles = 0;
  // Count without removing: RemoveIf with a predicate that never matches, counting on the way.
  data->handles->RemoveIf([raw, &handles](const FileHandle& h) {
    if (h.session == raw) handles++;
    return false;
  });
  Napi::Object o = Napi::Object::New(env);
  o.Set("inFlight", Napi::Number::New(env, static_cast<double>(session->pump->InFlight())));
  o.Set("runnerPending", Napi::Number::New(env, static_cast<double>(session->pump->RunnerPending())));
  o.Set("runnerThreads", Napi::Number::New(env, static_cast<double>(session->pump->RunnerThreads())));
  o.Set("handles", Napi::Number::New(env, static_cast<double>(handles)));
  return o;
}

// ---------------------------------------------------------------------------------------------
// Open and close

namespace {

class OpenOp : public FileOp {
 public:
  OpenOp(uint32_t request, std::shared_ptr<FileSession> session,
         std::shared_ptr<IdTable<FileHandle>> table)
      : FileOp(request, nullptr), session_(std::move(session)), table_(std::move(table)) {}

  void Run() {
    SetLastError(0);
    HANDLE h = CreateFileW(reinterpret_cast<LPCWSTR>(path.c_str()), access, share, nullptr,
                           creation, flags, nullptr);
    DWORD error = GetLastError();
    if (h == INVALID_HANDLE_VALUE) {
      SetImmediate(StatusForLastError(error));
      return;
    }
    const bool existed = error == ERROR_ALREADY_EXISTS;
    const bool overlapped = (flags & FILE_FLAG_OVERLAPPED) != 0;
    if (overlapped) {
      DWORD assoc_error = 0;
      if (!session_->pump->Associate(h, &assoc_error)) {
        CloseHandle(h);
        SetImmediate(StatusForLastError(assoc_error));
        return;
      }
    }
    auto handle = std::make_shared<FileHandle>(h, overlapped, session_.get(), session_->pump);
    uint32_t id = table_->Insert(handle);
    // The session may have started closing meanwhile: its sweep either saw this handle, or we
    // see `closing` here (both sides order their steps through the table's mutex).
    if (session_->closing.load()) {
      table_->Remove(id);
      handle->close_started = true;
      handle->CloseNow();
      SetImmediate(Cancelled());
      return;
    }
    result_handle = id;
    SetImmediate(Success(), CreateInformation(creation, existed));
  }

  std::u16string path;
  DWORD access = 0, share = 0, creation = 0, flags = 0;

 private:
  std::shared_ptr<FileSession> session_;
  std::shared_ptr<IdTable<FileHandle>> table_;
};

}  // namespace

// open(session, request, path, access, share, creation, flagsAndAttributes): CreateFileW.
// Runs on the runner (a create can wait for oplock breaks). The completion carries the new
// handle id and IoStatus.Information (FILE_OPENED / FILE_CREATED / FILE_OVERWRITTEN).
Napi::Value FileOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<FileSession> session;
  uint32_t request = 0, access = 0, share = 0, creation = 0, flags = 0;
  std::u16string path;
  if (!GetSession(info, 0, &session) || !ArgU32(info, 1, "request", &request) ||
      !ArgString16(info, 2, "path", &path) || !ArgU32(info, 3, "access", &access) ||
      !ArgU32(info, 4, "share", &share) || !ArgU32(info, 5, "creation", &creation) ||
      !ArgU32(info, 6, "flags", &flags)) {
    return env.Undefined();
  }
  if (creation < CREATE_NEW || creation > TRUNCATE_EXISTING) {
    return ThrowTyped(env, "E_INVALID_ARGUMENT", "creation disposition must be 1..5");
  }
  Pump& pump = *session->pump;
  auto* op = new OpenOp(request, session, GetAddonData(env)->handles);
  op->path = std::move(path);
  op->access = access;
  op->share = share;
  op->creation = creation;
  op->flags = flags;
  IssueBlocking(op, pump, [](FileOp* f) { static_cast<OpenOp*>(f)->Run(); });
  return env.Undefined();
}

// close(handle, request): CloseHandle on the runner. The id is closed for JS at once.
Napi::Value FileClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<FileHandle> fh;
  uint32_t request = 0;
  if (!GetHandle(info, 0, &fh) || !ArgU32(info, 1, "request", &request)) return env.Undefined();
  uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  GetAddonData(env)->handles->Remove(id);
  fh->close_started = true;
  Pump& pump = *fh->pump;
  auto* op = new FileOp(request, fh);
  IssueBlocking(op, pump, [](FileOp* f) { f->SetImmediate(f->handle_->CloseNow()); });
  return env.Undefined();
}

// info(handle) -> { overlapped }
Napi::Value FileInfo(const Napi::CallbackInfo& info) {
  std::shared_ptr<FileHandle> fh;
  if (!GetHandle(info, 0, &fh)) return info.Env().Undefined();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("overlapped", Napi::Boolean::New(info.Env(), fh->overlapped));
  return o;
}

// ---------------------------------------------------------------------------------------------
// Read, write, FSCTL, locks

// read(handle, request, offset, length) -> completion with data (IoStatus.Information bytes).
Napi::Value FileRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<FileHandle> fh;
  uint32_t request = 0, length = 0;
  uint64_t offset = 0;
  if (!GetHandle(info, 0, &fh) || !ArgU32(info, 1, "request", &request) ||
      !ArgU64(info, 2, "offset", &offset) || !ArgU32(info, 3, "length", &length)) {
    return env.Undefined();
  }
  auto* op = new FileOp(request, fh);
  op->buffer.resize(length);
  op->return_data = true;
  op->ResetOverlapped(offset);
  Issue(op,
        [](FileOp* f, HANDLE h, DWORD* bytes) -> BOOL {
          return ReadFile(h, f->buffer.data(), static_cast<DWORD>(f->buffer.size()), bytes,
                          f->overlapped());
        },
        IoKind::kGeneric);
  return env.Undefined();
}

// write(handle, request, offset, data)
Napi::Value FileWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<FileHandle> fh;
  uint32_t request = 0;
  uint64_t offset = 0;
  std::string data;
  if (!GetHandle(info, 0, &fh) || !ArgU32(info, 1, "request", &request) ||
      !ArgU64(info, 2, "offset", &offset) || !ArgBytes(info, 3, "data", false, &data)) {
    return env.Undefined();
  }
  if (data.size() > 0xFFFFFFFFu) return ThrowTyped(env, "E_INVALID_ARGUMENT", "data too large");
  auto* op = new FileOp(request, fh);
  op->buffer = std::move(data);
  op->ResetOverlapped(offset);
  Issue(op,
        [](FileOp* f, HANDLE h, DWORD* bytes) -> BOOL {
          return WriteFile(h, f->buffer.data(), static_cast<DWORD>(f->buffer.size()), bytes,
                           f->overlapped());
        },
        IoKind::kGeneric);
  return env.Undefined();
}

// ioctl(handle, request, code, input | null, outputLength) -> completion with the output bytes.
// Oplock FSCTLs (FSCTL_REQUEST_OPLOCK with REQUEST_OPLOCK_INPUT_BUFFER, the legacy requests and
// acknowledgements) go through here; src/backends/windows builds and parses the buffers.
Napi::Value FileIoctl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<FileHandle> fh;
  uint32_t request = 0, code = 0, output_length = 0;
  std::string input;
  if (!GetHandle(info, 0, &fh) || !ArgU32(info, 1, "request", &request) ||
      !ArgU32(info, 2, "code", &code) || !ArgBytes(info, 3, "input", true, &input) ||
      !ArgU32(info, 4, "outputLength", &output_length)) {
    return env.Undefined();
  }
  auto* op = new FileOp(request, fh);
  op->code = code;
  op->input = std::move(input);
  op->buffer.resize(output_length);
  op->return_data = true;
  op->ResetOverlapped();
  Issue(op,
        [](FileOp* f, HANDLE h, DWORD* bytes) -> BOOL {
          void* in = f->input.empty() ? nullptr : &f->input[0];
          void* out = f->buffer.empty() ? nullptr : &f->buffer[0];
          return DeviceIoControl(h, f->code, in, static_cast<DWORD>(f->input.size()), out,
                                 static_cast<DWORD>(f->buffer.size()), bytes, f->overlapped());
        },
        IoKind::kGeneric);
  return env.Undefined();
}

// lock(handle, request, offset, length, exclusive, failImmediately): LockFileEx.
Napi::Value FileLock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<FileHandle> fh;
  uint32_t request = 0;
  uint64_t offset = 0, length = 0;
  bool exclusive = true, fail_immediately = true;
  if (!GetHandle(info, 0, &fh) || !ArgU32(info, 1, "request", &request) ||
      !ArgU64(info, 2, "offset", &offset) || !ArgU64(info, 3, "length", &length) ||
      !ArgBool(info, 4, "exclusive", &exclusive) ||
      !ArgBool(info, 5, "failImmediately", &fail_immediately)) {
    return env.Undefined();
  }
  auto* op = new FileOp(request, fh);
  op->ResetOverlapped(offset);
  DWORD flags = (exclusive ? LOCKFILE_EXCLUSIVE_LOCK : 0) |
                (fail_immediately ? LOCKFILE_FAIL_IMMEDIATELY : 0);
  op->code = flags;
  op->length = length;
  Issue(op,
        [](FileOp* f, HANDLE h, DWORD* /*bytes*/) -> BOOL {
          return LockFileEx(h, f->code, 0, static_cast<DWORD>(f->length & 0xFFFFFFFFu),
                            static_cast<DWORD>(f->length >> 32), f->overlapped());
        },
        IoKind::kLock);
  return env.Undefined();
}

// unlock(handle, request, offset, length): UnlockFileEx. It is synchronous (NtUnlockFile takes no
// APC context, so no completion packet): it runs on the runner and posts its outcome.
Napi::Value FileUnlock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<FileHandle> fh;
  uint32_t request = 0;
  uint64_t offset = 0, length = 0;
  if (!GetHandle(info, 0, &fh) || !ArgU32(info, 1, "request", &request) ||
      !ArgU64(info, 2, "offset", &offset) || !ArgU64(info, 3, "length", &length)) {
    return env.Undefined();
  }
  auto* op = new FileOp(request, fh);
  op->ResetOverlapped(offset);
  op->length = length;
  Pump& pump = *fh->pump;
  IssueBlocking(op, pump, [](FileOp* f) {
    BOOL ok = UnlockFileEx(f->handle_->handle, 0, static_cast<DWORD>(f->length & 0xFFFFFFFFu),
                           static_cast<DWORD>(f->length >> 32), f->overlapped());
    f->CaptureSync(ok, 0);
  });
  return env.Undefined();
}

// setInformation(handle, request, kind, value, replaceIfExists): SetFileInformationByHandle with
// FileEndOfFileInfo ('end-of-file', bigint), FileAllocationInfo ('allocation', bigint),
// FileDispositionInfo ('disposition', boolean) or FileRenameInfo ('rename', target string).
Napi::Value FileSetInformation(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<FileHandle> fh;
  uint32_t request = 0;
  std::string kind;
  if (!GetHandle(info, 0, &fh) || !ArgU32(info, 1, "request", &request) ||
      !ArgString(info, 2, "kind", &kind)) {
    return env.Undefined();
  }
  auto* op = new FileOp(request, fh);
  std::unique_ptr<FileOp> guard(op);
  FILE_INFO_BY_HANDLE_CLASS klass;
  if (kind == "end-of-file" || kind == "allocation") {
    uint64_t size = 0;
    if (!ArgU64(info, 3, "size", &size)) return env.Undefined();
    LARGE_INTEGER value;
    value.QuadPart = static_cast<LONGLONG>(size);
    if (kind == "end-of-file") {
      klass = FileEndOfFileInfo;
      FILE_END_OF_FILE_INFO eof{};
      eof.EndOfFile = value;
      op->input.assign(reinterpret_cast<const char*>(&eof), sizeof(eof));
    } else {
      klass = FileAllocationInfo;
      FILE_ALLOCATION_INFO alloc{};
      alloc.AllocationSize = value;
      op->input.assign(reinterpret_cast<const char*>(&alloc), sizeof(alloc));
    }
  } else if (kind == "disposition") {
    bool delete_file = false;
    if (!ArgBool(info, 3, "deleteFile", &delete_file)) return env.Undefined();
    klass = FileDispositionInfo;
    FILE_DISPOSITION_INFO disposition{};
    disposition.DeleteFile = delete_file ? TRUE : FALSE;
    op->input.assign(reinterpret_cast<const char*>(&disposition), sizeof(disposition));
  } else if (kind == "rename") {
    std::u16string target;
    bool replace = false;
    if (!ArgString16(info, 3, "target", &target) || !ArgBool(info, 4, "replaceIfExists", &replace)) {
      return env.Undefined();
    }
    klass = FileRenameInfo;
    size_t name_bytes = target.size() * sizeof(char16_t);
    size_t total = offsetof(FILE_RENAME_INFO, FileName) + name_bytes + sizeof(char16_t);
    if (total < sizeof(FILE_RENAME_INFO)) total = sizeof(FILE_RENAME_INFO);
    op->input.assign(total, '\0');
    auto* rename = reinterpret_cast<FILE_RENAME_INFO*>(&op->input[0]);
    rename->ReplaceIfExists = replace ? TRUE : FALSE;
    rename->RootDirectory = nullptr;
    rename->FileNameLength = static_cast<DWORD>(name_bytes);
    std::memcpy(rename->FileName, target.data(), name_bytes);
  } else {
    return ThrowTyped(env, "E_INVALID_ARGUMENT",
                      "set-information kind must be end-of-file, allocation, disposition or rename");
  }
  op->code = static_cast<uint32_t>(klass);
  Pump& pump = *fh->pump;
  IssueBlocking(guard.release(), pump, [](FileOp* f) {
    BOOL ok = SetFileInformationByHandle(f->handle_->handle,
                                         static_cast<FILE_INFO_BY_HANDLE_CLASS>(f->code),
                                         &f->input[0], static_cast<DWORD>(f->input.size()));
    f->SetImmediate(ok ? Success() : StatusForLastError(GetLastError()));
  });
  return env.Undefined();
}

// flush(handle, request): FlushFileBuffers on the runner.
Napi::Value FileFlush(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<FileHandle> fh;
  uint32_t request = 0;
  if (!GetHandle(info, 0, &fh) || !ArgU32(info, 1, "request", &request)) return env.Undefined();
  auto* op = new FileOp(request, fh);
  Pump& pump = *fh->pump;
  IssueBlocking(op, pump, [](FileOp* f) {
    BOOL ok = FlushFileBuffers(f->handle_->handle);
    f->SetImmediate(ok ? Success() : StatusForLastError(GetLastError()));
  });
  return env.Undefined();
}

}  // namespace fltb
