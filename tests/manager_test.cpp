// Unit tests of racegate::mp::Manager and its proxies: every proxy type and
// message, sharing across forked children and threads, copies versus nested
// proxies, authentication, malformed requests, and clean shutdown.
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

// process_guard.h first: it includes mp/event.h, which must come before
// mp/process.h (event.h names `internal::` from inside racegate::mp).
#include "cases/support/process_guard.h"
#include "racegate/errors.h"
#include "racegate/internal/manager_auth.h"
#include "racegate/internal/manager_client.h"
#include "racegate/internal/manager_protocol.h"
#include "racegate/internal/serialize.h"
#include "racegate/mp/manager.h"
#include "racegate/mp/process.h"
#include "racegate/threading/lock.h"
#include "support/child_program.h"

// These tests release locks from other threads and processes and release
// free locks on purpose (Python locks have no owner): Clang's static lock
// analysis, which the clang legs run, cannot follow that.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif

namespace mp = racegate::mp;
namespace wire = racegate::internal::manager;
using racegate::test::ProcessGuard;
using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

namespace {

// The message of the E thrown by f, "<no error>" if none, or a description
// of another exception.
template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const racegate::Error& e) {
    return std::string("<other: ") + e.python_type() + ": " + e.what() + ">";
  } catch (const std::exception& e) {
    return std::string("<other: ") + e.what() + ">";
  }
  return "<no error>";
}

// In a child: a failed check ends the child with exit code 1 (through the
// uncaught exception), which the parent asserts on.
void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("check failed: ") + what);
}

double since(Clock::time_point t0) { return Seconds(Clock::now() - t0).count(); }

// Runs `body` in a child process and returns its exit code.
int run_child(std::function<void()> body) {
  mp::Process p(std::move(body));
  ProcessGuard guard(p);
  p.start();
  p.join(std::chrono::seconds(120));
  if (p.is_alive()) {
    p.kill();
    p.join();
    return -1000;
  }
  return p.exitcode().value_or(-2000);
}

// Starts several children and reaps every one of them on scope exit.
class Children {
 public:
  ~Children() {
    for (auto& p : procs_) {
      try {
        if (!p->pid()) continue;
        if (p->is_alive()) p->join(std::chrono::seconds(5));
        if (p->is_alive()) p->kill();
        p->join();
      } catch (...) {
      }
    }
  }
  mp::Process& start(std::function<void()> body) {
    procs_.push_back(std::make_unique<mp::Process>(std::move(body)));
    procs_.back()->start();
    return *procs_.back();
  }
  // Joins every child; returns their exit codes.
  std::vector<int> join_all() {
    std::vector<int> codes;
    for (auto& p : procs_) {
      p->join(std::chrono::seconds(120));
      if (p->is_alive()) p->kill();
      p->join();
      codes.push_back(p->exitcode().value_or(-2000));
    }
    return codes;
  }

 private:
  std::vector<std::unique_ptr<mp::Process>> procs_;
};

std::string dir_of(const std::string& address) { return address.substr(0, address.rfind('/')); }

bool path_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Whether `pid` no longer runs (gone, or a zombie nobody reaped yet).
bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  auto close_paren = line.rfind(')');
  return close_paren != std::string::npos && close_paren + 2 < line.size() &&
         line[close_paren + 2] == 'Z';
}

// Polls `cond` (the check is never the oracle's timing) for up to 30 s.
template <class F>
bool eventually(F cond) {
  const auto until = Clock::now() + std::chrono::seconds(30);
  while (!cond()) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// The server's state: {parked requests, open connections}.
std::pair<std::int64_t, std::int64_t> server_stats(const mp::Manager& mgr) {
  auto client = wire::find_client(mgr.address());
  wire::Request r;
  r.op = wire::Op::kStats;
  auto rep = client->call_checked(r);
  return {rep.n, std::stoll(rep.values.at(0))};
}

bool wait_parked(const mp::Manager& mgr, std::int64_t n) {
  return eventually([&] { return server_stats(mgr).first == n; });
}

// Sends one raw request on an authenticated connection and reads the reply.
wire::Reply raw_call(int fd, const wire::Request& r) {
  wire::send_frame(fd, wire::encode(r));
  return wire::decode_reply(wire::recv_frame(fd));
}

}  // namespace

// A program of another process family: it can read a proxy's bytes but not
// derive its manager's key. Exit 0 when refused as CPython refuses a wrong
// authkey.
RG_CHILD_PROGRAM(manager_foreign_proxy) {
  std::string bytes;
  const std::string hex = argv[0];
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  try {
    racegate::internal::loads<mp::ListProxy<int>>(bytes).append(99);
    return 3;
  } catch (const racegate::AuthenticationError& e) {
    return std::string(e.what()) == "digest sent was rejected" ? 0 : 4;
  } catch (...) {
    return 5;
  }
}

// ---- lifecycle ----------------------------------------------------------------------------------

TEST(Manager, StartsAServerProcessInAPrivateDirectory) {
  auto before = mp::active_children().size();
  mp::Manager mgr;
  ASSERT_TRUE(mgr.pid().has_value());
  EXPECT_EQ(mgr.name().rfind("SyncManager-", 0), 0u) << mgr.name();
  EXPECT_EQ(mp::active_children().size(), before + 1);
  const std::string dir = dir_of(mgr.address());
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::lstat(mgr.address().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  const pid_t server = *mgr.pid();
  mgr.shutdown();
  EXPECT_TRUE(process_gone(server));
  EXPECT_FALSE(path_exists(mgr.address()));
  EXPECT_FALSE(path_exists(dir));
  mgr.shutdown();  // twice is fine
}

TEST(Manager, DeferredStartAndMisuseMessages) {
  mp::Manager mgr(mp::Manager::deferred);
  EXPECT_FALSE(mgr.pid().has_value());
  EXPECT_EQ(error_of<racegate::AssertionError>([&] { (void)mgr.dict<int, int>(); }),
            "server not yet started");
  mgr.start();
  EXPECT_EQ(error_of<racegate::ProcessError>([&] { mgr.start(); }), "Already started server");
  auto d = mgr.dict<int, int>();
  d.set(1, 2);
  mgr.shutdown();
  EXPECT_EQ(error_of<racegate::ProcessError>([&] { mgr.start(); }), "Manager has shut down");
  EXPECT_EQ(error_of<racegate::AssertionError>([&] { (void)mgr.Lock(); }), "server not yet started");
}

// manager.queue_and_lock_proxies: after shutdown, a proxy's connection is
// broken (BrokenPipeError); a new connection finds no socket.
TEST(Manager, ProxiesAfterShutdownRaiseOsErrors) {
  auto mgr = std::make_unique<mp::Manager>();
  auto d = mgr->dict<int, int>();
  d.set(1, 1);
  mgr->shutdown();
  try {
    (void)d.get(1);
    FAIL() << "no error";
  } catch (const mp::managers::BrokenPipeError& e) {
    EXPECT_STREQ(e.what(), "[Errno 32] Broken pipe");
    EXPECT_STREQ(e.python_type(), "BrokenPipeError");
  }
  std::string last;
  for (int i = 0; i < 10 && last.empty(); ++i) {
    try {
      (void)d.get(1);
    } catch (const mp::managers::FileNotFoundError& e) {
      last = e.what();
    } catch (const mp::managers::BrokenPipeError&) {
      // another idle connection of the pool
    }
  }
  EXPECT_EQ(last, "[Errno 2] No such file or directory");
  mgr.reset();
  EXPECT_THROW((void)d.size(), racegate::OSError);
}

// ---- dict ------------------------------------------------------------------------------------------

TEST(ManagerDict, EveryOperationAndMessage) {
  mp::Manager mgr;
  auto d = mgr.dict<std::string, int>();
  EXPECT_EQ((mp::DictProxy<std::string, int>::type_name), "DictProxy");
  EXPECT_EQ(d.size(), 0u);
  EXPECT_EQ(error_of<racegate::KeyError>([&] { (void)d.get("x"); }), "'x'");
  EXPECT_EQ(error_of<racegate::KeyError>([&] { d.erase("y"); }), "'y'");
  EXPECT_EQ(error_of<racegate::KeyError>([&] { (void)d.pop("z"); }), "'z'");
  EXPECT_EQ(d.get("x", 7), 7);
  d.set("b", 2);
  d.set("a", 1);
  d.set("c", 3);
  d.set("b", 20);  // keeps its place
  EXPECT_EQ(d.get("b"), 20);
  EXPECT_TRUE(d.contains("a"));
  EXPECT_FALSE(d.contains("x"));
  EXPECT_EQ(d.size(), 3u);
  EXPECT_EQ(d.keys(), (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_EQ(d.values(), (std::vector<int>{20, 1, 3}));
  EXPECT_EQ(d.items(), (std::vector<std::pair<std::string, int>>{{"b", 20}, {"a", 1}, {"c", 3}}));
  EXPECT_EQ(d.copy(), (std::map<std::string, int>{{"a", 1}, {"b", 20}, {"c", 3}}));
  EXPECT_EQ(d.pop("a"), 1);
  d.erase("c");
  EXPECT_EQ(d.keys(), std::vector<std::string>{"b"});
  EXPECT_EQ(d.setdefault("b", 5), 20);
  EXPECT_EQ(d.setdefault("n", 5), 5);
  d.update(std::map<std::string, int>{{"u", 1}, {"v", 2}});
  EXPECT_EQ(d.size(), 4u);
  d.clear();
  EXPECT_EQ(d.size(), 0u);

  auto ints = mgr.dict<int, std::string>(std::vector<std::pair<int, std::string>>{{3, "c"}, {1, "a"}});
  EXPECT_EQ(ints.keys(), (std::vector<int>{3, 1}));
  EXPECT_EQ(error_of<racegate::KeyError>([&] { (void)ints.get(4); }), "4");
}

// manager.dict_shared: ten children set d[i] = 2*i; the contents are exact,
// the order is not.
TEST(ManagerDict, TenForkedChildrenShareIt) {
  mp::Manager mgr;
  auto d = mgr.dict<int, int>();
  Children kids;
  for (int i = 0; i < 10; ++i) kids.start([d, i] { d.set(i, 2 * i); });
  for (int code : kids.join_all()) EXPECT_EQ(code, 0);
  std::map<int, int> expected;
  for (int i = 0; i < 10; ++i) expected[i] = 2 * i;
  EXPECT_EQ(d.copy(), expected);
  auto keys = d.keys();
  EXPECT_EQ(std::set<int>(keys.begin(), keys.end()).size(), 10u);
}

// ---- list ---------------------------------------------------------------------------------------------

TEST(ManagerList, EveryOperationAndMessage) {
  mp::Manager mgr;
  auto l = mgr.list<int>();
  EXPECT_EQ(mp::ListProxy<int>::type_name, "ListProxy");
  EXPECT_EQ(l.size(), 0u);
  EXPECT_EQ(error_of<racegate::IndexError>([&] { (void)l.get(0); }), "list index out of range");
  EXPECT_EQ(error_of<racegate::IndexError>([&] { l.set(0, 1); }), "list assignment index out of range");
  EXPECT_EQ(error_of<racegate::IndexError>([&] { (void)l.pop(); }), "pop from empty list");
  l.append(1);
  l.append(2);
  l.extend(std::vector<int>{3, 4});
  EXPECT_EQ(l.copy(), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(l.get(0), 1);
  EXPECT_EQ(l.get(-1), 4);
  EXPECT_EQ(error_of<racegate::IndexError>([&] { (void)l.get(-5); }), "list index out of range");
  l.set(-2, 30);
  EXPECT_EQ(l.get(2), 30);
  EXPECT_EQ(error_of<racegate::IndexError>([&] { (void)l.pop(9); }), "pop index out of range");
  EXPECT_EQ(l.pop(), 4);
  EXPECT_EQ(l.pop(0), 1);
  EXPECT_EQ(l.copy(), (std::vector<int>{2, 30}));
  l.clear();
  EXPECT_EQ(l.size(), 0u);
  auto init = mgr.list<std::string>({"a", "b"});
  EXPECT_EQ(init.copy(), (std::vector<std::string>{"a", "b"}));
}

// manager.list_shared: a child's append is seen by the parent.
TEST(ManagerList, ChildAppendIsShared) {
  mp::Manager mgr;
  auto l = mgr.list<std::string>();
  EXPECT_EQ(l.copy(), std::vector<std::string>{});
  EXPECT_EQ(run_child([l] { l.append("a"); }), 0);
  EXPECT_EQ(l.copy(), std::vector<std::string>{"a"});
}

// ---- Namespace, Value ------------------------------------------------------------------------------

// manager.namespace_missing_attribute
TEST(ManagerNamespace, AttributesAndMissingAttributeMessage) {
  mp::Manager mgr;
  auto ns = mgr.Namespace();
  EXPECT_EQ(mp::NamespaceProxy::type_name, "NamespaceProxy");
  EXPECT_EQ(error_of<racegate::AttributeError>([&] { (void)ns.get<std::string>("value"); }),
            "'Namespace' object has no attribute 'value'");
  EXPECT_FALSE(ns.has("value"));
  // A producer child sets it; the consumer (here) reads it after the event.
  auto produced = mgr.Event();
  EXPECT_EQ(run_child([ns, produced] {
              ns.set("value", "this is a value");
              ns.set("count", 3);
              produced.set();
            }),
            0);
  ASSERT_TRUE(produced.wait(Seconds(30)));
  EXPECT_EQ(ns.get<std::string>("value"), "this is a value");
  EXPECT_EQ(ns.get<int>("count"), 3);
  EXPECT_TRUE(ns.has("count"));
  ns.erase("count");
  EXPECT_FALSE(ns.has("count"));
  EXPECT_EQ(error_of<racegate::AttributeError>([&] { ns.erase("count"); }),
            "'Namespace' object has no attribute 'count'");
}

TEST(ManagerValue, GetAndSet) {
  mp::Manager mgr;
  auto v = mgr.Value<int>(3);
  EXPECT_EQ(mp::ValueProxy<int>::type_name, "ValueProxy");
  EXPECT_EQ(v.get(), 3);
  EXPECT_EQ(run_child([v] { v.set(v.get() + 2); }), 0);
  EXPECT_EQ(v.value(), 5);
  auto s = mgr.Value<std::string>("x");
  s.set("yz");
  EXPECT_EQ(s.get(), "yz");
}

// manager.nested_mutation_not_propagated: reads are copies; writing back
// propagates; a proxy stored in a container stays a proxy.
TEST(Manager, NestedMutationIsNotPropagated) {
  mp::Manager mgr;
  auto ns = mgr.Namespace();
  ns.set("lst", std::vector<int>{});
  ns.get<std::vector<int>>("lst").push_back(1);
  EXPECT_EQ(ns.get<std::vector<int>>("lst"), std::vector<int>{});

  auto d = mgr.dict<std::string, std::vector<int>>();
  d.set("k", {});
  d.get("k").push_back(1);
  EXPECT_EQ(d.get("k"), std::vector<int>{});

  auto l = mgr.list<std::vector<int>>({{0}});
  l.get(0).push_back(1);
  EXPECT_EQ(l.get(0), std::vector<int>{0});

  auto tmp = ns.get<std::vector<int>>("lst");
  tmp.push_back(1);
  ns.set("lst", tmp);
  EXPECT_EQ(ns.get<std::vector<int>>("lst"), std::vector<int>{1});

  auto holder = mgr.dict<std::string, mp::ListProxy<int>>();
  holder.set("proxy", mgr.list<int>());
  holder.get("proxy").append(5);
  EXPECT_EQ(holder.get("proxy").copy(), std::vector<int>{5});
  EXPECT_EQ(run_child([holder] { holder.get("proxy").append(6); }), 0);
  EXPECT_EQ(holder.get("proxy").copy(), (std::vector<int>{5, 6}));
}

// ---- Queue ----------------------------------------------------------------------------------------------

TEST(ManagerQueue, BoundedFullEmptyAndMessages) {
  mp::Manager mgr;
  auto q = mgr.Queue<int>(2);
  EXPECT_EQ(mp::QueueProxy<int>::type_name, "AutoProxy[Queue]");
  EXPECT_TRUE(q.empty());
  q.put(1);
  EXPECT_FALSE(q.empty());  // exact at once, unlike mp::Queue
  q.put(2);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.qsize(), 2u);
  EXPECT_EQ(error_of<racegate::Full>([&] { q.put_nowait(3); }), "");
  EXPECT_EQ(error_of<racegate::Full>([&] { q.put(3, false, Seconds(5)); }), "");  // timeout ignored
  auto t0 = Clock::now();
  EXPECT_EQ(error_of<racegate::Full>([&] { q.put(3, true, Seconds(0.2)); }), "");
  double waited = since(t0);
  EXPECT_GE(waited, 0.2);
  EXPECT_LT(waited, 5.2);
  EXPECT_EQ(error_of<racegate::ValueError>([&] { q.put(3, true, Seconds(-1)); }),
            "'timeout' must be a non-negative number");
  EXPECT_EQ(q.get(), 1);
  EXPECT_EQ(q.get_nowait(), 2);
  EXPECT_EQ(error_of<racegate::Empty>([&] { (void)q.get_nowait(); }), "");
  t0 = Clock::now();
  EXPECT_EQ(error_of<racegate::Empty>([&] { (void)q.get(true, Seconds(0.2)); }), "");
  waited = since(t0);
  EXPECT_GE(waited, 0.2);
  EXPECT_LT(waited, 5.2);
  EXPECT_EQ(error_of<racegate::ValueError>([&] { (void)q.get(true, Seconds(-1)); }),
            "'timeout' must be a non-negative number");
  q.task_done();
  q.task_done();
  EXPECT_EQ(error_of<racegate::ValueError>([&] { q.task_done(); }),
            "task_done() called too many times");
  q.join();  // nothing unfinished: returns at once

  auto fifo = mgr.Queue<int>();
  for (int i = 0; i < 8; ++i) fifo.put(i);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(fifo.get(true, Seconds(30)), i);
}

TEST(ManagerQueue, AcrossProcessesWithJoin) {
  mp::Manager mgr;
  auto q = mgr.Queue<int>(3);  // small: producers block on a full queue
  Children kids;
  for (int p = 0; p < 3; ++p) {
    kids.start([q, p] {
      for (int j = 0; j < 20; ++j) q.put(p * 100 + j);
    });
  }
  std::map<int, std::vector<int>> by_producer;
  for (int i = 0; i < 60; ++i) {
    int v = q.get(true, Seconds(60));
    by_producer[v / 100].push_back(v % 100);
    q.task_done();
  }
  for (int code : kids.join_all()) EXPECT_EQ(code, 0);
  ASSERT_EQ(by_producer.size(), 3u);
  std::vector<int> in_order(20);
  for (int j = 0; j < 20; ++j) in_order[j] = j;
  for (auto& [p, items] : by_producer) EXPECT_EQ(items, in_order) << "producer " << p;
  q.join();

  // join() returns once a consumer child has done every item.
  auto work = mgr.Queue<int>();
  auto done = mgr.Value<int>(0);
  for (int i = 0; i < 5; ++i) work.put(i);
  mp::Process consumer([work, done] {
    for (int i = 0; i < 5; ++i) {
      (void)work.get(true, Seconds(60));
      done.set(done.get() + 1);
      work.task_done();
    }
  });
  ProcessGuard guard(consumer);
  consumer.start();
  work.join();
  EXPECT_EQ(done.get(), 5);
  consumer.join();
  EXPECT_EQ(consumer.exitcode(), 0);
}

// ---- Lock, RLock, Semaphore --------------------------------------------------------------------------

// lock.release_unlocked: the server holds a threading.Lock.
TEST(ManagerLock, MessagesAndTimeouts) {
  mp::Manager mgr;
  auto lock = mgr.Lock();
  EXPECT_EQ(mp::AcquirerProxy::type_name, "AcquirerProxy");
  EXPECT_EQ(error_of<racegate::RuntimeError>([&] { lock.release(); }), "release unlocked lock");
  EXPECT_TRUE(lock.acquire());
  EXPECT_FALSE(lock.acquire(false));
  auto t0 = Clock::now();
  EXPECT_FALSE(lock.acquire(true, Seconds(0.2)));
  double waited = since(t0);
  EXPECT_GE(waited, 0.2);
  EXPECT_LT(waited, 5.2);
  EXPECT_FALSE(lock.acquire(true, Seconds(0)));
  EXPECT_EQ(error_of<racegate::ValueError>([&] { (void)lock.acquire(false, Seconds(1)); }),
            "can't specify a timeout for a non-blocking call");
  EXPECT_EQ(error_of<racegate::ValueError>([&] { (void)lock.acquire(true, Seconds(-2)); }),
            "timeout value must be positive");
  lock.release();
  {
    racegate::threading::LockGuard guard(lock);  // `with lock:`
    EXPECT_FALSE(lock.acquire(false));
  }
  EXPECT_TRUE(lock.acquire(false));
  // No owner: a child releases the parent's lock.
  EXPECT_EQ(run_child([lock]() mutable { lock.release(); }), 0);
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
}

// Mutual exclusion across processes: the critical sections of four
// processes never interleave and a read-modify-write under the lock loses
// nothing.
TEST(ManagerLock, MutualExclusionAcrossProcesses) {
  mp::Manager mgr;
  auto lock = mgr.Lock();
  auto counter = mgr.Value<int>(0);
  auto log = mgr.list<std::pair<int, int>>();
  constexpr int kProcs = 4, kIters = 25;
  Children kids;
  for (int p = 0; p < kProcs; ++p) {
    kids.start([lock, counter, log, p]() mutable {
      for (int i = 0; i < kIters; ++i) {
        lock.acquire();
        log.append({p, 0});
        int v = counter.get();
        counter.set(v + 1);
        log.append({p, 1});
        lock.release();
      }
    });
  }
  for (int code : kids.join_all()) EXPECT_EQ(code, 0);
  EXPECT_EQ(counter.get(), kProcs * kIters);
  auto entries = log.copy();
  ASSERT_EQ(entries.size(), static_cast<std::size_t>(2 * kProcs * kIters));
  for (std::size_t i = 0; i < entries.size(); i += 2) {
    EXPECT_EQ(entries[i].second, 0);
    EXPECT_EQ(entries[i + 1].second, 1);
    EXPECT_EQ(entries[i].first, entries[i + 1].first) << "interleaved at " << i;
  }
}

// lock.manager_lock_via_partial: a Lock proxy crosses a process boundary as
// a serialized value (as a Pool argument does) and still works.
TEST(ManagerLock, SerializedProxyWorksInAChild) {
  mp::Manager mgr;
  auto lock = mgr.Lock();
  const std::string bytes = racegate::internal::dumps(lock);
  lock.acquire();
  EXPECT_EQ(run_child([bytes] {
              auto l = racegate::internal::loads<mp::AcquirerProxy>(bytes);
              check(!l.acquire(false), "held by the parent");
              l.release();
            }),
            0);
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
  auto back = racegate::internal::loads<mp::AcquirerProxy>(bytes);
  EXPECT_TRUE(back == lock);
  EXPECT_THROW((void)racegate::internal::loads<mp::EventProxy>(bytes), racegate::TypeError);
  mp::AcquirerProxy unbound;
  EXPECT_FALSE(static_cast<bool>(unbound));
  EXPECT_EQ(error_of<racegate::ValueError>([&] { unbound.release(); }),
            "proxy is not bound to a shared object");
}

TEST(ManagerRLock, RecursiveAndOwnedByTheThread) {
  mp::Manager mgr;
  auto r = mgr.RLock();
  EXPECT_EQ(error_of<racegate::RuntimeError>([&] { r.release(); }), "cannot release un-acquired lock");
  EXPECT_TRUE(r.acquire());
  EXPECT_TRUE(r.acquire());
  std::string other_release;
  bool other_acquire = true;
  std::thread t([&] {
    other_release = error_of<racegate::RuntimeError>([&] { r.release(); });
    other_acquire = r.acquire(false);
  });
  t.join();
  EXPECT_EQ(other_release, "cannot release un-acquired lock");
  EXPECT_FALSE(other_acquire);
  EXPECT_EQ(run_child([r]() mutable {
              check(!r.acquire(false), "owned by the parent's thread");
              check(error_of<racegate::RuntimeError>([&] { r.release(); }) ==
                        "cannot release un-acquired lock",
                    "message");
            }),
            0);
  r.release();
  r.release();
  EXPECT_EQ(error_of<racegate::RuntimeError>([&] { r.release(); }), "cannot release un-acquired lock");
}

TEST(ManagerSemaphore, CountsBlocksAndMessages) {
  mp::Manager mgr;
  EXPECT_EQ(error_of<racegate::ValueError>([&] { (void)mgr.Semaphore(-1); }),
            "semaphore initial value must be >= 0");
  auto s = mgr.Semaphore(2);
  EXPECT_TRUE(s.acquire());
  EXPECT_TRUE(s.acquire(false));
  EXPECT_FALSE(s.acquire(false));
  EXPECT_FALSE(s.acquire(true, Seconds(-1)));  // negative behaves as zero
  EXPECT_EQ(error_of<racegate::ValueError>([&] { (void)s.acquire(false, Seconds(1)); }),
            "can't specify timeout for non-blocking acquire");
  // A child blocked in acquire() is released by the parent's release().
  mp::Process waiter([s]() mutable { check(s.acquire(true, Seconds(60)), "acquired"); });
  ProcessGuard guard(waiter);
  waiter.start();
  ASSERT_TRUE(wait_parked(mgr, 1));
  s.release();
  waiter.join();
  EXPECT_EQ(waiter.exitcode(), 0);
  s.release();  // a plain Semaphore has no bound
  s.release();
  s.release();

  auto b = mgr.BoundedSemaphore(1);
  EXPECT_EQ(error_of<racegate::ValueError>([&] { b.release(); }), "Semaphore released too many times");
  EXPECT_TRUE(b.acquire());
  b.release();
}

// ---- Condition, Event, Barrier ---------------------------------------------------------------------

TEST(ManagerCondition, MessagesWaitTimeoutAndNotify) {
  mp::Manager mgr;
  auto c = mgr.Condition();
  EXPECT_EQ(mp::ConditionProxy::type_name, "ConditionProxy");
  EXPECT_EQ(error_of<racegate::RuntimeError>([&] { (void)c.wait(); }), "cannot wait on un-acquired lock");
  EXPECT_EQ(error_of<racegate::RuntimeError>([&] { c.notify(); }), "cannot notify on un-acquired lock");
  EXPECT_EQ(error_of<racegate::RuntimeError>([&] { c.notify_all(); }),
            "cannot notify on un-acquired lock");
  c.acquire();
  c.acquire();  // recursive: wait() releases both levels and restores them
  auto t0 = Clock::now();
  EXPECT_FALSE(c.wait(Seconds(0.2)));
  double waited = since(t0);
  EXPECT_GE(waited, 0.2);
  EXPECT_LT(waited, 5.2);
  EXPECT_FALSE(c.wait(Seconds(-1)));
  c.notify();  // held: fine with no waiter
  c.release();
  c.release();
  EXPECT_EQ(error_of<racegate::RuntimeError>([&] { c.release(); }), "cannot release un-acquired lock");

  // Producer (here) and consumer (a child) with wait_for.
  auto items = mgr.list<int>();
  auto got = mgr.Value<int>(-1);
  mp::Process consumer([c, items, got]() mutable {
    c.acquire();
    bool ok = c.wait_for([&] { return items.size() > 0; }, Seconds(60));
    got.set(ok ? items.get(0) : -2);
    c.release();
  });
  ProcessGuard guard(consumer);
  consumer.start();
  ASSERT_TRUE(wait_parked(mgr, 1));  // the consumer waits in the server
  c.acquire();
  items.append(42);
  c.notify();
  c.release();
  consumer.join();
  EXPECT_EQ(consumer.exitcode(), 0);
  EXPECT_EQ(got.get(), 42);
}

TEST(ManagerCondition, NotifyAllWakesEveryWaiter) {
  mp::Manager mgr;
  auto c = mgr.Condition();
  auto woken = mgr.list<int>();
  Children kids;
  for (int i = 0; i < 3; ++i) {
    kids.start([c, woken, i]() mutable {
      c.acquire();
      check(c.wait(Seconds(60)), "notified");
      woken.append(i);
      c.release();
    });
  }
  ASSERT_TRUE(wait_parked(mgr, 3));
  c.acquire();
  c.notify(1);  // one only: it still needs the lock, held here
  c.notify_all();
  c.release();
  for (int code : kids.join_all()) EXPECT_EQ(code, 0);
  auto w = woken.copy();
  EXPECT_EQ(std::set<int>(w.begin(), w.end()), (std::set<int>{0, 1, 2}));
}

TEST(ManagerEvent, SetClearWaitAcrossProcesses) {
  mp::Manager mgr;
  auto e = mgr.Event();
  EXPECT_EQ(mp::EventProxy::type_name, "EventProxy");
  EXPECT_FALSE(e.is_set());
  EXPECT_FALSE(e.wait(Seconds(0)));
  auto t0 = Clock::now();
  EXPECT_FALSE(e.wait(Seconds(0.2)));
  double waited = since(t0);
  EXPECT_GE(waited, 0.2);
  EXPECT_LT(waited, 5.2);
  EXPECT_FALSE(e.is_set());  // a timeout never sets it
  Children kids;
  for (int i = 0; i < 2; ++i) kids.start([e] { check(e.wait(Seconds(60)), "set"); });
  ASSERT_TRUE(wait_parked(mgr, 2));
  e.set();
  for (int code : kids.join_all()) EXPECT_EQ(code, 0);
  EXPECT_TRUE(e.is_set());
  EXPECT_TRUE(e.wait());
  e.clear();
  EXPECT_FALSE(e.is_set());
  EXPECT_FALSE(e.wait(Seconds(0.01)));
}

TEST(ManagerBarrier, IndicesTimeoutResetAbort) {
  mp::Manager mgr;
  auto b = mgr.Barrier(3);
  EXPECT_EQ(mp::BarrierProxy::type_name, "BarrierProxy");
  EXPECT_EQ(b.parties(), 3);
  auto indices = mgr.list<std::int64_t>();
  Children kids;
  for (int i = 0; i < 2; ++i) kids.start([b, indices] { indices.append(b.wait(Seconds(60))); });
  ASSERT_TRUE(eventually([&] { return b.n_waiting() == 2; }));
  indices.append(b.wait(Seconds(60)));
  for (int code : kids.join_all()) EXPECT_EQ(code, 0);
  auto got = indices.copy();
  EXPECT_EQ(std::set<std::int64_t>(got.begin(), got.end()), (std::set<std::int64_t>{0, 1, 2}));
  EXPECT_EQ(b.n_waiting(), 0);

  // A wait that times out breaks the barrier for everyone.
  auto two = mgr.Barrier(2);
  auto t0 = Clock::now();
  EXPECT_EQ(error_of<racegate::BrokenBarrierError>([&] { (void)two.wait(Seconds(0.2)); }), "");
  double waited = since(t0);
  EXPECT_GE(waited, 0.2);
  EXPECT_LT(waited, 5.2);
  EXPECT_TRUE(two.broken());
  EXPECT_EQ(error_of<racegate::BrokenBarrierError>([&] { (void)two.wait(); }), "");
  two.reset();
  EXPECT_FALSE(two.broken());
  // reset() with a waiter: the waiter gets BrokenBarrierError.
  mp::Process waiter([two] {
    check(error_of<racegate::BrokenBarrierError>([&] { (void)two.wait(Seconds(60)); }) == "",
          "broken by reset");
  });
  ProcessGuard guard(waiter);
  waiter.start();
  ASSERT_TRUE(eventually([&] { return two.n_waiting() == 1; }));
  two.reset();
  waiter.join();
  EXPECT_EQ(waiter.exitcode(), 0);
  EXPECT_FALSE(two.broken());
  two.abort();
  EXPECT_TRUE(two.broken());
  EXPECT_EQ(error_of<racegate::BrokenBarrierError>([&] { (void)two.wait(); }), "");

  // The barrier's own default timeout.
  auto timed = mgr.Barrier(2, Seconds(0.05));
  EXPECT_EQ(error_of<racegate::BrokenBarrierError>([&] { (void)timed.wait(); }), "");
  auto one = mgr.Barrier(1);
  EXPECT_EQ(one.wait(), 0);
}

// ---- processes, threads, serialization ---------------------------------------------------------------

// Each process uses connections of its own: the parent's idle connection is
// never used by a forked child or grandchild, and the parent goes on after.
TEST(Manager, ForkedChildrenReconnect) {
  mp::Manager mgr;
  auto d = mgr.dict<std::string, int>();
  d.set("parent", 1);  // the parent now has an idle pooled connection
  EXPECT_EQ(run_child([d] {
              d.set("child", 2);
              mp::Process grandchild([d] { d.set("grandchild", 3); });
              grandchild.start();
              grandchild.join();
              check(grandchild.exitcode() == 0, "grandchild ok");
              check(d.get("grandchild") == 3, "child sees grandchild");
            }),
            0);
  EXPECT_EQ(d.get("child"), 2);
  EXPECT_EQ(d.get("grandchild"), 3);
  d.set("parent", 4);
  EXPECT_EQ(d.get("parent"), 4);
}

// A serialized proxy works in every process of its creator's family: the
// creator, the children forked after the manager started, and those forked
// before (as a Pool's workers created first): they derive the key from the
// family secret they inherited. A program started with exec is of another
// family: the server refuses it.
TEST(Manager, SerializedProxiesWorkAcrossTheProcessFamily) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  mp::Process early([fds] {
    ::close(fds[1]);
    std::string bytes;
    char buf[4096];
    for (ssize_t k; (k = ::read(fds[0], buf, sizeof buf)) > 0;) bytes.append(buf, static_cast<std::size_t>(k));
    racegate::internal::loads<mp::ListProxy<int>>(bytes).append(1);
  });
  ProcessGuard guard(early);
  early.start();
  ::close(fds[0]);
  mp::Manager mgr;
  auto l = mgr.list<int>();
  const std::string bytes = racegate::internal::dumps(l);
  ASSERT_EQ(::write(fds[1], bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  ::close(fds[1]);  // the server closed its inherited copy: the child sees end of file
  early.join();
  EXPECT_EQ(early.exitcode(), 0);
  EXPECT_EQ(run_child([bytes] { racegate::internal::loads<mp::ListProxy<int>>(bytes).append(2); }), 0);
  EXPECT_EQ(l.copy(), (std::vector<int>{1, 2}));

  auto foreign = racegate::test::run_child_program("manager_foreign_proxy",
                                                   {wire::to_hex(bytes)}, 60.0);
  EXPECT_EQ(foreign.exit_code, 0) << foreign.stderr_text;
  EXPECT_EQ(l.copy(), (std::vector<int>{1, 2}));
}

// Threads share the proxies; a thread blocked in the server (Queue.get)
// does not hold up the other threads' calls.
TEST(Manager, ProxiesInThreads) {
  mp::Manager mgr;
  auto l = mgr.list<int>();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([l, t] {
      for (int i = 0; i < 50; ++i) l.append(t * 1000 + i);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(l.size(), 200u);

  auto q = mgr.Queue<int>();
  std::atomic<int> got{0};
  std::thread blocked([&] { got = q.get(true, Seconds(60)); });
  ASSERT_TRUE(wait_parked(mgr, 1));
  auto d = mgr.dict<int, int>();
  d.set(1, 1);
  EXPECT_EQ(d.get(1), 1);
  q.put(7);
  blocked.join();
  EXPECT_EQ(got.load(), 7);
}

// The TSan pitfall of DESIGN.md: a Manager started while another thread of
// the creator runs. The server is single-threaded, so ThreadSanitizer's
// die_after_fork never applies to it.
TEST(Manager, StartedWhileAnotherThreadRuns) {
  mp::Manager first;
  auto gate = first.Queue<int>();
  std::atomic<int> got{0};
  std::thread busy([&] { got = gate.get(true, Seconds(60)); });  // runs throughout
  ASSERT_TRUE(wait_parked(first, 1));
  {
    mp::Manager second;  // forked from a process with two threads
    auto d = second.dict<int, int>();
    auto lock = second.Lock();
    EXPECT_TRUE(lock.acquire());
    d.set(1, 2);
    lock.release();
    EXPECT_EQ(d.get(1), 2);
  }
  gate.put(9);
  busy.join();
  EXPECT_EQ(got.load(), 9);
}

// A Manager created inside a child is the child's: it works there and the
// child's exit leaves nothing behind.
TEST(Manager, ManagerInsideAChild) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  EXPECT_EQ(run_child([fds] {
              ::close(fds[0]);
              mp::Manager inner;
              auto d = inner.dict<int, int>();
              d.set(1, 2);
              check(d.get(1) == 2, "inner dict");
              std::string dir = dir_of(inner.address());
              check(::write(fds[1], dir.data(), dir.size()) == static_cast<ssize_t>(dir.size()), "write");
              ::close(fds[1]);
            }),
            0);
  ::close(fds[1]);
  char buf[512];
  ssize_t k = ::read(fds[0], buf, sizeof buf);
  ::close(fds[0]);
  ASSERT_GT(k, 0);
  EXPECT_FALSE(path_exists(std::string(buf, static_cast<std::size_t>(k))));
}

// ---- authentication and malformed requests ---------------------------------------------------------

TEST(ManagerSecurity, WrongKeyIsRefused) {
  mp::Manager mgr;
  auto d = mgr.dict<int, int>();
  wire::Client bad(mgr.address(), "", "not the key");
  wire::Request ping;
  ping.op = wire::Op::kPing;
  EXPECT_EQ(error_of<racegate::AuthenticationError>([&] { (void)bad.call(ping); }),
            "digest sent was rejected");
  // By hand: a wrong digest gets #FAILURE#, then the server hangs up.
  int fd = wire::connect_socket(mgr.address());
  std::string challenge = wire::recv_frame(fd);
  EXPECT_EQ(challenge.rfind("#CHALLENGE#", 0), 0u);
  EXPECT_EQ(challenge.size(), 11u + 32u);
  wire::send_frame(fd, std::string(32, 'x'));
  EXPECT_EQ(wire::recv_frame(fd), "#FAILURE#");
  EXPECT_THROW((void)wire::recv_frame(fd), racegate::EofError);
  ::close(fd);
  // A client that sends a request instead of the digest is refused too.
  fd = wire::connect_socket(mgr.address());
  (void)wire::recv_frame(fd);
  wire::send_frame(fd, wire::encode(ping));
  EXPECT_EQ(wire::recv_frame(fd), "#FAILURE#");
  ::close(fd);
  // Everyone else is still served.
  d.set(1, 1);
  EXPECT_EQ(d.get(1), 1);
}

// The client checks the server too: an impostor that welcomes any digest
// but cannot answer the client's challenge is refused.
TEST(ManagerSecurity, ImpostorServerIsRefused) {
  char templ[] = "/tmp/racegate-test-XXXXXX";
  ASSERT_NE(::mkdtemp(templ), nullptr);
  const std::string dir = templ;
  const std::string path = dir + "/listener";
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
  int lfd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(lfd, 4), 0);
  mp::Process impostor([lfd] {
    int c = ::accept(lfd, nullptr, nullptr);
    wire::send_frame(c, "#CHALLENGE#" + std::string(32, 'n'));
    (void)wire::recv_frame(c);
    wire::send_frame(c, "#WELCOME#");
    (void)wire::recv_frame(c);
    wire::send_frame(c, std::string(32, 'd'));
    try {
      (void)wire::recv_frame(c);
    } catch (const racegate::Error&) {
    }
  });
  ProcessGuard guard(impostor);
  impostor.start();
  ::close(lfd);
  wire::Client client(path, "", "some key");
  wire::Request ping;
  ping.op = wire::Op::kPing;
  EXPECT_EQ(error_of<racegate::AuthenticationError>([&] { (void)client.call(ping); }),
            "digest received was wrong");
  impostor.join();
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

TEST(ManagerSecurity, MalformedRequestsGetErrorRepliesAndServiceGoesOn) {
  mp::Manager mgr;
  auto d = mgr.dict<int, int>();
  d.set(1, 10);
  auto l = mgr.list<int>();
  int fd = wire::find_client(mgr.address())->connect();

  // Garbage instead of a request.
  wire::send_frame(fd, "garbage");
  wire::Reply rep = wire::decode_reply(wire::recv_frame(fd));
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.error_type, "ValueError");
  EXPECT_EQ(rep.error_message.rfind("malformed request", 0), 0u) << rep.error_message;
  // A truncated request.
  wire::Request get;
  get.op = wire::Op::kDictGet;
  get.id = d.id();
  get.args = {racegate::internal::dumps(1)};
  std::string bytes = wire::encode(get);
  wire::send_frame(fd, bytes.substr(0, bytes.size() - 3));
  rep = wire::decode_reply(wire::recv_frame(fd));
  EXPECT_EQ(rep.error_type, "ValueError");
  // The same connection still works.
  rep = raw_call(fd, get);
  ASSERT_TRUE(rep.ok);
  EXPECT_EQ(racegate::internal::loads<int>(rep.values.at(0)), 10);
  // Unknown object, wrong operation for the object, wrong argument count,
  // unknown operation, unknown kind: protocol errors, surfaced as
  // RemoteError by the client.
  wire::Request bad = get;
  bad.id = 987654;
  rep = raw_call(fd, bad);
  EXPECT_EQ(rep.error_type, "ProtocolError");
  EXPECT_EQ(rep.error_message, "no shared object with id 987654");
  bad = get;
  bad.op = wire::Op::kListGet;
  rep = raw_call(fd, bad);
  EXPECT_EQ(rep.error_type, "ProtocolError");
  bad = get;
  bad.args.clear();
  rep = raw_call(fd, bad);
  EXPECT_EQ(rep.error_type, "ProtocolError");
  bad = get;
  bad.op = static_cast<wire::Op>(999);
  rep = raw_call(fd, bad);
  EXPECT_EQ(rep.error_type, "ProtocolError");
  bad = wire::Request{};
  bad.op = wire::Op::kCreate;
  bad.n = 77;
  rep = raw_call(fd, bad);
  EXPECT_EQ(rep.error_type, "ProtocolError");
  try {
    wire::raise_error(rep);
    FAIL();
  } catch (const racegate::RemoteError& e) {
    EXPECT_STREQ(e.python_type(), "ProtocolError");
  }
  // A wrongly typed value is the reader's problem, not the server's.
  wire::Request set = get;
  set.op = wire::Op::kListAppend;
  set.id = l.id();
  set.args = {"x"};  // too short for an int
  EXPECT_TRUE(raw_call(fd, set).ok);
  EXPECT_THROW((void)l.get(0), racegate::ValueError);
  // A frame longer than the limit: an error reply, then the server hangs up
  // (the stream cannot be resynchronized).
  wire::send_frame(fd, "");  // an empty request first: malformed
  EXPECT_EQ(wire::decode_reply(wire::recv_frame(fd)).error_type, "ValueError");
  const char huge[4] = {'\xff', '\xff', '\xff', '\x7f'};
  ASSERT_EQ(::write(fd, huge, 4), 4);
  rep = wire::decode_reply(wire::recv_frame(fd));
  EXPECT_EQ(rep.error_type, "ValueError");
  EXPECT_THROW((void)wire::recv_frame(fd), racegate::EofError);
  ::close(fd);
  // Every other client is still served.
  EXPECT_EQ(d.get(1), 10);
  l.clear();
  l.append(1);
  EXPECT_EQ(l.copy(), std::vector<int>{1});
}

// ---- shutdown hygiene ---------------------------------------------------------------------------------

// Shutdown leaves no process and no socket file behind, also when a client
// was killed mid-request (parked in the server, or half-way through a
// frame); a parked request of a dead client is withdrawn (the item it waited
// for is not lost).
TEST(ManagerShutdown, LeavesNothingWhenAClientWasKilledMidRequest) {
  auto mgr = std::make_unique<mp::Manager>();
  const pid_t server = *mgr->pid();
  const std::string address = mgr->address();
  const std::string dir = dir_of(address);
  auto q = mgr->Queue<int>();

  mp::Process parked([q] { (void)q.get(); });
  ProcessGuard guard1(parked);
  parked.start();
  ASSERT_TRUE(wait_parked(*mgr, 1));

  auto client = wire::find_client(address);
  auto half_sent = mgr->Event();
  mp::Process half([client, half_sent] {
    int fd = client->connect();
    const char header[4] = {100, 0, 0, 0};
    check(::write(fd, header, 4) == 4, "header");
    check(::write(fd, "0123456789", 10) == 10, "part of the body");
    half_sent.set();
    ::pause();
  });
  ProcessGuard guard2(half);
  half.start();
  ASSERT_TRUE(half_sent.wait(Seconds(60)));
  const auto conns_before = server_stats(*mgr).second;

  parked.kill();
  half.kill();
  parked.join();
  half.join();
  ASSERT_TRUE(wait_parked(*mgr, 0));
  ASSERT_TRUE(eventually([&] { return server_stats(*mgr).second <= conns_before - 2; }));
  q.put(5);
  EXPECT_EQ(q.get_nowait(), 5);

  mgr.reset();
  EXPECT_TRUE(process_gone(server));
  EXPECT_FALSE(path_exists(address));
  EXPECT_FALSE(path_exists(dir));
}

// A server that was killed: its proxies fail, shutdown still removes the
// directory and reaps the process.
TEST(ManagerShutdown, AfterTheServerWasKilled) {
  mp::Manager mgr;
  auto d = mgr.dict<int, int>();
  d.set(1, 1);
  const pid_t server = *mgr.pid();
  const std::string dir = dir_of(mgr.address());
  ASSERT_EQ(::kill(server, SIGKILL), 0);
  ASSERT_TRUE(eventually([&] { return process_gone(server); }));
  EXPECT_THROW((void)d.get(1), racegate::Error);
  mgr.shutdown();
  EXPECT_FALSE(path_exists(dir));
  EXPECT_TRUE(process_gone(server));
}

// The server never outlives its creator: when the creator is killed, the
// parent-death signal makes the server clean up and exit.
TEST(ManagerShutdown, ServerLeavesWithItsKilledCreator) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  mp::Process creator([fds] {
    ::close(fds[0]);
    mp::Manager mgr;
    std::string msg = std::to_string(*mgr.pid()) + " " + dir_of(mgr.address());
    check(::write(fds[1], msg.data(), msg.size()) == static_cast<ssize_t>(msg.size()), "write");
    ::close(fds[1]);
    ::pause();
  });
  ProcessGuard guard(creator);
  creator.start();
  ::close(fds[1]);
  char buf[512];
  ssize_t k = ::read(fds[0], buf, sizeof buf);
  ::close(fds[0]);
  ASSERT_GT(k, 0);
  std::string msg(buf, static_cast<std::size_t>(k));
  const pid_t server = static_cast<pid_t>(std::stol(msg.substr(0, msg.find(' '))));
  const std::string dir = msg.substr(msg.find(' ') + 1);
  EXPECT_TRUE(path_exists(dir));
  creator.kill();
  creator.join();
  EXPECT_TRUE(eventually([&] { return !path_exists(dir); })) << dir;
  EXPECT_TRUE(eventually([&] { return process_gone(server); })) << server;
}
