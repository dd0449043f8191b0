// Model-based stateful tests (rapidcheck's rc::state) of RLock and of
// Semaphore / BoundedSemaphore, thread-level and process-level.
//
// Each command runs on one of several "owners": the test's own thread, a
// worker thread, and (for the mp types) a forked child process driven over
// pipes. Commands never block for real: a blocking acquire is generated only
// (with a 10 s timeout, so that a wrong answer fails rather than hangs) when
// the model says it can succeed at once; the others use acquire(false) or a
// zero timeout. The model is an owner and a count (RLock)
// or an integer and a bound (semaphores).
#include <array>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/state.h>

#include "racegate/errors.h"
#include "racegate/mp/process.h"
#include "racegate/mp/rlock.h"
#include "racegate/mp/semaphore.h"
#include "racegate/threading/rlock.h"
#include "racegate/threading/semaphore.h"
#include "support/catalog_test.h"

#if defined(__clang__)
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif

namespace mp = racegate::mp;
namespace threading = racegate::threading;
using Seconds = std::chrono::duration<double>;

namespace {

// ---- where commands run -------------------------------------------------------------

// Runs jobs one at a time on a thread of its own.
class ThreadExecutor {
 public:
  ThreadExecutor() : worker_([this] { loop(); }) {}
  ~ThreadExecutor() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }
  ThreadExecutor(const ThreadExecutor&) = delete;
  ThreadExecutor& operator=(const ThreadExecutor&) = delete;

  int run(std::function<int()> job) {
    std::unique_lock lk(mu_);
    job_ = std::move(job);
    has_job_ = true;
    done_ = false;
    cv_.notify_all();
    cv_.wait(lk, [&] { return done_; });
    return result_;
  }

 private:
  void loop() {
    std::unique_lock lk(mu_);
    for (;;) {
      cv_.wait(lk, [&] { return stop_ || has_job_; });
      if (has_job_) {
        auto job = std::move(job_);
        has_job_ = false;
        lk.unlock();
        const int r = job();
        lk.lock();
        result_ = r;
        done_ = true;
        cv_.notify_all();
      } else if (stop_) {
        return;
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::function<int()> job_;
  bool has_job_ = false, done_ = false, stop_ = false;
  int result_ = 0;
  std::thread worker_;
};

bool read_int(int fd, int* v) {
  char* p = reinterpret_cast<char*>(v);
  std::size_t got = 0;
  while (got < sizeof *v) {
    const ssize_t k = read(fd, p + got, sizeof *v - got);
    if (k <= 0) return false;
    got += static_cast<std::size_t>(k);
  }
  return true;
}

bool write_int(int fd, int v) { return write(fd, &v, sizeof v) == static_cast<ssize_t>(sizeof v); }

// Runs op codes in a forked child process (its copy of `handler`), one at a
// time, over a pair of pipes.
class ChildExecutor {
 public:
  explicit ChildExecutor(std::function<int(int)> handler) {
    int req[2], resp[2];
    if (pipe(req) != 0 || pipe(resp) != 0) throw std::runtime_error("pipe failed");
    const int req_r = req[0], req_w = req[1], resp_r = resp[0], resp_w = resp[1];
    proc_ = std::make_unique<mp::Process>([=]() mutable {
      close(req_w);
      close(resp_r);
      for (int code; read_int(req_r, &code);) {
        if (!write_int(resp_w, handler(code))) break;
      }
    });
    proc_->start();
    close(req_r);
    close(resp_w);
    req_w_ = req_w;
    resp_r_ = resp_r;
  }
  ~ChildExecutor() {
    close(req_w_);  // end of requests: the child's loop ends
    proc_->join(std::chrono::seconds(30));
    if (proc_->is_alive()) proc_->kill();
    proc_->join();
    close(resp_r_);
  }
  ChildExecutor(const ChildExecutor&) = delete;
  ChildExecutor& operator=(const ChildExecutor&) = delete;

  int run(int code) {
    int r = -999;
    if (!write_int(req_w_, code) || !read_int(resp_r_, &r)) return -999;
    return r;
  }

 private:
  std::unique_ptr<mp::Process> proc_;
  int req_w_ = -1, resp_r_ = -1;
};

// The system under test as seen by the commands: op codes run by owner 0
// (this thread), 1 (a worker thread) or 2 (a child process, mp types only).
struct Sut {
  std::function<int(int)> handler;
  std::unique_ptr<ChildExecutor> child;  // made first: fork before any thread
  std::unique_ptr<ThreadExecutor> thread;

  Sut(std::function<int(int)> h, bool with_child) : handler(std::move(h)) {
    if (with_child) child = std::make_unique<ChildExecutor>(handler);
    thread = std::make_unique<ThreadExecutor>();
  }

  int op(int who, int code) {
    switch (who) {
      case 0: return handler(code);
      case 1: return thread->run([&] { return handler(code); });
      default: return child->run(code);
    }
  }
};

const char* owner_name(int who) {
  static const char* const kNames[] = {"main", "thread", "child"};
  return kNames[who];
}

// Error results of a handler.
constexpr int kRightError = 1000;  // the expected type and message
constexpr int kWrongError = 2000;  // anything else

template <class F>
int error_code(F&& f, const char* type, const std::string& message) {
  try {
    f();
    return 0;
  } catch (const racegate::Error& e) {
    return std::string(e.python_type()) == type && e.what() == message ? kRightError
                                                                         : kWrongError;
  } catch (...) {
    return kWrongError;
  }
}

// ---- RLock --------------------------------------------------------------------------

enum RLockOp { kTry = 1, kZeroTimeout, kBlocking, kRelease, kInspect };

struct RLockModel {
  int owners = 2;
  bool mp = false;  // mp::RLock's count() is visible to every thread
  int owner = -1;
  int count = 0;
};

template <class R>
std::function<int(int)> rlock_handler(R lock_ref, bool mp) {
  return [lock_ref, mp](int code) mutable -> int {
    auto& lock = [&]() -> auto& {
      if constexpr (std::is_pointer_v<R>) {
        return *lock_ref;
      } else {
        return lock_ref;
      }
    }();
    try {
      switch (code) {
        case kTry: return lock.acquire(false) ? 1 : 0;
        case kZeroTimeout: return lock.acquire(true, Seconds(0)) ? 1 : 0;
        // Blocking, but bounded: a model that disagrees fails instead of hanging.
        case kBlocking: return lock.acquire(true, Seconds(10)) ? 1 : 0;
        case kRelease:
          return mp ? error_code([&] { lock.release(); }, "AssertionError",
                                 "attempt to release recursive lock not owned by thread")
                    : error_code([&] { lock.release(); }, "RuntimeError",
                                 "cannot release un-acquired lock");
        case kInspect: {
          int count;
          if constexpr (std::is_pointer_v<R>) {
            count = lock.recursion_count();
          } else {
            count = lock.count();
          }
          return (lock.is_owned() ? 100 : 0) + count + (lock.locked() ? 10000 : 0);
        }
      }
    } catch (...) {
      return kWrongError;
    }
    return kWrongError;
  };
}

struct RLockAcquire : rc::state::Command<RLockModel, Sut> {
  int who;
  int how;
  explicit RLockAcquire(const RLockModel& s)
      : who(*rc::gen::inRange(0, s.owners)),
        how(*rc::gen::element<int>(kTry, kZeroTimeout, kBlocking)) {}
  [[nodiscard]] bool succeeds(const RLockModel& s) const { return s.owner == -1 || s.owner == who; }
  void checkPreconditions(const RLockModel& s) const override {
    RC_PRE(s.count < 6);
    if (how == kBlocking) RC_PRE(succeeds(s));  // would block for ever otherwise
  }
  void apply(RLockModel& s) const override {
    if (succeeds(s)) {
      s.owner = who;
      ++s.count;
    }
  }
  void run(const RLockModel& s, Sut& sut) const override {
    RC_ASSERT(sut.op(who, how) == (succeeds(s) ? 1 : 0));
  }
  void show(std::ostream& os) const override {
    os << owner_name(who) << ": acquire("
       << (how == kTry ? "false" : how == kZeroTimeout ? "true, 0" : "true, 10") << ")";
  }
};

struct RLockRelease : rc::state::Command<RLockModel, Sut> {
  int who;
  explicit RLockRelease(const RLockModel& s) : who(*rc::gen::inRange(0, s.owners)) {}
  void apply(RLockModel& s) const override {
    if (s.owner == who && --s.count == 0) s.owner = -1;
  }
  void run(const RLockModel& s, Sut& sut) const override {
    RC_ASSERT(sut.op(who, kRelease) == (s.owner == who ? 0 : kRightError));
  }
  void show(std::ostream& os) const override { os << owner_name(who) << ": release()"; }
};

struct RLockInspect : rc::state::Command<RLockModel, Sut> {
  int who;
  explicit RLockInspect(const RLockModel& s) : who(*rc::gen::inRange(0, s.owners)) {}
  void run(const RLockModel& s, Sut& sut) const override {
    const bool mine = s.owner == who;
    const int count = s.mp ? s.count : (mine ? s.count : 0);
    RC_ASSERT(sut.op(who, kInspect) == (mine ? 100 : 0) + count + (s.owner != -1 ? 10000 : 0));
  }
  void show(std::ostream& os) const override {
    os << owner_name(who) << ": is_owned(), count, locked()";
  }
};

auto rlock_commands() {
  return rc::state::gen::execOneOfWithArgs<RLockAcquire, RLockRelease, RLockInspect>();
}

// ---- Semaphore / BoundedSemaphore -----------------------------------------------------------

enum SemOp { kSemTry = 1, kSemZeroTimeout, kSemBlocking, kSemValue, kSemReleaseBad, kSemRelease };

struct SemModel {
  int owners = 2;
  int bound = -1;  // -1: unbounded
  int value = 0;
};

template <class S>
std::function<int(int)> semaphore_handler(S sem_ref, const char* too_many) {
  return [sem_ref, too_many](int code) mutable -> int {
    auto& sem = [&]() -> auto& {
      if constexpr (std::is_pointer_v<S>) {
        return *sem_ref;
      } else {
        return sem_ref;
      }
    }();
    auto value = [&] {
      if constexpr (std::is_pointer_v<S>) {
        return sem.value();
      } else {
        return sem.get_value();
      }
    };
    try {
      switch (code) {
        case kSemTry: return sem.acquire(false) ? 1 : 0;
        case kSemZeroTimeout: return sem.acquire(true, Seconds(0)) ? 1 : 0;
        case kSemBlocking: return sem.acquire(true, Seconds(10)) ? 1 : 0;
        case kSemValue: return value();
        case kSemReleaseBad:
          return error_code([&] { sem.release(0); }, "ValueError", "n must be one or more");
        default:  // kSemRelease + n
          return error_code([&] { sem.release(code - kSemRelease); }, "ValueError", too_many);
      }
    } catch (...) {
      return kWrongError;
    }
  };
}

struct SemAcquire : rc::state::Command<SemModel, Sut> {
  int who;
  int how;
  explicit SemAcquire(const SemModel& s)
      : who(*rc::gen::inRange(0, s.owners)),
        how(*rc::gen::element<int>(kSemTry, kSemZeroTimeout, kSemBlocking)) {}
  void checkPreconditions(const SemModel& s) const override {
    if (how == kSemBlocking) RC_PRE(s.value > 0);
  }
  void apply(SemModel& s) const override {
    if (s.value > 0) --s.value;
  }
  void run(const SemModel& s, Sut& sut) const override {
    RC_ASSERT(sut.op(who, how) == (s.value > 0 ? 1 : 0));
  }
  void show(std::ostream& os) const override {
    os << owner_name(who) << ": acquire("
       << (how == kSemTry ? "false" : how == kSemZeroTimeout ? "true, 0" : "true, 10") << ")";
  }
};

struct SemRelease : rc::state::Command<SemModel, Sut> {
  int who;
  int n;
  explicit SemRelease(const SemModel& s)
      : who(*rc::gen::inRange(0, s.owners)), n(*rc::gen::inRange(1, 4)) {}
  [[nodiscard]] bool refused(const SemModel& s) const {
    return s.bound >= 0 && s.value + n > s.bound;
  }
  void apply(SemModel& s) const override {
    if (!refused(s)) s.value += n;
  }
  void run(const SemModel& s, Sut& sut) const override {
    RC_ASSERT(sut.op(who, kSemRelease + n) == (refused(s) ? kRightError : 0));
  }
  void show(std::ostream& os) const override { os << owner_name(who) << ": release(" << n << ")"; }
};

struct SemReleaseBad : rc::state::Command<SemModel, Sut> {
  int who;
  explicit SemReleaseBad(const SemModel& s) : who(*rc::gen::inRange(0, s.owners)) {}
  void run(const SemModel&, Sut& sut) const override {
    RC_ASSERT(sut.op(who, kSemReleaseBad) == kRightError);
  }
  void show(std::ostream& os) const override { os << owner_name(who) << ": release(0)"; }
};

struct SemValue : rc::state::Command<SemModel, Sut> {
  int who;
  explicit SemValue(const SemModel& s) : who(*rc::gen::inRange(0, s.owners)) {}
  void run(const SemModel& s, Sut& sut) const override {
    RC_ASSERT(sut.op(who, kSemValue) == s.value);
  }
  void show(std::ostream& os) const override { os << owner_name(who) << ": value"; }
};

auto semaphore_commands() {
  return rc::state::gen::execOneOfWithArgs<SemAcquire, SemRelease, SemReleaseBad, SemValue>();
}

}  // namespace

// ---- the properties -------------------------------------------------------------------------

TEST(SyncModel, ThreadingRLock) {
  racegate::test::check_property(
      [] {
        threading::RLock lock;
        Sut sut(rlock_handler(&lock, false), false);
        RLockModel model;
        model.owners = 2;
        rc::state::check(model, sut, rlock_commands());
      },
      60);
}

TEST(SyncModel, MpRLockAcrossThreadsAndProcesses) {
  racegate::test::check_property(
      [] {
        mp::RLock lock;
        Sut sut(rlock_handler(lock, true), true);
        RLockModel model;
        model.owners = 3;
        model.mp = true;
        rc::state::check(model, sut, rlock_commands());
      },
      25);
}

TEST(SyncModel, ThreadingSemaphore) {
  racegate::test::check_property(
      [] {
        const int initial = *rc::gen::inRange(0, 4);
        threading::Semaphore sem(initial);
        Sut sut(semaphore_handler(&sem, "Semaphore released too many times"), false);
        SemModel model;
        model.value = initial;
        rc::state::check(model, sut, semaphore_commands());
      },
      60);
}

TEST(SyncModel, ThreadingBoundedSemaphore) {
  racegate::test::check_property(
      [] {
        const int initial = *rc::gen::inRange(0, 5);
        threading::BoundedSemaphore sem(initial);
        Sut sut(semaphore_handler(static_cast<threading::Semaphore*>(&sem),
                                  "Semaphore released too many times"),
                false);
        SemModel model;
        model.value = initial;
        model.bound = initial;
        rc::state::check(model, sut, semaphore_commands());
      },
      60);
}

TEST(SyncModel, MpSemaphoreAcrossThreadsAndProcesses) {
  racegate::test::check_property(
      [] {
        const int initial = *rc::gen::inRange(0, 4);
        mp::Semaphore sem(initial);
        Sut sut(semaphore_handler(sem, "semaphore or lock released too many times"), true);
        SemModel model;
        model.owners = 3;
        model.value = initial;
        rc::state::check(model, sut, semaphore_commands());
      },
      25);
}

TEST(SyncModel, MpBoundedSemaphoreAcrossThreadsAndProcesses) {
  racegate::test::check_property(
      [] {
        const int initial = *rc::gen::inRange(0, 5);
        mp::BoundedSemaphore sem(initial);
        Sut sut(semaphore_handler(sem, "semaphore or lock released too many times"), true);
        SemModel model;
        model.owners = 3;
        model.value = initial;
        model.bound = initial;
        rc::state::check(model, sut, semaphore_commands());
      },
      25);
}
