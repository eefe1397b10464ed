#include "iocp_pump.h"

#include <algorithm>
#include <cstring>

namespace fltb {
namespace {
std::atomic<size_t> g_ops_alive{0};
std::atomic<size_t> g_pumps_alive{0};
constexpr ULONG kEntriesPerWait = 64;
}  // namespace

size_t OperationsAlive() { return g_ops_alive.load(); }
size_t PumpThreadsAlive() { return g_pumps_alive.load(); }

// ---------------------------------------------------------------------------------------------
// Operation

Operation::Operation(uint32_t request) : request_(request) {
  ovl_.owner = this;
  ResetOverlapped();
  g_ops_alive++;
}

Operation::~Operation() { g_ops_alive--; }

Operation* Operation::FromOverlapped(OVERLAPPED* ovl) {
  // OverlappedEx is standard layout with the OVERLAPPED first.
  return reinterpret_cast<OverlappedEx*>(ovl)->owner;
}

void Operation::ResetOverlapped(uint64_t offset) {
  std::memset(&ovl_.ovl, 0, sizeof(ovl_.ovl));
  ovl_.ovl.Offset = static_cast<DWORD>(offset & 0xFFFFFFFFu);
  ovl_.ovl.OffsetHigh = static_cast<DWORD>(offset >> 32);
  // kernelbase itself marks the status block STATUS_PENDING before calling the system service;
  // the I/O manager overwrites it when it writes the final status.
  ovl_.ovl.Internal = kStatusPending;
}

bool Operation::IoStatusWritten() const {
  return static_cast<uint32_t>(ovl_.ovl.Internal) != kStatusPending;
}

void Operation::FillStatus(DWORD bytes, Record* record) const {
  if (has_immediate) {
    record->status = immediate.status;
    record->win32 = immediate.win32;
    record->source = immediate.source;
    record->information = immediate_information;
    return;
  }
  record->status = static_cast<uint32_t>(ovl_.ovl.Internal);
  record->information = static_cast<uint64_t>(ovl_.ovl.InternalHigh);
  record->win32 = Win32FromNtStatus(record->status);
  record->source = StatusSource::kIoStatusBlock;
}

// ---------------------------------------------------------------------------------------------
// Pump: creation, finalization

std::shared_ptr<Pump> Pump::Create(Napi::Env env, Napi::Function callback, const char* name,
                                   std::string* error) {
  std::shared_ptr<Pump> pump(new Pump());
  pump->iocp_ = CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
  if (pump->iocp_ == nullptr) {
    *error = "CreateIoCompletionPort failed with Win32 error " + std::to_string(GetLastError());
    return nullptr;
  }
  auto* holder = new std::shared_ptr<Pump>(pump);
  pump->tsfn_ = Tsfn::New(env, callback, name, 0, 1, pump.get(), &Pump::Finalize, holder);
  if (env.IsExceptionPending()) {
    delete holder;
    CloseHandle(pump->iocp_);
    pump->iocp_ = nullptr;
    *error = "napi_create_threadsafe_function failed";
    return nullptr;
  }
  pump->tsfn_.Unref(env);
  Pump* raw = pump.get();
  try {
    pump->thread_ = std::thread([raw] { raw->Loop(); });
  } catch (const std::exception& e) {
    *error = std::string("cannot start the pump thread: ") + e.what();
    // Nobody will ever call Release from a thread: do it here so the finalizer runs.
    raw->accepting_posts_ = false;
    raw->tsfn_.Release();
    return nullptr;
  }
  return pump;
}

Pump::~Pump() {
  if (thread_.joinable()) thread_.detach();  // never expected: the finalizer joins
  if (iocp_ != nullptr) CloseHandle(iocp_);
}

void Pump::Finalize(Napi::Env env, std::shared_ptr<Pump>* holder, Pump* pump) {
  pump->finalized_ = true;
  if (pump->thread_.joinable()) {
    // The environment is going away while the thread still runs (process exit, worker
    // termination): stop at once, without waiting for in-flight I/O.
    pump->immediate_exit_ = true;
    {
      std::lock_guard<std::mutex> lock(pump->mu_);
      if (pump->accepting_posts_) {
        PostQueuedCompletionStatus(pump->iocp_, 0, kKeyShutdown, nullptr);
      }
    }
    pump->thread_.join();
  }
  if (pump->iocp_ != nullptr) {
    CloseHandle(pump->iocp_);
    pump->iocp_ = nullptr;
  }
  for (auto& waiter : pump->shutdown_waiters_) {
    Napi::Object result = Napi::Object::New(env);
    result.Set("leaked", Napi::Number::New(env, static_cast<double>(pump->leaked_)));
    waiter.Resolve(result);
  }
  pump->shutdown_waiters_.clear();
  delete holder;
}

// ---------------------------------------------------------------------------------------------
// Pump: tracking, posting, cancelling (any thread unless noted)

bool Pump::Associate(HANDLE handle, DWORD* error) {
  if (CreateIoCompletionPort(handle, iocp_, kKeyIo, 0) == nullptr) {
    *error = GetLastError();
    return false;
  }
  return true;
}

void Pump::Track(Operation* op, bool owned) {
  std::lock_guard<std::mutex> lock(mu_);
  Tracked& entry = in_flight_[op->overlapped()];
  entry.op = op;
  entry.owned.reset(owned ? op : nullptr);
  if (op->request() != 0) by_request_[op->request()] = op;
}

void Pump::Untrack(Operation* op) {
  std::unique_ptr<Operation> owned;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = in_flight_.find(op->overlapped());
    if (it == in_flight_.end()) return;
    owned = std::move(it->second.owned);
    in_flight_.erase(it);
    auto req = by_request_.find(op->request());
    if (req != by_request_.end() && req->second == op) by_request_.erase(req);
  }
}

void Pump::BeginIssue(Operation* op) {
  std::lock_guard<std::mutex> lock(mu_);
  issuing_.push_back(op);
}

void Pump::EndIssue(Operation* op) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find(issuing_.begin(), issuing_.end(), op);
    if (it != issuing_.end()) issuing_.erase(it);
  }
  issued_cv_.notify_all();
}

void Pump::PostCompletion(Operation* op) {
  std::lock_guard<std::mutex> lock(mu_);
  // Held while posting: the pump thread clears accepting_posts_ under this lock before it exits,
  // and the IOCP is closed only after that, so a post never reaches a closed (or reused) handle.
  if (!accepting_posts_) return;
  PostQueuedCompletionStatus(iocp_, 0, kKeyPosted, op->overlapped());
}

void Pump::PostWake() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!accepting_posts_) return;
  PostQueuedCompletionStatus(iocp_, 0, kKeyWake, nullptr);
}

bool Pump::RunBlocking(Operation* op, std::function<void(Operation*, bool)> work) {
  op->via_runner = true;
  std::shared_ptr<Pump> self = shared_from_this();
  bool queued = runner_.Submit(reinterpret_cast<uintptr_t>(op),
                               [self, op, work = std::move(work)](bool cancelled) {
                                 work(op, cancelled);
                                 self->PostCompletion(op);
                               });
  if (!queued) Untrack(op);
  return queued;
}

bool Pump::Cancel(uint32_t request) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_request_.find(request);
  if (it == by_request_.end()) return false;
  Operation* op = it->second;
  if (op->via_runner) return runner_.Cancel(reinterpret_cast<uintptr_t>(op));
  HANDLE target = op->CancelTarget();
  if (target == nullptr) return false;
  return CancelIoEx(target, op->overlapped()) != FALSE;
}

size_t Pump::InFlight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_.size();
}

size_t Pump::AbandonInFlight() {
  std::lock_guard<std::mutex> lock(mu_);
  size_t count = in_flight_.size();
  for (auto& entry : in_flight_) {
    (void)entry.second.owned.release();  // deliberately leaked: the kernel may still write into it
  }
  in_flight_.clear();
  by_request_.clear();
  return count;
}

// ---------------------------------------------------------------------------------------------
// Pump: JS side

void Pump::Ref(Napi::Env env, bool ref) {
  if (finalized_) return;
  if (ref) {
    tsfn_.Ref(env);
  } else {
    tsfn_.Unref(env);
  }
}

Napi::Value Pump::Shutdown(Napi::Env env, DWORD deadline_ms, BeforeExit before_exit) {
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
  if (finalized_) {
    Napi::Object result = Napi::Object::New(env);
    result.Set("leaked", Napi::Number::New(env, static_cast<double>(leaked_)));
    deferred.Resolve(result);
    return deferred.Promise();
  }
  shutdown_waiters_.push_back(deferred);
  if (!shutdown_requested_.exchange(true)) {
    shutdown_deadline_ms_ = deadline_ms;
    before_exit_ = std::move(before_exit);
    // Keep the event loop alive until the promise settles.
    tsfn_.Ref(env);
    std::lock_guard<std::mutex> lock(mu_);
    if (accepting_posts_) PostQueuedCompletionStatus(iocp_, 0, kKeyShutdown, nullptr);
  }
  return deferred.Promise();
}

namespace {

const char* KindName(Record::Kind kind) {
  switch (kind) {
    case Record::Kind::kIo: return "io";
    case Record::Kind::kSend: return "send";
    case Record::Kind::kEvents: return "events";
    case Record::Kind::kPortError: return "port-error";
    case Record::Kind::kNotice: return "notice";
    default: return "none";
  }
}

Napi::Object RecordToJs(Napi::Env env, Record& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("kind", Napi::String::New(env, KindName(r.kind)));
  switch (r.kind) {
    case Record::Kind::kEvents:
      o.Set("data", Napi::Buffer<char>::Copy(env, r.data.data(), r.data.size()));
      return o;
    case Record::Kind::kNotice:
      o.Set("message", Napi::String::New(env, r.data));
      return o;
    default:
      break;
  }
  o.Set("request", Napi::Number::New(env, r.request));
  o.Set("status", Napi::Number::New(env, r.status));
  o.Set("win32", Napi::Number::New(env, r.win32));
  o.Set("hresult", Napi::Number::New(env, r.hresult));
  o.Set("source", Napi::Number::New(env, static_cast<double>(r.source)));
  o.Set("information", Napi::BigInt::New(env, r.information));
  if (r.handle != 0) o.Set("handle", Napi::Number::New(env, r.handle));
  if (r.kind == Record::Kind::kIo) o.Set("pended", Napi::Boolean::New(env, r.pended));
  if (r.has_data) o.Set("data", Napi::Buffer<char>::Copy(env, r.data.data(), r.data.size()));
  return o;
}

}  // namespace

void Pump::CallJs(Napi::Env env, Napi::Function callback, Pump* pump, void* /*data*/) {
  std::vector<Record> batch;
  {
    std::lock_guard<std::mutex> lock(pump->queue_mu_);
    batch.swap(pump->queue_);
    pump->call_scheduled_ = false;
  }
  size_t bytes = 0;
  for (const Record& r : batch) bytes += r.data.size();
  size_t left = pump->queued_bytes_.fetch_sub(bytes) - bytes;
  if (env == nullptr || callback.IsEmpty()) return;  // tearing down: nothing to call
  Napi::HandleScope scope(env);
  Napi::Array records = Napi::Array::New(env, batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    records.Set(static_cast<uint32_t>(i), RecordToJs(env, batch[i]));
  }
  batch.clear();
  if (pump->on_drained_) pump->on_drained_(left);
  callback.Call({records});
}

// ---------------------------------------------------------------------------------------------
// Pump thread

void Pump::Deliver(std::vector<Record>* records) {
  if (records->empty()) return;
  size_t bytes = 0;
  for (const Record& r : *records) bytes += r.data.size();
  queued_bytes_ += bytes;
  bool schedule = false;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    for (Record& r : *records) queue_.push_back(std::move(r));
    schedule = !call_scheduled_;
    call_scheduled_ = true;
  }
  records->clear();
  if (schedule && tsfn_.NonBlockingCall() != napi_ok) {
    // The TSFN is closing (environment teardown): nobody will drain the queue.
    std::lock_guard<std::mutex> lock(queue_mu_);
    call_scheduled_ = false;
  }
}

void Pump::Process(const OVERLAPPED_ENTRY& entry, std::vector<Record>* out) {
  // I/O issued without an OVERLAPPED on an associated handle still queues a packet: not ours.
  if (entry.lpOverlapped == nullptr) return;
  Operation* op = nullptr;
  std::unique_ptr<Operation> owned;
  {
    std::unique_lock<std::mutex> lock(mu_);
    // Look the pointer up before touching it: only tracked operations are dereferenced.
    auto found = in_flight_.find(entry.lpOverlapped);
    if (found == in_flight_.end()) return;
    Operation* candidate = found->second.op;
    if (std::find(issuing_.begin(), issuing_.end(), candidate) != issuing_.end()) {
      issued_cv_.wait(lock, [&] {
        return std::find(issuing_.begin(), issuing_.end(), candidate) == issuing_.end();
      });
      found = in_flight_.find(entry.lpOverlapped);
      if (found == in_flight_.end()) return;
    }
    op = found->second.op;
    owned = std::move(found->second.owned);
    in_flight_.erase(found);
    auto req = by_request_.find(op->request());
    if (req != by_request_.end() && req->second == op) by_request_.erase(req);
  }
  op->Completed(*this, entry.dwNumberOfBytesTransferred, entry.lpCompletionKey == kKeyPosted, out);
  // `owned` (if any) is freed here, after Completed (which may re-track a non-owned op).
}

void Pump::Loop() {
  g_pumps_alive++;
  OVERLAPPED_ENTRY entries[kEntriesPerWait];
  std::vector<Record> out;
  bool draining = false;
  ULONGLONG deadline = 0;
  for (;;) {
    if (immediate_exit_) {
      leaked_ += AbandonInFlight();
      break;
    }
    DWORD wait = INFINITE;
    if (draining) {
      if (InFlight() == 0 && runner_.Pending() == 0) break;
      ULONGLONG now = GetTickCount64();
      if (now >= deadline) {
        leaked_ += AbandonInFlight();
        Record notice;
        notice.kind = Record::Kind::kNotice;
        notice.data = "shutdown deadline passed: " + std::to_string(leaked_) +
                      " operation(s) never completed and were abandoned";
        out.push_back(std::move(notice));
        Deliver(&out);
        break;
      }
      wait = static_cast<DWORD>(std::min<ULONGLONG>(50, deadline - now));
    }
    ULONG count = 0;
    if (!GetQueuedCompletionStatusEx(iocp_, entries, kEntriesPerWait, &count, wait, FALSE)) {
      DWORD error = GetLastError();
      if (error == WAIT_TIMEOUT) continue;
      // The port itself failed (closed underneath us): nothing more can arrive.
      leaked_ += AbandonInFlight();
      break;
    }
    for (ULONG i = 0; i < count; ++i) {
      const OVERLAPPED_ENTRY& entry = entries[i];
      switch (entry.lpCompletionKey) {
        case kKeyShutdown:
          if (!draining) {
            draining = true;
            deadline = GetTickCount64() + shutdown_deadline_ms_;
          }
          break;
        case kKeyWake:
          if (on_wake_) on_wake_();
          break;
        default:
          Process(entry, &out);
          break;
      }
    }
    Deliver(&out);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    accepting_posts_ = false;
  }
  size_t still_running = runner_.Stop(0);  // blocked jobs finish on their own; posts are refused
  if (before_exit_) {
    before_exit_(leaked_ + still_running);
    before_exit_ = nullptr;  // drops what it captured (a port connection) on this thread
  }
  g_pumps_alive--;
  tsfn_.Release();
}

}  // namespace fltb
