#include "blocking_runner.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace fltb {
namespace {
std::atomic<size_t> g_threads_alive{0};
constexpr size_t kMaxIdleThreads = 4;
}  // namespace

size_t RunnerThreadsAlive() { return g_threads_alive.load(); }

struct BlockingRunner::State {
  mutable std::mutex mu;
  std::condition_variable work_cv;
  std::condition_variable exit_cv;
  std::deque<std::pair<uintptr_t, Job>> queue;
  std::unordered_set<uintptr_t> cancelled_before_start;
  std::unordered_map<uintptr_t, HANDLE> running;  // token -> worker thread handle
  size_t threads = 0;
  size_t idle = 0;
  bool stopping = false;
};

namespace {

void WorkerMain(std::shared_ptr<BlockingRunner::State> s) {
  HANDLE self = nullptr;
  // A real handle to this thread (GetCurrentThread() is a pseudo handle) for CancelSynchronousIo.
  DuplicateHandle(GetCurrentProcess(), GetCurrentThread(), GetCurrentProcess(), &self,
                  THREAD_TERMINATE | SYNCHRONIZE, FALSE, 0);
  std::unique_lock<std::mutex> lock(s->mu);
  for (;;) {
    while (s->queue.empty() && !s->stopping) {
      s->idle++;
      s->work_cv.wait(lock);
      s->idle--;
    }
    if (s->queue.empty()) break;  // stopping and nothing left
    auto item = std::move(s->queue.front());
    s->queue.pop_front();
    bool cancelled = s->cancelled_before_start.erase(item.first) > 0;
    s->running.emplace(item.first, self);
    lock.unlock();
    item.second(cancelled);
    item.second = nullptr;  // drop captures outside the lock
    lock.lock();
    s->running.erase(item.first);
    if (s->queue.empty() && s->idle >= kMaxIdleThreads) break;
  }
  s->threads--;
  g_threads_alive--;
  s->exit_cv.notify_all();
  lock.unlock();
  if (self != nullptr) CloseHandle(self);
}

}  // namespace

BlockingRunner::BlockingRunner() : state_(std::make_shared<State>()) {}

BlockingRunner::~BlockingRunner() { Stop(0); }

bool BlockingRunner::Submit(uintptr_t token, Job job) {
  std::unique_lock<std::mutex> lock(state_->mu);
  if (state_->stopping) return false;
  state_->queue.emplace_back(token, std::move(job));
  // Each idle worker takes one job; start a thread when the queue outnumbers them.
  if (state_->idle >= state_->queue.size()) {
    state_->work_cv.notify_one();
    return true;
  }
  state_->threads++;
  g_threads_alive++;
  lock.unlock();
  std::thread(WorkerMain, state_).detach();
  return true;
}

bool BlockingRunner::Cancel(uintptr_t token) {
  std::lock_guard<std::mutex> lock(state_->mu);
  auto running = state_->running.find(token);
  if (running != state_->running.end()) {
    return CancelSynchronousIo(running->second) != FALSE;
  }
  for (const auto& item : state_->queue) {
    if (item.first == token) {
      state_->cancelled_before_start.insert(token);
      return true;
    }
  }
  return false;
}

void BlockingRunner::CancelAll() {
  std::lock_guard<std::mutex> lock(state_->mu);
  for (const auto& item : state_->queue) state_->cancelled_before_start.insert(item.first);
  for (const auto& run : state_->running) CancelSynchronousIo(run.second);
}

size_t BlockingRunner::Stop(DWORD timeout_ms) {
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->stopping = true;
  for (const auto& item : state_->queue) state_->cancelled_before_start.insert(item.first);
  for (const auto& run : state_->running) CancelSynchronousIo(run.second);
  state_->work_cv.notify_all();
  state_->exit_cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] {
    return state_->queue.empty() && state_->running.empty();
  });
  return state_->queue.size() + state_->running.size();
}

size_t BlockingRunner::Pending() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->queue.size() + state_->running.size();
}

size_t BlockingRunner::Threads() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->threads;
}

}  // namespace fltb
