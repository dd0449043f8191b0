// Catalog section 16: threading.Thread (names, join errors and timeouts, daemon flag, exit, join placement).
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cases/adapters/process.h"
#include "cases/support/process_guard.h"
#include "racegate/errors.h"
#include "racegate/harness/case.h"
#include "racegate/mp/event.h"
#include "racegate/mp/process.h"
#include "racegate/threading/barrier.h"
#include "racegate/threading/event.h"
#include "racegate/threading/lock.h"
#include "racegate/threading/thread.h"

namespace mp = racegate::mp;
namespace threading = racegate::threading;
using racegate::cases::Clock;
using racegate::cases::error_of;
using racegate::cases::file_exists;
using racegate::cases::kLong;
using racegate::cases::Seconds;
using racegate::cases::seconds_since;
using racegate::cases::TempDir;
using racegate::cases::write_marker;
using racegate::test::ProcessGuard;

namespace {

int name_number(const std::string& name) { return std::stoi(name.substr(name.rfind('-') + 1)); }

// A subclass that records the name its run() sees.
class NameProbe : public threading::Thread {
 public:
  ~NameProbe() override {
    if (is_alive()) join();
  }
  std::string seen;

 protected:
  void run() override { seen = threading::current_thread_name(); }
};

}  // namespace

// Every Thread constructed (with a target, without one, a subclass) takes the
// next Thread-N from one counter, subclasses included (unlike Process
// subclasses); the main thread is MainThread; a thread sees its own name.
RG_CASE("thread.default_names",
        {.title = "Threads are named Thread-N from one counter (subclasses too); the main thread is MainThread",
         .seed_document = "002_b9c4f45d0419849c.txt",
         .tags = {"thread", "D"},
         .default_trials = 30}) {
  ctx.skip_check("a thread with a target is named 'Thread-N (target)', e.g. 'Thread-1 (p)'",
                 "a C++ callable has no name: the reference names a Thread with a target Thread-N, as one "
                 "without a target");
  ctx.check([] {
    RC_ASSERT(threading::current_thread_name() == "MainThread");
    const auto kinds = *rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 3));  // target, none, subclass
    threading::Thread first;
    int n = name_number(first.name());
    RC_ASSERT(first.name() == "Thread-" + std::to_string(n));
    std::deque<std::string> seen(kinds.size());
    std::deque<threading::Thread> plain;
    std::deque<NameProbe> subs;
    std::vector<threading::Thread*> all;
    std::vector<std::string*> seen_by;
    for (std::size_t i = 0; i < kinds.size(); ++i) {
      threading::Thread* t = nullptr;
      if (kinds[i] == 0) {
        t = &plain.emplace_back([&seen, i] { seen[i] = threading::current_thread_name(); });
        seen_by.push_back(&seen[i]);
      } else if (kinds[i] == 1) {
        t = &plain.emplace_back();
        seen_by.push_back(nullptr);
      } else {
        auto& probe = subs.emplace_back();
        t = &probe;
        seen_by.push_back(&probe.seen);
      }
      RC_ASSERT(t->name() == "Thread-" + std::to_string(++n));
      all.push_back(t);
    }
    for (auto* t : all) t->start();
    for (auto* t : all) t->join();
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (seen_by[i]) RC_ASSERT(*seen_by[i] == all[i]->name());
    }
    threading::Thread last;
    RC_ASSERT(last.name() == "Thread-" + std::to_string(n + 1));  // the counter keeps going
    RC_ASSERT(threading::current_thread_name() == "MainThread");
  });
}

// join() before start() and a second start() (while running, after the end)
// raise RuntimeError with CPython's texts; a thread joining itself too; join(t)
// on a thread blocked on an event returns after at least t with it alive.
RG_CASE("thread.join_errors_and_timeout",
        {.title = "Thread join/start misuse raises RuntimeError; join(t) on a blocked thread returns alive after t",
         .seed_document = "",
         .tags = {"thread", "D", "T"},
         .default_trials = 10}) {
  ctx.check([] {
    const double t = *rc::gen::inRange(10, 301) / 1000.0;
    const int tries = *rc::gen::inRange(1, 4);
    threading::Event release;
    std::string self_join, self_join_timeout;
    threading::Thread* self = nullptr;
    threading::Thread th([&] {
      self_join = error_of<racegate::RuntimeError>([&] { self->join(); });
      self_join_timeout = error_of<racegate::RuntimeError>([&] { self->join(Seconds(0.01)); });
      release.wait();
    });
    self = &th;
    struct Release {
      threading::Event& e;
      ~Release() { e.set(); }
    } release_on_exit{release};
    for (int i = 0; i < tries; ++i) {
      RC_ASSERT(error_of<racegate::RuntimeError>([&] { th.join(); }) == "cannot join thread before it is started");
      RC_ASSERT(error_of<racegate::RuntimeError>([&] { th.join(Seconds(t)); }) ==
                "cannot join thread before it is started");
    }
    RC_ASSERT(!th.is_alive());
    th.start();
    for (int i = 0; i < tries; ++i) {
      RC_ASSERT(error_of<racegate::RuntimeError>([&] { th.start(); }) == "threads can only be started once");
    }
    auto t0 = Clock::now();
    th.join(Seconds(t));
    const double elapsed = seconds_since(t0);
    RC_ASSERT(elapsed >= t);
    RC_ASSERT(elapsed < t + 5.0);
    RC_ASSERT(th.is_alive());
    release.set();
    th.join(kLong);
    RC_ASSERT(!th.is_alive());
    RC_ASSERT(self_join == "cannot join current thread");
    RC_ASSERT(self_join_timeout == "cannot join current thread");
    RC_ASSERT(error_of<racegate::RuntimeError>([&] { th.start(); }) == "threads can only be started once");
  });
}

// daemon is false by default and settable (either value) before start();
// after start (running or ended) setting it raises RuntimeError and leaves it.
RG_CASE("thread.daemon_flag",
        {.title = "Thread daemon defaults to false; setting it after start raises RuntimeError",
         .seed_document = "002_b9c4f45d0419849c.txt",
         .tags = {"thread", "D"},
         .default_trials = 30}) {
  ctx.skip_check("setDaemon(True) works but warns DeprecationWarning: setDaemon() is deprecated, set the daemon "
                 "attribute instead",
                 "the reference has only set_daemon(), the attribute's form: no deprecated spelling to warn about");
  ctx.check([] {
    const int before = *rc::gen::inRange(0, 3);  // not set, set true, set false
    const auto after = *rc::gen::container<std::vector<bool>>(static_cast<std::size_t>(*rc::gen::inRange(1, 4)),
                                                              rc::gen::arbitrary<bool>());
    threading::Event release;
    threading::Thread th([&release] { release.wait(); });
    struct Release {
      threading::Event& e;
      ~Release() { e.set(); }
    } release_on_exit{release};
    RC_ASSERT(!th.daemon());
    if (before != 0) th.set_daemon(before == 1);
    const bool daemonic = before == 1;
    RC_ASSERT(th.daemon() == daemonic);
    th.start();
    for (bool v : after) {
      RC_ASSERT(error_of<racegate::RuntimeError>([&] { th.set_daemon(v); }) ==
                "cannot set daemon status of active thread");
      RC_ASSERT(th.daemon() == daemonic);
    }
    release.set();
    th.join(kLong);
    RC_ASSERT(!th.is_alive());
    RC_ASSERT(error_of<racegate::RuntimeError>([&] { th.set_daemon(!daemonic); }) ==
              "cannot set daemon status of active thread");
    RC_ASSERT(th.daemon() == daemonic);
  });
}

// The "main program" is a child process M whose run() ends with k threads
// still blocked (the reference's exit path for a process: join the
// non-daemonic threads, not the daemonic ones). Daemonic: M exits at once and
// the threads' markers never appear. Non-daemonic: after t M is still there;
// once the threads are let go they write their markers and M exits.
RG_CASE("thread.daemon_not_waited_at_exit",
        {.title = "At exit daemon threads are not waited for; non-daemon threads are",
         .seed_document = "002_b9c4f45d0419849c.txt",
         .tags = {"thread", "process", "D", "T"},
         .default_trials = 8}) {
  ctx.check([] {
    const bool daemonic = *rc::gen::arbitrary<bool>();
    const int k = *rc::gen::inRange(1, 4);
    const double t = *rc::gen::inRange(10, 151) / 1000.0;
    TempDir dir;
    std::vector<std::string> markers;
    for (int i = 0; i < k; ++i) markers.push_back(dir.path() + "/thread-" + std::to_string(i));
    mp::Event main_done, release;
    mp::Process m([markers, daemonic, main_done, release]() mutable {
      // Kept past run(): the main code ends without joining its threads.
      static std::deque<threading::Thread> threads;
      for (const auto& marker : markers) {
        auto& th = threads.emplace_back([release, marker]() mutable {
          release.wait();
          write_marker(marker);
        });
        th.set_daemon(daemonic);
        th.start();
      }
      main_done.set();
    });
    ProcessGuard guard(m, release);
    m.start();
    RC_ASSERT(main_done.wait(kLong));
    if (daemonic) {
      m.join(kLong);
      RC_ASSERT(!m.is_alive());
      RC_ASSERT(m.exitcode() == std::optional<int>(0));
      release.set();  // too late: the threads ended with M
      for (const auto& marker : markers) RC_ASSERT(!file_exists(marker));
    } else {
      auto t0 = Clock::now();
      m.join(Seconds(t));
      RC_ASSERT(seconds_since(t0) >= t);
      RC_ASSERT(m.is_alive());  // M waits for its non-daemonic threads
      for (const auto& marker : markers) RC_ASSERT(!file_exists(marker));
      release.set();
      m.join(kLong);
      RC_ASSERT(!m.is_alive());
      RC_ASSERT(m.exitcode() == std::optional<int>(0));
      for (const auto& marker : markers) RC_ASSERT(file_exists(marker));
    }
  });
}

namespace {

// The blog's myThread: keeps its own target and args and overrides run().
class MyThread : public threading::Thread {
 public:
  MyThread(std::function<void(int)> target, int args) : target(std::move(target)), args(args) {}
  ~MyThread() override {
    if (is_alive()) join();
  }
  std::function<void(int)> target;
  int args;

 protected:
  void run() override { target(args); }
};

}  // namespace

// start(); join() inside the loop runs the threads one after another (the log
// is s0 e0 s1 e1 ..., at least n*h); starting all and then joining all runs
// them together (they meet at a barrier of n, which serial threads never
// could); joining only the last one started does not wait for the others. A
// subclass with its own target/args members runs its overridden run().
RG_CASE("thread.join_placement",
        {.title = "join() inside the start loop serializes threads; start all then join all runs them together",
         .seed_document = "002_b9c4f45d0419849c.txt",
         .tags = {"thread", "join", "T"},
         .default_trials = 8}) {
  ctx.check([] {
    const int n = *rc::gen::inRange(2, 5);
    const double h = *rc::gen::inRange(10, 41) / 1000.0;
    threading::Event never;

    // Join inside the loop: strictly one after another.
    {
      threading::Lock mu;
      std::vector<int> log;  // +i+1 at start, -(i+1) at end
      auto t0 = Clock::now();
      for (int i = 0; i < n; ++i) {
        MyThread th(
            [&](int me) {
              {
                threading::LockGuard g(mu);
                log.push_back(me);
              }
              never.wait(Seconds(h));
              threading::LockGuard g(mu);
              log.push_back(-me);
            },
            i + 1);
        th.start();
        th.join(kLong);
        RC_ASSERT(!th.is_alive());
      }
      const double elapsed = seconds_since(t0);
      std::vector<int> expected;
      for (int i = 1; i <= n; ++i) {
        expected.push_back(i);
        expected.push_back(-i);
      }
      RC_ASSERT(log == expected);
      RC_ASSERT(elapsed >= n * h);
    }

    // Start all, then join all: together.
    {
      threading::Barrier all_running(n);
      std::atomic<int> met{0};
      std::deque<threading::Thread> ts;
      for (int i = 0; i < n; ++i) {
        ts.emplace_back([&] {
          try {
            (void)all_running.wait(kLong);
            met.fetch_add(1);
          } catch (const racegate::BrokenBarrierError&) {
          }
          never.wait(Seconds(h));
        });
      }
      auto t0 = Clock::now();
      for (auto& th : ts) th.start();
      for (auto& th : ts) th.join(kLong);
      const double elapsed = seconds_since(t0);
      for (auto& th : ts) RC_ASSERT(!th.is_alive());
      RC_ASSERT(met.load() == n);
      RC_ASSERT(elapsed >= h);
    }

    // Join only the last one: the others are still running.
    {
      threading::Event hold;
      std::atomic<int> finished{0};
      std::deque<threading::Thread> ts;
      for (int i = 0; i < n; ++i) {
        const bool last = i == n - 1;
        ts.emplace_back([&hold, &finished, last] {
          if (!last) hold.wait(kLong);
          finished.fetch_add(1);
        });
      }
      struct Release {
        threading::Event& e;
        ~Release() { e.set(); }
      } release_on_exit{hold};
      for (auto& th : ts) th.start();
      ts.back().join(kLong);
      RC_ASSERT(!ts.back().is_alive());
      RC_ASSERT(finished.load() == 1);
      for (int i = 0; i + 1 < n; ++i) RC_ASSERT(ts[static_cast<std::size_t>(i)].is_alive());
      hold.set();
      for (auto& th : ts) th.join(kLong);
      RC_ASSERT(finished.load() == n);
    }
  });
}
