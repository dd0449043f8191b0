// Catalog section 14: Pool.
//
// Tasks run in forked workers; they reach the case's state only through what
// the workers inherited when the Pool was constructed: `g`, which points at a
// Shared made before every pool (events, a barrier and counters in shared
// memory). Ordering uses events and barriers; elapsed times are only checked
// as lower bounds (with a loose upper bound where a hang is the failure).
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <sched.h>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <unistd.h>
#include <vector>

#include "cases/support/pool_support.h"
#include "racegate/errors.h"
#include "racegate/harness/case.h"
#include "racegate/mp/array.h"
#include "racegate/mp/async_result.h"
#include "racegate/mp/barrier.h"
#include "racegate/mp/event.h"
#include "racegate/mp/manager.h"
#include "racegate/mp/pool.h"
#include "racegate/mp/process.h"
#include "racegate/mp/value.h"
#include "racegate/threading/lock.h"
#include "racegate/threading/thread.h"

namespace mp = racegate::mp;
namespace threading = racegate::threading;
using racegate::test::Clock;
using racegate::test::error_of;
using racegate::test::process_exists;
using racegate::test::Seconds;
using racegate::test::seconds_since;

namespace {

constexpr Seconds kLong(60);  // every get/wait: a hang becomes a failure

// What the workers of one pool share with the case (made before the pool).
struct Shared {
  explicit Shared(int parties = 1) : barrier(parties) {}
  mp::Event release;             // tasks block on it until the case lets them go
  mp::Event started;             // set by a task once it runs
  mp::Event never;               // never set: a timed wait on it takes its timeout
  mp::Barrier barrier;           // tasks meet here to prove they run at once
  mp::Value<int> pid{0};         // a worker's pid, reported by a task
  mp::Value<int> running{0};     // tasks running now
  mp::Value<int> peak{0};        // most tasks ever running at once
  mp::Value<int> done{0};        // tasks finished
  mp::Value<int> count{0};       // initializer calls / completion order slots used
  mp::Array<int> slots = mp::Array<int>(8);  // initializer names / completion order
  std::vector<mp::Event> chain;  // reverse completion: item i waits for item i + 1
  double hold = 0;               // seconds a timed task takes
};

Shared* g = nullptr;  // set before each pool is made; inherited by its workers

std::vector<int> iota(int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) v.push_back(i);
  return v;
}

// N of "Prefix-N", or -1 when `name` is not exactly that.
int number_after(const std::string& name, const std::string& prefix) {
  if (name.rfind(prefix + "-", 0) != 0) return -1;
  const std::string digits = name.substr(prefix.size() + 1);
  if (digits.empty() || digits.size() > 9 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return -1;
  }
  return std::stoi(digits);
}

// Appends v to g->slots under the count's lock.
void record_slot(int v) {
  threading::LockGuard guard(g->count.get_lock());
  const int k = g->count.value();
  if (k < static_cast<int>(g->slots.size())) g->slots.set(k, v);
  g->count.set_value(k + 1);
}

// ---- tasks and initializers (functions: the same in every worker) ----------------------

int twice(int x) { return 2 * x; }
int square(int x) { return x * x; }
int my_pid(int) { return getpid(); }
std::string plus(std::string s) { return s + "*plus*"; }
int fail_value_error(int x) { throw racegate::ValueError("bad " + std::to_string(x)); }

// Meets the other tasks at g->barrier (so they run at once, on distinct
// workers), then returns its pid; -1 when the barrier broke.
int meet_then_pid(int) {
  try {
    g->barrier.wait(kLong);
  } catch (const racegate::BrokenBarrierError&) {
    return -1;
  }
  return getpid();
}

std::string meet_then_name(int) {
  try {
    g->barrier.wait(kLong);
  } catch (const racegate::BrokenBarrierError&) {
    return "<barrier broke>";
  }
  return mp::current_process().name();
}

// Meets the others (and the case) at the barrier, then waits for release.
int meet_then_wait(int x) {
  try {
    g->barrier.wait(kLong);
  } catch (const racegate::BrokenBarrierError&) {
    return -1;
  }
  return g->release.wait(kLong) ? x : -2;
}

int wait_release(int x) { return g->release.wait(kLong) ? x : -1; }

int wait_release_square(int x) { return g->release.wait(kLong) ? x * x : -1; }

// Reports its pid, says it started, and blocks until release (never, in
// terminate_discards_pending: the pool is terminated under it).
int report_and_block(int x) {
  g->pid.set_value(getpid());
  g->started.set();
  return g->release.wait(kLong) ? x : -1;
}

// Takes g->hold seconds (a timed wait on an event nobody sets), counting how
// many such tasks run at once.
std::string hold_task(int i) {
  {
    threading::LockGuard guard(g->running.get_lock());
    const int now = g->running.value() + 1;
    g->running.set_value(now);
    if (now > g->peak.value()) g->peak.set_value(now);
  }
  (void)g->never.wait(Seconds(g->hold));
  {
    threading::LockGuard guard(g->running.get_lock());
    g->running.set_value(g->running.value() - 1);
    g->done.set_value(g->done.value() + 1);
  }
  return "process " + std::to_string(i);
}

// Item i finishes only after item i + 1 did (the last one at once), and
// records its place in the completion order.
int chain_step(int i) {
  const auto n = static_cast<int>(g->chain.size());
  if (i + 1 < n && !g->chain[static_cast<std::size_t>(i + 1)].wait(kLong)) return -1;
  record_slot(i);
  g->chain[static_cast<std::size_t>(i)].set();
  return 10 * i;
}

// The initializer: records the worker's number (ForkPoolWorker-N).
void record_worker_number() { record_slot(number_after(mp::current_process().name(), "ForkPoolWorker")); }

// pool.pickling_rules: the C++ forms of a bound method, a staticmethod and a
// class instance as an argument.
struct Multiplier {  // obj.method: a function object that travels with its state
  int k = 0;
  int operator()(int x) const { return k * x; }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(k);
  }
};

struct Calc {
  static int plus_one(int x) { return x + 1; }  // a staticmethod
};

struct Point {  // a class instance as an argument
  int x = 0;
  int y = 0;
  [[nodiscard]] int sum() const { return x + y; }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(x, y);
  }
};

int manhattan(Point p) { return std::abs(p.x) + std::abs(p.y); }

// Stands for a module object: nothing cereal can serialize.
struct NotSerializable {
  int handle = 0;
};

const std::regex kNotReady("<multiprocessing\\.pool\\.(ApplyResult|MapResult) object at 0x[0-9a-f]+> not ready");
const std::regex kHandlerThread("Thread-[0-9]+ \\(_handle_results\\)");

}  // namespace

// Right after Pool(n), its n workers exist; any number of tasks runs in them
// and only them (never a process per task), and n tasks that must run at
// once (a barrier of n) use exactly n distinct workers.
RG_CASE("pool.prefork_workers",
        {.title = "Pool(n) forks its n workers at construction; tasks never get a process of their own",
         .seed_document = "001_41cd22346628bbc0.txt",
         .tags = {"pool", "process", "D"},
         .default_trials = 20}) {
  ctx.skip_check("len(active_children()) == n right after Pool(n)",
                 "workers are children of the pool's fork server, not of the caller "
                 "(docs/reference/pool.md, \"Design: the fork server\"): active_children() does not list "
                 "them; Pool::worker_pids() is checked instead");
  ctx.check([] {
    const int n = *rc::gen::inRange(1, 5);
    const int tasks = *rc::gen::inRange(0, 41);
    Shared s(n);
    g = &s;
    mp::Pool pool(n);
    const auto workers = pool.worker_pids();
    RC_ASSERT(workers.size() == static_cast<std::size_t>(n));
    const std::set<pid_t> ws(workers.begin(), workers.end());
    RC_ASSERT(ws.size() == static_cast<std::size_t>(n));
    for (pid_t pid : ws) {
      RC_ASSERT(pid != getpid());
      RC_ASSERT(process_exists(pid));
    }
    // As documented: the workers are not the caller's children.
    for (const auto& child : mp::active_children()) RC_ASSERT(ws.count(child.pid().value_or(0)) == 0u);

    const auto met = pool.map_async(meet_then_pid, iota(n), 1).get(kLong);
    const std::set<pid_t> met_pids(met.begin(), met.end());
    RC_ASSERT(met_pids.size() == static_cast<std::size_t>(n));
    RC_ASSERT(met_pids == ws);

    for (int pid : pool.map_async(my_pid, iota(tasks), 1).get(kLong)) RC_ASSERT(ws.count(pid) == 1u);
    const auto now = pool.worker_pids();
    RC_ASSERT(std::set<pid_t>(now.begin(), now.end()) == ws);
    pool.close();
    pool.join();
  });
}

// The initializer runs exactly once in each worker, and the workers are
// named ForkPoolWorker-N with N taken from the process counter (after any
// Processes and a Manager made earlier); the pool takes n numbers.
RG_CASE("pool.worker_names_initializer",
        {.title = "The initializer runs once per worker; workers are ForkPoolWorker-N from the process counter",
         .seed_document = "000_78ac54c149ecb25e.txt",
         .tags = {"pool", "process", "D"},
         .default_trials = 15}) {
  ctx.check([] {
    const int n = *rc::gen::inRange(1, 5);
    const int made_before = *rc::gen::inRange(0, 11);
    const bool with_manager = *rc::gen::arbitrary<bool>();
    std::vector<std::unique_ptr<mp::Process>> before;  // constructed, never started: they take numbers
    for (int i = 0; i < made_before; ++i) before.push_back(std::make_unique<mp::Process>());
    int last = 0;
    {
      mp::Process probe;
      last = number_after(probe.name(), "Process");
      RC_ASSERT(last > 0);
    }
    std::optional<mp::Manager> manager;
    if (with_manager) {
      manager.emplace();
      RC_ASSERT(manager->name() == "SyncManager-" + std::to_string(last + 1));
      ++last;
    }
    Shared s(n);
    g = &s;
    {
      mp::Pool pool(n, record_worker_number);
      std::set<std::string> expected;
      for (int k = 1; k <= n; ++k) expected.insert("ForkPoolWorker-" + std::to_string(last + k));
      const auto names = pool.map_async(meet_then_name, iota(n), 1).get(kLong);
      RC_ASSERT(std::set<std::string>(names.begin(), names.end()) == expected);
      mp::Process after;
      RC_ASSERT(after.name() == "Process-" + std::to_string(last + n + 1));
      pool.close();
      pool.join();  // every worker has run its initializer and left
    }
    RC_ASSERT(s.count.value() == n);
    std::set<int> numbers;
    for (int k = 0; k < n; ++k) numbers.insert(s.slots.get(k));
    std::set<int> expected_numbers;
    for (int k = 1; k <= n; ++k) expected_numbers.insert(last + k);
    RC_ASSERT(numbers == expected_numbers);
  });
}

// map returns f(x) for every x in input order, for any chunksize, even when
// the items complete in reverse order (item i ends only after item i + 1).
RG_CASE("pool.map_preserves_order",
        {.title = "Pool.map returns results in input order whatever the completion order",
         .seed_document = "000_78ac54c149ecb25e.txt",
         .tags = {"pool", "process", "D"},
         .default_trials = 30}) {
  ctx.check([] {
    const int n = *rc::gen::inRange(1, 5);
    const auto xs = *rc::gen::container<std::vector<int>>(rc::gen::inRange(-100000, 100000));
    const bool default_chunks = *rc::gen::arbitrary<bool>();
    const int chunksize = *rc::gen::inRange(1, 12);
    const int chain = *rc::gen::inRange(0, n + 1);  // at most n: all of them run at once
    Shared s;
    for (int i = 0; i < chain; ++i) s.chain.emplace_back();
    g = &s;
    mp::Pool pool(n);
    std::vector<int> expected;
    for (int x : xs) expected.push_back(twice(x));
    const auto got = default_chunks ? pool.map_async(twice, xs).get(kLong)
                                    : pool.map_async(twice, xs, chunksize).get(kLong);
    RC_ASSERT(got == expected);

    const auto chained = pool.map_async(chain_step, iota(chain), 1).get(kLong);
    std::vector<int> chain_expected;
    for (int i = 0; i < chain; ++i) chain_expected.push_back(10 * i);
    RC_ASSERT(chained == chain_expected);
    RC_ASSERT(s.count.value() == chain);
    for (int k = 0; k < chain; ++k) RC_ASSERT(s.slots.get(k) == chain - 1 - k);  // completed in reverse
    pool.close();
    pool.join();
  });
}

// apply returns the task's value and only once the task has finished: k
// applies of a t-second task run one after another even on a pool with
// spare workers (never two at once), so k applies take at least k * t.
RG_CASE("pool.apply_blocks",
        {.title = "Pool.apply blocks until its task is done, so applies run one after another",
         .seed_document = "001_41cd22346628bbc0.txt, 002_b9c4f45d0419849c.txt",
         .tags = {"pool", "process", "T"},
         .default_trials = 5}) {
  ctx.check([] {
    const int n = *rc::gen::inRange(1, 4);
    const int k = *rc::gen::inRange(1, 4);
    const double t = *rc::gen::inRange(10, 101) / 1000.0;
    Shared s;
    s.hold = t;
    g = &s;
    mp::Pool pool(n);
    const auto t0 = Clock::now();
    for (int i = 0; i < k; ++i) {
      RC_ASSERT(pool.apply(hold_task, i) == "process " + std::to_string(i));
      RC_ASSERT(s.done.value() == i + 1);  // the task had finished when apply returned
    }
    const double elapsed = seconds_since(t0);
    RC_ASSERT(elapsed >= k * t);
    RC_ASSERT(elapsed < k * t + 5.0);
    RC_ASSERT(s.peak.value() == 1);
    pool.close();
    pool.join();
  });
}

// apply_async returns at once: k <= n submitted tasks all run at the same
// time (they meet the case at a barrier of k + 1 after every apply_async
// returned) and stay blocked until released; none is ready before that.
// Tasks of t seconds run in waves of n: m of them take at least
// ceil(m / n) * t.
RG_CASE("pool.apply_async_nonblocking",
        {.title = "Pool.apply_async returns at once; its tasks run in parallel waves",
         .seed_document = "001_41cd22346628bbc0.txt, 002_b9c4f45d0419849c.txt",
         .tags = {"pool", "process", "T"},
         .default_trials = 5}) {
  ctx.check([] {
    const int n = *rc::gen::inRange(1, 5);
    const int k = *rc::gen::inRange(1, n + 1);
    const int m = *rc::gen::inRange(1, 7);
    const double t = *rc::gen::inRange(10, 101) / 1000.0;
    Shared s(k + 1);
    s.hold = t;
    g = &s;
    mp::Pool pool(n);
    std::vector<mp::AsyncResult<int>> rs;
    for (int i = 0; i < k; ++i) rs.push_back(pool.apply_async(meet_then_wait, i));
    // Every apply_async has returned; the k tasks are all running now.
    RC_ASSERT(s.barrier.wait(kLong) >= 0);
    for (const auto& r : rs) RC_ASSERT(!r.ready());
    s.release.set();
    for (int i = 0; i < k; ++i) RC_ASSERT(rs[static_cast<std::size_t>(i)].get(kLong) == i);

    const auto t0 = Clock::now();
    std::vector<mp::AsyncResult<std::string>> wave;
    for (int i = 0; i < m; ++i) wave.push_back(pool.apply_async(hold_task, i));
    for (int i = 0; i < m; ++i) {
      RC_ASSERT(wave[static_cast<std::size_t>(i)].get(kLong) == "process " + std::to_string(i));
    }
    const double elapsed = seconds_since(t0);
    const int waves = (m + n - 1) / n;
    RC_ASSERT(elapsed >= waves * t);
    RC_ASSERT(elapsed < waves * t + 5.0);
    RC_ASSERT(s.peak.value() <= n);
    pool.close();
    pool.join();
  });
}

// A callback runs in the parent process, on the pool's result-handler thread
// (not the main thread), with the task's value, before get() returns.
RG_CASE("pool.callback_runs_in_parent",
        {.title = "apply_async's callback runs in the parent, on the result-handler thread",
         .seed_document = "001_41cd22346628bbc0.txt",
         .tags = {"pool", "process", "D"},
         .default_trials = 30}) {
  ctx.check([] {
    const int n = *rc::gen::inRange(1, 4);
    const auto x = *rc::gen::string<std::string>();
    const auto xs = *rc::gen::container<std::vector<int>>(rc::gen::inRange(-1000, 1000));
    mp::Pool pool(n);
    bool called = false;
    std::string value, thread;
    pid_t pid = 0;
    auto r = pool.apply_async(plus, x, mp::callback([&](const std::string& v) {
                                called = true;
                                value = v;
                                thread = threading::current_thread_name();
                                pid = getpid();
                              }));
    RC_ASSERT(r.get(kLong) == x + "*plus*");
    RC_ASSERT(called);  // it ran before the result became ready
    RC_ASSERT(value == x + "*plus*");
    RC_ASSERT(pid == getpid());
    RC_ASSERT(thread != "MainThread");
    RC_ASSERT(std::regex_match(thread, kHandlerThread));

    // map_async: the callback gets the whole list, in the same place.
    std::vector<int> list;
    std::string map_thread;
    auto m = pool.map_async(twice, xs, mp::callback([&](const std::vector<int>& v) {
                              list = v;
                              map_thread = threading::current_thread_name();
                            }));
    std::vector<int> expected;
    for (int v : xs) expected.push_back(2 * v);
    RC_ASSERT(m.get(kLong) == expected);
    RC_ASSERT(list == expected);
    if (!xs.empty()) RC_ASSERT(map_thread == thread);
    pool.close();
    pool.join();
  });
}

// A failing apply_async prints nothing (workers and parent alike); its
// result is ready and not successful, and get() raises the task's error with
// its type and message. apply() and map() raise in the caller.
RG_CASE("pool.apply_async_error_silent_until_get",
        {.title = "A task's error is silent until get(), which re-raises it; apply and map raise",
         .seed_document = "002_b9c4f45d0419849c.txt",
         .tags = {"pool", "process", "D"},
         .default_trials = 15}) {
  ctx.skip_check("get()'s error has a RemoteTraceback with the worker's traceback as __cause__",
                 "the reference carries a task error's type and message only (docs/reference/pool.md, "
                 "\"Errors\"); a C++ exception has no __cause__");
  ctx.check([] {
    const int n = *rc::gen::inRange(1, 3);
    const int a = *rc::gen::arbitrary<int>();
    const int b = *rc::gen::arbitrary<int>();
    const int c = *rc::gen::arbitrary<int>();
    racegate::test::StderrCapture err;  // before the pool: its workers inherit it
    RC_ASSERT(err.ok());
    {
      mp::Pool pool(n);
      auto r = pool.apply_async(fail_value_error, a);
      RC_ASSERT(r.wait(kLong));
      RC_ASSERT(r.ready());
      RC_ASSERT(!r.successful());
      try {
        r.get(kLong);
        RC_FAIL("get() did not raise");
      } catch (const racegate::ValueError& e) {
        RC_ASSERT(std::string(e.what()) == "bad " + std::to_string(a));
        RC_ASSERT(std::string(e.python_type()) == "ValueError");
      }
      RC_ASSERT(error_of<racegate::ValueError>([&] { pool.apply(fail_value_error, b); }) ==
                "bad " + std::to_string(b));
      RC_ASSERT(error_of<racegate::ValueError>([&] { pool.map(fail_value_error, std::vector<int>{c}); }) ==
                "bad " + std::to_string(c));
      RC_ASSERT(pool.apply(square, 3) == 9);  // the pool goes on
      pool.close();
      pool.join();
    }
    RC_ASSERT(err.written() == 0L);
  });
}

// error_callback gets the task's exception (type and message) in the parent,
// on the result-handler thread; the callback is not called; get() still
// raises the error.
RG_CASE("pool.error_callback",
        {.title = "error_callback receives the task's exception in the parent; get() still raises it",
         .tags = {"pool", "process", "D"},
         .default_trials = 30}) {
  ctx.check([] {
    const int n = *rc::gen::inRange(1, 3);
    const int x = *rc::gen::arbitrary<int>();
    const bool as_exception_ptr = *rc::gen::arbitrary<bool>();
    mp::Pool pool(n);
    bool value_callback_called = false;
    std::string type, message, thread;
    pid_t pid = 0;
    auto note = [&](const racegate::Error& e) {
      type = e.python_type();
      message = e.what();
      thread = threading::current_thread_name();
      pid = getpid();
    };
    auto on_value = mp::callback([&](const int&) { value_callback_called = true; });
    std::optional<mp::AsyncResult<int>> r;
    if (as_exception_ptr) {
      r.emplace(pool.apply_async(fail_value_error, x, on_value, mp::error_callback([&](std::exception_ptr ep) {
                                   try {
                                     std::rethrow_exception(ep);
                                   } catch (const racegate::Error& e) {
                                     note(e);
                                   }
                                 })));
    } else {
      r.emplace(pool.apply_async(fail_value_error, x, on_value, mp::error_callback(note)));
    }
    RC_ASSERT(error_of<racegate::ValueError>([&] { r->get(kLong); }) == "bad " + std::to_string(x));
    RC_ASSERT(type == "ValueError");
    RC_ASSERT(message == "bad " + std::to_string(x));
    RC_ASSERT(pid == getpid());
    RC_ASSERT(std::regex_match(thread, kHandlerThread));
    RC_ASSERT(!value_callback_called);
    pool.close();
    pool.join();
  });
}

// get(t) on a task that is held by an event raises TimeoutError with an
// empty message after at least t, and does not cancel it: once released,
// get() returns its value. successful() before the result is in raises
// ValueError with CPython's "<...ApplyResult object at 0x...> not ready".
RG_CASE("pool.get_timeout",
        {.title = "AsyncResult.get(t) raises TimeoutError after t; the result can be fetched later",
         .seed_document = "002_b9c4f45d0419849c.txt",
         .tags = {"pool", "process", "T"},
         .default_trials = 5}) {
  ctx.skip_check("multiprocessing.TimeoutError's bases are ProcessError, Exception (not builtins.TimeoutError)",
                 "racegate has one TimeoutError type for every timed wait for a result (multiprocessing and "
                 "asyncio, racegate/errors.h): it derives from racegate::Error, not ProcessError");
  ctx.check([] {
    const int n = *rc::gen::inRange(1, 3);
    const int x = *rc::gen::arbitrary<int>();
    const double t = *rc::gen::inRange(10, 301) / 1000.0;
    Shared s;
    g = &s;
    mp::Pool pool(n);
    auto r = pool.apply_async(wait_release, x);
    auto m = pool.map_async(wait_release_square, std::vector<int>{x % 1000});
    RC_ASSERT(!r.ready());
    const auto not_ready = error_of<racegate::ValueError>([&] { (void)r.successful(); });
    RC_ASSERT(not_ready.has_value());
    RC_ASSERT(std::regex_match(*not_ready, kNotReady));
    RC_ASSERT(not_ready->find("ApplyResult") != std::string::npos);
    const auto map_not_ready = error_of<racegate::ValueError>([&] { (void)m.successful(); });
    RC_ASSERT(map_not_ready.has_value());
    RC_ASSERT(std::regex_match(*map_not_ready, kNotReady));
    RC_ASSERT(map_not_ready->find("MapResult") != std::string::npos);

    const auto t0 = Clock::now();
    try {
      (void)r.get(Seconds(t));
      RC_FAIL("get(timeout) did not raise");
    } catch (const racegate::TimeoutError& e) {
      RC_ASSERT(std::string(e.what()).empty());
      RC_ASSERT(std::string(e.python_type()) == "TimeoutError");
    }
    const double elapsed = seconds_since(t0);
    RC_ASSERT(elapsed >= t);
    RC_ASSERT(elapsed < t + 5.0);
    RC_ASSERT(!r.ready());

    s.release.set();
    RC_ASSERT(r.get(kLong) == x);
    RC_ASSERT(r.successful());
    RC_ASSERT(m.get(kLong) == std::vector<int>{(x % 1000) * (x % 1000)});
    pool.close();
    pool.join();
  });
}

// join() before close() raises "Pool is still running"; every task method
// after close() raises "Pool not running"; close() then join() waits for
// every task submitted before close(), and the workers are then gone.
RG_CASE("pool.close_join_lifecycle",
        {.title = "join before close raises; no task after close; close then join waits for every task",
         .seed_document = "002_b9c4f45d0419849c.txt, 000_78ac54c149ecb25e.txt",
         .tags = {"pool", "process", "D"},
         .default_trials = 20}) {
  ctx.check([] {
    const int n = *rc::gen::inRange(1, 4);
    const int k = *rc::gen::inRange(0, 9);
    Shared s;
    g = &s;
    mp::Pool pool(n);
    RC_ASSERT(error_of<racegate::ValueError>([&] { pool.join(); }) == "Pool is still running");
    std::vector<mp::AsyncResult<int>> rs;
    for (int i = 0; i < k; ++i) rs.push_back(pool.apply_async(wait_release_square, i));
    const auto workers = pool.worker_pids();
    pool.close();
    const std::string not_running = "Pool not running";
    RC_ASSERT(error_of<racegate::ValueError>([&] { pool.apply_async(square, 1); }) == not_running);
    RC_ASSERT(error_of<racegate::ValueError>([&] { pool.apply(square, 1); }) == not_running);
    RC_ASSERT(error_of<racegate::ValueError>([&] { pool.map(square, iota(2)); }) == not_running);
    RC_ASSERT(error_of<racegate::ValueError>([&] { pool.map_async(square, iota(2)); }) == not_running);
    RC_ASSERT(error_of<racegate::ValueError>([&] { pool.imap(square, iota(2)); }) == not_running);
    RC_ASSERT(error_of<racegate::ValueError>([&] { pool.imap_unordered(square, iota(2)); }) == not_running);
    RC_ASSERT(error_of<racegate::ValueError>([&] {
                pool.starmap(square, std::vector<std::tuple<int>>{{1}});
              }) == not_running);
    s.release.set();  // the tasks may finish only now, after close()
    pool.join();
    for (int i = 0; i < k; ++i) {
      const auto& r = rs[static_cast<std::size_t>(i)];
      RC_ASSERT(r.ready());
      RC_ASSERT(r.get(kLong) == i * i);
    }
    for (pid_t pid : workers) RC_ASSERT(!process_exists(pid));
    pool.close();  // harmless now
    pool.join();
  });
}

// terminate() on Pool(1) with a running task and k queued ones stops the
// worker and drops the queue: no result ever becomes ready; afterwards every
// task method raises "Pool not running". Leaving the Pool's scope (CPython's
// `with`) terminates it the same way.
RG_CASE("pool.terminate_discards_pending",
        {.title = "terminate() stops the workers and discards queued tasks; none becomes ready",
         .seed_document = "002_b9c4f45d0419849c.txt",
         .tags = {"pool", "process", "D"},
         .default_trials = 15}) {
  ctx.check([] {
    const int k = *rc::gen::inRange(0, 7);
    Shared s;
    g = &s;
    mp::Pool pool(1);
    auto running = pool.apply_async(report_and_block, 0);
    std::vector<mp::AsyncResult<int>> queued;
    for (int i = 1; i <= k; ++i) queued.push_back(pool.apply_async(square, i));
    RC_ASSERT(s.started.wait(kLong));
    const pid_t worker = s.pid.value();
    RC_ASSERT(worker > 0);
    pool.terminate();
    pool.join();
    RC_ASSERT(!running.ready());
    for (const auto& r : queued) RC_ASSERT(!r.ready());
    RC_ASSERT(!process_exists(worker));
    RC_ASSERT(error_of<racegate::ValueError>([&] { pool.map(square, iota(2)); }) == "Pool not running");
    RC_ASSERT(error_of<racegate::ValueError>([&] { pool.apply_async(square, 1); }) == "Pool not running");
    pool.terminate();  // again: nothing to do

    // The scope's end terminates (CPython: leaving `with Pool() as p:`).
    Shared s2;
    g = &s2;
    std::optional<mp::AsyncResult<int>> left;
    pid_t worker2 = 0;
    {
      mp::Pool scoped(1);
      left.emplace(scoped.apply_async(report_and_block, 0));
      for (int i = 1; i <= k; ++i) queued.push_back(scoped.apply_async(square, i));
      RC_ASSERT(s2.started.wait(kLong));
      worker2 = s2.pid.value();
    }
    RC_ASSERT(worker2 > 0);
    RC_ASSERT(!left->ready());
    for (const auto& r : queued) RC_ASSERT(!r.ready());
    RC_ASSERT(!process_exists(worker2));
  });
}

// With maxtasksperchild=k a worker leaves after k tasks and a new one (a new
// pid) takes its place: m sequential tasks use at least ceil(m / k) pids,
// none more than k times (k = 1: m distinct pids). Without it, at most n.
RG_CASE("pool.maxtasksperchild_replaces_worker",
        {.title = "maxtasksperchild=k replaces a worker after k tasks; without it the n workers are reused",
         .seed_document = "000_78ac54c149ecb25e.txt, 002_b9c4f45d0419849c.txt",
         .tags = {"pool", "process", "D"},
         .default_trials = 20}) {
  ctx.check([] {
    const int n = *rc::gen::inRange(1, 4);
    const int m = *rc::gen::inRange(1, 9);
    const int k = *rc::gen::inRange(1, 4);
    std::map<int, int> uses;
    {
      mp::Pool pool(n, std::function<void()>(), k);
      for (int i = 0; i < m; ++i) ++uses[pool.apply(my_pid, i)];
      pool.close();
      pool.join();
    }
    RC_ASSERT(uses.count(getpid()) == 0u);
    for (const auto& [pid, times] : uses) {
      RC_ASSERT(times <= k);
      RC_ASSERT(!process_exists(pid));
    }
    RC_ASSERT(static_cast<int>(uses.size()) >= (m + k - 1) / k);
    if (k == 1) RC_ASSERT(static_cast<int>(uses.size()) == m);

    std::set<int> without;
    mp::Pool pool(n);
    const auto workers = pool.worker_pids();
    for (int i = 0; i < m; ++i) without.insert(pool.apply(my_pid, i));
    RC_ASSERT(static_cast<int>(without.size()) <= n);
    for (int pid : without) RC_ASSERT(std::find(workers.begin(), workers.end(), pid) != workers.end());
    pool.close();
    pool.join();
  });
}

// Pool(n < 1) and maxtasksperchild < 1 raise ValueError with CPython's
// texts (the processes check first); Pool() has cpu_count() workers.
RG_CASE("pool.invalid_args_and_default_size",
        {.title = "Invalid Pool arguments raise ValueError; the default size is cpu_count()",
         .tags = {"pool", "process", "D"},
         .default_trials = 10}) {
  // The C++ form of `initializer=1`: a Pool cannot even be built with it.
  static_assert(!std::is_constructible_v<mp::Pool, int, int>);
  static_assert(!std::is_constructible_v<mp::Pool, int, int, int>);
  ctx.skip_check("Pool(initializer=1) raises TypeError: initializer must be a callable",
                 "not expressible: the initializer is a callable type, so a non-callable one does not "
                 "compile (static_assert in cases/pool.cpp)");
  ctx.skip_check("mp.cpu_count() equals os.cpu_count() (every online CPU)",
                 "racegate's cpu_count() honours the affinity mask (sched_getaffinity), "
                 "docs/reference/pool.md \"Differences from CPython\"");
  ctx.check([] {
    const int bad = *rc::gen::inRange(-1000, 1);
    const int bad_tasks = *rc::gen::inRange(-1000, 1);
    const int good = *rc::gen::inRange(1, 4);
    const std::string processes_message = "Number of processes must be at least 1";
    const std::string maxtasks_message = "maxtasksperchild must be a positive int or None";
    RC_ASSERT(error_of<racegate::ValueError>([&] { mp::Pool p(bad); }) == processes_message);
    RC_ASSERT(error_of<racegate::ValueError>([&] { mp::Pool p(good, std::function<void()>(), bad_tasks); }) ==
              maxtasks_message);
    RC_ASSERT(error_of<racegate::ValueError>([&] { mp::Pool p(bad, std::function<void()>(), bad_tasks); }) ==
              processes_message);

    cpu_set_t set;
    CPU_ZERO(&set);
    RC_ASSERT(sched_getaffinity(0, sizeof set, &set) == 0);
    RC_ASSERT(mp::cpu_count() == CPU_COUNT(&set));
    mp::Pool pool;
    RC_ASSERT(pool.processes() == mp::cpu_count());
    RC_ASSERT(pool.worker_pids().size() == static_cast<std::size_t>(mp::cpu_count()));
    pool.close();
    pool.join();
  });
}

// What a Pool can run: the C++ forms of a bound method (a function object
// with state, or a member function over instances), a staticmethod, and a
// class instance as an argument all work. What CPython refuses at run time
// (a module argument, a lambda) cannot be written: it does not compile.
RG_CASE("pool.pickling_rules",
        {.title = "Bound methods, staticmethods and instances go to a Pool; unpicklable values do not",
         .seed_document = "002_b9c4f45d0419849c.txt, 003_0554b06353e542e0.txt",
         .tags = {"pool", "process", "D"},
         .default_trials = 25}) {
  namespace ip = racegate::internal::pool;
  auto capturing = [k = 1](int x) { return k + x; };
  static_assert(ip::callable_kind<decltype(capturing)>() == ip::CallableKind::kUnsupported,
                "a lambda with captures must be rejected at compile time");
  static_assert(!cereal::traits::is_output_serializable<NotSerializable, cereal::PortableBinaryOutputArchive>::value,
                "a value cereal cannot serialize must be rejected at compile time");
  (void)capturing;
  ctx.skip_check("a module as an argument raises TypeError: cannot pickle 'module' object",
                 "rejected at compile time: arguments must be cereal-serializable (static_assert in "
                 "cases/pool.cpp; docs/reference/pool.md \"What a process Pool can run\")");
  ctx.skip_check("a module-level lambda raises PicklingError: attribute lookup <lambda> on __main__ failed",
                 "a captureless lambda is named by identity in the forked workers and runs (checked); a "
                 "lambda with captures is rejected at compile time (static_assert in cases/pool.cpp)");
  ctx.check([] {
    const int n = *rc::gen::inRange(1, 3);
    const int k = *rc::gen::inRange(-100, 101);
    const auto xs = *rc::gen::container<std::vector<int>>(rc::gen::inRange(-10000, 10000));
    const auto pts = *rc::gen::container<std::vector<std::pair<int, int>>>(
        rc::gen::pair(rc::gen::inRange(-10000, 10000), rc::gen::inRange(-10000, 10000)));
    std::vector<Point> points;
    for (const auto& [x, y] : pts) points.push_back(Point{x, y});
    mp::Pool pool(n);
    std::vector<int> scaled, plus_one, minus_one, sums, norms;
    for (int x : xs) {
      scaled.push_back(k * x);
      plus_one.push_back(x + 1);
      minus_one.push_back(x - 1);
    }
    for (const auto& p : points) {
      sums.push_back(p.x + p.y);
      norms.push_back(manhattan(p));
    }
    RC_ASSERT(pool.map_async(Multiplier{k}, xs).get(kLong) == scaled);      // obj.method
    RC_ASSERT(pool.map_async(&Calc::plus_one, xs).get(kLong) == plus_one);  // staticmethod
    RC_ASSERT(pool.map_async(&Point::sum, points).get(kLong) == sums);      // method of each item
    RC_ASSERT(pool.map_async(manhattan, points).get(kLong) == norms);       // instances as arguments
    RC_ASSERT(pool.map_async([](int x) { return x - 1; }, xs).get(kLong) == minus_one);
    if (!points.empty()) RC_ASSERT(pool.apply(manhattan, points.front()) == norms.front());
    pool.close();
    pool.join();
  });
}
