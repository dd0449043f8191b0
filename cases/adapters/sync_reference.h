// Catalog sections 5-8: adapters over the reference's threading and mp
// primitives. Their declared errors are CPython 3.11's types and texts (the
// catalog's), so a case that asserts them asserts CPython's behaviour.
#pragma once

#include <climits>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "cases/adapters/sync.h"
#include "racegate/mp/condition.h"
#include "racegate/mp/event.h"
#include "racegate/mp/lock.h"
#include "racegate/mp/rlock.h"
#include "racegate/mp/semaphore.h"
#include "racegate/threading/condition.h"
#include "racegate/threading/event.h"
#include "racegate/threading/lock.h"
#include "racegate/threading/rlock.h"
#include "racegate/threading/semaphore.h"

// An adapter acquires in one function and releases in another: the lock
// annotations cannot follow that.
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif

namespace racegate::cases::sync_cases {

namespace reference_detail {
inline constexpr std::string_view kThreadsOnly =
    "a threading primitive serves the threads of one process (its mp:: counterpart crosses processes)";

// The parts every reference lock adapter shares; L is the lock type, H how a
// party holds it (a shared_ptr for the non-copyable threading types, the
// handle itself for the mp types).
template <class L, class H>
struct RefLockOps {
  static L& obj(H& h) {
    if constexpr (std::is_same_v<H, L>) {
      return h;
    } else {
      return *h;
    }
  }
  static bool acquire(H& h) { return obj(h).acquire(); }
  static bool try_acquire(H& h) { return obj(h).acquire(false); }
  static bool acquire_for(H& h, Seconds t) { return obj(h).acquire(true, t); }
  static void release(H& h) { obj(h).release(); }
  static bool locked(H& h) { return obj(h).locked(); }
  static void with(H& h, const std::function<void()>& body) {
    racegate::threading::LockGuard<L> guard(obj(h));  // `with lock:`
    body();
  }
};
}  // namespace reference_detail

struct RefThreadingLock
    : reference_detail::RefLockOps<threading::Lock, std::shared_ptr<threading::Lock>> {
  static constexpr std::string_view name = "reference.threading.Lock";
  using Handle = std::shared_ptr<threading::Lock>;
  static constexpr bool kRecursive = false;
  static constexpr Feature kProcessShared = Feature::no(reference_detail::kThreadsOnly);
  static constexpr Feature kTimedAcquire = Feature::yes();
  static constexpr Feature kLockedQuery = Feature::yes();
  static constexpr Feature kAcquireReturnsTrue = Feature::yes();
  static constexpr Feature kTryByHolder = Feature::yes();
  static constexpr Feature kTimedByHolder = Feature::yes();
  static constexpr Misuse kReleaseUnlocked = Misuse::raises("RuntimeError", "release unlocked lock");
  static constexpr Misuse kNonOwnerRelease = Misuse::allowed();
  static Handle make() { return std::make_shared<threading::Lock>(); }
};

struct RefThreadingRLock
    : reference_detail::RefLockOps<threading::RLock, std::shared_ptr<threading::RLock>> {
  static constexpr std::string_view name = "reference.threading.RLock";
  using Handle = std::shared_ptr<threading::RLock>;
  static constexpr bool kRecursive = true;
  static constexpr Feature kProcessShared = Feature::no(reference_detail::kThreadsOnly);
  static constexpr Feature kTimedAcquire = Feature::yes();
  static constexpr Feature kLockedQuery = Feature::yes();
  static constexpr Feature kAcquireReturnsTrue = Feature::yes();
  static constexpr Feature kTryByHolder = Feature::yes();
  static constexpr Feature kTimedByHolder = Feature::yes();
  static constexpr Misuse kReleaseUnlocked =
      Misuse::raises("RuntimeError", "cannot release un-acquired lock");
  static constexpr Misuse kNonOwnerRelease =
      Misuse::raises("RuntimeError", "cannot release un-acquired lock");
  static Handle make() { return std::make_shared<threading::RLock>(); }
};

struct RefMpLock : reference_detail::RefLockOps<mp::Lock, mp::Lock> {
  static constexpr std::string_view name = "reference.mp.Lock";
  using Handle = mp::Lock;
  static constexpr bool kRecursive = false;
  static constexpr Feature kProcessShared = Feature::yes();
  static constexpr Feature kTimedAcquire = Feature::yes();
  static constexpr Feature kLockedQuery = Feature::yes();
  static constexpr Feature kAcquireReturnsTrue = Feature::yes();
  static constexpr Feature kTryByHolder = Feature::yes();
  static constexpr Feature kTimedByHolder = Feature::yes();
  static constexpr Misuse kReleaseUnlocked =
      Misuse::raises("ValueError", "semaphore or lock released too many times");
  static constexpr Misuse kNonOwnerRelease = Misuse::allowed();
  static Handle make() { return mp::Lock(); }
};

struct RefMpRLock : reference_detail::RefLockOps<mp::RLock, mp::RLock> {
  static constexpr std::string_view name = "reference.mp.RLock";
  using Handle = mp::RLock;
  static constexpr bool kRecursive = true;
  static constexpr Feature kProcessShared = Feature::yes();
  static constexpr Feature kTimedAcquire = Feature::yes();
  static constexpr Feature kLockedQuery = Feature::yes();
  static constexpr Feature kAcquireReturnsTrue = Feature::yes();
  static constexpr Feature kTryByHolder = Feature::yes();
  static constexpr Feature kTimedByHolder = Feature::yes();
  static constexpr Misuse kReleaseUnlocked =
      Misuse::raises("AssertionError", "attempt to release recursive lock not owned by thread");
  static constexpr Misuse kNonOwnerRelease =
      Misuse::raises("AssertionError", "attempt to release recursive lock not owned by thread");
  static Handle make() { return mp::RLock(); }
};

// ---- semaphores ------------------------------------------------------------------------------

namespace reference_detail {
template <class S, class H>
struct RefSemaphoreOps {
  static S& obj(H& h) {
    if constexpr (std::is_same_v<H, S>) {
      return h;
    } else {
      return *h;
    }
  }
  static bool acquire(H& h) { return obj(h).acquire(); }
  static bool try_acquire(H& h) { return obj(h).acquire(false); }
  static bool acquire_for(H& h, Seconds t) { return obj(h).acquire(true, t); }
  static void release(H& h) { obj(h).release(); }
};
}  // namespace reference_detail

struct RefThreadingSemaphore
    : reference_detail::RefSemaphoreOps<threading::Semaphore, std::shared_ptr<threading::Semaphore>> {
  static constexpr std::string_view name = "reference.threading.Semaphore";
  using Handle = std::shared_ptr<threading::Semaphore>;
  static constexpr bool kBounded = false;
  static constexpr int kMaxValue = INT_MAX;
  static constexpr Feature kProcessShared = Feature::no(reference_detail::kThreadsOnly);
  static constexpr Feature kTimedAcquire = Feature::yes();
  static constexpr Feature kValueQuery = Feature::yes();
  static constexpr Feature kBoundedVariant = Feature::yes();
  static constexpr Misuse kOverRelease = Misuse::allowed();
  static constexpr Misuse kNegativeInitial =
      Misuse::raises("ValueError", "semaphore initial value must be >= 0");
  static Handle make(int v) { return std::make_shared<threading::Semaphore>(v); }
  static int value(Handle& h) { return h->value(); }
};

struct RefThreadingBoundedSemaphore
    : reference_detail::RefSemaphoreOps<threading::Semaphore, std::shared_ptr<threading::Semaphore>> {
  static constexpr std::string_view name = "reference.threading.BoundedSemaphore";
  using Handle = std::shared_ptr<threading::Semaphore>;
  static constexpr bool kBounded = true;
  static constexpr int kMaxValue = INT_MAX;
  static constexpr Feature kProcessShared = Feature::no(reference_detail::kThreadsOnly);
  static constexpr Feature kTimedAcquire = Feature::yes();
  static constexpr Feature kValueQuery = Feature::yes();
  static constexpr Feature kBoundedVariant = Feature::yes();
  static constexpr Misuse kOverRelease = Misuse::raises("ValueError", "Semaphore released too many times");
  static constexpr Misuse kNegativeInitial =
      Misuse::raises("ValueError", "semaphore initial value must be >= 0");
  static Handle make(int v) { return std::make_shared<threading::BoundedSemaphore>(v); }
  static int value(Handle& h) { return h->value(); }
};

struct RefMpSemaphore : reference_detail::RefSemaphoreOps<mp::Semaphore, mp::Semaphore> {
  static constexpr std::string_view name = "reference.mp.Semaphore";
  using Handle = mp::Semaphore;
  static constexpr bool kBounded = false;
  static constexpr int kMaxValue = INT_MAX;  // SEM_VALUE_MAX
  static constexpr Feature kProcessShared = Feature::yes();
  static constexpr Feature kTimedAcquire = Feature::yes();
  static constexpr Feature kValueQuery = Feature::yes();
  static constexpr Feature kBoundedVariant = Feature::yes();
  static constexpr Misuse kOverRelease = Misuse::allowed();
  static constexpr Misuse kNegativeInitial = Misuse::raises("OSError", "[Errno 22] Invalid argument");
  static Handle make(int v) { return mp::Semaphore(v); }
  static int value(Handle& h) { return h.get_value(); }
};

struct RefMpBoundedSemaphore
    : reference_detail::RefSemaphoreOps<mp::BoundedSemaphore, mp::BoundedSemaphore> {
  static constexpr std::string_view name = "reference.mp.BoundedSemaphore";
  using Handle = mp::BoundedSemaphore;
  static constexpr bool kBounded = true;
  static constexpr int kMaxValue = INT_MAX;
  static constexpr Feature kProcessShared = Feature::yes();
  static constexpr Feature kTimedAcquire = Feature::yes();
  static constexpr Feature kValueQuery = Feature::yes();
  static constexpr Feature kBoundedVariant = Feature::yes();
  static constexpr Misuse kOverRelease =
      Misuse::raises("ValueError", "semaphore or lock released too many times");
  static constexpr Misuse kNegativeInitial = Misuse::raises("OSError", "[Errno 22] Invalid argument");
  static Handle make(int v) { return mp::BoundedSemaphore(v); }
  static int value(Handle& h) { return h.get_value(); }
};

// ---- events ----------------------------------------------------------------------------------

struct RefThreadingEvent {
  static constexpr std::string_view name = "reference.threading.Event";
  using Handle = std::shared_ptr<threading::Event>;
  static constexpr Feature kProcessShared = Feature::no(reference_detail::kThreadsOnly);
  static Handle make() { return std::make_shared<threading::Event>(); }
  static void set(Handle& h) { h->set(); }
  static void clear(Handle& h) { h->clear(); }
  static bool is_set(Handle& h) { return h->is_set(); }
  static bool wait(Handle& h) { return h->wait(); }
  static bool wait_for(Handle& h, Seconds t) { return h->wait(t); }
};

struct RefMpEvent {
  static constexpr std::string_view name = "reference.mp.Event";
  using Handle = mp::Event;
  static constexpr Feature kProcessShared = Feature::yes();
  static Handle make() { return mp::Event(); }
  static void set(Handle& h) { h.set(); }
  static void clear(Handle& h) { h.clear(); }
  static bool is_set(Handle& h) { return h.is_set(); }
  static bool wait(Handle& h) { return h.wait(); }
  static bool wait_for(Handle& h, Seconds t) { return h.wait(t); }
};

// ---- conditions (over their default RLock) -------------------------------------------------------

namespace reference_detail {
template <class C, class H>
struct RefConditionOps {
  static C& obj(H& h) {
    if constexpr (std::is_same_v<H, C>) {
      return h;
    } else {
      return *h;
    }
  }
  static void acquire(H& h) { obj(h).acquire(); }
  static void release(H& h) { obj(h).release(); }
  static bool wait(H& h, std::optional<Seconds> t) { return obj(h).wait(t); }
  static bool wait_predicate(H& h, const std::function<bool()>& pred, Seconds t) {
    return obj(h).wait_for(pred, t);
  }
  static void notify(H& h) { obj(h).notify(); }
  static void notify_all(H& h) { obj(h).notify_all(); }
  static void wait_unlocked(H& h) { obj(h).wait(); }
  static void notify_unlocked(H& h, bool all) {
    if (all) {
      obj(h).notify_all();
    } else {
      obj(h).notify();
    }
  }
};
}  // namespace reference_detail

struct RefThreadingCondition
    : reference_detail::RefConditionOps<threading::Condition, std::shared_ptr<threading::Condition>> {
  static constexpr std::string_view name = "reference.threading.Condition";
  using Handle = std::shared_ptr<threading::Condition>;
  static constexpr Feature kProcessShared = Feature::no(reference_detail::kThreadsOnly);
  static constexpr Feature kBareWait = Feature::yes();
  static constexpr Misuse kWaitWithoutLock =
      Misuse::raises("RuntimeError", "cannot wait on un-acquired lock");
  static constexpr Misuse kNotifyWithoutLock =
      Misuse::raises("RuntimeError", "cannot notify on un-acquired lock");
  static Handle make() { return std::make_shared<threading::Condition>(); }
};

struct RefMpCondition : reference_detail::RefConditionOps<mp::Condition, mp::Condition> {
  static constexpr std::string_view name = "reference.mp.Condition";
  using Handle = mp::Condition;
  static constexpr Feature kProcessShared = Feature::yes();
  static constexpr Feature kBareWait = Feature::yes();
  static constexpr Misuse kWaitWithoutLock =
      Misuse::raises("AssertionError", "must acquire() condition before using wait()");
  static constexpr Misuse kNotifyWithoutLock = Misuse::raises("AssertionError", "lock is not owned");
  static Handle make() { return mp::Condition(); }
};

static_assert(LockAdapter<RefThreadingLock> && LockAdapter<RefThreadingRLock>);
static_assert(LockAdapter<RefMpLock> && LockAdapter<RefMpRLock>);
static_assert(SemaphoreAdapter<RefThreadingSemaphore> && SemaphoreAdapter<RefThreadingBoundedSemaphore>);
static_assert(SemaphoreAdapter<RefMpSemaphore> && SemaphoreAdapter<RefMpBoundedSemaphore>);
static_assert(EventAdapter<RefThreadingEvent> && EventAdapter<RefMpEvent>);
static_assert(ConditionAdapter<RefThreadingCondition> && ConditionAdapter<RefMpCondition>);

}  // namespace racegate::cases::sync_cases

#if defined(__clang__)
#pragma clang diagnostic pop
#endif
