// Unit tests of Lock and Event, thread-level and process-level.
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "racegate/errors.h"
#include "racegate/mp/event.h"
#include "racegate/mp/lock.h"
#include "racegate/mp/process.h"
#include "racegate/threading/event.h"
#include "racegate/threading/lock.h"
#include "racegate/threading/thread.h"
#include "cases/support/process_guard.h"
#include "support/shared_value.h"
#include "support/test_helpers.h"

using racegate::test::error_of;

namespace mp = racegate::mp;
namespace threading = racegate::threading;
using racegate::test::ProcessGuard;
using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

// These tests release locks from other threads and processes and release
// free locks on purpose (Python locks have no owner): Clang's static lock
// analysis, which the clang legs run, cannot follow that.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif


TEST(ThreadingLock, AcquireReleaseAndMessages) {
  threading::Lock lock;
  EXPECT_FALSE(lock.locked());
  EXPECT_EQ(error_of<racegate::RuntimeError>([&] { lock.release(); }), "release unlocked lock");
  EXPECT_TRUE(lock.acquire());
  EXPECT_TRUE(lock.locked());
  EXPECT_FALSE(lock.acquire(false));
  auto t0 = Clock::now();
  EXPECT_FALSE(lock.acquire(true, Seconds(0.05)));
  EXPECT_GE(Seconds(Clock::now() - t0).count(), 0.05);
  EXPECT_EQ(error_of<racegate::ValueError>([&] { (void)lock.acquire(false, Seconds(1)); }),
            "can't specify a timeout for a non-blocking call");
  EXPECT_EQ(error_of<racegate::ValueError>([&] { (void)lock.acquire(true, Seconds(-1)); }),
            "timeout value must be positive");
  lock.release();
  EXPECT_FALSE(lock.locked());
}

TEST(ThreadingLock, AnyThreadMayRelease) {
  threading::Lock lock;
  lock.acquire();
  threading::Thread t([&] { lock.release(); });
  t.start();
  t.join();
  EXPECT_FALSE(lock.locked());
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
}

TEST(ThreadingLock, GuardReleasesOnException) {
  threading::Lock lock;
  try {
    threading::LockGuard guard(lock);
    EXPECT_TRUE(lock.locked());
    throw std::runtime_error("inside with");
  } catch (const std::runtime_error&) {
  }
  EXPECT_FALSE(lock.locked());
  {
    std::lock_guard std_guard(lock);  // Lockable
    EXPECT_TRUE(lock.locked());
  }
  EXPECT_FALSE(lock.locked());
}

TEST(ThreadingLock, BlockedAcquirerWakesOnRelease) {
  threading::Lock lock;
  threading::Event waiting;
  lock.acquire();
  bool got = false;
  threading::Thread t([&] {
    waiting.set();
    got = lock.acquire(true, Seconds(60));
    lock.release();
  });
  t.start();
  waiting.wait();
  lock.release();
  t.join();
  EXPECT_TRUE(got);
}

TEST(ThreadingEvent, InitialSetClearAndTimeout) {
  threading::Event e;
  EXPECT_FALSE(e.is_set());
  EXPECT_FALSE(e.wait(Seconds(0)));
  auto t0 = Clock::now();
  EXPECT_FALSE(e.wait(Seconds(0.05)));
  EXPECT_GE(Seconds(Clock::now() - t0).count(), 0.05);
  EXPECT_FALSE(e.is_set());  // a timeout never sets the flag
  e.set();
  EXPECT_TRUE(e.wait());
  EXPECT_TRUE(e.wait(Seconds(0)));
  e.clear();
  EXPECT_FALSE(e.is_set());
  EXPECT_FALSE(e.wait(Seconds(-1)));  // negative behaves as zero
}

TEST(ThreadingEvent, SetWakesAllWaiters) {
  threading::Event go;
  std::vector<std::unique_ptr<threading::Thread>> threads;
  std::atomic<int> woke{0};
  for (int i = 0; i < 4; ++i) {
    threads.push_back(std::make_unique<threading::Thread>([&] {
      if (go.wait(Seconds(60))) woke.fetch_add(1);
    }));
    threads.back()->start();
  }
  go.set();
  for (auto& t : threads) t->join();
  EXPECT_EQ(woke.load(), 4);
}

TEST(MpLock, ReleaseUnlockedMessage) {
  mp::Lock lock;
  EXPECT_EQ(error_of<racegate::ValueError>([&] { lock.release(); }),
            "semaphore or lock released too many times");
  EXPECT_TRUE(lock.acquire());
  EXPECT_EQ(lock.owner_pid(), getpid());
  EXPECT_FALSE(lock.acquire(false));
  EXPECT_FALSE(lock.acquire(true, Seconds(-1)));  // negative behaves as zero
  lock.release();
  EXPECT_EQ(lock.owner_pid(), 0);
}

TEST(MpLock, ChildReleasesParentsLock) {
  mp::Lock lock;
  lock.acquire();
  mp::Process p([lock]() mutable { lock.release(); });
  ProcessGuard guard(p);
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_TRUE(lock.acquire(false));
  lock.release();
}

TEST(MpLock, MutualExclusionAcrossProcesses) {
  // Each process does read-yield-write increments of a shared plain counter;
  // without the lock updates would be lost, with it the total is exact.
  constexpr int kProcesses = 4, kIncrements = 2000;
  mp::Lock lock;
  auto counter = racegate::test::make_shared_atomic<int>(0);
  std::vector<std::unique_ptr<mp::Process>> procs;
  for (int i = 0; i < kProcesses; ++i) {
    procs.push_back(std::make_unique<mp::Process>([lock, counter]() mutable {
      for (int k = 0; k < kIncrements; ++k) {
        threading::LockGuard guard(lock);
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

TEST(MpLock, ChildBlocksUntilParentReleases) {
  mp::Lock lock;
  mp::Event about_to_acquire;
  auto got = racegate::test::make_shared_atomic<int>(0);
  lock.acquire();
  mp::Process p([lock, about_to_acquire, got]() mutable {
    about_to_acquire.set();
    if (lock.acquire(true, Seconds(60))) got->store(1);
    lock.release();
  });
  ProcessGuard guard(p);
  p.start();
  ASSERT_TRUE(about_to_acquire.wait(Seconds(60)));
  EXPECT_EQ(got->load(), 0);  // cannot have it: we hold it
  lock.release();
  p.join();
  EXPECT_EQ(got->load(), 1);
}

TEST(MpEvent, SetWakesWaiterInChild) {
  mp::Event ready, go;
  auto result = racegate::test::make_shared_atomic<int>(-1);
  mp::Process p([ready, go, result]() mutable {
    // A wait that times out first: returns false and does not set the flag.
    bool timed = go.wait(Seconds(0.01));
    ready.set();
    bool woke = go.wait(Seconds(60));
    result->store((timed ? 1 : 0) | (woke ? 2 : 0) | (go.is_set() ? 4 : 0));
  });
  ProcessGuard guard(p, go);
  p.start();
  ASSERT_TRUE(ready.wait(Seconds(60)));
  go.set();
  p.join();
  EXPECT_EQ(result->load(), 2 | 4);
}
