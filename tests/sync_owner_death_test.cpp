// Owner death: a process killed while holding an mp::Lock or mp::RLock must
// not leave the others blocked for ever. Their blocking acquires end with
// OwnerDiedError naming the dead pid (the time bound is loose on purpose).
#include <atomic>
#include <chrono>
#include <csignal>
#include <string>
#include <sys/wait.h>
#include <thread>

#include <gtest/gtest.h>

#include "racegate/errors.h"
#include "racegate/internal/sync_ids.h"
#include "racegate/mp/condition.h"
#include "racegate/mp/event.h"
#include "racegate/mp/lock.h"
#include "racegate/mp/process.h"
#include "racegate/mp/rlock.h"
#include "racegate/threading/thread.h"
#include "cases/support/process_guard.h"
#include "support/shared_value.h"

#if defined(__clang__)
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif

namespace mp = racegate::mp;
namespace threading = racegate::threading;
using racegate::test::ProcessGuard;
using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

namespace {

constexpr double kLooseBound = 20.0;  // seconds; detection takes ~0.1 s

double since(Clock::time_point t0) { return Seconds(Clock::now() - t0).count(); }

std::string died_message(pid_t pid) {
  return "lock owner process " + std::to_string(pid) + " died while holding the lock";
}

template <class F>
std::string owner_died_of(F&& f) {
  try {
    f();
  } catch (const racegate::OwnerDiedError& e) {
    EXPECT_STREQ(e.python_type(), "OwnerDiedError");
    return e.what();
  }
  return "<no error>";
}

}  // namespace

TEST(OwnerDeath, ProcessHasEndedSeesZombiesAndTheGone) {
  EXPECT_FALSE(racegate::internal::process_has_ended(getpid()));
  mp::Event go;
  mp::Process p([go]() mutable { go.wait(); });
  ProcessGuard guard(p, go);
  p.start();
  const pid_t pid = *p.pid();
  EXPECT_FALSE(racegate::internal::process_has_ended(pid));
  p.kill();
  // Not reaped yet: a zombie has ended too.
  const auto t0 = Clock::now();
  while (!racegate::internal::process_has_ended(pid) && since(t0) < kLooseBound) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(racegate::internal::process_has_ended(pid));
  p.join();
  EXPECT_EQ(p.exitcode(), -SIGKILL);
  EXPECT_TRUE(racegate::internal::process_has_ended(pid));  // reaped: gone
}

TEST(OwnerDeath, LockHolderKilledThenAcquireThrows) {
  mp::Lock lock;
  mp::Event holding;
  mp::Event never;
  mp::Process p([lock, holding, never]() mutable {
    lock.acquire();
    holding.set();
    never.wait();
  });
  ProcessGuard guard(p);
  p.start();
  ASSERT_TRUE(holding.wait(Seconds(60)));
  const pid_t pid = *p.pid();
  EXPECT_EQ(lock.owner_pid(), pid);
  p.kill();  // SIGKILL while holding; not reaped: the owner is a zombie

  auto t0 = Clock::now();
  EXPECT_EQ(owner_died_of([&] { lock.acquire(); }), died_message(pid));
  EXPECT_LT(since(t0), kLooseBound);
  // Still held by the dead pid: a long timed acquire reports it as well, a
  // non-blocking one just fails.
  EXPECT_EQ(owner_died_of([&] { (void)lock.acquire(true, Seconds(60)); }), died_message(pid));
  EXPECT_FALSE(lock.acquire(false));
  EXPECT_TRUE(lock.locked());
  EXPECT_EQ(lock.owner_pid(), pid);

  p.join();
  EXPECT_EQ(p.exitcode(), -SIGKILL);
  // Reaped now (the pid is gone): still detected.
  EXPECT_EQ(owner_died_of([&] { lock.acquire(); }), died_message(pid));
  // Whoever repairs the state frees it; it works normally again.
  lock.release();
  EXPECT_TRUE(lock.acquire(true, Seconds(1)));
  EXPECT_EQ(lock.owner_pid(), getpid());
  lock.release();
}

TEST(OwnerDeath, AcquirerAlreadyBlockedWhenTheOwnerIsKilled) {
  mp::Lock lock;
  mp::Event holding;
  mp::Event never;
  mp::Process p([lock, holding, never]() mutable {
    lock.acquire();
    holding.set();
    never.wait();
  });
  ProcessGuard guard(p);
  p.start();
  ASSERT_TRUE(holding.wait(Seconds(60)));
  const pid_t pid = *p.pid();
  std::string error;
  std::atomic<bool> started{false};
  threading::Thread t([&] {
    started = true;
    error = owner_died_of([&] { lock.acquire(); });
  });
  t.start();
  while (!started.load()) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let it block (not required)
  p.kill();
  t.join();
  EXPECT_EQ(error, died_message(pid));
  p.join();
  lock.release();
}

TEST(OwnerDeath, RLockHolderKilledThenAcquireThrows) {
  mp::RLock lock;
  mp::Event holding;
  mp::Event never;
  mp::Process p([lock, holding, never]() mutable {
    lock.acquire();
    lock.acquire();
    holding.set();
    never.wait();
  });
  ProcessGuard guard(p);
  p.start();
  ASSERT_TRUE(holding.wait(Seconds(60)));
  const pid_t pid = *p.pid();
  EXPECT_EQ(lock.owner_pid(), pid);
  p.kill();
  auto t0 = Clock::now();
  EXPECT_EQ(owner_died_of([&] { lock.acquire(); }), died_message(pid));
  EXPECT_LT(since(t0), kLooseBound);
  EXPECT_EQ(owner_died_of([&] { (void)lock.acquire(true, Seconds(60)); }), died_message(pid));
  EXPECT_FALSE(lock.acquire(false));
  // Only the owner may release an RLock: it stays held by the dead process.
  EXPECT_THROW(lock.release(), racegate::AssertionError);
  p.join();
  EXPECT_EQ(p.exitcode(), -SIGKILL);
  EXPECT_EQ(owner_died_of([&] { lock.acquire(); }), died_message(pid));
}

TEST(OwnerDeath, ConditionWaiterReportsItWhenTakingTheLockBack) {
  mp::Condition c;  // over an mp::RLock
  mp::Event waiting;
  mp::Event holding;
  mp::Event never;
  // The parent waits; a child takes the lock (possible during the wait),
  // notifies, and is killed while still holding it.
  mp::Process p([c, holding, never]() mutable {
    c.acquire();
    c.notify();
    holding.set();
    never.wait();
  });
  ProcessGuard guard(p);
  c.acquire();
  p.start();
  std::string error;
  threading::Thread killer([&] {
    if (holding.wait(Seconds(60))) p.kill();
  });
  killer.start();
  error = owner_died_of([&] { (void)c.wait(Seconds(60)); });
  killer.join();
  EXPECT_EQ(error, died_message(*p.pid()));
  p.join();
}

TEST(OwnerDeath, ALiveOwnerIsNeverReportedDead) {
  // The holder keeps the lock for several check intervals, then releases it.
  mp::Lock lock;
  mp::Event holding;
  mp::Process p([lock, holding]() mutable {
    lock.acquire();
    holding.set();
    std::this_thread::sleep_for(std::chrono::milliseconds(350));
    lock.release();
  });
  ProcessGuard guard(p);
  p.start();
  ASSERT_TRUE(holding.wait(Seconds(60)));
  auto t0 = Clock::now();
  EXPECT_TRUE(lock.acquire(true, Seconds(60)));
  EXPECT_GE(since(t0), 0.2);
  lock.release();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}
