// Unit tests of the thread-level synchronization primitives: RLock,
// Semaphore, BoundedSemaphore, Condition, Barrier, Timer and local.
#include <atomic>
#include <chrono>
#include <climits>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "racegate/errors.h"
#include "racegate/threading/barrier.h"
#include "racegate/threading/condition.h"
#include "racegate/threading/local.h"
#include "racegate/threading/lock.h"
#include "racegate/threading/rlock.h"
#include "racegate/threading/semaphore.h"
#include "racegate/threading/thread.h"
#include "racegate/threading/timer.h"
#include "support/test_helpers.h"

using racegate::test::error_of;

// These tests take recursive locks several times, release them from the wrong
// thread and call wait() without the lock on purpose: Clang's static lock
// analysis, which the clang legs run, cannot follow that.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif

namespace threading = racegate::threading;
using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

namespace {


double since(Clock::time_point t0) { return Seconds(Clock::now() - t0).count(); }

// Polls `pred` until it holds or 60 s pass (a hand-shake, never an oracle).
template <class P>
bool eventually(P pred) {
  const auto end = Clock::now() + std::chrono::seconds(60);
  while (!pred()) {
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

std::unique_ptr<threading::Thread> started(std::function<void()> f) {
  auto t = std::make_unique<threading::Thread>(std::move(f));
  t->start();
  return t;
}

}  // namespace

// ---- RLock ----------------------------------------------------------------------

TEST(ThreadingRLock, ReentrantWithCount) {
  threading::RLock r;
  EXPECT_FALSE(r.locked());
  EXPECT_FALSE(r.is_owned());
  EXPECT_EQ(error_of<racegate::RuntimeError>([&] { r.release(); }),
            "cannot release un-acquired lock");
  EXPECT_TRUE(r.acquire());
  EXPECT_TRUE(r.acquire());
  EXPECT_TRUE(r.acquire(false));
  EXPECT_TRUE(r.acquire(true, Seconds(0)));
  EXPECT_EQ(r.recursion_count(), 4);
  EXPECT_TRUE(r.is_owned());
  for (int i = 0; i < 3; ++i) r.release();
  EXPECT_TRUE(r.locked());
  EXPECT_EQ(r.recursion_count(), 1);
  r.release();
  EXPECT_FALSE(r.locked());
  EXPECT_EQ(r.recursion_count(), 0);
  EXPECT_EQ(error_of<racegate::RuntimeError>([&] { r.release(); }),
            "cannot release un-acquired lock");
}

TEST(ThreadingRLock, ArgumentErrors) {
  threading::RLock r;
  EXPECT_EQ(error_of<racegate::ValueError>([&] { (void)r.acquire(false, Seconds(1)); }),
            "can't specify a timeout for a non-blocking call");
  EXPECT_EQ(error_of<racegate::ValueError>([&] { (void)r.acquire(true, Seconds(-1)); }),
            "timeout value must be positive");
  EXPECT_FALSE(r.locked());
}

TEST(ThreadingRLock, OtherThreadNeitherReleasesNorTakes) {
  threading::RLock r;
  r.acquire();
  std::string error;
  bool took = true, timed = true;
  double waited = 0;
  auto t = started([&] {
    error = error_of<racegate::RuntimeError>([&] { r.release(); });
    took = r.acquire(false);
    auto t0 = Clock::now();
    timed = r.acquire(true, Seconds(0.05));
    waited = since(t0);
    EXPECT_FALSE(r.is_owned());
    EXPECT_EQ(r.recursion_count(), 0);
  });
  t->join();
  EXPECT_EQ(error, "cannot release un-acquired lock");
  EXPECT_FALSE(took);
  EXPECT_FALSE(timed);
  EXPECT_GE(waited, 0.05);
  EXPECT_EQ(r.recursion_count(), 1);  // the failed release changed nothing
  r.release();
}

TEST(ThreadingRLock, WaiterGetsItOnlyAfterTheLastRelease) {
  threading::RLock r;
  r.acquire();
  r.acquire();
  std::atomic<bool> waiting{false}, got{false};
  auto t = started([&] {
    waiting = true;
    if (r.acquire(true, Seconds(60))) {
      got = true;
      r.release();
    }
  });
  ASSERT_TRUE(eventually([&] { return waiting.load(); }));
  r.release();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_FALSE(got.load());  // still held once
  r.release();
  t->join();
  EXPECT_TRUE(got.load());
}

TEST(ThreadingRLock, LockableAndGuard) {
  threading::RLock r;
  {
    std::scoped_lock outer(r);
    threading::LockGuard inner(r);
    EXPECT_EQ(r.recursion_count(), 2);
  }
  EXPECT_FALSE(r.locked());
}

TEST(ThreadingRLock, MutualExclusionAcrossThreads) {
  threading::RLock r;
  int counter = 0;  // plain: ThreadSanitizer checks the lock orders the accesses
  std::vector<std::unique_ptr<threading::Thread>> ts;
  for (int i = 0; i < 4; ++i) {
    ts.push_back(started([&] {
      for (int k = 0; k < 2000; ++k) {
        threading::LockGuard g(r);
        threading::LockGuard g2(r);
        ++counter;
      }
    }));
  }
  for (auto& t : ts) t->join();
  EXPECT_EQ(counter, 8000);
}

// ---- Semaphore / BoundedSemaphore --------------------------------------------------

TEST(ThreadingSemaphore, Errors) {
  EXPECT_EQ(error_of<racegate::ValueError>([] { threading::Semaphore s(-1); }),
            "semaphore initial value must be >= 0");
  EXPECT_EQ(error_of<racegate::ValueError>([] { threading::BoundedSemaphore s(-1); }),
            "semaphore initial value must be >= 0");
  threading::Semaphore s(1);
  EXPECT_EQ(error_of<racegate::ValueError>([&] { (void)s.acquire(false, Seconds(1)); }),
            "can't specify timeout for non-blocking acquire");
  EXPECT_EQ(error_of<racegate::ValueError>([&] { s.release(0); }), "n must be one or more");
  EXPECT_EQ(error_of<racegate::ValueError>([&] { s.release(-2); }), "n must be one or more");
  EXPECT_EQ(s.value(), 1);
  threading::Semaphore big(INT_MAX);
  EXPECT_EQ(error_of<racegate::ValueError>([&] { big.release(); }),
            "semaphore value would exceed 2147483647");
}

TEST(ThreadingSemaphore, CountsAndTimeouts) {
  threading::Semaphore s(2);
  EXPECT_TRUE(s.acquire(false));
  EXPECT_TRUE(s.acquire());
  EXPECT_EQ(s.value(), 0);
  EXPECT_FALSE(s.acquire(false));
  auto t0 = Clock::now();
  EXPECT_FALSE(s.acquire(true, Seconds(0.05)));
  EXPECT_GE(since(t0), 0.05);
  EXPECT_FALSE(s.acquire(true, Seconds(-1)));  // negative behaves as zero
  s.release(3);                                  // more than was acquired: allowed
  EXPECT_EQ(s.value(), 3);
  EXPECT_TRUE(s.acquire(true, Seconds(-1)));
  EXPECT_EQ(s.value(), 2);
  threading::Semaphore z(0);
  EXPECT_FALSE(z.acquire(true, Seconds(0.01)));
  EXPECT_FALSE(z.acquire(false));
}

TEST(ThreadingSemaphore, BoundedRefusesOverRelease) {
  threading::BoundedSemaphore b(2);
  EXPECT_EQ(error_of<racegate::ValueError>([&] { b.release(); }),
            "Semaphore released too many times");
  EXPECT_TRUE(b.acquire());
  EXPECT_EQ(error_of<racegate::ValueError>([&] { b.release(2); }),
            "Semaphore released too many times");
  EXPECT_EQ(b.value(), 1);  // unchanged by the refused release
  b.release();
  EXPECT_EQ(b.value(), 2);
  threading::BoundedSemaphore one;
  EXPECT_EQ(one.value(), 1);
}

TEST(ThreadingSemaphore, ReleaseWakesThatManyWaiters) {
  threading::Semaphore s(0);
  std::atomic<int> got{0};
  std::vector<std::unique_ptr<threading::Thread>> ts;
  for (int i = 0; i < 3; ++i) {
    ts.push_back(started([&] {
      if (s.acquire(true, Seconds(60))) got.fetch_add(1);
    }));
  }
  s.release(2);
  ASSERT_TRUE(eventually([&] { return got.load() == 2; }));
  s.release();
  for (auto& t : ts) t->join();
  EXPECT_EQ(got.load(), 3);
  EXPECT_EQ(s.value(), 0);
}

TEST(ThreadingSemaphore, BoundsConcurrency) {
  threading::Semaphore s(2);
  std::atomic<int> active{0}, peak{0};
  std::vector<std::unique_ptr<threading::Thread>> ts;
  for (int i = 0; i < 6; ++i) {
    ts.push_back(started([&] {
      for (int k = 0; k < 50; ++k) {
        threading::LockGuard g(s);
        int now = active.fetch_add(1) + 1;
        int p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
        std::this_thread::yield();
        active.fetch_sub(1);
      }
    }));
  }
  for (auto& t : ts) t->join();
  EXPECT_LE(peak.load(), 2);
  EXPECT_GE(peak.load(), 1);
  EXPECT_EQ(s.value(), 2);
}

// ---- Condition ------------------------------------------------------------------------

TEST(ThreadingCondition, RequiresTheLock) {
  threading::Condition c;
  EXPECT_EQ(error_of<racegate::RuntimeError>([&] { c.wait(); }),
            "cannot wait on un-acquired lock");
  EXPECT_EQ(error_of<racegate::RuntimeError>([&] { c.wait(Seconds(0)); }),
            "cannot wait on un-acquired lock");
  EXPECT_EQ(error_of<racegate::RuntimeError>([&] { (void)c.wait_for([] { return false; }); }),
            "cannot wait on un-acquired lock");
  EXPECT_EQ(error_of<racegate::RuntimeError>([&] { c.notify(); }),
            "cannot notify on un-acquired lock");
  EXPECT_EQ(error_of<racegate::RuntimeError>([&] { c.notify_all(); }),
            "cannot notify on un-acquired lock");
  // A predicate that already holds is returned without waiting (as CPython).
  EXPECT_TRUE(c.wait_for([] { return true; }));
  // Held by another thread (the default lock is an RLock): still not owned.
  std::atomic<bool> held{false}, done{false};
  auto t = started([&] {
    c.acquire();
    held = true;
    eventually([&] { return done.load(); });
    c.release();
  });
  ASSERT_TRUE(eventually([&] { return held.load(); }));
  EXPECT_EQ(error_of<racegate::RuntimeError>([&] { c.notify(); }),
            "cannot notify on un-acquired lock");
  done = true;
  t->join();
}

TEST(ThreadingCondition, WaitTimesOutAndKeepsTheLock) {
  threading::Condition c;
  threading::LockGuard g(c);
  auto t0 = Clock::now();
  EXPECT_FALSE(c.wait(Seconds(0.05)));
  EXPECT_GE(since(t0), 0.05);
  EXPECT_FALSE(c.wait(Seconds(-1)));  // negative behaves as zero
  t0 = Clock::now();
  EXPECT_FALSE(c.wait_for([] { return false; }, Seconds(0.05)));
  EXPECT_GE(since(t0), 0.05);
  c.notify();  // still owned: no error
}

TEST(ThreadingCondition, NotifyBeforeWaitIsLost) {
  threading::Condition c;
  threading::LockGuard g(c);
  c.notify_all();
  c.notify(3);
  EXPECT_FALSE(c.wait(Seconds(0.05)));
}

TEST(ThreadingCondition, NotifyWakesExactlyN) {
  threading::Condition c;
  int registered = 0;  // guarded by c
  std::atomic<int> woke{0}, notified{0};
  std::vector<std::unique_ptr<threading::Thread>> ts;
  for (int i = 0; i < 4; ++i) {
    ts.push_back(started([&] {
      threading::LockGuard g(c);
      ++registered;
      if (c.wait(Seconds(60))) notified.fetch_add(1);
      woke.fetch_add(1);
    }));
  }
  // Once we hold the lock and see 4, all 4 are inside wait().
  ASSERT_TRUE(eventually([&] {
    threading::LockGuard g(c);
    return registered == 4;
  }));
  {
    threading::LockGuard g(c);
    EXPECT_EQ(c.waiting(), 4);
    c.notify(2);
  }
  ASSERT_TRUE(eventually([&] { return woke.load() == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(woke.load(), 2);
  {
    threading::LockGuard g(c);
    c.notify_all();
  }
  for (auto& t : ts) t->join();
  EXPECT_EQ(notified.load(), 4);
}

TEST(ThreadingCondition, WaitForSeesThePredicate) {
  threading::Condition c;
  bool ready = false;  // guarded by c
  auto t = started([&] {
    threading::LockGuard g(c);
    ready = true;
    c.notify_all();
  });
  {
    threading::LockGuard g(c);
    EXPECT_TRUE(c.wait_for([&] { return ready; }, Seconds(60)));
  }
  t->join();
}

TEST(ThreadingCondition, WaitFreesARecursiveLockAndRestoresItsCount) {
  threading::RLock r;
  threading::Condition c(r);
  bool flag = false;  // guarded by r
  r.acquire();
  r.acquire();
  auto t = started([&] {
    threading::LockGuard g(c);  // possible only if wait() freed both levels
    flag = true;
    c.notify();
  });
  EXPECT_TRUE(c.wait_for([&] { return flag; }, Seconds(60)));
  EXPECT_EQ(r.recursion_count(), 2);
  r.release();
  r.release();
  EXPECT_FALSE(r.locked());
  t->join();
}

TEST(ThreadingCondition, OverAPlainLockHeldByAnyThread) {
  threading::Lock l;
  threading::Condition c(l);
  EXPECT_EQ(error_of<racegate::RuntimeError>([&] { c.notify(); }),
            "cannot notify on un-acquired lock");
  // CPython: a plain Lock has no owner, so held by another thread counts.
  auto t = started([&] { l.acquire(); });
  t->join();
  EXPECT_FALSE(c.wait(Seconds(0.01)));
  EXPECT_TRUE(l.locked());  // taken back by the waiter
  c.notify();
  c.release();
  EXPECT_FALSE(l.locked());
}

// ---- Barrier --------------------------------------------------------------------------

TEST(ThreadingBarrier, PropertiesAndSingleParty) {
  threading::Barrier b(3);
  EXPECT_EQ(b.parties(), 3);
  EXPECT_EQ(b.n_waiting(), 0);
  EXPECT_FALSE(b.broken());
  int actions = 0;
  threading::Barrier one(1, [&] { ++actions; });
  EXPECT_EQ(one.wait(), 0);
  EXPECT_EQ(one.wait(), 0);
  EXPECT_EQ(actions, 2);
}

TEST(ThreadingBarrier, RoundsGiveDistinctIndicesAndRunTheActionOnce) {
  constexpr int kParties = 3, kRounds = 5;
  std::atomic<int> actions{0};
  threading::Barrier b(kParties, [&] { actions.fetch_add(1); });
  std::mutex mu;
  std::vector<std::multiset<int>> seen(kRounds);
  std::vector<std::unique_ptr<threading::Thread>> ts;
  for (int i = 0; i < kParties; ++i) {
    ts.push_back(started([&] {
      for (int r = 0; r < kRounds; ++r) {
        int idx = b.wait(Seconds(60));
        std::lock_guard lk(mu);
        seen[static_cast<size_t>(r)].insert(idx);
      }
    }));
  }
  for (auto& t : ts) t->join();
  EXPECT_EQ(actions.load(), kRounds);
  for (const auto& s : seen) EXPECT_EQ(s, (std::multiset<int>{0, 1, 2}));
  EXPECT_FALSE(b.broken());
}

TEST(ThreadingBarrier, TimeoutBreaksItUntilReset) {
  threading::Barrier b(2);
  auto t0 = Clock::now();
  EXPECT_EQ(error_of<racegate::BrokenBarrierError>([&] { b.wait(Seconds(0.05)); }), "");
  EXPECT_GE(since(t0), 0.05);
  EXPECT_TRUE(b.broken());
  EXPECT_EQ(error_of<racegate::BrokenBarrierError>([&] { b.wait(Seconds(60)); }), "");
  b.reset();
  EXPECT_FALSE(b.broken());
  auto t = started([&] { b.wait(Seconds(60)); });
  EXPECT_NO_THROW(b.wait(Seconds(60)));
  t->join();
  // A negative timeout behaves as zero: breaks at once.
  EXPECT_EQ(error_of<racegate::BrokenBarrierError>([&] { b.wait(Seconds(-1)); }), "");
  EXPECT_TRUE(b.broken());
}

TEST(ThreadingBarrier, DefaultTimeoutFromTheConstructor) {
  threading::Barrier b(2, {}, Seconds(0.05));
  auto t0 = Clock::now();
  EXPECT_THROW(b.wait(), racegate::BrokenBarrierError);
  EXPECT_GE(since(t0), 0.05);
}

TEST(ThreadingBarrier, AbortAndResetWakeTheWaiters) {
  threading::Barrier b(3);
  std::atomic<int> broken{0};
  auto waiter = [&] {
    try {
      b.wait(Seconds(60));
    } catch (const racegate::BrokenBarrierError&) {
      broken.fetch_add(1);
    }
  };
  auto t1 = started(waiter);
  ASSERT_TRUE(eventually([&] { return b.n_waiting() == 1; }));
  b.abort();
  t1->join();
  EXPECT_EQ(broken.load(), 1);
  EXPECT_TRUE(b.broken());
  EXPECT_EQ(b.n_waiting(), 0);
  b.reset();
  EXPECT_FALSE(b.broken());
  auto t2 = started(waiter);
  auto t3 = started(waiter);
  ASSERT_TRUE(eventually([&] { return b.n_waiting() == 2; }));
  b.reset();  // the waiters raise; the barrier is usable again afterwards
  t2->join();
  t3->join();
  EXPECT_EQ(broken.load(), 3);
  EXPECT_FALSE(b.broken());
  auto t4 = started([&] { b.wait(Seconds(60)); });
  auto t5 = started([&] { b.wait(Seconds(60)); });
  EXPECT_NO_THROW(b.wait(Seconds(60)));
  t4->join();
  t5->join();
}

TEST(ThreadingBarrier, ThrowingActionBreaksIt) {
  threading::Barrier b(2, [] { throw std::runtime_error("action failed"); });
  std::string other;
  auto t = started([&] {
    try {
      b.wait(Seconds(60));
      other = "returned";
    } catch (const racegate::BrokenBarrierError&) {
      other = "broken";
    } catch (const std::runtime_error& e) {
      other = e.what();
    }
  });
  std::string mine;
  try {
    b.wait(Seconds(60));
    mine = "returned";
  } catch (const racegate::BrokenBarrierError&) {
    mine = "broken";
  } catch (const std::runtime_error& e) {
    mine = e.what();
  }
  t->join();
  EXPECT_EQ((std::multiset<std::string>{mine, other}),
            (std::multiset<std::string>{"action failed", "broken"}));
  EXPECT_TRUE(b.broken());
}

// ---- Timer ----------------------------------------------------------------------------

TEST(ThreadingTimer, FiresAfterTheInterval) {
  std::atomic<int> calls{0};
  auto t0 = Clock::now();
  std::atomic<double> at{0};
  threading::Timer t(Seconds(0.05), [&] {
    at = since(t0);
    calls.fetch_add(1);
  });
  EXPECT_EQ(t.name().rfind("Thread-", 0), 0u);
  t.start();
  t.join();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_GE(at.load(), 0.05);
  EXPECT_TRUE(t.finished());
  EXPECT_FALSE(t.is_alive());
  t.cancel();  // after firing: nothing happens
}

TEST(ThreadingTimer, CancelBeforeItFires) {
  std::atomic<int> calls{0};
  threading::Timer t(Seconds(30), [&] { calls.fetch_add(1); });
  t.start();
  auto t0 = Clock::now();
  t.cancel();
  t.cancel();
  t.join();
  EXPECT_LT(since(t0), 10.0);  // did not wait for the 30 s
  EXPECT_EQ(calls.load(), 0);
  EXPECT_TRUE(t.finished());
}

TEST(ThreadingTimer, WithArguments) {
  std::atomic<int> sum{0};
  threading::Timer t(Seconds(0), [&](int a, int b) { sum = a + b; }, 2, 40);
  t.start();
  t.join();
  EXPECT_EQ(sum.load(), 42);
}

// ---- local ----------------------------------------------------------------------------

namespace {

struct Counted {
  static inline std::atomic<int> alive{0};
  int value = 7;
  Counted() { alive.fetch_add(1); }
  ~Counted() { alive.fetch_sub(1); }
  Counted(const Counted&) = delete;
  Counted& operator=(const Counted&) = delete;
};

}  // namespace

TEST(ThreadingLocal, EachThreadHasItsOwnValue) {
  threading::local<int> v;
  *v = 1;
  int seen_in_thread = -1;
  auto t = started([&] {
    seen_in_thread = v.get();
    *v = 2;
    EXPECT_EQ(*v, 2);
  });
  t->join();
  EXPECT_EQ(seen_in_thread, 0);
  EXPECT_EQ(*v, 1);
}

TEST(ThreadingLocal, FactoryRunsOnEachThread) {
  std::atomic<int> made{0};
  threading::local<std::string> v([&] { return "made-" + std::to_string(made.fetch_add(1)); });
  std::string a = *v;
  EXPECT_EQ(*v, a);  // made once per thread
  std::string b;
  auto t = started([&] { b = *v; });
  t->join();
  EXPECT_EQ(made.load(), 2);
  EXPECT_NE(a, b);
  EXPECT_EQ(v->size(), a.size());
}

TEST(ThreadingLocal, ValueDiesWithItsThreadOrWithTheLocal) {
  const int before = Counted::alive.load();
  {
    threading::local<Counted> v;
    auto t = started([&] { EXPECT_EQ(v->value, 7); });
    t->join();
    EXPECT_EQ(Counted::alive.load(), before);  // the thread's value went with it
    std::thread raw([&] { v->value = 9; });
    raw.join();
    EXPECT_EQ(Counted::alive.load(), before);
    EXPECT_EQ(v->value, 7);  // the main thread's own value
    EXPECT_EQ(Counted::alive.load(), before + 1);
  }
  EXPECT_EQ(Counted::alive.load(), before);  // and the main thread's with the local
}
