// Deliberately broken adapters for catalog sections 5-8: a lock that does
// not exclude, a semaphore that admits one party too many, an event whose
// timed wait ignores its timeout. The sync cases run over them
// (tests/broken/sync.cpp) must not pass: the proof that they can fail.
#pragma once

#include <atomic>
#include <climits>
#include <functional>
#include <string_view>

#include "cases/adapters/sync.h"
#include "racegate/mp/event.h"
#include "racegate/mp/semaphore.h"

namespace racegate::broken {

using cases::sync_cases::Feature;
using cases::sync_cases::Misuse;
using cases::sync_cases::Seconds;

// Claims to be an mp.Lock; acquire() always succeeds at once and release()
// does nothing, so nothing is ever excluded.
struct NonExcludingLock {
  struct State {
    std::atomic<int> unused{0};
  };
  static constexpr std::string_view name = "broken.non_excluding_lock";
  using Handle = cases::sync_cases::SharedObject<State>;
  static constexpr bool kRecursive = false;
  static constexpr Feature kProcessShared = Feature::yes();
  static constexpr Feature kTimedAcquire = Feature::yes();
  static constexpr Feature kLockedQuery = Feature::no("the broken lock keeps no state");
  static constexpr Feature kAcquireReturnsTrue = Feature::yes();
  static constexpr Feature kTryByHolder = Feature::yes();
  static constexpr Feature kTimedByHolder = Feature::yes();
  static constexpr Misuse kReleaseUnlocked =
      Misuse::raises("ValueError", "semaphore or lock released too many times");
  static constexpr Misuse kNonOwnerRelease = Misuse::allowed();
  static Handle make() { return Handle::make(); }
  static bool acquire(Handle&) { return true; }
  static bool try_acquire(Handle&) { return true; }
  static bool acquire_for(Handle&, Seconds) { return true; }
  static void release(Handle&) {}
  static void with(Handle&, const std::function<void()>& body) { body(); }
};

// Claims to be an mp.Semaphore(n) but starts at n + 1, and hides the extra
// unit from get_value(): only what it lets happen gives it away.
struct OverAdmittingSemaphore {
  static constexpr std::string_view name = "broken.over_admitting_semaphore";
  using Handle = mp::Semaphore;
  static constexpr bool kBounded = false;
  static constexpr int kMaxValue = INT_MAX - 1;
  static constexpr Feature kProcessShared = Feature::yes();
  static constexpr Feature kTimedAcquire = Feature::yes();
  static constexpr Feature kValueQuery = Feature::yes();
  static constexpr Feature kBoundedVariant = Feature::yes();
  static constexpr Misuse kOverRelease = Misuse::allowed();
  static constexpr Misuse kNegativeInitial = Misuse::raises("OSError", "[Errno 22] Invalid argument");
  static Handle make(int v) { return mp::Semaphore(v < 0 ? v : v + 1); }
  static bool acquire(Handle& h) { return h.acquire(); }
  static bool try_acquire(Handle& h) { return h.acquire(false); }
  static bool acquire_for(Handle& h, Seconds t) { return h.acquire(true, t); }
  static void release(Handle& h) { h.release(); }
  static int value(Handle& h) { return h.get_value() - 1; }
};

// Claims to be an mp.Event; wait(t) returns the flag at once, whatever t.
struct TimeoutIgnoringEvent {
  static constexpr std::string_view name = "broken.timeout_ignoring_event";
  using Handle = mp::Event;
  static constexpr Feature kProcessShared = Feature::yes();
  static Handle make() { return mp::Event(); }
  static void set(Handle& h) { h.set(); }
  static void clear(Handle& h) { h.clear(); }
  static bool is_set(Handle& h) { return h.is_set(); }
  static bool wait(Handle& h) { return h.wait(); }
  static bool wait_for(Handle& h, Seconds) { return h.is_set(); }
};

static_assert(cases::sync_cases::LockAdapter<NonExcludingLock>);
static_assert(cases::sync_cases::SemaphoreAdapter<OverAdmittingSemaphore>);
static_assert(cases::sync_cases::EventAdapter<TimeoutIgnoringEvent>);

}  // namespace racegate::broken
