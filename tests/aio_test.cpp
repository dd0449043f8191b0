// Unit tests of racegate::aio, the asyncio-like event loop: the catalog's
// asyncio.* entries with their exact timings under the virtual clock, task
// start order, gather, wait_for, cancellation, exceptions, futures, frames.
//
// Every test but one runs on the virtual clock, so times are exact and the
// tests take no real time; RealClock.BlockingSleepLowerBound checks the real
// clock with lower bounds only.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include "racegate/aio/aio.h"
#include "racegate/errors.h"
#include "racegate/schedule.h"
#include "support/catalog_test.h"
#include "support/test_helpers.h"

using racegate::test::error_of;

namespace aio = racegate::aio;
using aio::Future;
using aio::Task;
using racegate::CancelledError;

namespace {

aio::Clock vclock() { return aio::Clock::virtual_time(); }
double now() { return aio::get_running_loop().time(); }


// What happened, and when (loop time).
struct Log {
  std::vector<std::string> names;
  std::vector<double> times;
  void add(std::string what) {
    names.push_back(std::move(what));
    times.push_back(now());
  }
  double at(const std::string& what) const {
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] == what) return times[i];
    }
    return -1.0;
  }
};

// Counts destructions: a local of type Tracker in a coroutine proves its frame
// was destroyed.
struct Tracker {
  int* destroyed;
  explicit Tracker(int* d) : destroyed(d) {}
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;
  ~Tracker() { ++*destroyed; }
};

Task<void> say_after(Log& log, double delay, std::string what) {
  co_await aio::sleep(delay);
  log.add(std::move(what));
}

Task<void> mark(int& ran) {
  ++ran;
  co_return;
}

Task<void> append(std::vector<int>& v, int x) {
  v.push_back(x);
  co_return;
}

Task<int> value_after(double delay, int v) {
  co_await aio::sleep(delay);
  co_return v;
}

Task<int> value_after_flag(double delay, int v, bool& finished) {
  co_await aio::sleep(delay);
  finished = true;
  co_return v;
}

Task<int> fail_after(double delay, std::string message) {
  co_await aio::sleep(delay);
  throw racegate::ValueError(message);
}

struct Flags {
  bool cancelled = false;
  double cancelled_at = -1;
  std::string cancel_message;
  int destroyed = 0;
};

// Sleeps `delay`; records a cancellation (and lets it through).
Task<int> slow(Flags& f, double delay) {
  Tracker tracker(&f.destroyed);
  try {
    co_await aio::sleep(delay);
  } catch (const CancelledError& e) {
    f.cancelled = true;
    f.cancelled_at = now();
    f.cancel_message = e.what();
    throw;
  }
  co_return 7;
}

template <class T>
Task<T> await_it(aio::Future<T> f) {
  co_return co_await f;
}

}  // namespace

// ===================================================== the catalog's entries

// asyncio.coroutine_not_run: calling a coroutine function runs nothing; a
// coroutine never awaited never runs (and is counted, CPython's
// RuntimeWarning); create_task outside a running loop raises.
Task<void> creates_and_drops(int& ran) {
  { auto never = mark(ran); }
  co_await aio::sleep(1);
}

TEST(AioCatalog, CoroutineNotRun) {
  int ran = 0;
  const auto before = aio::never_awaited_count();
  {
    Task<void> c = mark(ran);
    EXPECT_TRUE(c.valid());
    EXPECT_FALSE(c.started());
    EXPECT_EQ(ran, 0);
  }
  EXPECT_EQ(ran, 0);
  EXPECT_EQ(aio::never_awaited_count(), before + 1);

  EXPECT_EQ(error_of<racegate::RuntimeError>([&] { (void)aio::create_task(mark(ran)); }),
            "no running event loop");
  EXPECT_EQ(ran, 0);
  EXPECT_EQ(aio::never_awaited_count(), before + 2);

  // Not even a running loop runs a coroutine nobody awaits or schedules.
  aio::run(creates_and_drops(ran), vclock());
  EXPECT_EQ(ran, 0);
  EXPECT_EQ(aio::never_awaited_count(), before + 3);

  // Awaited, it runs.
  aio::run(mark(ran), vclock());
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(aio::never_awaited_count(), before + 3);
}

// asyncio.sequential_await: await say_after(1); time.sleep(3); await
// say_after(2): hello at 1.0, world at 6.0, finished at 6.0.
Task<double> sequential_await(Log& log) {
  const double t0 = now();
  co_await say_after(log, 1, "hello");
  aio::blocking_sleep(3);
  co_await say_after(log, 2, "world");
  co_return now() - t0;
}

TEST(AioCatalog, SequentialAwait) {
  Log log;
  const double total = aio::run(sequential_await(log), vclock());
  EXPECT_EQ(log.names, (std::vector<std::string>{"hello", "world"}));
  EXPECT_EQ(log.at("hello"), 1.0);
  EXPECT_EQ(log.at("world"), 6.0);
  EXPECT_EQ(total, 6.0);
}

// asyncio.blocking_sleep_blocks_loop ("why 4 seconds?"): two tasks, await
// task1, time.sleep(3), print oo, await task2: hello 1.0, oo 4.0, world 4.0,
// 4.0 in all; with `await asyncio.sleep(3)` world comes at 2.0, before oo.
Task<double> why_four_seconds(Log& log, bool blocking) {
  const double t0 = now();
  auto task1 = aio::create_task(say_after(log, 1, "hello"));
  auto task2 = aio::create_task(say_after(log, 2, "world"));
  co_await task1;
  if (blocking) {
    aio::blocking_sleep(3);
  } else {
    co_await aio::sleep(3);
  }
  log.add("oo");
  co_await task2;
  co_return now() - t0;
}

TEST(AioCatalog, BlockingSleepBlocksLoop) {
  Log log;
  const double total = aio::run(why_four_seconds(log, true), vclock());
  EXPECT_EQ(log.names, (std::vector<std::string>{"hello", "oo", "world"}));
  EXPECT_EQ(log.at("hello"), 1.0);
  EXPECT_EQ(log.at("oo"), 4.0);
  EXPECT_EQ(log.at("world"), 4.0);
  EXPECT_EQ(total, 4.0);
}

TEST(AioCatalog, AsyncSleepDoesNotBlockLoop) {
  Log log;
  const double total = aio::run(why_four_seconds(log, false), vclock());
  EXPECT_EQ(log.names, (std::vector<std::string>{"hello", "world", "oo"}));
  EXPECT_EQ(log.at("hello"), 1.0);
  EXPECT_EQ(log.at("world"), 2.0);
  EXPECT_EQ(log.at("oo"), 4.0);
  EXPECT_EQ(total, 4.0);
}

// asyncio.create_task_deferred: `ran` is [] after create_task, still [] after
// time.sleep(0.2), [1] after await asyncio.sleep(0).
Task<void> create_task_deferred(std::vector<std::vector<int>>& snapshots) {
  std::vector<int> ran;
  auto t = aio::create_task(append(ran, 1));
  snapshots.push_back(ran);
  aio::blocking_sleep(0.2);
  snapshots.push_back(ran);
  co_await aio::sleep(0);
  snapshots.push_back(ran);
  co_await t;
}

TEST(AioCatalog, CreateTaskDeferred) {
  std::vector<std::vector<int>> snapshots;
  aio::run(create_task_deferred(snapshots), vclock());
  EXPECT_EQ(snapshots, (std::vector<std::vector<int>>{{}, {}, {1}}));
}

// ============================================== concurrency and its timings

Task<double> one_then_two(Log& log) {
  const double t0 = now();
  co_await say_after(log, 1, "one");
  co_await say_after(log, 2, "two");
  co_return now() - t0;
}

Task<double> one_and_two(Log& log) {
  const double t0 = now();
  co_await aio::gather(say_after(log, 1, "one"), say_after(log, 2, "two"));
  co_return now() - t0;
}

TEST(AioTiming, SequentialSumsGatheredTakesTheMax) {
  Log seq;
  EXPECT_EQ(aio::run(one_then_two(seq), vclock()), 3.0);
  EXPECT_EQ(seq.at("one"), 1.0);
  EXPECT_EQ(seq.at("two"), 3.0);
  Log par;
  EXPECT_EQ(aio::run(one_and_two(par), vclock()), 2.0);
  EXPECT_EQ(par.at("one"), 1.0);
  EXPECT_EQ(par.at("two"), 2.0);
}

// Virtual time: starts where asked, jumps to timers, moves with blocking
// sleeps only (std::this_thread::sleep_for blocks but does not move it).
Task<std::vector<double>> virtual_clock_steps() {
  std::vector<double> t{now()};
  co_await aio::sleep(0.5);
  t.push_back(now());
  aio::blocking_sleep(std::chrono::milliseconds(250));
  t.push_back(now());
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  t.push_back(now());
  co_await aio::sleep(std::chrono::seconds(2));
  t.push_back(now());
  co_await aio::sleep(0);
  co_await aio::sleep(-1);
  t.push_back(now());
  co_return t;
}

TEST(AioTiming, VirtualClock) {
  const auto t = aio::run(virtual_clock_steps(), aio::Clock::virtual_time(100));
  EXPECT_EQ(t, (std::vector<double>{100.0, 100.5, 100.75, 100.75, 102.75, 102.75}));
}

// Many delays, exact: sequential awaits take the sum, gathered ones the max,
// and tasks wake in deadline order (ties in creation order).
Task<std::vector<int>> record_after(std::vector<int>& order, int index, std::int64_t ms) {
  co_await aio::sleep(std::chrono::milliseconds(ms));
  order.push_back(index);
  co_return std::vector<int>{index};
}

Task<std::pair<double, double>> sum_and_max(std::vector<std::int64_t> delays,
                                            std::vector<int>& order,
                                            std::vector<std::vector<int>>& results) {
  const double t0 = now();
  for (std::size_t i = 0; i < delays.size(); ++i) {
    co_await record_after(order, static_cast<int>(i), delays[i]);
  }
  const double t1 = now();
  order.clear();
  std::vector<Task<std::vector<int>>> coros;
  for (std::size_t i = 0; i < delays.size(); ++i) {
    coros.push_back(record_after(order, static_cast<int>(i), delays[i]));
  }
  results = co_await aio::gather(std::move(coros));
  co_return std::pair{t1 - t0, now() - t1};
}

TEST(AioTiming, SumAndMaxProperty) {
  racegate::test::check_property(
      [](const std::vector<std::uint16_t>& raw) {
        std::vector<std::int64_t> delays(raw.begin(), raw.end());
        for (auto& d : delays) d %= 5000;  // milliseconds
        std::vector<int> order;
        std::vector<std::vector<int>> results;
        const auto [sequential, gathered] = aio::run(sum_and_max(delays, order, results), vclock());
        const auto sum = std::accumulate(delays.begin(), delays.end(), std::int64_t{0});
        const auto max = delays.empty() ? 0 : *std::max_element(delays.begin(), delays.end());
        RC_ASSERT(std::llround(sequential * 1000) == sum);
        RC_ASSERT(std::llround(gathered * 1000) == max);
        std::vector<int> expected(delays.size());
        std::iota(expected.begin(), expected.end(), 0);
        std::stable_sort(expected.begin(), expected.end(),
                         [&](int a, int b) { return delays[a] < delays[b]; });
        RC_ASSERT(order == expected);
        RC_ASSERT(results.size() == delays.size());
        for (std::size_t i = 0; i < results.size(); ++i) {
          RC_ASSERT(results[i] == std::vector<int>{static_cast<int>(i)});
        }
      },
      60);
}

// ========================================================== start ordering

Task<void> two_steps(Log& log, std::string name) {
  log.add("start " + name);
  co_await aio::sleep(0);
  log.add("second " + name);
}

Task<void> start_order(Log& log) {
  auto a = aio::create_task(two_steps(log, "A"));
  auto b = aio::create_task(two_steps(log, "B"));
  auto c = aio::create_task(two_steps(log, "C"));
  log.add("created");
  co_await aio::sleep(0);
  log.add("main");
  co_await a;
  log.add("after A");
  co_await b;
  co_await c;
}

TEST(AioOrder, TasksStartInCreationOrderWhenCreatorYields) {
  Log log;
  aio::run(start_order(log), vclock());
  EXPECT_EQ(log.names, (std::vector<std::string>{"created", "start A", "start B", "start C", "main",
                                                 "second A", "second B", "second C", "after A"}));
}

Task<void> timers_in_order(Log& log) {
  std::vector<aio::TaskHandle<void>> tasks;
  tasks.push_back(aio::create_task(say_after(log, 2, "late")));
  for (int i = 0; i < 4; ++i) tasks.push_back(aio::create_task(say_after(log, 1, std::to_string(i))));
  tasks.push_back(aio::create_task(say_after(log, 0.5, "early")));
  co_await aio::gather(tasks);
}

TEST(AioOrder, TimersByDeadlineThenCreation) {
  Log log;
  aio::run(timers_in_order(log), vclock());
  EXPECT_EQ(log.names, (std::vector<std::string>{"early", "0", "1", "2", "3", "late"}));
  EXPECT_EQ(log.times, (std::vector<double>{0.5, 1, 1, 1, 1, 2}));
}

// call_soon, call_later, call_at and Handle::cancel; a throwing callback is
// reported and the loop goes on.
Task<std::vector<std::string>> callbacks() {
  auto& loop = aio::get_running_loop();
  std::vector<std::string> seen;
  const double t0 = loop.time();
  loop.call_later(0.2, [&] { seen.push_back("later 0.2"); });
  auto h = loop.call_later(0.1, [&] { seen.push_back("cancelled"); });
  EXPECT_EQ(h.when(), t0 + 0.1);
  h.cancel();
  EXPECT_TRUE(h.cancelled());
  loop.call_at(t0 + 0.1, [&] { seen.push_back("at 0.1"); });
  loop.call_soon([] { throw racegate::ValueError("callback failed on purpose"); });
  auto soon = loop.call_soon([&] { seen.push_back("soon"); });
  EXPECT_FALSE(soon.when().has_value());
  co_await aio::sleep(1);
  co_return seen;
}

TEST(AioOrder, CallSoonCallLaterCallAt) {
  testing::internal::CaptureStderr();
  const auto seen = aio::run(callbacks(), vclock());
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(seen, (std::vector<std::string>{"soon", "at 0.1", "later 0.2"}));
  EXPECT_NE(err.find("Exception in callback: ValueError: callback failed on purpose"),
            std::string::npos)
      << err;
}

// ================================================================== gather

Task<void> gather_orders() {
  // Results in argument order, whatever order the children finish in; a void
  // child gives std::monostate; coroutines and task handles mix.
  Log log;
  auto handle = aio::create_task(value_after(0.5, 30));
  auto [a, b, c, d] =
      co_await aio::gather(value_after(3, 10), value_after(1, 20), say_after(log, 2, "x"), handle);
  EXPECT_EQ(a, 10);
  EXPECT_EQ(b, 20);
  EXPECT_EQ(c, std::monostate{});
  EXPECT_EQ(d, 30);
  EXPECT_EQ(now(), 3.0);

  std::vector<Task<int>> coros;
  for (int i = 0; i < 5; ++i) coros.push_back(value_after(5 - i, i));
  const auto from_coros = co_await aio::gather(std::move(coros));
  EXPECT_EQ(from_coros, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(now(), 8.0);

  std::vector<aio::TaskHandle<int>> handles;
  for (int i = 0; i < 3; ++i) handles.push_back(aio::create_task(value_after(3 - i, i)));
  const auto from_handles = co_await aio::gather(handles);
  EXPECT_EQ(from_handles, (std::vector<int>{0, 1, 2}));

  auto empty = co_await aio::gather();
  EXPECT_EQ(std::tuple_size_v<decltype(empty)>, 0u);
  const auto none = co_await aio::gather(std::vector<Task<int>>{});
  EXPECT_TRUE(none.empty());
}

TEST(AioGather, ResultsInArgumentOrder) { aio::run(gather_orders(), vclock()); }

Task<void> gather_first_exception() {
  bool finished = false;
  std::string message;
  double at = -1;
  try {
    (void)co_await aio::gather(value_after_flag(3, 1, finished), fail_after(1, "bad child"));
  } catch (const racegate::ValueError& e) {
    message = e.what();
    at = now();
  }
  EXPECT_EQ(message, "bad child");
  EXPECT_EQ(at, 1.0);
  // The other child is not cancelled: it goes on and finishes.
  EXPECT_FALSE(finished);
  co_await aio::sleep(5);
  EXPECT_TRUE(finished);
}

TEST(AioGather, FirstExceptionPropagatesOthersGoOn) { aio::run(gather_first_exception(), vclock()); }

Task<void> gather_cancelled() {
  Flags f1, f2;
  auto g = aio::gather(slow(f1, 5), slow(f2, 6));
  auto waiter = aio::create_task(await_it(g));
  co_await aio::sleep(1);
  EXPECT_TRUE(waiter.cancel());
  bool got = false;
  try {
    co_await waiter;
  } catch (const CancelledError&) {
    got = true;
  }
  EXPECT_TRUE(got);
  EXPECT_TRUE(waiter.cancelled());
  EXPECT_EQ(now(), 1.0);
  EXPECT_TRUE(f1.cancelled && f2.cancelled);
  EXPECT_EQ(f1.cancelled_at, 1.0);
  EXPECT_TRUE(g.done());
  EXPECT_THROW((void)g.result(), CancelledError);
  EXPECT_EQ(f1.destroyed + f2.destroyed, 2);
}

TEST(AioGather, CancellingTheWaiterCancelsEveryChild) { aio::run(gather_cancelled(), vclock()); }

Task<void> gather_child_cancelled() {
  // A child cancelled on its own: the gather raises CancelledError, the other
  // children go on.
  bool finished = false;
  auto child = aio::create_task(value_after(5, 1));
  auto g = aio::gather(Future<int>(child), value_after_flag(2, 2, finished));
  co_await aio::sleep(1);
  child.cancel("child only");
  std::string message = "<none>";
  try {
    (void)co_await g;
  } catch (const CancelledError& e) {
    message = e.what();
  }
  EXPECT_EQ(message, "child only");
  EXPECT_EQ(now(), 1.0);
  EXPECT_FALSE(finished);
  co_await aio::sleep(2);
  EXPECT_TRUE(finished);
}

TEST(AioGather, ChildCancelledAlone) { aio::run(gather_child_cancelled(), vclock()); }

// ================================================================ wait_for

Task<void> wait_for_times_out(Flags& f, std::string& message, double& at) {
  try {
    (void)co_await aio::wait_for(slow(f, 10), 1.0);
    ADD_FAILURE() << "no TimeoutError";
  } catch (const racegate::TimeoutError& e) {
    message = e.what();
    at = now();
    // The inner task was cancelled and has finished before wait_for raised.
    EXPECT_TRUE(f.cancelled);
    EXPECT_EQ(f.destroyed, 1);
  }
}

TEST(AioWaitFor, TimeoutRaisesTimeoutErrorAndCancelsTheInnerTask) {
  Flags f;
  std::string message = "<unset>";
  double at = -1;
  aio::run(wait_for_times_out(f, message, at), vclock());
  EXPECT_EQ(message, "");  // CPython raises TimeoutError() without a message
  EXPECT_EQ(at, 1.0);
  EXPECT_EQ(f.cancelled_at, 1.0);
  EXPECT_EQ(f.destroyed, 1);
}

Task<void> wait_for_cases() {
  // In time: the result, at its own time, no cancellation.
  const int in_time = co_await aio::wait_for(value_after(2, 5), 3.0);
  EXPECT_EQ(in_time, 5);
  EXPECT_EQ(now(), 2.0);
  // An exception in time is rethrown.
  std::string message;
  try {
    (void)co_await aio::wait_for(fail_after(1, "inner failed"), 5.0);
  } catch (const racegate::ValueError& e) {
    message = e.what();
  }
  EXPECT_EQ(message, "inner failed");
  EXPECT_EQ(now(), 3.0);
  // A task handle, with a chrono timeout.
  auto h = aio::create_task(value_after(1, 9));
  const int from_handle = co_await aio::wait_for(h, std::chrono::milliseconds(1500));
  EXPECT_EQ(from_handle, 9);
  EXPECT_EQ(now(), 4.0);
  // No timeout: a plain await.
  const int no_timeout = co_await aio::wait_for(value_after(10, 1), std::nullopt);
  EXPECT_EQ(no_timeout, 1);
  EXPECT_EQ(now(), 14.0);
  // Zero timeout: a new task is cancelled before it ever runs.
  int ran = 0;
  bool timed_out = false;
  try {
    co_await aio::wait_for(mark(ran), 0.0);
  } catch (const racegate::TimeoutError&) {
    timed_out = true;
  }
  EXPECT_TRUE(timed_out);
  EXPECT_EQ(ran, 0);
  // Zero timeout on a done future: its result.
  const int already_done = co_await aio::wait_for(h, 0.0);
  EXPECT_EQ(already_done, 9);
  EXPECT_EQ(now(), 14.0);
}

TEST(AioWaitFor, ResultsExceptionsAndTimeouts) { aio::run(wait_for_cases(), vclock()); }

// The inner coroutine swallows the cancellation and returns: wait_for returns
// that value instead of raising (CPython 3.11).
Task<int> stubborn(double delay) {
  bool cancelled = false;
  try {
    co_await aio::sleep(delay);
  } catch (const CancelledError&) {
    cancelled = true;
  }
  co_return cancelled ? -1 : 1;
}

TEST(AioWaitFor, InnerThatSwallowsCancellationReturnsItsValue) {
  EXPECT_EQ(aio::run(aio::wait_for(stubborn(10), 1.0), vclock()), -1);
}

// Cancelling the task that waits in wait_for cancels the inner one too, and
// CancelledError reaches the waiter.
Task<int> outer_wait(Flags& f) { co_return co_await aio::wait_for(slow(f, 10), 5.0); }

Task<void> wait_for_outer_cancelled() {
  Flags f;
  auto t = aio::create_task(outer_wait(f));
  co_await aio::sleep(1);
  t.cancel("stop it");
  std::string message = "<none>";
  try {
    (void)co_await t;
  } catch (const CancelledError& e) {
    message = e.what();
  }
  EXPECT_EQ(message, "stop it");
  EXPECT_TRUE(t.cancelled());
  EXPECT_TRUE(f.cancelled);
  EXPECT_EQ(f.cancel_message, "");  // _cancel_and_wait cancels it without a message
  EXPECT_EQ(f.destroyed, 1);
  EXPECT_EQ(now(), 1.0);
}

TEST(AioWaitFor, CancellingTheWaiterCancelsTheInnerTask) {
  aio::run(wait_for_outer_cancelled(), vclock());
}

// ============================================================ cancellation

Task<void> cancellation() {
  // Cancelled while sleeping: CancelledError at the await, at cancel time,
  // with the message; the task ends cancelled.
  Flags f;
  auto t = aio::create_task(slow(f, 10));
  co_await aio::sleep(2);
  EXPECT_FALSE(t.done());
  EXPECT_TRUE(t.cancel("enough"));
  EXPECT_FALSE(t.done());  // delivered when the loop next steps it
  std::string message;
  try {
    (void)co_await t;
  } catch (const CancelledError& e) {
    message = e.what();
  }
  EXPECT_EQ(message, "enough");
  EXPECT_TRUE(f.cancelled);
  EXPECT_EQ(f.cancelled_at, 2.0);
  EXPECT_TRUE(t.cancelled());
  EXPECT_FALSE(t.cancel());  // done: nothing to cancel
  EXPECT_THROW((void)t.result(), CancelledError);
  EXPECT_THROW((void)t.exception(), CancelledError);

  // Cancelled before it started: the body never runs.
  int ran = 0;
  auto never = aio::create_task(mark(ran));
  EXPECT_TRUE(never.cancel());
  bool got = false;
  try {
    co_await never;
  } catch (const CancelledError&) {
    got = true;
  }
  EXPECT_TRUE(got);
  EXPECT_EQ(ran, 0);

  // A coroutine that catches CancelledError decides: the task is not cancelled.
  auto s = aio::create_task(stubborn(10));
  co_await aio::sleep(0);
  s.cancel();
  const int swallowed = co_await s;
  EXPECT_EQ(swallowed, -1);
  EXPECT_FALSE(s.cancelled());

  // Cancelling a task cancels the task it awaits.
  Flags inner_flags;
  auto inner = aio::create_task(slow(inner_flags, 10));
  auto outer = aio::create_task(await_it(aio::Future<int>(inner)));
  co_await aio::sleep(1);
  outer.cancel();
  try {
    (void)co_await outer;
  } catch (const CancelledError&) {
  }
  EXPECT_TRUE(outer.cancelled());
  EXPECT_TRUE(inner.cancelled());
  EXPECT_TRUE(inner_flags.cancelled);
  EXPECT_EQ(now(), 3.0);
}

TEST(AioCancel, DeliversCancelledErrorIntoTheAwaitingCoroutine) {
  aio::run(cancellation(), vclock());
}

// A task that cancels itself gets CancelledError at its next await, at once.
Task<double> cancels_itself() {
  aio::current_task().cancel("self");
  std::string message;
  try {
    co_await aio::sleep(10);
  } catch (const CancelledError& e) {
    message = e.what();
  }
  EXPECT_EQ(message, "self");
  co_return now();
}

TEST(AioCancel, SelfCancellationAtTheNextAwait) {
  EXPECT_EQ(aio::run(cancels_itself(), vclock()), 0.0);
}

TEST(AioCancel, CancelledErrorIsNotAnError) {
  // Like CPython's (a BaseException), catching racegate::Error or
  // std::exception does not stop a cancellation.
  static_assert(!std::is_base_of_v<racegate::Error, CancelledError>);
  static_assert(!std::is_base_of_v<std::exception, CancelledError>);
  EXPECT_STREQ(CancelledError().what(), "");
  EXPECT_STREQ(CancelledError("m").python_type(), "CancelledError");
}

// ============================================================== exceptions

Task<int> thrower(std::string message) {
  co_await aio::sleep(0.5);
  throw racegate::ValueError(message);
}

Task<int> middle(std::string message) {
  const int v = co_await thrower(std::move(message));
  co_return v + 1;
}

Task<void> exceptions() {
  std::string inline_message, task_message;
  try {
    (void)co_await middle("from inline");
  } catch (const racegate::ValueError& e) {
    inline_message = e.what();
  }
  EXPECT_EQ(inline_message, "from inline");
  auto t = aio::create_task(middle("from task"));
  try {
    (void)co_await t;
  } catch (const racegate::Error& e) {
    task_message = std::string(e.python_type()) + ": " + e.what();
  }
  EXPECT_EQ(task_message, "ValueError: from task");
  EXPECT_TRUE(t.done());
  EXPECT_FALSE(t.cancelled());
  EXPECT_TRUE(t.exception() != nullptr);
  EXPECT_THROW((void)t.result(), racegate::ValueError);
  // Awaiting a finished task again gives the same outcome.
  bool again = false;
  try {
    (void)co_await t;
  } catch (const racegate::ValueError&) {
    again = true;
  }
  EXPECT_TRUE(again);
}

TEST(AioExceptions, PropagateThroughAwait) {
  aio::run(exceptions(), vclock());
  EXPECT_EQ(error_of<racegate::ValueError>([] { (void)aio::run(middle("out of run"), vclock()); }),
            "out of run");
}

// ============================================================ run and loop

Task<void> nested_run() {
  std::string message = error_of<racegate::RuntimeError>([] { aio::run(aio::sleep(1)); });
  EXPECT_EQ(message, "asyncio.run() cannot be called from a running event loop");
  auto& loop = aio::get_running_loop();
  message = error_of<racegate::RuntimeError>([&] { loop.run_until_complete(aio::sleep(0)); });
  EXPECT_EQ(message, "This event loop is already running");
  aio::EventLoop other(vclock());
  message = error_of<racegate::RuntimeError>([&] { other.run_until_complete(aio::sleep(0)); });
  EXPECT_EQ(message, "Cannot run the event loop while another loop is running");
  message = error_of<racegate::RuntimeError>([&] { loop.close(); });
  EXPECT_EQ(message, "Cannot close a running event loop");
  message = error_of<racegate::RuntimeError>([&] { loop.cancel_all_tasks(); });
  EXPECT_EQ(message, "This event loop is already running");
  co_return;
}

Task<void> leaves_a_task(Flags& f) {
  (void)aio::create_task(slow(f, 100));
  co_await aio::sleep(1);
}

Task<void> starts_and_returns(std::vector<int>& ran, Flags& f) {
  (void)aio::create_task(append(ran, 1));
  (void)aio::create_task(slow(f, 100));
  co_return;
}

TEST(AioRun, ReturnsValueChecksAndCleansUp) {
  EXPECT_EQ(aio::run(value_after(1, 42), vclock()), 42);
  aio::run(nested_run(), vclock());
  EXPECT_EQ(error_of<racegate::ValueError>([] { aio::run(Task<int>()); }),
            "a coroutine was expected, got None");
  EXPECT_EQ(error_of<racegate::RuntimeError>([] { (void)aio::get_running_loop(); }),
            "no running event loop");
  EXPECT_EQ(error_of<racegate::RuntimeError>([] { (void)aio::current_task(); }),
            "no running event loop");
  // A task still pending when main returns is cancelled, run to its end and
  // its frame destroyed before run() returns.
  Flags f;
  aio::run(leaves_a_task(f), vclock());
  EXPECT_TRUE(f.cancelled);
  EXPECT_EQ(f.cancelled_at, 1.0);
  EXPECT_EQ(f.destroyed, 1);
  // As in CPython, tasks made by a main that returns at once still get the
  // one step that was scheduled before the loop stopped; then they are cancelled.
  std::vector<int> ran;
  Flags g;
  aio::run(starts_and_returns(ran, g), vclock());
  EXPECT_EQ(ran, std::vector<int>{1});
  EXPECT_TRUE(g.cancelled);
  EXPECT_EQ(g.cancelled_at, 0.0);
  EXPECT_EQ(g.destroyed, 1);
}

// Every task waits and nothing can wake one: RuntimeError instead of a hang,
// and the frames are still destroyed.
Task<void> waits_forever(int& destroyed) {
  Tracker tracker(&destroyed);
  auto f = aio::get_running_loop().create_future<int>();
  (void)co_await f;
}

TEST(AioRun, DeadlockRaises) {
  int destroyed = 0;
  const auto message =
      error_of<racegate::RuntimeError>([&] { aio::run(waits_forever(destroyed), vclock()); });
  EXPECT_NE(message.find("event loop deadlock"), std::string::npos) << message;
  EXPECT_EQ(destroyed, 1);
}

Task<void> sleeper(int& destroyed, double delay) {
  Tracker tracker(&destroyed);
  co_await aio::sleep(delay);
}

TEST(AioRun, HandMadeLoop) {
  int destroyed = 0;
  const auto never_before = aio::never_awaited_count();
  {
    aio::EventLoop loop(vclock());
    EXPECT_TRUE(loop.is_virtual_time());
    auto pending = loop.create_task(sleeper(destroyed, 100));
    int ran = 0;
    auto named = loop.create_task(mark(ran), "named");
    EXPECT_EQ(named.get_name(), "named");
    EXPECT_EQ(loop.pending_tasks(), 2u);
    EXPECT_FALSE(loop.is_running());
    loop.run_until_complete(aio::sleep(1));
    EXPECT_EQ(loop.time(), 1.0);
    EXPECT_EQ(ran, 1);
    EXPECT_FALSE(pending.done());
    EXPECT_EQ(loop.pending_tasks(), 1u);
    EXPECT_EQ(loop.run_until_complete(value_after(2, 3)), 3);
    EXPECT_EQ(loop.time(), 3.0);
    // A task created but never stepped when the loop goes: destroyed unrun.
    (void)loop.create_task(mark(ran));
    loop.close();
    EXPECT_TRUE(loop.is_closed());
    EXPECT_EQ(error_of<racegate::RuntimeError>([&] { (void)loop.create_task(mark(ran)); }),
              "Event loop is closed");
    EXPECT_EQ(destroyed, 0);
  }
  EXPECT_EQ(destroyed, 1);  // the pending frame went with the loop
  EXPECT_EQ(aio::never_awaited_count(), never_before + 2);
}

// ================================================================= futures

Task<void> future_api() {
  auto& loop = aio::get_running_loop();
  auto f = loop.create_future<int>();
  EXPECT_EQ(error_of<aio::InvalidStateError>([&] { (void)f.result(); }), "Result is not set.");
  EXPECT_EQ(error_of<aio::InvalidStateError>([&] { (void)f.exception(); }),
            "Exception is not set.");
  std::vector<std::string> seen;
  f.add_done_callback([&](aio::Future<int> g) { seen.push_back("cb1 " + std::to_string(g.result())); });
  const auto id = f.add_done_callback([&](aio::Future<int>) { seen.push_back("cb2"); });
  EXPECT_EQ(f.remove_done_callback(id), 1u);
  f.set_result(5);
  EXPECT_TRUE(seen.empty());  // callbacks are scheduled, never run inline
  EXPECT_EQ(error_of<aio::InvalidStateError>([&] { f.set_result(6); }), "invalid state");
  EXPECT_FALSE(f.cancel());
  co_await aio::sleep(0);
  EXPECT_EQ(seen, (std::vector<std::string>{"cb1 5"}));
  const int awaited = co_await f;
  EXPECT_EQ(awaited, 5);
  EXPECT_EQ(f.result(), 5);

  auto c = loop.create_future<std::string>();
  EXPECT_TRUE(c.cancel("why"));
  EXPECT_TRUE(c.cancelled());
  EXPECT_EQ(error_of<CancelledError>([&] { (void)c.result(); }), "why");

  auto e = loop.create_future<void>();
  e.set_exception(racegate::KeyError("k"));
  bool key_error = false;
  try {
    co_await e;
  } catch (const racegate::KeyError&) {
    key_error = true;
  }
  EXPECT_TRUE(key_error);

  // Set by another task while this one waits.
  auto later = loop.create_future<int>();
  loop.call_later(2, [later]() mutable { later.set_result(11); });
  const int set_later = co_await later;
  EXPECT_EQ(set_later, 11);
  EXPECT_EQ(now(), 2.0);

  auto t = aio::create_task(value_after(1, 1));
  EXPECT_EQ(error_of<racegate::RuntimeError>([&] { t.set_result(2); }),
            "Task does not support set_result operation");
  EXPECT_EQ(error_of<racegate::RuntimeError>([&] { t.set_exception(racegate::ValueError("x")); }),
            "Task does not support set_exception operation");
  aio::Future<void> erased = t;  // a void view waits and ignores the value
  co_await erased;
  EXPECT_EQ(t.result(), 1);
}

TEST(AioFuture, Api) { aio::run(future_api(), vclock()); }

// ========================================================= tasks and frames

Task<int> immediate(int x) { co_return x; }

Task<long long> long_chain(int n) {
  long long sum = 0;
  for (int i = 0; i < n; ++i) sum += co_await immediate(i);
  co_return sum;
}

TEST(AioTask, LongChainsOfInlineAwaitsDoNotGrowTheStack) {
  constexpr int kN = 200000;
  EXPECT_EQ(aio::run(long_chain(kN), vclock()), static_cast<long long>(kN) * (kN - 1) / 2);
}

Task<void> self_await() {
  auto me = aio::current_task();
  std::string message;
  try {
    co_await me;
  } catch (const racegate::RuntimeError& e) {
    message = e.what();
  }
  EXPECT_EQ(message.rfind("Task cannot await on itself", 0), 0u) << message;
}

Task<void> reuse_and_names() {
  auto me = aio::current_task();
  EXPECT_TRUE(me.valid());
  EXPECT_EQ(me.get_name().rfind("Task-", 0), 0u);
  auto w = aio::create_task(value_after(1, 4), "worker");
  EXPECT_EQ(w.get_name(), "worker");
  const int first = co_await w;
  const int second = co_await w;  // a task may be awaited again
  EXPECT_EQ(first, 4);
  EXPECT_EQ(second, 4);
  auto coro = value_after(1, 5);
  const int once = co_await coro;
  EXPECT_EQ(once, 5);
  std::string message;
  try {
    (void)co_await coro;  // a coroutine may not
  } catch (const racegate::RuntimeError& e) {
    message = e.what();
  }
  EXPECT_EQ(message, "cannot reuse already awaited coroutine");
}

TEST(AioTask, SelfAwaitReuseAndNames) {
  aio::run(self_await(), vclock());
  aio::run(reuse_and_names(), vclock());
}

// Move-only results travel through await, tasks and gather.
Task<std::unique_ptr<int>> boxed(int v) {
  co_await aio::sleep(1);
  co_return std::make_unique<int>(v);
}

Task<int> move_only() {
  auto a = co_await boxed(1);
  auto t = aio::create_task(boxed(2));
  auto b = co_await t;
  auto [c, d] = co_await aio::gather(boxed(3), boxed(4));
  co_return *a + *b + *c + *d;
}

TEST(AioTask, MoveOnlyResults) { EXPECT_EQ(aio::run(move_only(), vclock()), 10); }

// ===================================================== schedule points, threads

namespace {
std::atomic<int> g_task_steps{0};
void count_steps(racegate::schedule::Op op, const void*) noexcept {
  if (op == racegate::schedule::Op::kAioTaskStep) g_task_steps.fetch_add(1);
}
}  // namespace

Task<void> two_tasks(Log& log) {
  auto t1 = aio::create_task(say_after(log, 1, "a"));
  auto t2 = aio::create_task(say_after(log, 2, "b"));
  co_await t1;
  co_await t2;
}

TEST(AioSchedule, EveryTaskStepIsASchedulePoint) {
  g_task_steps = 0;
  const auto previous = racegate::schedule::set_hook(&count_steps);
  Log log;
  aio::run(two_tasks(log), vclock());
  racegate::schedule::set_hook(previous);
  // main: 3 steps (start, after t1, after t2); t1 and t2: 2 each (start, wake).
  EXPECT_EQ(g_task_steps.load(), 7);
}

TEST(AioThreads, OneLoopPerThread) {
  // Loops on different threads share nothing (the running loop is per thread).
  double totals[2] = {0, 0};
  std::vector<std::string> names[2];
  std::thread threads[2];
  for (int i = 0; i < 2; ++i) {
    threads[i] = std::thread([&, i] {
      Log log;
      totals[i] = aio::run(why_four_seconds(log, i == 0), vclock());
      names[i] = log.names;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(totals[0], 4.0);
  EXPECT_EQ(totals[1], 4.0);
  EXPECT_EQ(names[0], (std::vector<std::string>{"hello", "oo", "world"}));
  EXPECT_EQ(names[1], (std::vector<std::string>{"hello", "world", "oo"}));
}

// ============================================================== real clock

// The "why 4 seconds" program scaled down, on the real clock: lower bounds
// only (a loaded machine may be slower, never faster).
Task<double> scaled_blocking(Log& log) {
  const double t0 = now();
  auto task1 = aio::create_task(say_after(log, 0.05, "hello"));
  auto task2 = aio::create_task(say_after(log, 0.10, "world"));
  co_await task1;
  aio::blocking_sleep(0.15);
  log.add("oo");
  co_await task2;
  for (auto& t : log.times) t -= t0;
  co_return now() - t0;
}

TEST(AioRealClock, BlockingSleepLowerBound) {
  Log log;
  const auto start = std::chrono::steady_clock::now();
  const double loop_elapsed = aio::run(scaled_blocking(log));
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(log.names, (std::vector<std::string>{"hello", "oo", "world"}));
  EXPECT_GE(log.at("hello"), 0.05);
  EXPECT_GE(log.at("oo"), 0.20);
  EXPECT_GE(log.at("world"), 0.20);
  EXPECT_GE(loop_elapsed, 0.20);
  EXPECT_GE(wall, 0.20);
}
