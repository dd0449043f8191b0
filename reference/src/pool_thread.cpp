// mp::ThreadPool's engine: worker threads fed from one queue, and one
// result-handler thread that runs callbacks and makes results ready.
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "racegate/errors.h"
#include "racegate/internal/pool_engine.h"
#include "racegate/schedule.h"
#include "racegate/threading/thread.h"

namespace racegate::internal::pool {

struct ThreadEngineState {
  enum class State { kRun, kClose, kTerminate };

  int processes = 1;
  std::function<void()> initializer;

  std::mutex mu;
  std::condition_variable tasks_cv;    // a task was queued, or the state changed
  std::condition_variable results_cv;  // a result was queued, or a worker left
  State state = State::kRun;                         // guarded by mu
  bool broken = false;                               // guarded by mu
  std::string broken_message;                        // guarded by mu
  std::deque<ThreadTask> tasks;                      // guarded by mu
  std::deque<std::function<void()>> results;         // guarded by mu
  int live_workers = 0;                              // guarded by mu

  // Fixed once the constructor returns.
  std::vector<std::unique_ptr<threading::Thread>> workers;
  std::unique_ptr<threading::Thread> handler;
};

namespace {

// The pool whose worker or handler runs on this thread (to refuse joining
// oneself).
thread_local const ThreadEngineState* t_member_of = nullptr;
// The Thread object running on this thread, if it is one of a pool's.
thread_local const threading::Thread* t_self = nullptr;

// Fails every queued task with BrokenPoolError; the failures run on the
// result-handler thread like any result.
void break_pool(ThreadEngineState& s, const std::string& message) {
  {
    std::lock_guard lk(s.mu);
    if (s.broken || s.state == ThreadEngineState::State::kTerminate) return;
    s.broken = true;
    s.broken_message = message;
    for (auto& t : s.tasks) {
      s.results.push_back([fail = std::move(t.fail), message] {
        fail(std::make_exception_ptr(BrokenPoolError(message)));
      });
    }
    s.tasks.clear();
  }
  s.results_cv.notify_all();
}

void worker_main(ThreadEngineState& s, std::size_t index) {
  t_member_of = &s;
  t_self = s.workers[index].get();
  bool ok = true;
  if (s.initializer) {
    try {
      s.initializer();
    } catch (...) {
      ok = false;
      ErrorInfo info = describe_current_exception();
      std::string name = threading::current_thread_name();
      std::fprintf(stderr, "Exception in thread %s:\n%s: %s\n", name.c_str(), info.type.c_str(),
                   info.message.c_str());
      std::fflush(stderr);
      break_pool(s, "the initializer of pool worker " + name + " raised " + info.type + ": " + info.message +
                        "; the pool is broken: pending and future tasks fail");
    }
  }
  while (ok) {
    ThreadTask task;
    schedule::point(schedule::Op::kQueueGet, &s.tasks);
    {
      std::unique_lock lk(s.mu);
      s.tasks_cv.wait(lk, [&] { return !s.tasks.empty() || s.state != ThreadEngineState::State::kRun; });
      if (s.state == ThreadEngineState::State::kTerminate || s.tasks.empty()) break;
      task = std::move(s.tasks.front());
      s.tasks.pop_front();
    }
    std::function<void()> finish = task.run();  // never throws: errors become the result
    schedule::point(schedule::Op::kQueuePut, &s.results);
    {
      std::lock_guard lk(s.mu);
      if (s.state != ThreadEngineState::State::kTerminate) s.results.push_back(std::move(finish));
    }
    s.results_cv.notify_one();
  }
  {
    std::lock_guard lk(s.mu);
    --s.live_workers;
  }
  s.results_cv.notify_all();
}

void handler_main(ThreadEngineState& s) {
  t_member_of = &s;
  t_self = s.handler.get();
  for (;;) {
    std::function<void()> finish;
    schedule::point(schedule::Op::kQueueGet, &s.results);
    {
      std::unique_lock lk(s.mu);
      s.results_cv.wait(lk, [&] {
        return !s.results.empty() ||
               (s.live_workers == 0 && (s.state != ThreadEngineState::State::kRun || s.broken));
      });
      if (s.results.empty()) break;
      finish = std::move(s.results.front());
      s.results.pop_front();
    }
    finish();  // callbacks catch their own exceptions
  }
}

void join_threads(ThreadEngineState& s) {
  for (auto& w : s.workers) {
    if (w.get() != t_self && w->ident()) w->join();
  }
  if (s.handler && s.handler.get() != t_self && s.handler->ident()) s.handler->join();
}

}  // namespace

ThreadEngine::ThreadEngine(int processes, std::function<void()> initializer)
    : s_(std::make_unique<ThreadEngineState>()) {
  if (processes < 1) throw ValueError("Number of processes must be at least 1");
  s_->processes = processes;
  s_->initializer = std::move(initializer);
  ThreadEngineState* st = s_.get();
  // Workers first, then the handler, so that names follow CPython's order
  // ("Thread-1 (worker)" in a fresh program).
  for (std::size_t i = 0; i < static_cast<std::size_t>(processes); ++i) {
    auto t = std::make_unique<threading::Thread>([st, i] { worker_main(*st, i); });
    t->set_name(t->name() + " (worker)");
    t->set_daemon(true);
    s_->workers.push_back(std::move(t));
  }
  s_->handler = std::make_unique<threading::Thread>([st] { handler_main(*st); });
  s_->handler->set_name(s_->handler->name() + " (_handle_results)");
  s_->handler->set_daemon(true);
  try {
    for (auto& w : s_->workers) {
      {
        std::lock_guard lk(s_->mu);
        ++s_->live_workers;
      }
      try {
        w->start();
      } catch (...) {
        std::lock_guard lk(s_->mu);
        --s_->live_workers;
        throw;
      }
    }
    s_->handler->start();
  } catch (...) {
    {
      std::lock_guard lk(s_->mu);
      s_->state = ThreadEngineState::State::kTerminate;
    }
    s_->tasks_cv.notify_all();
    for (auto& w : s_->workers) {
      if (w->ident()) w->join();
    }
    throw;
  }
}

ThreadEngine::~ThreadEngine() {
  try {
    terminate();
  } catch (...) {
  }
}

int ThreadEngine::processes() const noexcept { return s_->processes; }

void ThreadEngine::check_running() const {
  std::lock_guard lk(s_->mu);
  if (s_->state != ThreadEngineState::State::kRun) throw ValueError("Pool not running");
}

void ThreadEngine::submit(std::vector<ThreadTask> tasks) {
  schedule::point(schedule::Op::kQueuePut, &s_->tasks);
  std::string broken_message;
  {
    std::lock_guard lk(s_->mu);
    if (s_->state != ThreadEngineState::State::kRun) throw ValueError("Pool not running");
    if (s_->broken) {
      broken_message = s_->broken_message;
    } else {
      for (auto& t : tasks) s_->tasks.push_back(std::move(t));
    }
  }
  if (!broken_message.empty()) {
    for (auto& t : tasks) t.fail(std::make_exception_ptr(BrokenPoolError(broken_message)));
    return;
  }
  s_->tasks_cv.notify_all();
}

void ThreadEngine::close() {
  {
    std::lock_guard lk(s_->mu);
    if (s_->state == ThreadEngineState::State::kRun) s_->state = ThreadEngineState::State::kClose;
  }
  s_->tasks_cv.notify_all();
  s_->results_cv.notify_all();
}

void ThreadEngine::terminate() {
  {
    std::lock_guard lk(s_->mu);
    if (s_->state != ThreadEngineState::State::kTerminate) {
      s_->state = ThreadEngineState::State::kTerminate;
      s_->tasks.clear();
      s_->results.clear();
    }
  }
  s_->tasks_cv.notify_all();
  s_->results_cv.notify_all();
  join_threads(*s_);
}

void ThreadEngine::join() {
  {
    std::lock_guard lk(s_->mu);
    if (s_->state == ThreadEngineState::State::kRun) throw ValueError("Pool is still running");
  }
  if (t_member_of == s_.get()) throw RuntimeError("cannot join current thread");
  join_threads(*s_);
}

}  // namespace racegate::internal::pool
