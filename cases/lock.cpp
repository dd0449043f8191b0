// Catalog section 5: Lock / RLock, written once (cases/primitives/sync_lock_cases.h)
// and run against the reference, the standard library and Boost.Interprocess.
#include <algorithm>
#include <string>

#include <rapidcheck.h>

#include "cases/adapters/sync_boost.h"
#include "cases/adapters/sync_reference.h"
#include "cases/adapters/sync_std.h"
#include "cases/primitives/sync_cases.h"
#include "racegate/mp/lock.h"
#include "racegate/mp/manager.h"
#include "racegate/mp/rlock.h"

// Cases acquire and release across lambdas and loops, which the lock
// annotations cannot follow.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif

namespace mp = racegate::mp;
using namespace racegate::cases::sync_cases;  // NOLINT: the case vocabulary

namespace {

// The reference: mp.Lock across processes (the seed's), threading.Lock across threads.
RG_CASE("lock.mutual_exclusion_processes", (lock_mutual_exclusion_behavior().spec)) {
  lock_mutual_exclusion_over<RefMpLock>(ctx, true);
  lock_mutual_exclusion_over<RefThreadingLock>(ctx, false);
}

RG_CASE("lock.with_statement", (lock_with_statement_behavior().spec)) {
  lock_with_statement<RefThreadingLock>(ctx);
  lock_with_statement<RefThreadingRLock>(ctx);
  lock_with_statement<RefMpLock>(ctx);
  lock_with_statement<RefMpRLock>(ctx);
}

// threading and mp, Lock and RLock; then the mp reprs: a held mp.Lock is
// <Lock(owner=MainProcess)>, an mp.RLock taken twice <RLock(MainProcess, 2)>.
RG_CASE("lock.nonblocking_timeout_nesting", (lock_nonblocking_behavior().spec)) {
  lock_nonblocking_over<RefThreadingLock>(ctx, false);
  lock_nonblocking_over<RefThreadingRLock>(ctx, false);
  lock_nonblocking_over<RefMpLock>(ctx, true);
  lock_nonblocking_over<RefMpRLock>(ctx, true);
  ctx.check([] {
    const int depth = *rc::gen::inRange(1, 5);
    mp::Lock lock;
    mp::RLock rlock;
    RC_ASSERT(lock.repr() == "<Lock(owner=None)>");
    RC_ASSERT(rlock.repr() == "<RLock(None, 0)>");
    {
      Holding<RefMpLock> held(lock);
      held.acquire();
      RC_ASSERT(lock.repr() == "<Lock(owner=MainProcess)>");
      Holding<RefMpRLock> rheld(rlock);
      for (int i = 0; i < 2; ++i) rheld.acquire();
      RC_ASSERT(rlock.repr() == "<RLock(MainProcess, 2)>");
      for (int i = 2; i < depth; ++i) rheld.acquire();
      RC_ASSERT(rlock.repr() == "<RLock(MainProcess, " + std::to_string(std::max(depth, 2)) + ")>");
    }
    RC_ASSERT(lock.repr() == "<Lock(owner=None)>");
    RC_ASSERT(rlock.repr() == "<RLock(None, 0)>");
    // Held by a child: another process's.
    mp::Event held, done;
    Team team(true);
    team.release_on_unwind(done);
    team.spawn([=]() mutable {
      lock.acquire();
      for (int i = 0; i < depth; ++i) rlock.acquire();
      held.set();
      const bool ok = done.wait(Seconds(30));
      for (int i = 0; i < depth; ++i) rlock.release();
      lock.release();
      require(ok, "never let go");
    });
    RC_ASSERT(held.wait(Seconds(30)));
    RC_ASSERT(lock.repr() == "<Lock(owner=SomeOtherProcess)>");
    RC_ASSERT(rlock.repr() == "<RLock(SomeOtherProcess, nonzero)>");  // CPython does not know the count
    done.set();
    const std::string err = team.join();
    if (!err.empty()) RC_FAIL(err);
  });
}

// threading.Lock: RuntimeError; mp.Lock: ValueError; Manager().Lock():
// RuntimeError again (the server holds a threading.Lock).
RG_CASE("lock.release_unlocked", (lock_release_unlocked_behavior().spec)) {
  mp::Manager manager;  // forks its server: first, while the case is single-threaded
  ctx.check([&manager] {
    auto lock = manager.Lock();
    const int rounds = *rc::gen::inRange(0, 4);
    for (int i = 0; i < rounds; ++i) {
      RC_ASSERT(lock.acquire());
      lock.release();
    }
    const Raised r = raised([&] { lock.release(); });
    RC_ASSERT(r.raised);
    RC_ASSERT(r.type == std::string("RuntimeError"));
    RC_ASSERT(r.message == std::string("release unlocked lock"));
    RC_ASSERT(lock.acquire(false));  // nothing changed
    lock.release();
  });
  lock_release_unlocked<RefThreadingLock>(ctx);
  lock_release_unlocked<RefMpLock>(ctx);
}

// Plain locks from another thread / process; recursive ones refuse, mp.RLock
// from another thread and from another process alike.
RG_CASE("lock.non_owner_release", (lock_non_owner_release_behavior().spec)) {
  lock_non_owner_release_over<RefThreadingLock>(ctx, false);
  lock_non_owner_release_over<RefThreadingRLock>(ctx, false);
  lock_non_owner_release_over<RefMpRLock>(ctx, false);
  lock_non_owner_release_over<RefMpLock>(ctx, true);
  lock_non_owner_release_over<RefMpRLock>(ctx, true);
}

template <LockAdapter A>
bool register_lock_cases() {
  return register_for<A>(lock_mutual_exclusion_behavior(), &lock_mutual_exclusion<A>) &&
         register_for<A>(lock_with_statement_behavior(), &lock_with_statement<A>) &&
         register_for<A>(lock_nonblocking_behavior(), &lock_nonblocking_timeout_nesting<A>) &&
         register_for<A>(lock_release_unlocked_behavior(), &lock_release_unlocked<A>) &&
         register_for<A>(lock_non_owner_release_behavior(), &lock_non_owner_release<A>);
}

[[maybe_unused]] const bool kRegistered =
    register_lock_cases<StdMutex>() && register_lock_cases<StdRecursiveMutex>() &&
    register_lock_cases<BoostMutex>() && register_lock_cases<BoostRecursiveMutex>();

}  // namespace
