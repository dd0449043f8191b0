// Catalog sections 5-8: adapters over Boost.Interprocess's interprocess_mutex,
// interprocess_recursive_mutex, interprocess_semaphore and
// interprocess_condition. They are process-shared: each object lives in an
// anonymous shared mapping made before the case forks (SharedObject), so
// the cross-process behaviors run across real processes. What Boost leaves
// undefined is declared here and never executed.
#pragma once

#include <algorithm>
#include <climits>
#include <cstdint>
#include <functional>
#include <optional>

#include <boost/date_time/posix_time/posix_time_types.hpp>
#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/sync/interprocess_condition.hpp>
#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <boost/interprocess/sync/interprocess_recursive_mutex.hpp>
#include <boost/interprocess/sync/interprocess_semaphore.hpp>
#include <boost/interprocess/sync/lock_options.hpp>
#include <boost/interprocess/sync/scoped_lock.hpp>

#include "cases/adapters/sync.h"

namespace racegate::cases::sync_cases {

namespace boost_detail {
namespace bip = boost::interprocess;

// Boost.Interprocess 1.74 takes absolute times on the realtime clock.
inline boost::posix_time::ptime deadline_after(Seconds t) {
  const auto us = static_cast<long>(std::max(t.count(), 0.0) * 1e6);
  return boost::posix_time::microsec_clock::universal_time() + boost::posix_time::microseconds(us);
}

template <class M>
struct BoostMutexOps {
  using Handle = SharedObject<M>;
  static constexpr Feature kProcessShared = Feature::yes();
  static constexpr Feature kTimedAcquire = Feature::yes();
  static constexpr Feature kAcquireReturnsTrue = Feature::no("Boost.Interprocess's lock() returns void");
  static Handle make() { return Handle::make(); }
  static void acquire(Handle& h) { h->lock(); }
  static bool try_acquire(Handle& h) { return h->try_lock(); }
  static bool acquire_for(Handle& h, Seconds t) { return h->timed_lock(deadline_after(t)); }
  static void release(Handle& h) { h->unlock(); }
  static void with(Handle& h, const std::function<void()>& body) {
    bip::scoped_lock<M> guard(*h);
    body();
  }
};
}  // namespace boost_detail

struct BoostMutex : boost_detail::BoostMutexOps<boost::interprocess::interprocess_mutex> {
  static constexpr std::string_view name = "boost.interprocess_mutex";
  static constexpr bool kRecursive = false;
  static constexpr Feature kLockedQuery = Feature::no(
      "interprocess_mutex has no locked(): the case asks with try_lock() from another thread");
  static constexpr Feature kTryByHolder = Feature::no(
      "Boost.Interprocess does not say what try_lock() by the owner of a non-recursive "
      "interprocess_mutex does (POSIX leaves relocking a default mutex undefined)");
  static constexpr Feature kTimedByHolder = Feature::no(
      "timed_lock() by the owner of a non-recursive interprocess_mutex is unspecified by Boost and "
      "undefined for a default POSIX mutex");
  static constexpr Misuse kReleaseUnlocked = Misuse::undefined(
      "interprocess_mutex must be unlocked by the thread that locked it: unlocking an unlocked one "
      "is undefined behaviour (its POSIX implementation asserts in debug builds), not an error");
  static constexpr Misuse kNonOwnerRelease = Misuse::undefined(
      "interprocess_mutex has an owner: unlock() by another thread or process is undefined "
      "behaviour, where CPython's ownerless Lock allows it");
};

struct BoostRecursiveMutex
    : boost_detail::BoostMutexOps<boost::interprocess::interprocess_recursive_mutex> {
  static constexpr std::string_view name = "boost.interprocess_recursive_mutex";
  static constexpr bool kRecursive = true;
  static constexpr Feature kLockedQuery = Feature::no(
      "interprocess_recursive_mutex has no locked(): the case asks with try_lock() from another "
      "thread");
  static constexpr Feature kTryByHolder = Feature::yes();
  static constexpr Feature kTimedByHolder = Feature::yes();
  static constexpr Misuse kReleaseUnlocked = Misuse::undefined(
      "unlock() of an unlocked interprocess_recursive_mutex is undefined behaviour (the POSIX "
      "implementation asserts on pthread's EPERM), not CPython's error");
  static constexpr Misuse kNonOwnerRelease = Misuse::undefined(
      "unlock() of an interprocess_recursive_mutex by a non-owner is undefined behaviour (the POSIX "
      "implementation asserts on pthread's EPERM), not CPython's error");
};

struct BoostSemaphore {
  static constexpr std::string_view name = "boost.interprocess_semaphore";
  using Handle = SharedObject<boost::interprocess::interprocess_semaphore>;
  static constexpr bool kBounded = false;
  static constexpr int kMaxValue = INT_MAX;  // SEM_VALUE_MAX
  static constexpr Feature kProcessShared = Feature::yes();
  static constexpr Feature kTimedAcquire = Feature::yes();
  static constexpr Feature kValueQuery = Feature::no(
      "interprocess_semaphore has no value getter: the case counts the units try_wait() can take");
  static constexpr Feature kBoundedVariant = Feature::no(
      "Boost.Interprocess has no bounded semaphore: interprocess_semaphore::post() never refuses");
  static constexpr Misuse kOverRelease = Misuse::allowed();
  static constexpr Misuse kNegativeInitial = Misuse::absent(
      "interprocess_semaphore takes an unsigned initial count: a negative value cannot be passed");
  static Handle make(int v) { return Handle::make(static_cast<unsigned>(v)); }
  static void acquire(Handle& h) { h->wait(); }
  static bool try_acquire(Handle& h) { return h->try_wait(); }
  static bool acquire_for(Handle& h, Seconds t) { return h->timed_wait(boost_detail::deadline_after(t)); }
  static void release(Handle& h) { h->post(); }
};

// An interprocess_condition with its interprocess_mutex, in one shared
// mapping. As std::condition_variable it may wake spuriously, so wait(t)
// waits until the notification count (kept under the mutex) changes.
struct BoostCondition {
  struct State {
    boost::interprocess::interprocess_mutex m;
    boost::interprocess::interprocess_condition c;
    std::uint64_t notifications = 0;  // guarded by m
  };
  using Lock = boost::interprocess::scoped_lock<boost::interprocess::interprocess_mutex>;
  static constexpr std::string_view name = "boost.interprocess_condition";
  using Handle = SharedObject<State>;
  static constexpr Feature kProcessShared = Feature::yes();
  static constexpr Feature kBareWait = Feature::no(
      "interprocess_condition (a POSIX condition variable) may wake spuriously: the adapter waits "
      "for a notification count kept under the mutex");
  static constexpr Misuse kWaitWithoutLock = Misuse::raises(
      "boost::interprocess::lock_exception", "boost::interprocess::lock_exception",
      "Boost checks that the scoped_lock given to wait() owns its mutex and throws its own "
      "lock_exception, not CPython's RuntimeError/AssertionError and text");
  static constexpr Misuse kNotifyWithoutLock = Misuse::allowed(
      "interprocess_condition::notify_one/notify_all need not hold the mutex (by design), where "
      "CPython raises");
  static Handle make() { return Handle::make(); }
  static void acquire(Handle& h) { h->m.lock(); }
  static void release(Handle& h) { h->m.unlock(); }
  static bool wait(Handle& h, std::optional<Seconds> t) {
    Lock lk(h->m, boost::interprocess::accept_ownership);
    const std::uint64_t seen = h->notifications;
    auto notified = [&] { return h->notifications != seen; };
    bool ok = true;
    if (t) {
      ok = h->c.timed_wait(lk, boost_detail::deadline_after(*t), notified);
    } else {
      h->c.wait(lk, notified);
    }
    lk.release();  // the caller still holds the mutex
    return ok;
  }
  static bool wait_predicate(Handle& h, const std::function<bool()>& pred, Seconds t) {
    Lock lk(h->m, boost::interprocess::accept_ownership);
    const bool ok = h->c.timed_wait(lk, boost_detail::deadline_after(t), pred);
    lk.release();
    return ok;
  }
  static void notify(Handle& h) {
    ++h->notifications;
    h->c.notify_one();
  }
  static void notify_all(Handle& h) {
    ++h->notifications;
    h->c.notify_all();
  }
  // wait() "without the lock": a scoped_lock that does not own the mutex.
  static void wait_unlocked(Handle& h) {
    Lock lk(h->m, boost::interprocess::defer_lock);
    h->c.wait(lk);
  }
  static void notify_unlocked(Handle& h, bool all) {
    if (all) {
      h->c.notify_all();
    } else {
      h->c.notify_one();
    }
  }
};

static_assert(LockAdapter<BoostMutex> && LockAdapter<BoostRecursiveMutex>);
static_assert(SemaphoreAdapter<BoostSemaphore>);
static_assert(ConditionAdapter<BoostCondition>);

}  // namespace racegate::cases::sync_cases
