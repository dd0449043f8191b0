// Unit tests of the process-level synchronization primitives: mp::RLock,
// mp::Semaphore, mp::BoundedSemaphore, mp::Condition and mp::Barrier, across
// threads and across forked processes.
#include <atomic>
#include <chrono>
#include <climits>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "racegate/errors.h"
#include "racegate/internal/serialize.h"
#include "racegate/mp/barrier.h"
#include "racegate/mp/condition.h"
#include "racegate/mp/event.h"
#include "racegate/mp/lock.h"
#include "racegate/mp/process.h"
#include "racegate/mp/rlock.h"
#include "racegate/mp/semaphore.h"
#include "racegate/threading/lock.h"
#include "racegate/threading/thread.h"
#include "cases/support/process_guard.h"
#include "support/shared_value.h"
#include "support/test_helpers.h"

using racegate::test::error_of;

#if defined(__clang__)
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif

namespace mp = racegate::mp;
namespace threading = racegate::threading;
using racegate::test::make_shared_atomic;
using racegate::test::ProcessGuard;
using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

namespace {


double since(Clock::time_point t0) { return Seconds(Clock::now() - t0).count(); }

template <class P>
bool eventually(P pred) {
  const auto end = Clock::now() + std::chrono::seconds(60);
  while (!pred()) {
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Runs `body` in a child process and returns its exit code (0 = all checks
// passed; a check that fails exits with its own code via SystemExit).
int in_child(std::function<void()> body) {
  mp::Process p(std::move(body));
  ProcessGuard guard(p);
  p.start();
  p.join();
  return p.exitcode().value_or(-1000);
}

void check(bool ok, int code) {
  if (!ok) throw mp::SystemExit(code);
}

}  // namespace

static_assert(racegate::internal::inherit_only_v<mp::Lock>);
static_assert(racegate::internal::inherit_only_v<mp::RLock>);
static_assert(racegate::internal::inherit_only_v<mp::Semaphore>);
static_assert(racegate::internal::inherit_only_v<mp::BoundedSemaphore>);
static_assert(racegate::internal::inherit_only_v<const mp::Condition&>);
static_assert(racegate::internal::inherit_only_v<mp::Barrier>);
static_assert(!racegate::internal::inherit_only_v<int>);

// ---- mp::RLock -----------------------------------------------------------------------

TEST(MpRLock, ReentrantWithCountAndMessages) {
  mp::RLock r;
  constexpr const char* kMsg = "attempt to release recursive lock not owned by thread";
  EXPECT_EQ(error_of<racegate::AssertionError>([&] { r.release(); }), kMsg);
  EXPECT_TRUE(r.acquire());
  EXPECT_TRUE(r.acquire(false));
  EXPECT_TRUE(r.acquire(true, Seconds(-1)));
  EXPECT_EQ(r.count(), 3);
  EXPECT_TRUE(r.is_owned());
  EXPECT_EQ(r.owner_pid(), getpid());
  r.release();
  r.release();
  EXPECT_TRUE(r.locked());
  r.release();
  EXPECT_FALSE(r.locked());
  EXPECT_EQ(r.count(), 0);
  EXPECT_EQ(r.owner_pid(), 0);
  EXPECT_EQ(error_of<racegate::AssertionError>([&] { r.release(); }), kMsg);
}

TEST(MpRLock, AnotherThreadIsNotTheOwner) {
  mp::RLock r;
  r.acquire();
  std::string error;
  bool took = true, timed = true;
  threading::Thread t([&] {
    error = error_of<racegate::AssertionError>([&] { r.release(); });
    took = r.acquire(false);
    timed = r.acquire(true, Seconds(0.02));
  });
  t.start();
  t.join();
  EXPECT_EQ(error, "attempt to release recursive lock not owned by thread");
  EXPECT_FALSE(took);
  EXPECT_FALSE(timed);
  EXPECT_EQ(r.count(), 1);
  r.release();
}

TEST(MpRLock, AnotherProcessIsNotTheOwner) {
  mp::RLock r;
  r.acquire();
  r.acquire();
  int code = in_child([r]() mutable {
    check(!r.is_owned(), 2);  // a forked child does not own its parent's lock
    check(error_of<racegate::AssertionError>([&] { r.release(); }) ==
              "attempt to release recursive lock not owned by thread",
          3);
    check(!r.acquire(false), 4);
    auto t0 = Clock::now();
    check(!r.acquire(true, Seconds(0.05)), 5);
    check(since(t0) >= 0.05, 6);
    check(r.count() == 2, 7);
  });
  EXPECT_EQ(code, 0);
  EXPECT_EQ(r.count(), 2);
  r.release();
  r.release();
}

TEST(MpRLock, ChildWaitsForTheLastRelease) {
  mp::RLock r;
  mp::Event waiting;
  auto got = make_shared_atomic<int>(0);
  r.acquire();
  r.acquire();
  mp::Process p([r, waiting, got]() mutable {
    waiting.set();
    if (r.acquire(true, Seconds(60))) {
      got->store(1);
      r.acquire();  // re-entrant in the child too
      r.release();
      r.release();
    }
  });
  ProcessGuard guard(p);
  p.start();
  ASSERT_TRUE(waiting.wait(Seconds(60)));
  r.release();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(got->load(), 0);  // still held once
  r.release();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(got->load(), 1);
  EXPECT_FALSE(r.locked());
}

TEST(MpRLock, MutualExclusionAcrossProcesses) {
  constexpr int kProcesses = 3, kIncrements = 1000;
  mp::RLock r;
  auto counter = make_shared_atomic<int>(0);
  std::vector<std::unique_ptr<mp::Process>> procs;
  for (int i = 0; i < kProcesses; ++i) {
    procs.push_back(std::make_unique<mp::Process>([r, counter]() mutable {
      for (int k = 0; k < kIncrements; ++k) {
        threading::LockGuard outer(r);
        threading::LockGuard inner(r);
        int v = counter->load(std::memory_order_relaxed);
        sched_yield();
        counter->store(v + 1, std::memory_order_relaxed);
      }
    }));
  }
  for (auto& p : procs) p->start();
  for (auto& p : procs) {
    p->join();
    EXPECT_EQ(p->exitcode(), 0);
  }
  EXPECT_EQ(counter->load(), kProcesses * kIncrements);
}

// catalog lock.nonblocking_timeout_nesting and semaphore.over_release: reprs.
TEST(MpSync, ReprsAsCPython) {
  mp::Lock l;
  mp::RLock r;
  EXPECT_EQ(l.repr(), "<Lock(owner=None)>");
  EXPECT_EQ(r.repr(), "<RLock(None, 0)>");
  l.acquire();
  r.acquire();
  r.acquire();
  EXPECT_EQ(l.repr(), "<Lock(owner=MainProcess)>");
  EXPECT_EQ(r.repr(), "<RLock(MainProcess, 2)>");
  std::string lt, rt;
  threading::Thread t([&] {
    lt = l.repr();
    rt = r.repr();
  });
  t.start();
  t.join();
  EXPECT_EQ(lt, "<Lock(owner=SomeOtherThread)>");
  EXPECT_EQ(rt, "<RLock(SomeOtherThread, nonzero)>");
  EXPECT_EQ(in_child([l, r] {
              check(l.repr() == "<Lock(owner=SomeOtherProcess)>", 2);
              check(r.repr() == "<RLock(SomeOtherProcess, nonzero)>", 3);
            }),
            0);
  l.release();
  r.release();
  r.release();
  threading::Thread worker(
      [&] {
        l.acquire();
        lt = l.repr();
        l.release();
      },
      "Worker");
  worker.start();
  worker.join();
  EXPECT_EQ(lt, "<Lock(owner=MainProcess|Worker)>");

  EXPECT_EQ(mp::Semaphore(3).repr(), "<Semaphore(value=3)>");
  EXPECT_EQ(mp::BoundedSemaphore(3).repr(), "<BoundedSemaphore(value=3, maxvalue=3)>");
  EXPECT_EQ(mp::Condition().repr(), "<Condition(<RLock(None, 0)>, 0)>");
  EXPECT_EQ(mp::Condition(mp::Lock()).repr(), "<Condition(<Lock(owner=None)>, 0)>");
}

// ---- mp::Semaphore / BoundedSemaphore ------------------------------------------------------

TEST(MpSemaphore, ValuesAndMessages) {
  EXPECT_EQ(error_of<racegate::OSError>([] { mp::Semaphore s(-1); }),
            "[Errno 22] Invalid argument");
  EXPECT_EQ(error_of<racegate::OSError>([] { mp::BoundedSemaphore s(-1); }),
            "[Errno 22] Invalid argument");
  mp::Semaphore s(1);
  EXPECT_EQ(s.get_value(), 1);
  s.release();  // more than acquired: allowed
  EXPECT_EQ(s.get_value(), 2);
  EXPECT_TRUE(s.acquire(false, Seconds(1)));  // the timeout is ignored, as CPython
  EXPECT_TRUE(s.acquire());
  EXPECT_FALSE(s.acquire(false));
  auto t0 = Clock::now();
  EXPECT_FALSE(s.acquire(true, Seconds(0.05)));
  EXPECT_GE(since(t0), 0.05);
  EXPECT_FALSE(s.acquire(true, Seconds(-1)));
  EXPECT_EQ(error_of<racegate::ValueError>([&] { s.release(0); }), "n must be one or more");
  s.release(3);
  EXPECT_EQ(s.get_value(), 3);
  mp::Semaphore big(INT_MAX);
  EXPECT_EQ(error_of<racegate::ValueError>([&] { big.release(); }),
            "semaphore or lock released too many times");
  EXPECT_EQ(mp::Semaphore().get_value(), 1);
}

TEST(MpSemaphore, BoundedRefusesOverRelease) {
  mp::BoundedSemaphore b(2);
  EXPECT_EQ(error_of<racegate::ValueError>([&] { b.release(); }),
            "semaphore or lock released too many times");
  b.acquire();
  EXPECT_EQ(error_of<racegate::ValueError>([&] { b.release(2); }),
            "semaphore or lock released too many times");
  EXPECT_EQ(b.get_value(), 1);
  b.release();
  EXPECT_EQ(b.get_value(), 2);
  // Bounded across processes: the child's over-release fails too.
  EXPECT_EQ(in_child([b]() mutable {
              check(error_of<racegate::ValueError>([&] { b.release(); }) ==
                        "semaphore or lock released too many times",
                    2);
              check(b.acquire(false), 3);
            }),
            0);
  EXPECT_EQ(b.get_value(), 1);
}

TEST(MpSemaphore, ReleaseInParentWakesChild) {
  mp::Semaphore s(0);
  mp::Event waiting;
  mp::Process p([s, waiting]() mutable {
    waiting.set();
    check(s.acquire(true, Seconds(60)), 2);
    check(s.acquire(true, Seconds(60)), 3);
  });
  ProcessGuard guard(p);
  p.start();
  ASSERT_TRUE(waiting.wait(Seconds(60)));
  s.release(2);
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(s.get_value(), 0);
}

TEST(MpSemaphore, BoundsConcurrencyAcrossProcesses) {
  constexpr int kProcesses = 4, kSlots = 2;
  mp::Semaphore s(kSlots);
  auto active = make_shared_atomic<int>(0);
  auto peak = make_shared_atomic<int>(0);
  std::vector<std::unique_ptr<mp::Process>> procs;
  for (int i = 0; i < kProcesses; ++i) {
    procs.push_back(std::make_unique<mp::Process>([s, active, peak]() mutable {
      for (int k = 0; k < 100; ++k) {
        threading::LockGuard g(s);
        int now = active->fetch_add(1) + 1;
        int p = peak->load();
        while (now > p && !peak->compare_exchange_weak(p, now)) {
        }
        sched_yield();
        active->fetch_sub(1);
      }
    }));
  }
  for (auto& p : procs) p->start();
  for (auto& p : procs) {
    p->join();
    EXPECT_EQ(p->exitcode(), 0);
  }
  EXPECT_LE(peak->load(), kSlots);
  EXPECT_GE(peak->load(), 1);
  EXPECT_EQ(s.get_value(), kSlots);
}

// ---- mp::Condition ---------------------------------------------------------------------------

TEST(MpCondition, RequiresTheLock) {
  mp::Condition c;
  EXPECT_EQ(error_of<racegate::AssertionError>([&] { c.wait(); }),
            "must acquire() condition before using wait()");
  EXPECT_EQ(error_of<racegate::AssertionError>([&] { (void)c.wait_for([] { return false; }); }),
            "must acquire() condition before using wait()");
  EXPECT_EQ(error_of<racegate::AssertionError>([&] { c.notify(); }), "lock is not owned");
  EXPECT_EQ(error_of<racegate::AssertionError>([&] { c.notify_all(); }), "lock is not owned");
  EXPECT_TRUE(c.wait_for([] { return true; }));
  EXPECT_EQ(error_of<racegate::AssertionError>([&] { c.release(); }),
            "attempt to release recursive lock not owned by thread");

  // Over a plain mp::Lock: "held" means held by this very thread.
  mp::Lock l;
  mp::Condition cl(l);
  EXPECT_EQ(error_of<racegate::AssertionError>([&] { cl.wait(Seconds(0.01)); }),
            "must acquire() condition before using wait()");
  l.acquire();
  threading::Thread t([&] {
    EXPECT_EQ(error_of<racegate::AssertionError>([&] { cl.wait(Seconds(0.01)); }),
              "must acquire() condition before using wait()");
    EXPECT_EQ(error_of<racegate::AssertionError>([&] { cl.notify(); }), "lock is not owned");
  });
  t.start();
  t.join();
  EXPECT_FALSE(cl.wait(Seconds(0.01)));
  cl.notify_all();
  l.release();
  EXPECT_EQ(error_of<racegate::ValueError>([&] { cl.release(); }),
            "semaphore or lock released too many times");
}

TEST(MpCondition, WaitTimesOutAndNotifyBeforeWaitIsLost) {
  mp::Condition c;
  threading::LockGuard g(c);
  c.notify_all();
  auto t0 = Clock::now();
  EXPECT_FALSE(c.wait(Seconds(0.05)));
  EXPECT_GE(since(t0), 0.05);
  EXPECT_FALSE(c.wait(Seconds(-1)));
  t0 = Clock::now();
  EXPECT_FALSE(c.wait_for([] { return false; }, Seconds(0.05)));
  EXPECT_GE(since(t0), 0.05);
  EXPECT_FALSE(c.wait_for([] { return false; }, Seconds(0)));
}

// catalog condition.notify_all_wakes_all, and notify(n) waking exactly n.
TEST(MpCondition, NotifyAcrossProcesses) {
  constexpr int kWaiters = 3;
  mp::Condition c;
  auto registered = make_shared_atomic<int>(0);  // written under c's lock
  auto woke = make_shared_atomic<int>(0);
  std::vector<std::unique_ptr<mp::Process>> procs;
  for (int i = 0; i < kWaiters; ++i) {
    procs.push_back(std::make_unique<mp::Process>([c, registered, woke]() mutable {
      threading::LockGuard g(c);
      registered->fetch_add(1);
      const bool notified = c.wait(Seconds(60));
      woke->fetch_add(1);
      check(notified, 2);
    }));
  }
  for (auto& p : procs) p->start();
  ASSERT_TRUE(eventually([&] {
    threading::LockGuard g(c);
    return registered->load() == kWaiters;
  }));
  {
    threading::LockGuard g(c);
    EXPECT_EQ(c.waiting(), kWaiters);
    c.notify();
  }
  ASSERT_TRUE(eventually([&] { return woke->load() == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(woke->load(), 1);
  {
    threading::LockGuard g(c);
    c.notify_all();
  }
  for (auto& p : procs) {
    p->join();
    EXPECT_EQ(p->exitcode(), 0);
  }
  EXPECT_EQ(woke->load(), kWaiters);
}

TEST(MpCondition, NotifyAcrossThreads) {
  mp::Condition c;
  int ready = 0;  // guarded by c
  std::atomic<int> woke{0};
  auto waiter = [&] {
    threading::LockGuard g(c);
    ++ready;
    if (c.wait_for([&] { return ready < 0; }, Seconds(60))) woke.fetch_add(1);
  };
  threading::Thread t1(waiter), t2(waiter);
  t1.start();
  t2.start();
  ASSERT_TRUE(eventually([&] {
    threading::LockGuard g(c);
    return ready == 2;
  }));
  {
    threading::LockGuard g(c);
    ready = -1;
    c.notify_all();
  }
  t1.join();
  t2.join();
  EXPECT_EQ(woke.load(), 2);
}

TEST(MpCondition, WaitForAcrossProcessesOverAPlainLock) {
  mp::Lock l;
  mp::Condition c(l);
  auto flag = make_shared_atomic<int>(0);
  mp::Process p([c, flag]() mutable {
    threading::LockGuard g(c);
    check(c.wait_for([&] { return flag->load() == 1; }, Seconds(60)), 2);
    flag->store(2);
    c.notify_all();
  });
  ProcessGuard guard(p);
  p.start();
  {
    threading::LockGuard g(c);
    flag->store(1);
    c.notify_all();
    EXPECT_TRUE(c.wait_for([&] { return flag->load() == 2; }, Seconds(60)));
  }
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_FALSE(l.locked());
}

TEST(MpCondition, WaitFreesTheRecursiveLockAcrossProcesses) {
  mp::RLock r;
  mp::Condition c(r);
  auto flag = make_shared_atomic<int>(0);
  r.acquire();
  r.acquire();
  mp::Process p([c, flag]() mutable {
    threading::LockGuard g(c);  // only possible while the parent waits
    flag->store(1);
    c.notify();
  });
  ProcessGuard guard(p);
  p.start();
  EXPECT_TRUE(c.wait_for([&] { return flag->load() == 1; }, Seconds(60)));
  EXPECT_EQ(r.count(), 2);
  EXPECT_TRUE(r.is_owned());
  r.release();
  r.release();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

// ---- mp::Barrier -------------------------------------------------------------------------------

TEST(MpBarrier, RoundsAcrossProcesses) {
  constexpr int kChildren = 2, kRounds = 3;
  auto actions = make_shared_atomic<int>(0);
  auto index_mask = make_shared_atomic<int>(0);  // bits of indices seen per round
  mp::Barrier b(kChildren + 1, [actions] { actions->fetch_add(1); });
  EXPECT_EQ(b.parties(), 3);
  std::vector<std::unique_ptr<mp::Process>> procs;
  for (int i = 0; i < kChildren; ++i) {
    procs.push_back(std::make_unique<mp::Process>([b, index_mask]() mutable {
      for (int r = 0; r < kRounds; ++r) index_mask->fetch_or(1 << (b.wait(Seconds(60)) + 3 * r));
    }));
  }
  for (auto& p : procs) p->start();
  for (int r = 0; r < kRounds; ++r) index_mask->fetch_or(1 << (b.wait(Seconds(60)) + 3 * r));
  for (auto& p : procs) {
    p->join();
    EXPECT_EQ(p->exitcode(), 0);
  }
  EXPECT_EQ(index_mask->load(), (1 << 9) - 1);  // indices {0,1,2} in every round
  EXPECT_EQ(actions->load(), kRounds);
  EXPECT_FALSE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0);
}

TEST(MpBarrier, TimeoutBreaksItForEveryProcess) {
  mp::Barrier b(3);
  auto t0 = Clock::now();
  EXPECT_EQ(error_of<racegate::BrokenBarrierError>([&] { b.wait(Seconds(0.05)); }), "");
  EXPECT_GE(since(t0), 0.05);
  EXPECT_EQ(in_child([b]() mutable {
              check(b.broken(), 2);
              check(error_of<racegate::BrokenBarrierError>([&] { b.wait(Seconds(60)); }).empty(),
                    3);
              b.reset();
            }),
            0);
  EXPECT_FALSE(b.broken());
}

TEST(MpBarrier, AbortFromAChildReleasesTheWaiter) {
  mp::Barrier b(2);
  mp::Process p([b]() mutable {
    check(eventually([&] { return b.n_waiting() == 1; }), 2);
    b.abort();
  });
  ProcessGuard guard(p);
  p.start();
  EXPECT_THROW(b.wait(Seconds(60)), racegate::BrokenBarrierError);
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_TRUE(b.broken());
  b.reset();
  EXPECT_FALSE(b.broken());
}

TEST(MpBarrier, ResetWakesWaitersInAnotherProcess) {
  mp::Barrier b(3);
  auto outcome = make_shared_atomic<int>(0);
  mp::Process p([b, outcome]() mutable {
    try {
      b.wait(Seconds(60));
      outcome->store(1);
    } catch (const racegate::BrokenBarrierError&) {
      outcome->store(2);
    }
  });
  ProcessGuard guard(p);
  p.start();
  ASSERT_TRUE(eventually([&] { return b.n_waiting() == 1; }));
  b.reset();
  p.join();
  EXPECT_EQ(outcome->load(), 2);
  EXPECT_FALSE(b.broken());
  threading::Thread t([&] { b.wait(Seconds(60)); });
  threading::Thread u([&] { b.wait(Seconds(60)); });
  t.start();
  u.start();
  EXPECT_NO_THROW(b.wait(Seconds(60)));  // usable again, across threads too
  t.join();
  u.join();
}
