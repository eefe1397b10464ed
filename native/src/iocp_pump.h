// One I/O completion port, one dedicated thread waiting on it, one ThreadSafeFunction that
// carries what completed to JS. A file-I/O session and each port connection own one pump.
//
// Every asynchronous outcome arrives through the IOCP: overlapped I/O completes there natively;
// calls that block run on the pump's BlockingRunner and post their completion there; an
// overlapped call that failed at once (no packet will come) is posted there too. The pump thread
// turns completions into Records and hands them to JS in batches (one TSFN call per batch, never
// a blocking call, so the pump thread never waits for JS).
//
// Lifetime: an Operation is owned by the pump from Track() until its completion is processed.
// The pump object is kept alive by the TSFN until its finalizer has run and joined the thread.
#pragma once

#include <windows.h>

#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "blocking_runner.h"
#include "ntstatus_util.h"

namespace fltb {

class Pump;

// What JS receives for one completion (see addon.cc for the JS shape).
struct Record {
  enum class Kind : uint8_t { kNone, kIo, kSend, kEvents, kPortError, kNotice };
  Kind kind = Kind::kNone;
  uint32_t request = 0;
  uint32_t status = 0;  // NTSTATUS
  uint32_t win32 = 0;
  uint32_t hresult = 0;
  StatusSource source = StatusSource::kIoStatusBlock;
  uint64_t information = 0;
  uint32_t handle = 0;  // open: the new handle id
  bool pended = false;  // the issuing call returned ERROR_IO_PENDING
  bool has_data = false;
  std::string data;  // bytes (read data, FSCTL output, reply, event batch) or notice text
};

class Operation {
 public:
  explicit Operation(uint32_t request);
  virtual ~Operation();
  Operation(const Operation&) = delete;
  Operation& operator=(const Operation&) = delete;

  OVERLAPPED* overlapped() { return &ovl_.ovl; }
  static Operation* FromOverlapped(OVERLAPPED* ovl);
  uint32_t request() const { return request_; }
  // Zero the OVERLAPPED (offset, event) and put the "not written" marker in Internal.
  void ResetOverlapped(uint64_t offset = 0);
  // True when the I/O manager wrote a status into the OVERLAPPED.
  bool IoStatusWritten() const;

  // On the pump thread, exactly once per Track(): the packet arrived. `posted` says it came from
  // PostQueuedCompletionStatus (runner, immediate failure) rather than the I/O manager.
  virtual void Completed(Pump& pump, DWORD bytes, bool posted, std::vector<Record>* out) = 0;
  // The handle for CancelIoEx(handle, overlapped()), or nullptr when that is not allowed now.
  virtual HANDLE CancelTarget() { return nullptr; }

  // Set by Pump::RunBlocking: the op runs on a runner thread (cancel with CancelSynchronousIo).
  bool via_runner = false;
  // Outcome captured when the issuing call failed at once, or by the runner job.
  StatusInfo immediate;
  uint64_t immediate_information = 0;
  bool has_immediate = false;
  void SetImmediate(const StatusInfo& info, uint64_t information = 0) {
    immediate = info;
    immediate_information = information;
    has_immediate = true;
  }

  // Fill a record from the OVERLAPPED (status block) or the captured immediate outcome.
  void FillStatus(DWORD bytes, Record* record) const;

 private:
  struct OverlappedEx {
    OVERLAPPED ovl;
    Operation* owner;
  };
  OverlappedEx ovl_{};
  uint32_t request_;
};

// Operations alive in the whole process (diagnostics: leaks show up here).
size_t OperationsAlive();

class Pump : public std::enable_shared_from_this<Pump> {
 public:
  enum Key : ULONG_PTR { kKeyIo = 1, kKeyPosted = 2, kKeyShutdown = 3, kKeyWake = 4 };

  // Creates the IOCP, the thread and the TSFN (unref'd). `callback(records)` runs on the JS thread.
  static std::shared_ptr<Pump> Create(Napi::Env env, Napi::Function callback, const char* name,
                                      std::string* error);
  ~Pump();

  HANDLE iocp() const { return iocp_; }
  // Route a handle's completions here (CreateIoCompletionPort).
  bool Associate(HANDLE handle, DWORD* error);

  // Own `op` while it is in flight (before issuing it). `owned` false: the caller keeps the
  // memory (port message slots) but must not free it before the completion.
  void Track(Operation* op, bool owned);
  // Stop tracking an op whose issue failed synchronously and that will not be posted.
  void Untrack(Operation* op);

  // Bracket an overlapped call and the bookkeeping after it: a completion that arrives while
  // the issuer still touches the op waits (on the pump thread) until EndIssue, because
  // completing frees the op. The state lives in the pump, which outlives its ops.
  void BeginIssue(Operation* op);
  void EndIssue(Operation* op);
  class IssueScope {
   public:
    IssueScope(Pump& pump, Operation* op) : pump_(pump), op_(op) { pump_.BeginIssue(op_); }
    ~IssueScope() { pump_.EndIssue(op_); }
    IssueScope(const IssueScope&) = delete;
    IssueScope& operator=(const IssueScope&) = delete;

   private:
    Pump& pump_;
    Operation* op_;
  };
  // Deliver the completion of an op through the IOCP (its issue failed at once).
  void PostCompletion(Operation* op);
  // Run `work` on a runner thread; when it returns, the op's completion is posted to the IOCP.
  // The op must be tracked. False when the pump is shutting down (the op is untracked and freed
  // if owned).
  bool RunBlocking(Operation* op, std::function<void(Operation*, bool cancelled)> work);
  // Cancel the in-flight op with this request id. False when none or nothing was cancelled.
  bool Cancel(uint32_t request);
  // Cancel every op running on the runner (CancelSynchronousIo).
  void CancelBlocking() { runner_.CancelAll(); }

  // JS thread only.
  void Ref(Napi::Env env, bool ref);
  // Graceful shutdown: wait (up to `deadline_ms`) for in-flight ops and runner jobs, then run
  // `before_exit(leaked)` on the pump thread (leaked > 0: some I/O never completed, so handles it
  // may still use must not be closed), stop the thread, release the TSFN. The promise resolves
  // with { leaked } after the finalizer joined the thread. Idempotent.
  using BeforeExit = std::function<void(size_t leaked)>;
  Napi::Value Shutdown(Napi::Env env, DWORD deadline_ms, BeforeExit before_exit);

  // From the pump thread: queue records for JS.
  void Deliver(std::vector<Record>* records);
  // Bytes queued for JS and not yet handed over (event backpressure).
  size_t QueuedBytes() const { return queued_bytes_.load(); }
  // Called on the pump thread for kKeyWake packets; `on_drained` on the JS thread after a batch.
  void SetWakeHandler(std::function<void()> handler) { on_wake_ = std::move(handler); }
  void SetDrainedHandler(std::function<void(size_t queued_bytes)> handler) {
    on_drained_ = std::move(handler);
  }
  void PostWake();

  size_t InFlight() const;
  size_t RunnerPending() const { return runner_.Pending(); }
  size_t RunnerThreads() const { return runner_.Threads(); }
  bool shutting_down() const { return shutdown_requested_.load(); }

 private:
  Pump() = default;
  static void CallJs(Napi::Env env, Napi::Function callback, Pump* pump, void* data);
  using Tsfn = Napi::TypedThreadSafeFunction<Pump, void, &Pump::CallJs>;
  static void Finalize(Napi::Env env, std::shared_ptr<Pump>* holder, Pump* pump);

  void Loop();
  void Process(const OVERLAPPED_ENTRY& entry, std::vector<Record>* out);
  // Leak (never free) what is still in flight: the kernel may still write into it.
  size_t AbandonInFlight();

  HANDLE iocp_ = nullptr;
  std::thread thread_;
  Tsfn tsfn_;
  bool finalized_ = false;  // JS thread only

  mutable std::mutex mu_;
  struct Tracked {
    Operation* op;
    std::unique_ptr<Operation> owned;  // null when the caller keeps the memory
  };
  // Keyed by the OVERLAPPED the packet will carry: a packet's pointer is looked up before it is
  // ever dereferenced.
  std::unordered_map<OVERLAPPED*, Tracked> in_flight_;
  std::unordered_map<uint32_t, Operation*> by_request_;
  std::vector<Operation*> issuing_;  // a handful at most: ops between BeginIssue and EndIssue
  std::condition_variable issued_cv_;
  bool accepting_posts_ = true;

  std::mutex queue_mu_;
  std::vector<Record> queue_;
  bool call_scheduled_ = false;
  std::atomic<size_t> queued_bytes_{0};

  std::atomic<bool> shutdown_requested_{false};
  std::atomic<bool> immediate_exit_{false};
  DWORD shutdown_deadline_ms_ = 0;
  BeforeExit before_exit_;
  std::vector<Napi::Promise::Deferred> shutdown_waiters_;  // JS thread only
  size_t leaked_ = 0;

  std::function<void()> on_wake_;
  std::function<void(size_t)> on_drained_;

  BlockingRunner runner_;
};

// Pump threads alive in the process (diagnostics).
size_t PumpThreadsAlive();

}  // namespace fltb
