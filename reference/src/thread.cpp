#include "racegate/threading/thread.h"

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <pthread.h>
#include <string>
#include <sys/syscall.h>
#include <thread>
#include <typeinfo>
#include <unistd.h>
#include <vector>

#include "racegate/errors.h"
#include "racegate/internal/runtime.h"
#include "racegate/schedule.h"

namespace racegate::threading {
namespace internal {

struct ThreadState {
  std::mutex mu;
  std::condition_variable cv;
  bool started = false;   // guarded by mu
  bool finished = false;  // guarded by mu
  std::thread thread;     // guarded by mu; joined by the first joiner after `finished`
  std::optional<unsigned long> ident;  // written before `started` is published
  std::optional<long> native_id;       // guarded by mu
  std::string name;
  bool daemon = false;
  std::function<void()> target;
};

}  // namespace internal

namespace {

using internal::ThreadState;

std::atomic<int> g_counter{0};
thread_local const std::string* t_current_name = nullptr;

// Non-daemon threads to join when the main program ends.
struct Registry {
  std::mutex mu;
  std::vector<std::weak_ptr<ThreadState>> nondaemon;
};
Registry* g_registry = new Registry();  // leaked on purpose: used from atexit

}  // namespace

Thread::Thread() : Thread(std::function<void()>()) {}

Thread::Thread(std::function<void()> target, std::optional<std::string> name)
    : state_(std::make_shared<ThreadState>()) {
  int n = g_counter.fetch_add(1, std::memory_order_relaxed) + 1;
  state_->name = name ? std::move(*name) : "Thread-" + std::to_string(n);
  state_->target = std::move(target);
}

Thread::~Thread() {
  std::unique_lock lk(state_->mu);
  if (!state_->started || !state_->thread.joinable()) return;
  if (state_->thread.get_id() == std::this_thread::get_id()) {
    state_->thread.detach();  // a thread destroying its own Thread object
    return;
  }
  if (state_->daemon) {
    state_->thread.detach();
    return;
  }
  lk.unlock();
  join();
}

void Thread::run() {
  if (state_->target) state_->target();
}

void Thread::start() {
  schedule::point(schedule::Op::kThreadStart, this);
  racegate::internal::ensure_exit_hook();
  std::unique_lock lk(state_->mu);
  if (state_->started) throw RuntimeError("threads can only be started once");
  state_->started = true;
  if (!state_->daemon) {
    std::lock_guard rl(g_registry->mu);
    auto& v = g_registry->nondaemon;
    std::erase_if(v, [](const std::weak_ptr<ThreadState>& w) { return w.expired(); });
    v.push_back(state_);
  }
  // The new thread keeps the state alive. A plain Thread runs its target from
  // the state and never touches `this`, so the object may go away first; a
  // subclass's run() runs on `this` (see the lifetime rules in thread.h).
  Thread* self = typeid(*this) == typeid(Thread) ? nullptr : this;
  state_->thread = std::thread([self, st = state_] {
    {
      std::lock_guard g(st->mu);
      st->native_id = static_cast<long>(syscall(SYS_gettid));
    }
    t_current_name = &st->name;
    try {
      if (self) {
        self->run();
      } else if (st->target) {
        st->target();
      }
    } catch (...) {
      char buf[1024];
      std::fprintf(stderr, "Exception in thread %s:\n%s\n", st->name.c_str(),
                   racegate::internal::describe_current_exception(buf, sizeof buf));
      std::fflush(stderr);
    }
    t_current_name = nullptr;
    std::lock_guard g(st->mu);
    st->finished = true;
    st->cv.notify_all();
  });
  state_->ident = static_cast<unsigned long>(state_->thread.native_handle());
}

void Thread::join_until(const racegate::internal::Deadline& deadline) {
  schedule::point(schedule::Op::kThreadJoin, this);
  std::unique_lock lk(state_->mu);
  if (!state_->started) throw RuntimeError("cannot join thread before it is started");
  if (state_->thread.joinable() && state_->thread.get_id() == std::this_thread::get_id()) {
    throw RuntimeError("cannot join current thread");
  }
  if (deadline.is_never()) {
    state_->cv.wait(lk, [&] { return state_->finished; });
  } else {
    // Deadline is on steady_clock; condition_variable::wait_until takes it directly.
    while (!state_->finished && !deadline.expired()) {
      state_->cv.wait_for(lk, std::chrono::milliseconds(deadline.remaining_ms()));
    }
  }
  if (state_->finished && state_->thread.joinable()) {
    std::thread t = std::move(state_->thread);
    lk.unlock();
    t.join();
  }
}

void Thread::join() { join_until(racegate::internal::Deadline::never()); }

void Thread::join(racegate::internal::Seconds timeout) {
  join_until(racegate::internal::Deadline::after(timeout));
}

bool Thread::is_alive() const {
  std::lock_guard lk(state_->mu);
  return state_->started && !state_->finished;
}

std::optional<unsigned long> Thread::ident() const {
  std::lock_guard lk(state_->mu);
  return state_->started ? state_->ident : std::nullopt;
}

std::optional<long> Thread::native_id() const {
  std::unique_lock lk(state_->mu);
  return state_->native_id;
}

const std::string& Thread::name() const { return state_->name; }
void Thread::set_name(std::string name) { state_->name = std::move(name); }

bool Thread::daemon() const { return state_->daemon; }

void Thread::set_daemon(bool daemonic) {
  std::lock_guard lk(state_->mu);
  if (state_->started) throw RuntimeError("cannot set daemon status of active thread");
  state_->daemon = daemonic;
}

std::string current_thread_name() {
  if (t_current_name) return *t_current_name;
  if (getpid() == static_cast<pid_t>(syscall(SYS_gettid))) return "MainThread";
  return "Dummy-" + std::to_string(static_cast<unsigned long>(pthread_self()));
}

}  // namespace racegate::threading

namespace racegate::internal {

void join_nondaemon_threads() {
  using threading::internal::ThreadState;
  for (;;) {
    std::shared_ptr<ThreadState> next;
    {
      std::lock_guard lk(threading::g_registry->mu);
      auto& v = threading::g_registry->nondaemon;
      while (!v.empty() && !next) {
        next = v.back().lock();
        v.pop_back();
      }
    }
    if (!next) return;
    std::unique_lock lk(next->mu);
    if (next->thread.joinable() && next->thread.get_id() == std::this_thread::get_id()) continue;
    next->cv.wait(lk, [&] { return next->finished; });
    if (next->thread.joinable()) {
      std::thread t = std::move(next->thread);
      lk.unlock();
      t.join();
    }
  }
}

void reset_threads_after_fork() noexcept {
  // The registry's mutex may have been held by a thread that does not exist in
  // the child: replace it rather than lock it. The old one is leaked.
  threading::g_registry = new threading::Registry();
  threading::t_current_name = nullptr;
}

}  // namespace racegate::internal
