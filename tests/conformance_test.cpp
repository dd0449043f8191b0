// The headline behaviors of the catalog (../shared/behavior-catalog.md), as
// property-based tests registered under their catalog ids. ci/suite runs them
// (ctest label "conformance") under the plain, tsan and asan presets.
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "racegate/errors.h"
#include "racegate/mp/event.h"
#include "racegate/mp/process.h"
#include "racegate/threading/lock.h"
#include "racegate/threading/thread.h"
#include "support/catalog_test.h"
#include "support/child_program.h"
#include "support/process_guard.h"
#include "support/sanitizer.h"

namespace mp = racegate::mp;
namespace threading = racegate::threading;
using racegate::test::ProcessGuard;
using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

// ---- globals ---------------------------------------------------------------

namespace {
int g_data = 0;  // the seeds' module-level `data`
}

// A global changed in a child process is unchanged in the parent; the child
// proves it ran and saw its own change through its exit code and an event.
RG_CATALOG_PROP(globals_process_isolated, "globals.process_isolated", 40,
                (int initial, int changed)) {
  RC_PRE(initial != changed);
  g_data = initial;
  mp::Event ran;
  mp::Process p([&] {
    if (g_data != initial) throw mp::SystemExit(3);  // inherited the parent's value
    g_data = changed;
    ran.set();
    throw mp::SystemExit(g_data == changed ? 0 : 4);
  });
  ProcessGuard guard(p);
  p.start();
  p.join();
  RC_ASSERT(p.exitcode() == std::optional<int>(0));
  RC_ASSERT(ran.is_set());
  RC_ASSERT(g_data == initial);
}

// The same change made in a thread is seen by the main thread after join.
RG_CATALOG_PROP(globals_thread_shared, "globals.thread_shared", 100,
                (int initial, int changed)) {
  g_data = initial;
  threading::Thread t([changed] { g_data = changed; });
  t.start();
  t.join();
  RC_ASSERT(!t.is_alive());
  RC_ASSERT(g_data == changed);
}

// ---- counter ---------------------------------------------------------------

namespace {

// The seeds' unlocked counter: `data += 1` is a separate load and store of a
// plain int. volatile keeps the compiler from folding the loop into one add;
// it is not an atomic, so ThreadSanitizer sees the race.
volatile int racegate_unlocked_counter = 0;

// Runs `adders` threads of `n` increments and `subtracters` threads of `n`
// decrements, released together by a barrier so that they really overlap.
// With `yield_between`, each thread yields between its load and its store,
// which widens the race window (catalog: "an explicit yield between read and
// write").
int run_unlocked_counter(int n, int adders, int subtracters, bool yield_between) {
  racegate_unlocked_counter = 0;
  std::barrier start(adders + subtracters);
  std::vector<std::thread> threads;
  for (int t = 0; t < adders + subtracters; ++t) {
    int delta = t < adders ? 1 : -1;
    threads.emplace_back([&, delta] {
      start.arrive_and_wait();
      for (int i = 0; i < n; ++i) {
        int tmp = racegate_unlocked_counter;
        if (yield_between) std::this_thread::yield();
        racegate_unlocked_counter = tmp + delta;
      }
    });
  }
  for (auto& th : threads) th.join();
  return racegate_unlocked_counter;
}

int run_locked_counter(int n, int adders, int subtracters, threading::Lock& lock, int& counter) {
  counter = 0;
  std::barrier start(adders + subtracters);
  std::vector<threading::Thread*> threads;
  std::vector<std::unique_ptr<threading::Thread>> owned;
  for (int t = 0; t < adders + subtracters; ++t) {
    int delta = t < adders ? 1 : -1;
    owned.push_back(std::make_unique<threading::Thread>([&, delta] {
      start.arrive_and_wait();
      for (int i = 0; i < n; ++i) {
        threading::LockGuard guard(lock);
        counter += delta;
      }
    }));
  }
  for (auto& th : owned) th->start();
  for (auto& th : owned) th->join();
  return counter;
}

}  // namespace

// Started by the tsan leg in a fresh process: the racy program itself.
// argv: n rounds
RG_CHILD_PROGRAM(unlocked_counter) {
  int n = std::atoi(argv[0]);
  int rounds = std::atoi(argv[1]);
  // No yield here: TSan judges by happens-before, not by real overlap.
  for (int r = 0; r < rounds; ++r) run_unlocked_counter(n, 1, 1, false);
  return 0;
}

// argv: n adders subtracters; exits 0 when the locked counter is exact.
RG_CHILD_PROGRAM(locked_counter) {
  int n = std::atoi(argv[0]);
  int adders = std::atoi(argv[1]);
  int subtracters = std::atoi(argv[2]);
  threading::Lock lock;
  int counter = 0;
  return run_locked_counter(n, adders, subtracters, lock, counter) == (adders - subtracters) * n ? 0 : 1;
}

RG_CATALOG_TEST(counter_unlocked_race, "counter.unlocked_race") {
  if constexpr (racegate::test::kThreadSanitizer) {
    // The canary: ThreadSanitizer must report the race on the counter. TSan
    // can miss a race now and then by design, so the program runs several
    // rounds; the check fails (MISSED) if none of them is reported.
    racegate::test::check_property(
        [](void) {
          const int n = *rc::gen::inRange(100, 5001);
          auto r = racegate::test::run_child_program("unlocked_counter", {std::to_string(n), "3"});
          RC_ASSERT(!r.timed_out);
          RC_ASSERT(r.exit_code == 66);  // TSan's exit code after a report
          RC_ASSERT(r.sanitizer_log.find("WARNING: ThreadSanitizer: data race") != std::string::npos);
          // The race is reported on the counter itself, not somewhere else.
          RC_ASSERT(r.sanitizer_log.find("racegate_unlocked_counter' of size 4") != std::string::npos);
        },
        5);
  } else {
    // Plain (and ASan) builds: the final value is only bounded; how often an
    // update is lost depends on where the scheduler puts the threads, so the
    // rate is reported, never asserted.
    int trials = 0, lost = 0;
    racegate::test::check_property(
        [&](void) {
          const int n = *rc::gen::inRange(1000, 10001);
          const bool yield_between = *rc::gen::arbitrary<bool>();
          int final_value = run_unlocked_counter(n, 1, 1, yield_between);
          RC_ASSERT(final_value >= -n);
          RC_ASSERT(final_value <= n);
          ++trials;
          if (final_value != 0) ++lost;
        },
        60);
    std::cout << "[racegate] counter.unlocked_race: lost updates in " << lost << " of " << trials
              << " trials (" << (trials ? 100.0 * lost / trials : 0.0) << "%)\n";
    ::testing::Test::RecordProperty("lost_update_trials", lost);
    ::testing::Test::RecordProperty("trials", trials);
  }
}

// With a lock the counter is exact for any n and thread count. Under TSan a
// report anywhere in this binary fails it (exit code 66); in addition a fresh
// process runs the locked program and its TSan log must be empty, the mirror
// of the canary above.
RG_CATALOG_TEST(counter_locked_exact, "counter.locked_exact") {
  racegate::test::check_property(
      [](void) {
        const int n = *rc::gen::inRange(1, 20001);
        const int pairs = *rc::gen::inRange(1, 4);
        threading::Lock lock;
        int counter = -1;
        RC_ASSERT(run_locked_counter(n, pairs, pairs, lock, counter) == 0);
        RC_ASSERT(!lock.locked());
      },
      30);
  if constexpr (racegate::test::kThreadSanitizer) {
    auto r = racegate::test::run_child_program("locked_counter", {"5000", "2", "2"});
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
    EXPECT_EQ(r.sanitizer_log, "") << "ThreadSanitizer reported on the locked counter";
  }
}

// ---- process.join ----------------------------------------------------------

// join(t) on a child held by an event returns after at least t, with the child
// alive and no exit code; once released, join() gives exit code 0.
RG_CATALOG_PROP(process_join_timeout_returns_while_alive,
                "process.join.timeout_returns_while_alive", 10, (void)) {
  const double t = *rc::gen::inRange(10, 301) / 1000.0;
  mp::Event release;
  mp::Process p([release]() mutable { release.wait(); });
  ProcessGuard guard(p, release);
  p.start();
  auto t0 = Clock::now();
  p.join(Seconds(t));
  auto elapsed = Seconds(Clock::now() - t0).count();
  RC_ASSERT(elapsed >= t);
  RC_ASSERT(elapsed < t + 5.0);
  RC_ASSERT(p.is_alive());
  RC_ASSERT(!p.exitcode().has_value());
  release.set();
  p.join();
  RC_ASSERT(!p.is_alive());
  RC_ASSERT(p.exitcode() == std::optional<int>(0));
}

// join(long timeout) on a child that ends at once returns when it ends, far
// sooner than the timeout (loose bound: a third of a timeout of 30 s or more).
RG_CATALOG_PROP(process_join_timeout_longer_returns_early,
                "process.join.timeout_longer_returns_early", 20, (void)) {
  const double timeout = *rc::gen::inRange(30, 601);
  const int code = *rc::gen::inRange(0, 100);
  mp::Process p([code] { throw mp::SystemExit(code); });
  ProcessGuard guard(p);
  p.start();
  auto t0 = Clock::now();
  p.join(Seconds(timeout));
  auto elapsed = Seconds(Clock::now() - t0).count();
  RC_ASSERT(elapsed < timeout / 3);
  RC_ASSERT(!p.is_alive());
  RC_ASSERT(p.exitcode() == std::optional<int>(code));
}

// ---- daemon ----------------------------------------------------------------

namespace {

// Starts a chain of `depth` non-daemonic processes; the last one starts a
// daemonic process, which tries to start a child of its own. Each level exits
// with its child's exit code; the daemon's stderr goes to `err_fd`.
void daemon_chain(int depth, int err_fd) {
  if (depth > 0) {
    mp::Process next([depth, err_fd] { daemon_chain(depth - 1, err_fd); });
    next.start();
    next.join();
    throw mp::SystemExit(next.exitcode().value_or(99));
  }
  mp::Process daemonic([err_fd] {
    dup2(err_fd, 2);
    mp::Process child([] {});
    child.start();  // must throw: daemonic processes cannot have children
    throw mp::SystemExit(0);
  });
  daemonic.set_daemon(true);
  daemonic.start();
  daemonic.join();
  throw mp::SystemExit(daemonic.exitcode().value_or(98));
}

}  // namespace

// A daemonic process that starts a child fails with CPython's exact message,
// at any depth of non-daemonic ancestors, and its parent sees exit code 1 and
// the message.
RG_CATALOG_PROP(daemon_no_children, "daemon.no_children", 20, (void)) {
  const int depth = *rc::gen::inRange(0, 3);
  int fds[2];
  RC_ASSERT(pipe2(fds, O_CLOEXEC) == 0);
  mp::Process top([depth, fds] { daemon_chain(depth, fds[1]); });
  ProcessGuard guard(top);
  top.start();
  close(fds[1]);
  std::string err;
  char buf[4096];
  for (ssize_t k; (k = read(fds[0], buf, sizeof buf)) > 0;) err.append(buf, static_cast<size_t>(k));
  close(fds[0]);
  top.join();
  RC_ASSERT(top.exitcode() == std::optional<int>(1));
  RC_ASSERT(err.find("AssertionError: daemonic processes are not allowed to have children\n") !=
            std::string::npos);
  // The daemon's own name proves the error came from the daemon at the end
  // of the chain: Process-K:1:...:1 with `depth` inherited levels.
  std::string expected_name = top.name();
  for (int i = 0; i <= depth; ++i) expected_name += ":1";
  RC_ASSERT(err.rfind("Process " + expected_name + ":\n", 0) == 0);
}
