// Threads for calls that block: CreateFileW (it waits for oplock breaks), CloseHandle of a
// synchronous handle, every operation on a synchronous handle, SetFileInformationByHandle,
// FlushFileBuffers, FilterSendMessage. libuv's 4-thread pool is never used for them: a blocked
// call holds one thread of this runner, and a new thread is started whenever none is idle, so
// an unbounded wait (a lock waiting for its holder) can never starve other work.
//
// A job gets `cancelled == true` when Cancel() reached it before it started: it must then skip
// its call and still report (its completion is how the caller learns the outcome). A running
// job is cancelled with CancelSynchronousIo on its thread.
#pragma once

#include <windows.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace fltb {

class BlockingRunner {
 public:
  using Job = std::function<void(bool cancelled)>;

  BlockingRunner();
  ~BlockingRunner();
  BlockingRunner(const BlockingRunner&) = delete;
  BlockingRunner& operator=(const BlockingRunner&) = delete;

  // Queue `job` under `token` (unique while the job lives). False once stopped.
  bool Submit(uintptr_t token, Job job);
  // Cancel one job: before it starts (it runs with cancelled = true) or while it runs
  // (CancelSynchronousIo). False when the token is unknown or the running call had nothing to
  // cancel.
  bool Cancel(uintptr_t token);
  // Cancel every queued and running job.
  void CancelAll();
  // Refuse new jobs, cancel the others, wait up to `timeout_ms` for the workers to exit.
  // Workers still blocked after that are left to finish on their own (they hold the shared
  // state, never this object). Returns how many were still busy.
  size_t Stop(DWORD timeout_ms);
  // Jobs queued or running.
  size_t Pending() const;
  // Threads alive (busy or idle), for diagnostics.
  size_t Threads() const;

  struct State;  // shared with the (detached) worker threads

 private:
  std::shared_ptr<State> state_;
};

// Worker threads alive in the whole process (diagnostics).
size_t RunnerThreadsAlive();

}  // namespace fltb
