// Catalog sections 5-8: adapters over the standard library's std::mutex,
// std::recursive_mutex, std::counting_semaphore, std::binary_semaphore and
// std::condition_variable. None is process-shared, so the cases run their
// parties as threads and skip the cross-process part; what the standard
// leaves undefined (unlock by a non-owner, of an unlocked mutex, ...) is
// declared here and never executed.
#pragma once

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>

#include "cases/adapters/sync.h"

namespace racegate::cases::sync_cases {

namespace std_detail {
inline constexpr std::string_view kNotShared =
    "std:: synchronization types are not process-shared: the behavior runs across threads";

inline std::chrono::nanoseconds to_ns(Seconds t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::max(t, Seconds(0)));
}
}  // namespace std_detail

struct StdMutex {
  static constexpr std::string_view name = "std.mutex";
  using Handle = std::shared_ptr<std::mutex>;
  static constexpr bool kRecursive = false;
  static constexpr Feature kProcessShared = Feature::no(std_detail::kNotShared);
  static constexpr Feature kTimedAcquire =
      Feature::no("std::mutex has no timed acquire (std::timed_mutex has try_lock_for)");
  static constexpr Feature kLockedQuery =
      Feature::no("std::mutex has no locked(): the case asks with try_lock() from another thread");
  static constexpr Feature kAcquireReturnsTrue = Feature::no("std::mutex::lock() returns void");
  static constexpr Feature kTryByHolder = Feature::no(
      "try_lock() by the thread that owns a std::mutex is undefined behaviour ([thread.mutex.class])");
  static constexpr Feature kTimedByHolder = kTimedAcquire;
  static constexpr Misuse kReleaseUnlocked = Misuse::undefined(
      "std::mutex::unlock() requires the calling thread to own the mutex: unlocking an unlocked "
      "one is undefined behaviour, not an error");
  static constexpr Misuse kNonOwnerRelease = Misuse::undefined(
      "std::mutex has an owner: unlock() by another thread is undefined behaviour, where CPython's "
      "ownerless Lock allows it");
  static Handle make() { return std::make_shared<std::mutex>(); }
  static void acquire(Handle& h) { h->lock(); }
  static bool try_acquire(Handle& h) { return h->try_lock(); }
  static void release(Handle& h) { h->unlock(); }
  static void with(Handle& h, const std::function<void()>& body) {
    std::lock_guard<std::mutex> guard(*h);
    body();
  }
};

struct StdRecursiveMutex {
  static constexpr std::string_view name = "std.recursive_mutex";
  using Handle = std::shared_ptr<std::recursive_mutex>;
  static constexpr bool kRecursive = true;
  static constexpr Feature kProcessShared = Feature::no(std_detail::kNotShared);
  static constexpr Feature kTimedAcquire = Feature::no(
      "std::recursive_mutex has no timed acquire (std::recursive_timed_mutex has try_lock_for)");
  static constexpr Feature kLockedQuery = Feature::no(
      "std::recursive_mutex has no locked(): the case asks with try_lock() from another thread");
  static constexpr Feature kAcquireReturnsTrue = Feature::no("std::recursive_mutex::lock() returns void");
  static constexpr Feature kTryByHolder = Feature::yes();
  static constexpr Feature kTimedByHolder = kTimedAcquire;
  static constexpr Misuse kReleaseUnlocked = Misuse::undefined(
      "std::recursive_mutex::unlock() requires ownership: unlocking an unlocked one is undefined "
      "behaviour, not CPython's RuntimeError");
  static constexpr Misuse kNonOwnerRelease = Misuse::undefined(
      "std::recursive_mutex::unlock() by a thread that does not own it is undefined behaviour, "
      "not CPython's RuntimeError");
  static Handle make() { return std::make_shared<std::recursive_mutex>(); }
  static void acquire(Handle& h) { h->lock(); }
  static bool try_acquire(Handle& h) { return h->try_lock(); }
  static void release(Handle& h) { h->unlock(); }
  static void with(Handle& h, const std::function<void()>& body) {
    std::lock_guard<std::recursive_mutex> guard(*h);
    body();
  }
};

// ---- semaphores ------------------------------------------------------------------------------

namespace std_detail {
template <std::ptrdiff_t Max>
struct StdSemaphoreOps {
  using Sem = std::counting_semaphore<Max>;
  using Handle = std::shared_ptr<Sem>;
  static constexpr int kMaxValue = static_cast<int>(std::min<std::ptrdiff_t>(Sem::max(), INT_MAX));
  static constexpr Feature kProcessShared = Feature::no(kNotShared);
  static constexpr Feature kTimedAcquire = Feature::yes();
  static constexpr Feature kValueQuery = Feature::no(
      "std::counting_semaphore has no value getter: the case counts the units try_acquire() can "
      "take");
  static constexpr Feature kBoundedVariant = Feature::no(
      "the standard library has no bounded semaphore: counting_semaphore's max() is a precondition "
      "of release(), not a checked bound");
  static constexpr Misuse kNegativeInitial = Misuse::undefined(
      "std::counting_semaphore(desired) requires desired >= 0: a negative value is undefined "
      "behaviour, not an error");
  static Handle make(int v) { return std::make_shared<Sem>(v); }
  static void acquire(Handle& h) { h->acquire(); }
  static bool try_acquire(Handle& h) { return h->try_acquire(); }
  static bool acquire_for(Handle& h, Seconds t) { return h->try_acquire_for(to_ns(t)); }
  static void release(Handle& h) { h->release(); }
};
}  // namespace std_detail

struct StdCountingSemaphore : std_detail::StdSemaphoreOps<std::counting_semaphore<>::max()> {
  static constexpr std::string_view name = "std.counting_semaphore";
  static constexpr bool kBounded = false;
  static constexpr Misuse kOverRelease = Misuse::allowed();
};

// std::binary_semaphore holds 0 or 1: a release() above 1 is undefined
// behaviour (cases keep below kMaxValue and skip the rest).
struct StdBinarySemaphore : std_detail::StdSemaphoreOps<1> {
  static constexpr std::string_view name = "std.binary_semaphore";
  static constexpr bool kBounded = false;
  static constexpr Misuse kOverRelease = Misuse::allowed(
      "std::binary_semaphore's max() is 1: a release() that would take it above 1 is undefined "
      "behaviour, where CPython's Semaphore just grows");
};

// ---- condition_variable ----------------------------------------------------------------------

// A std::condition_variable with its std::mutex. A bare wait() may wake
// spuriously, so wait(t) waits until the notification count (kept under the
// mutex) changes or t passes: the standard's predicate loop.
struct StdConditionVariable {
  struct State {
    std::mutex m;
    std::condition_variable cv;
    std::uint64_t notifications = 0;  // guarded by m
  };
  static constexpr std::string_view name = "std.condition_variable";
  using Handle = std::shared_ptr<State>;
  static constexpr Feature kProcessShared = Feature::no(std_detail::kNotShared);
  static constexpr Feature kBareWait = Feature::no(
      "std::condition_variable::wait may wake spuriously: the adapter waits for a notification "
      "count kept under the mutex");
  static constexpr Misuse kWaitWithoutLock = Misuse::undefined(
      "std::condition_variable::wait requires a unique_lock that holds the mutex: without it the "
      "call is undefined behaviour, not an error");
  static constexpr Misuse kNotifyWithoutLock = Misuse::allowed(
      "std::condition_variable::notify_one/notify_all need not hold the mutex (by design), where "
      "CPython raises");
  static Handle make() { return std::make_shared<State>(); }
  static void acquire(Handle& h) { h->m.lock(); }
  static void release(Handle& h) { h->m.unlock(); }
  static bool wait(Handle& h, std::optional<Seconds> t) {
    std::unique_lock<std::mutex> lk(h->m, std::adopt_lock);
    const std::uint64_t seen = h->notifications;
    auto notified = [&] { return h->notifications != seen; };
    bool ok = true;
    if (t) {
      ok = h->cv.wait_for(lk, std_detail::to_ns(*t), notified);
    } else {
      h->cv.wait(lk, notified);
    }
    lk.release();  // the caller still holds the mutex
    return ok;
  }
  static bool wait_predicate(Handle& h, const std::function<bool()>& pred, Seconds t) {
    std::unique_lock<std::mutex> lk(h->m, std::adopt_lock);
    const bool ok = h->cv.wait_for(lk, std_detail::to_ns(t), pred);
    lk.release();
    return ok;
  }
  static void notify(Handle& h) {
    ++h->notifications;
    h->cv.notify_one();
  }
  static void notify_all(Handle& h) {
    ++h->notifications;
    h->cv.notify_all();
  }
  // Without the mutex: the notification count is not touched (it is guarded).
  static void notify_unlocked(Handle& h, bool all) {
    if (all) {
      h->cv.notify_all();
    } else {
      h->cv.notify_one();
    }
  }
};

static_assert(LockAdapter<StdMutex> && LockAdapter<StdRecursiveMutex>);
static_assert(SemaphoreAdapter<StdCountingSemaphore> && SemaphoreAdapter<StdBinarySemaphore>);
static_assert(ConditionAdapter<StdConditionVariable>);

}  // namespace racegate::cases::sync_cases
