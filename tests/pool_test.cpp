// Unit tests of racegate::mp::Pool, mp::ThreadPool, AsyncResult and the imap
// iterators (catalog pool.* and threadpool.*).
//
// Tasks of a process Pool run in forked workers: they reach test state only
// through what the workers inherited when the Pool was constructed, here the
// Gate below (process-shared events and counters), created before every pool.
// Ordering uses events, never sleeps; elapsed times are checked only as lower
// bounds (and loose upper bounds where a hang is the failure).
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <dirent.h>
#include <cstdio>
#include <fcntl.h>
#include <map>
#include <optional>
#include <memory>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <unistd.h>
#include <utility>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "racegate/errors.h"
#include "racegate/mp/async_result.h"
#include "racegate/mp/event.h"
#include "racegate/mp/pool.h"
#include "racegate/mp/process.h"
#include "racegate/mp/thread_pool.h"
#include "racegate/threading/event.h"
#include "racegate/threading/thread.h"
#include "support/catalog_test.h"
#include "support/shared_value.h"

namespace mp = racegate::mp;
using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

namespace {

// ---- state the workers inherit ----------------------------------------------------------

struct Gate {
  mp::Event release;  // blocks tasks until the test lets them go
  mp::Event step;     // a second, independent handshake
  std::shared_ptr<std::atomic<int>> pid = racegate::test::make_shared_atomic<int>(0);
  std::shared_ptr<std::atomic<int>> count = racegate::test::make_shared_atomic<int>(0);
};

Gate* g_gate = nullptr;  // set by the fixture before any pool is made
int g_init_value = 0;    // set by an initializer in each worker

// ---- tasks (functions: their identity is the same in every worker) ----------------------

int square(int x) { return x * x; }
int twice(int x) { return 2 * x; }
int add(int a, int b) { return a + b; }
int my_pid() { return getpid(); }
std::string echo(std::string s) { return s; }
int my_pid_of(int) { return getpid(); }
void noop(int) {}

int wait_then(int x) {
  g_gate->release.wait();
  return x;
}

int report_pid_and_wait(int x) {
  g_gate->pid->store(getpid());
  g_gate->release.wait();
  return x;
}

// Item 0 finishes only after item 1 did: completion order is reversed.
int reversed_completion(int x) {
  if (x == 0) {
    g_gate->step.wait();
  } else {
    g_gate->step.set();
  }
  return 10 * x;
}

int fail_value_error(int x) { throw racegate::ValueError("bad " + std::to_string(x)); }
int fail_runtime_error(int) { throw std::runtime_error("oops"); }
int fail_system_exit(int) { throw mp::SystemExit(3); }
int fail_on_two(int x) {
  if (x == 2) throw racegate::ValueError("two");
  return x;
}

std::pair<std::string, bool> who_am_i() {
  return {mp::current_process().name(), mp::current_process().daemon()};
}

std::string start_process_in_task() {
  mp::Process p;
  p.start();  // throws in a daemonic process
  p.join();
  return "started";
}

std::string pool_in_task() {
  mp::Pool inner(1);
  return "made";
}

int thread_pool_in_task(int n) {
  mp::ThreadPool tp(2);
  std::vector<int> xs;
  for (int i = 0; i < n; ++i) xs.push_back(i);
  auto ys = tp.map([](int x) { return x + 1; }, xs);
  tp.close();
  tp.join();
  int sum = 0;
  for (int y : ys) sum += y;
  return sum;
}

void count_initializer() { g_gate->count->fetch_add(1); }
void set_init_value(int v) { g_init_value = v; }
int read_init_value(int x) { return g_init_value + x; }
void throwing_initializer() { throw racegate::ValueError("init failed"); }

// A function object that travels with its arguments (a bound method's C++ form).
struct Scale {
  int k = 0;
  int operator()(int x) const { return k * x; }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(k);
  }
};

struct Point {
  int x = 0;
  int y = 0;
  int sum() const { return x + y; }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(x, y);
  }
};

template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return "<no exception>";
}

bool process_exists(int pid) { return kill(pid, 0) == 0 || errno != ESRCH; }

int open_fds() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d) != nullptr) ++n;
    closedir(d);
  }
  return n;
}

std::vector<int> iota(int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) v.push_back(i);
  return v;
}

class PoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    gate_ = std::make_unique<Gate>();
    g_gate = gate_.get();
  }
  void TearDown() override {
    gate_->release.set();
    gate_->step.set();
    racegate::test::expect_no_unreaped_children();
    g_gate = nullptr;
    gate_.reset();
  }
  std::unique_ptr<Gate> gate_;
};

using ThreadPoolTest = PoolTest;

const std::regex kNotReady("<multiprocessing\\.pool\\.(ApplyResult|MapResult) object at 0x[0-9a-f]+> not ready");

}  // namespace

// ---- construction ------------------------------------------------------------------------

TEST_F(PoolTest, InvalidArgumentsAndDefaultSize) {
  EXPECT_EQ(message_of<racegate::ValueError>([] { mp::Pool p(0); }), "Number of processes must be at least 1");
  EXPECT_EQ(message_of<racegate::ValueError>([] { mp::Pool p(-3); }), "Number of processes must be at least 1");
  EXPECT_EQ(message_of<racegate::ValueError>([] { mp::Pool p(1, {}, 0); }),
            "maxtasksperchild must be a positive int or None");
  EXPECT_EQ(message_of<racegate::ValueError>([] { mp::ThreadPool p(0); }),
            "Number of processes must be at least 1");

  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_EQ(mp::cpu_count(), CPU_COUNT(&set));
  mp::Pool pool;
  EXPECT_EQ(pool.processes(), mp::cpu_count());
  mp::ThreadPool tp;
  EXPECT_EQ(tp.processes(), mp::cpu_count());
}

TEST_F(PoolTest, WorkersAreDaemonicForkPoolWorkersMadeAtConstruction) {
  mp::Pool pool(2);
  // Both workers exist when the constructor returns (pool.prefork_workers).
  auto workers = pool.worker_pids();
  ASSERT_EQ(workers.size(), 2u);
  for (int pid : workers) EXPECT_TRUE(process_exists(pid));
  std::set<int> pids;
  auto [name, daemonic] = pool.apply(who_am_i);
  EXPECT_TRUE(std::regex_match(name, std::regex("ForkPoolWorker-[0-9]+"))) << name;
  EXPECT_TRUE(daemonic);
  for (int pid : pool.map(my_pid_of, iota(20), 1)) pids.insert(pid);
  EXPECT_LE(pids.size(), 2u);  // never a process per task (pool.prefork_workers)
  for (int pid : pids) EXPECT_NE(std::find(workers.begin(), workers.end(), pid), workers.end());
  pool.close();
  pool.join();
}

TEST_F(PoolTest, WorkerNamesFollowTheProcessCounter) {
  mp::Process before;
  int n = std::stoi(before.name().substr(before.name().rfind('-') + 1));
  mp::Pool pool(2, count_initializer);
  std::set<std::string> names;
  for (int i = 0; i < 10 && names.size() < 2; ++i) {
    for (auto& r : pool.map_async([](int) { return who_am_i().first; }, iota(8), 1).get(Seconds(60))) {
      names.insert(r);
    }
  }
  for (const auto& name : names) {
    EXPECT_TRUE(name == "ForkPoolWorker-" + std::to_string(n + 1) || name == "ForkPoolWorker-" + std::to_string(n + 2))
        << name;
  }
  mp::Process after;
  EXPECT_EQ(after.name(), "Process-" + std::to_string(n + 3));
  pool.close();
  pool.join();
  EXPECT_EQ(g_gate->count->load(), 2);  // the initializer ran once in each worker
}

TEST_F(PoolTest, InitializerWithInitargs) {
  mp::Pool pool(2, set_init_value, std::make_tuple(41));
  EXPECT_EQ(pool.map(read_init_value, std::vector<int>{1, 2, 3}), (std::vector<int>{42, 43, 44}));
  pool.close();
  pool.join();
}

TEST_F(PoolTest, NoChildrenInsideWorkers) {
  mp::Pool pool(1);
  EXPECT_EQ(message_of<racegate::AssertionError>([&] { pool.apply(start_process_in_task); }),
            "daemonic processes are not allowed to have children");
  try {
    pool.apply(pool_in_task);
    ADD_FAILURE() << "Pool inside a worker did not throw";
  } catch (const racegate::AssertionError& e) {
    EXPECT_STREQ(e.what(), "daemonic processes are not allowed to have children");
    EXPECT_STREQ(e.python_type(), "AssertionError");
  }
  // A ThreadPool inside a worker is fine (daemon.pool_workers_are_daemonic).
  EXPECT_EQ(pool.apply(thread_pool_in_task, 4), 1 + 2 + 3 + 4);
  pool.close();
  pool.join();
}

// ---- apply / apply_async / AsyncResult ---------------------------------------------------

TEST_F(PoolTest, ApplyAndApplyAsync) {
  mp::Pool pool(2);
  EXPECT_EQ(pool.apply(square, 7), 49);
  EXPECT_EQ(pool.apply(add, 40, 2), 42);
  EXPECT_NE(pool.apply(my_pid), getpid());
  auto r = pool.apply_async(square, 8);
  r.wait();
  EXPECT_TRUE(r.ready());
  EXPECT_TRUE(r.successful());
  EXPECT_EQ(r.get(), 64);
  EXPECT_EQ(r.get(), 64);  // again
  pool.apply(noop, 1);     // void
  auto v = pool.apply_async(noop, 2);
  v.get();
  EXPECT_TRUE(v.successful());
  // Captureless lambdas, serializable function objects, member pointers.
  EXPECT_EQ(pool.apply([](int x) { return x + 1; }, 1), 2);
  EXPECT_EQ(pool.map(Scale{10}, std::vector<int>{1, 2}), (std::vector<int>{10, 20}));
  EXPECT_EQ(pool.map(&Point::sum, std::vector<Point>{{1, 2}, {3, 4}}), (std::vector<int>{3, 7}));
  // Arguments and results far larger than a socket buffer.
  std::string big(4 << 20, 'x');
  big[12345] = 'y';
  EXPECT_EQ(pool.apply(echo, big), big);
  pool.close();
  pool.join();
}

TEST_F(PoolTest, GetTimeoutAndSuccessfulBeforeReady) {
  mp::Pool pool(1);
  auto r = pool.apply_async(wait_then, 5);
  EXPECT_FALSE(r.ready());
  EXPECT_TRUE(std::regex_match(message_of<racegate::ValueError>([&] { (void)r.successful(); }), kNotReady));
  EXPECT_TRUE(std::regex_match(r.repr(), std::regex("<multiprocessing\\.pool\\.ApplyResult object at 0x[0-9a-f]+>")));
  auto t0 = Clock::now();
  try {
    r.get(Seconds(0.3));
    ADD_FAILURE() << "get(timeout) did not throw";
  } catch (const racegate::TimeoutError& e) {
    EXPECT_STREQ(e.what(), "");
    EXPECT_STREQ(e.python_type(), "TimeoutError");
  }
  EXPECT_GE(Clock::now() - t0, Seconds(0.3));
  auto t1 = Clock::now();
  EXPECT_FALSE(r.wait(Seconds(0.2)));
  EXPECT_GE(Clock::now() - t1, Seconds(0.2));

  auto m = pool.map_async(twice, std::vector<int>{1, 2});
  EXPECT_TRUE(std::regex_match(message_of<racegate::ValueError>([&] { (void)m.successful(); }), kNotReady));
  EXPECT_NE(message_of<racegate::ValueError>([&] { (void)m.successful(); }).find("MapResult"), std::string::npos);

  g_gate->release.set();
  EXPECT_EQ(r.get(Seconds(60)), 5);  // the result can still be fetched
  EXPECT_TRUE(r.successful());
  EXPECT_EQ(m.get(Seconds(60)), (std::vector<int>{2, 4}));
  pool.close();
  pool.join();
}

TEST_F(PoolTest, ApplyAsyncReturnsAtOnce) {
  mp::Pool pool(2);
  auto t0 = Clock::now();
  std::vector<mp::AsyncResult<int>> rs;
  for (int i = 0; i < 5; ++i) rs.push_back(pool.apply_async(wait_then, i));
  EXPECT_LT(Clock::now() - t0, Seconds(5));
  for (auto& r : rs) EXPECT_FALSE(r.ready());
  g_gate->release.set();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(rs[static_cast<std::size_t>(i)].get(Seconds(60)), i);
  pool.close();
  pool.join();
}

// ---- callbacks ---------------------------------------------------------------------------

TEST_F(PoolTest, CallbacksRunInTheParentOnTheResultHandler) {
  mp::Pool pool(2);
  std::atomic<int> cb_pid{0}, err_pid{0};
  std::string cb_thread, err_thread, err_type, err_message;  // written by the callback, read after get()
  int cb_value = 0;
  auto r = pool.apply_async(square, 9, mp::callback([&](const int& v) {
                              cb_value = v;
                              cb_thread = racegate::threading::current_thread_name();
                              cb_pid = getpid();
                            }));
  EXPECT_EQ(r.get(Seconds(60)), 81);
  // The callback ran before the result became ready.
  EXPECT_EQ(cb_value, 81);
  EXPECT_EQ(cb_pid.load(), getpid());
  EXPECT_NE(cb_thread, "MainThread");
  EXPECT_TRUE(std::regex_match(cb_thread, std::regex("Thread-[0-9]+ \\(_handle_results\\)"))) << cb_thread;

  auto e = pool.apply_async(fail_value_error, 4, mp::callback([](const int&) { ADD_FAILURE() << "callback on error"; }),
                            mp::error_callback([&](const racegate::Error& err) {
                              err_type = err.python_type();
                              err_message = err.what();
                              err_thread = racegate::threading::current_thread_name();
                              err_pid = getpid();
                            }));
  EXPECT_EQ(message_of<racegate::ValueError>([&] { e.get(Seconds(60)); }), "bad 4");  // get still raises
  EXPECT_EQ(err_type, "ValueError");
  EXPECT_EQ(err_message, "bad 4");
  EXPECT_EQ(err_pid.load(), getpid());
  EXPECT_EQ(err_thread, cb_thread);

  // map_async's callback gets the whole list; error callbacks may take exception_ptr.
  std::vector<int> got;
  auto m = pool.map_async(twice, iota(5), mp::callback([&](const std::vector<int>& v) { got = v; }));
  m.wait();
  EXPECT_EQ(got, (std::vector<int>{0, 2, 4, 6, 8}));
  bool saw_error = false;
  auto me = pool.map_async(fail_on_two, iota(4), 1, mp::error_callback([&](std::exception_ptr ep) {
                             try {
                               std::rethrow_exception(ep);
                             } catch (const racegate::ValueError& err) {
                               saw_error = std::string(err.what()) == "two";
                             }
                           }));
  me.wait();
  EXPECT_TRUE(saw_error);
  EXPECT_FALSE(me.successful());

  // A callback may submit more work (it runs on the handler thread).
  std::optional<mp::AsyncResult<int>> chained;
  pool.apply_async(square, 5, mp::callback([&](const int& v) { chained.emplace(pool.apply_async(twice, v)); }))
      .get(Seconds(60));
  ASSERT_TRUE(chained.has_value());
  EXPECT_EQ(chained->get(Seconds(60)), 50);

  // A callback that throws is reported; the result still becomes ready.
  auto t = pool.apply_async(square, 3, mp::callback([](const int&) { throw std::runtime_error("cb"); }));
  EXPECT_EQ(t.get(Seconds(60)), 9);
  // void tasks: the callback may take nothing.
  bool void_called = false;
  pool.apply_async(noop, 1, mp::callback([&] { void_called = true; })).get();
  EXPECT_TRUE(void_called);
  pool.close();
  pool.join();
}

// ---- errors ------------------------------------------------------------------------------

TEST_F(PoolTest, TaskErrorsKeepTypeAndMessage) {
  mp::Pool pool(2);
  auto r = pool.apply_async(fail_value_error, 1);
  r.wait();
  EXPECT_TRUE(r.ready());
  EXPECT_FALSE(r.successful());
  EXPECT_EQ(message_of<racegate::ValueError>([&] { r.get(); }), "bad 1");
  EXPECT_EQ(message_of<racegate::ValueError>([&] { pool.apply(fail_value_error, 2); }), "bad 2");
  EXPECT_EQ(message_of<racegate::ValueError>([&] { pool.map(fail_value_error, std::vector<int>{3}); }), "bad 3");
  try {
    pool.apply(fail_runtime_error, 0);
    ADD_FAILURE() << "no exception";
  } catch (const racegate::RemoteError& e) {
    EXPECT_STREQ(e.python_type(), "std::runtime_error");
    EXPECT_STREQ(e.what(), "oops");
  }
  try {
    pool.apply(fail_system_exit, 0);
    ADD_FAILURE() << "no exception";
  } catch (const racegate::RemoteError& e) {
    EXPECT_STREQ(e.python_type(), "SystemExit");
    EXPECT_STREQ(e.what(), "3");
  }
  // The pool is fine afterwards.
  EXPECT_EQ(pool.apply(square, 3), 9);
  pool.close();
  pool.join();
}

TEST_F(PoolTest, ApplyAsyncErrorIsSilentWithoutGet) {
  // Workers inherit stderr at construction: point it at a file first.
  char path[] = "/tmp/racegate-pool-stderr-XXXXXX";
  int file = mkstemp(path);
  ASSERT_GE(file, 0);
  unlink(path);
  fflush(stderr);
  int saved = dup(2);
  ASSERT_GE(saved, 0);
  dup2(file, 2);
  {
    mp::Pool pool(1);
    auto r = pool.apply_async(fail_value_error, 1);
    r.wait();
    (void)pool.apply(square, 2);
    pool.close();
    pool.join();
  }
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  off_t size = lseek(file, 0, SEEK_END);
  close(file);
  EXPECT_EQ(size, 0) << "a task error was printed";
}

// ---- map / starmap / imap ----------------------------------------------------------------

TEST_F(PoolTest, MapKeepsInputOrder) {
  mp::Pool pool(2);
  std::vector<int> expected;
  for (int i = 0; i < 10; ++i) expected.push_back(2 * i);
  EXPECT_EQ(pool.map(twice, iota(10)), expected);  // pool.map_preserves_order
  for (int cs : {1, 3, 100}) EXPECT_EQ(pool.map(twice, iota(10), cs), expected);
  // Completion order reversed: item 0 ends after item 1.
  EXPECT_EQ(pool.map(reversed_completion, std::vector<int>{0, 1}, 1), (std::vector<int>{0, 10}));
  EXPECT_TRUE(pool.map(twice, std::vector<int>{}).empty());
  EXPECT_EQ(pool.map(noop, iota(3)).size(), 3u);
  EXPECT_EQ(pool.starmap(add, std::vector<std::pair<int, int>>{{1, 2}, {3, 4}, {5, 6}}),
            (std::vector<int>{3, 7, 11}));
  EXPECT_EQ(pool.starmap_async(add, std::vector<std::tuple<int, int>>{{1, 1}, {2, 2}}).get(Seconds(60)),
            (std::vector<int>{2, 4}));
  EXPECT_EQ(message_of<racegate::ValueError>([&] { pool.map(twice, iota(3), 0); }), "Chunksize must be 1+, not 0");
  pool.close();
  pool.join();
}

TEST_F(PoolTest, ImapAndImapUnordered) {
  mp::Pool pool(3);
  std::vector<int> in_order;
  for (int v : pool.imap(square, iota(10))) in_order.push_back(v);
  std::vector<int> expected;
  for (int i = 0; i < 10; ++i) expected.push_back(i * i);
  EXPECT_EQ(in_order, expected);

  std::multiset<int> unordered;
  auto it = pool.imap_unordered(square, iota(10), 2);
  while (auto v = it.next(Seconds(60))) unordered.insert(*v);
  EXPECT_EQ(unordered, std::multiset<int>(expected.begin(), expected.end()));

  std::vector<int> chunked;
  for (int v : pool.imap(square, iota(10), 4)) chunked.push_back(v);
  EXPECT_EQ(chunked, expected);

  // An error comes at its place; iteration goes on after it (chunksize 1).
  auto errs = pool.imap(fail_on_two, iota(4));
  EXPECT_EQ(errs.next(), 0);
  EXPECT_EQ(errs.next(), 1);
  EXPECT_EQ(message_of<racegate::ValueError>([&] { errs.next(); }), "two");
  EXPECT_EQ(errs.next(), 3);
  EXPECT_EQ(errs.next(), std::nullopt);

  EXPECT_EQ(message_of<racegate::ValueError>([&] { pool.imap(square, iota(2), 0); }), "Chunksize must be 1+, not 0");
  EXPECT_EQ(message_of<racegate::ValueError>([&] { pool.imap_unordered(square, iota(2), -1); }),
            "Chunksize must be 1+, not -1");

  auto held = pool.imap(wait_then, std::vector<int>{7});
  auto t0 = Clock::now();
  EXPECT_EQ(message_of<racegate::TimeoutError>([&] { held.next(Seconds(0.2)); }), "");
  EXPECT_GE(Clock::now() - t0, Seconds(0.2));
  g_gate->release.set();
  EXPECT_EQ(held.next(Seconds(60)), 7);
  EXPECT_EQ(held.next(Seconds(60)), std::nullopt);
  EXPECT_EQ(pool.imap(square, std::vector<int>{}).next(), std::nullopt);
  pool.close();
  pool.join();
}

// ---- lifecycle ---------------------------------------------------------------------------

TEST_F(PoolTest, CloseJoinLifecycle) {
  mp::Pool pool(2);
  EXPECT_EQ(message_of<racegate::ValueError>([&] { pool.join(); }), "Pool is still running");
  std::vector<mp::AsyncResult<int>> rs;
  for (int i = 0; i < 6; ++i) rs.push_back(pool.apply_async(square, i));
  pool.close();
  EXPECT_EQ(message_of<racegate::ValueError>([&] { pool.apply_async(square, 1); }), "Pool not running");
  EXPECT_EQ(message_of<racegate::ValueError>([&] { pool.map(square, iota(2)); }), "Pool not running");
  EXPECT_EQ(message_of<racegate::ValueError>([&] { pool.imap(square, iota(2)); }), "Pool not running");
  EXPECT_EQ(message_of<racegate::ValueError>([&] { pool.apply(square, 1); }), "Pool not running");
  pool.join();  // waits for every submitted task
  for (int i = 0; i < 6; ++i) {
    EXPECT_TRUE(rs[static_cast<std::size_t>(i)].ready());
    EXPECT_EQ(rs[static_cast<std::size_t>(i)].get(), i * i);
  }
  pool.close();  // harmless now
  pool.join();
}

TEST_F(PoolTest, TerminateDiscardsPending) {
  mp::Pool pool(1);
  auto running = pool.apply_async(report_pid_and_wait, 0);
  std::vector<mp::AsyncResult<int>> queued;
  for (int i = 1; i <= 5; ++i) queued.push_back(pool.apply_async(square, i));
  auto t0 = Clock::now();
  while (g_gate->pid->load() == 0 && Clock::now() - t0 < Seconds(60)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  int worker = g_gate->pid->load();
  ASSERT_NE(worker, 0);
  auto t1 = Clock::now();
  pool.terminate();
  EXPECT_LT(Clock::now() - t1, Seconds(30));
  pool.join();
  EXPECT_FALSE(running.ready());
  for (auto& r : queued) EXPECT_FALSE(r.ready());
  EXPECT_FALSE(process_exists(worker));
  EXPECT_EQ(message_of<racegate::ValueError>([&] { pool.map(square, iota(2)); }), "Pool not running");
  pool.terminate();  // again: nothing to do
}

TEST_F(PoolTest, DestructorTerminates) {
  int worker = 0;
  auto t0 = Clock::now();
  {
    mp::Pool pool(1);
    auto r = pool.apply_async(report_pid_and_wait, 0);
    while (g_gate->pid->load() == 0 && Clock::now() - t0 < Seconds(60)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    worker = g_gate->pid->load();
  }
  ASSERT_NE(worker, 0);
  EXPECT_FALSE(process_exists(worker));
  EXPECT_LT(Clock::now() - t0, Seconds(60));
}

TEST_F(PoolTest, MaxTasksPerChildReplacesWorkers) {
  std::set<int> pids;
  {
    mp::Pool pool(2, {}, 1);
    for (int i = 0; i < 6; ++i) pids.insert(pool.apply(my_pid));
    pool.close();
    pool.join();
  }
  EXPECT_EQ(pids.size(), 6u);  // pool.maxtasksperchild_replaces_worker
  std::set<int> without;
  {
    mp::Pool pool(2);
    for (int i = 0; i < 6; ++i) without.insert(pool.apply(my_pid));
    pool.close();
    pool.join();
  }
  EXPECT_LE(without.size(), 2u);
  for (int pid : pids) EXPECT_FALSE(process_exists(pid));
  // With maps and chunks too: every task is counted.
  mp::Pool pool(2, {}, 2);
  std::set<int> map_pids;
  for (int pid : pool.map(my_pid_of, iota(12), 1)) map_pids.insert(pid);
  EXPECT_GE(map_pids.size(), 6u);
  pool.close();
  pool.join();
}

TEST_F(PoolTest, PoolsLeaveNoProcessBehind) {
  std::set<int> pids;
  (void)mp::active_children();  // reaps ended Processes of earlier tests (closes their pidfds)
  const int fds_before = open_fds();
  {
    mp::Pool pool(3);
    for (int pid : pool.map(my_pid_of, iota(30), 1)) pids.insert(pid);
    pool.close();
    pool.join();
  }
  {
    mp::Pool pool(2);
    for (int pid : pool.map(my_pid_of, iota(10), 1)) pids.insert(pid);
  }  // destroyed while running: terminated
  for (int pid : pids) EXPECT_FALSE(process_exists(pid)) << pid;
  EXPECT_TRUE(mp::active_children().empty());
  EXPECT_EQ(open_fds(), fds_before);  // no socket or eventfd left open
}

TEST_F(PoolTest, ManyThreadsShareOnePool) {
  mp::Pool pool(2);
  std::vector<std::unique_ptr<racegate::threading::Thread>> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.push_back(std::make_unique<racegate::threading::Thread>([&pool, &wrong, t] {
      for (int i = 0; i < 25; ++i) {
        int x = 100 * t + i;
        if (pool.apply(square, x) != x * x) ++wrong;
        auto r = pool.apply_async(add, x, 1);
        if (r.get(Seconds(60)) != x + 1) ++wrong;
      }
      if (pool.map(twice, iota(10), 2) != pool.map(twice, iota(10))) ++wrong;
    }));
    threads.back()->start();
  }
  for (auto& t : threads) t->join();
  EXPECT_EQ(wrong.load(), 0);
  pool.close();
  pool.join();
}

TEST_F(PoolTest, PoolInsideAChildProcess) {
  mp::Process child([] {
    mp::Pool pool(2);
    auto names = pool.map([](int) { return mp::current_process().name(); }, iota(4), 1);
    // Names carry the child's number: ForkPoolWorker-N:M.
    for (const auto& n : names) {
      if (!std::regex_match(n, std::regex("ForkPoolWorker-[0-9]+:[0-9]+"))) throw mp::SystemExit(2);
    }
    if (pool.map(square, iota(4)) != std::vector<int>{0, 1, 4, 9}) throw mp::SystemExit(3);
    pool.close();
    pool.join();
  });
  child.start();
  child.join();
  EXPECT_EQ(child.exitcode(), 0);
}

// ---- registered tasks --------------------------------------------------------------------

TEST_F(PoolTest, RegisteredTasks) {
  int offset = 100;
  auto plus = mp::register_task([offset](int x) { return x + offset; });
  mp::Pool pool(1);
  EXPECT_EQ(pool.apply(plus, 1), 101);
  EXPECT_EQ(pool.map(plus, std::vector<int>{1, 2}), (std::vector<int>{101, 102}));
  auto late = mp::register_task([offset](int x) { return x - offset; });
  auto r = pool.apply_async(late, 1);
  EXPECT_TRUE(r.ready());
  EXPECT_FALSE(r.successful());
  EXPECT_NE(message_of<racegate::TypeError>([&] { r.get(); }).find("registered after the pool was created"),
            std::string::npos);
  EXPECT_THROW(pool.map(late, std::vector<int>{1}), racegate::TypeError);
  pool.close();
  pool.join();
  mp::ThreadPool tp(1);
  EXPECT_EQ(tp.apply(late, 1), -99);  // a ThreadPool takes any callable
}

// ---- a worker that dies ------------------------------------------------------------------

TEST_F(PoolTest, KilledWorkerBreaksThePool) {
  mp::Pool pool(2);
  auto victim = pool.apply_async(report_pid_and_wait, 1);
  auto other = pool.apply_async(wait_then, 2);
  auto queued = pool.apply_async(square, 3);
  auto m = pool.map_async(twice, iota(4));
  auto t0 = Clock::now();
  while (g_gate->pid->load() == 0 && Clock::now() - t0 < Seconds(60)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  int pid = g_gate->pid->load();
  ASSERT_NE(pid, 0);
  ASSERT_EQ(kill(pid, SIGKILL), 0);

  std::string message;
  try {
    victim.get(Seconds(60));
    ADD_FAILURE() << "no exception";
  } catch (const racegate::BrokenPoolError& e) {
    message = e.what();
    EXPECT_STREQ(e.python_type(), "BrokenPoolError");
  }
  EXPECT_LT(Clock::now() - t0, Seconds(60));
  EXPECT_TRUE(std::regex_search(message, std::regex("pool worker ForkPoolWorker-[0-9]+ \\(pid " +
                                                    std::to_string(pid) + "\\) was killed by signal 9 \\(SIGKILL\\)")))
      << message;
  EXPECT_THROW(other.get(Seconds(60)), racegate::BrokenPoolError);
  EXPECT_THROW(queued.get(Seconds(60)), racegate::BrokenPoolError);
  EXPECT_THROW(m.get(Seconds(60)), racegate::BrokenPoolError);
  // Later tasks fail at once.
  EXPECT_EQ(message_of<racegate::BrokenPoolError>([&] { pool.apply(square, 2); }), message);
  auto later = pool.apply_async(square, 2);
  EXPECT_TRUE(later.ready());
  EXPECT_FALSE(later.successful());
  EXPECT_THROW(pool.map(square, iota(3)), racegate::BrokenPoolError);
  pool.close();
  pool.join();
  EXPECT_FALSE(process_exists(pid));
}

TEST_F(PoolTest, ThrowingInitializerBreaksThePool) {
  // The worker prints "Process ForkPoolWorker-N:" and the error (as CPython).
  mp::Pool pool(1, throwing_initializer);
  auto r = pool.apply_async(square, 2);
  try {
    r.get(Seconds(60));
    ADD_FAILURE() << "no exception";
  } catch (const racegate::BrokenPoolError& e) {
    EXPECT_NE(std::string(e.what()).find("exited with code 1"), std::string::npos) << e.what();
  }
  pool.close();
  pool.join();
}

// ---- ThreadPool --------------------------------------------------------------------------

TEST_F(ThreadPoolTest, GetTimeoutDoesNotCancel) {
  // threadpool.get_timeout_does_not_cancel
  racegate::threading::Event go;
  std::atomic<bool> finished{false};
  mp::ThreadPool tp(1);
  auto r = tp.apply_async([&] {
    go.wait();
    finished = true;
    return std::make_pair(static_cast<int>(getpid()), racegate::threading::current_thread_name());
  });
  auto t0 = Clock::now();
  EXPECT_EQ(message_of<racegate::TimeoutError>([&] { r.get(Seconds(0.1)); }), "");
  EXPECT_GE(Clock::now() - t0, Seconds(0.1));
  EXPECT_FALSE(finished.load());
  go.set();
  auto [pid, thread] = r.get(Seconds(60));  // it ran to the end
  EXPECT_TRUE(finished.load());
  EXPECT_EQ(pid, getpid());
  EXPECT_TRUE(std::regex_match(thread, std::regex("Thread-[0-9]+ \\(worker\\)"))) << thread;
  tp.close();
  tp.join();
}

TEST_F(ThreadPoolTest, SameApi) {
  mp::ThreadPool tp(3);
  int base = 10;
  EXPECT_EQ(tp.apply([base](int x) { return base + x; }, 5), 15);
  EXPECT_EQ(tp.apply(add, 1, 2), 3);
  EXPECT_EQ(tp.map(twice, iota(5), 3), (std::vector<int>{0, 2, 4, 6, 8}));
  EXPECT_EQ(tp.starmap(add, std::vector<std::pair<int, int>>{{1, 2}, {3, 4}}), (std::vector<int>{3, 7}));
  std::vector<int> ordered;
  for (int v : tp.imap(square, iota(6))) ordered.push_back(v);
  EXPECT_EQ(ordered, (std::vector<int>{0, 1, 4, 9, 16, 25}));
  std::multiset<int> unordered;
  auto it = tp.imap_unordered(square, iota(6), 2);
  while (auto v = it.next(Seconds(60))) unordered.insert(*v);
  EXPECT_EQ(unordered, (std::multiset<int>{0, 1, 4, 9, 16, 25}));
  EXPECT_EQ(tp.map(noop, iota(2)).size(), 2u);
  tp.apply(noop, 1);
  EXPECT_EQ(message_of<racegate::ValueError>([&] { tp.imap(square, iota(2), 0); }), "Chunksize must be 1+, not 0");

  // Errors: the original exception object.
  EXPECT_THROW(tp.apply(fail_runtime_error, 1), std::runtime_error);
  EXPECT_EQ(message_of<racegate::ValueError>([&] { tp.map(fail_value_error, std::vector<int>{7}); }), "bad 7");
  auto e = tp.apply_async(fail_value_error, 8);
  e.wait();
  EXPECT_FALSE(e.successful());

  // Callbacks: this process, the result-handler thread.
  std::string cb_thread;
  int cb_pid = 0;
  tp.apply_async(square, 4, mp::callback([&](const int&) {
                   cb_thread = racegate::threading::current_thread_name();
                   cb_pid = getpid();
                 }))
      .get();
  EXPECT_EQ(cb_pid, getpid());
  EXPECT_TRUE(std::regex_match(cb_thread, std::regex("Thread-[0-9]+ \\(_handle_results\\)"))) << cb_thread;
  std::string err_what;
  tp.apply_async(fail_runtime_error, 1, mp::error_callback([&](const std::exception& ex) { err_what = ex.what(); }))
      .wait();
  EXPECT_EQ(err_what, "oops");
  tp.close();
  tp.join();
}

TEST_F(ThreadPoolTest, Lifecycle) {
  std::atomic<int> inits{0};
  mp::ThreadPool tp(3, [&] { ++inits; });
  EXPECT_EQ(message_of<racegate::ValueError>([&] { tp.join(); }), "Pool is still running");
  auto r = tp.apply_async(square, 6);
  tp.close();
  EXPECT_EQ(message_of<racegate::ValueError>([&] { tp.apply(square, 1); }), "Pool not running");
  tp.join();
  EXPECT_EQ(r.get(), 36);
  EXPECT_EQ(inits.load(), 3);

  mp::ThreadPool initargs(1, [](int a, int b) { g_init_value = a + b; }, std::make_tuple(1, 2));
  EXPECT_EQ(initargs.apply([] { return g_init_value; }), 3);
}

TEST_F(ThreadPoolTest, TerminateDiscardsPending) {
  racegate::threading::Event started;
  mp::ThreadPool tp(1);
  // The running task cannot be stopped: it ends on its own after a while.
  auto running = tp.apply_async([&] {
    started.set();
    racegate::threading::Event never;
    never.wait(Seconds(0.3));
    return 1;
  });
  ASSERT_TRUE(started.wait(Seconds(60)));
  std::vector<mp::AsyncResult<int>> queued;
  for (int i = 0; i < 3; ++i) queued.push_back(tp.apply_async(square, i));
  tp.terminate();
  tp.join();
  for (auto& q : queued) EXPECT_FALSE(q.ready());
  EXPECT_EQ(message_of<racegate::ValueError>([&] { tp.apply(square, 1); }), "Pool not running");
}

TEST_F(ThreadPoolTest, ThrowingInitializerBreaksThePool) {
  mp::ThreadPool tp(1, [] { throw racegate::ValueError("init failed"); });
  auto r = tp.apply_async(square, 2);
  EXPECT_THROW(r.get(Seconds(60)), racegate::BrokenPoolError);
  EXPECT_THROW(tp.apply(square, 2), racegate::BrokenPoolError);
  tp.close();
  tp.join();
}
