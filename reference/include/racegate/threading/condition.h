// racegate/threading/condition.h — threading.Condition.
//
// A Condition pairs a lock with a way to wait for a change of the state that
// lock guards. With the lock held, wait() releases it, blocks until another
// thread calls notify() or notify_all() (or the timeout passes), then takes it
// back before returning. notify(n) wakes at most n waiting threads;
// notify_all() wakes all of them. A notify with nobody waiting is lost: it
// does not affect a later wait.
//
//   racegate::threading::Condition cond;           // over a new RLock
//   { racegate::threading::LockGuard g(cond);       // `with cond:`
//     (void)cond.wait_for([&] { return ready; }); }
//   { racegate::threading::LockGuard g(cond);
//     ready = true; cond.notify_all(); }
//
// The lock: a new RLock by default (as CPython), or a threading::Lock or
// threading::RLock passed by reference, which must outlive the Condition.
// acquire/release/lock/unlock act on that lock. With an RLock, wait() frees it
// whatever its recursion count and restores the count afterwards.
//
// Ownership checks (CPython's texts): wait() and wait_for() without the lock
// throw RuntimeError("cannot wait on un-acquired lock"); notify() and
// notify_all() throw RuntimeError("cannot notify on un-acquired lock"). For an
// RLock "held" means owned by the calling thread; a plain Lock has no owner,
// so, as in CPython, it counts as held when any thread holds it.
//
// Results: wait() returns true when notified and false when the timeout
// passed. notify(n) makes exactly min(n, waiting) waits return true; a waiter
// whose timeout ends while a notification is already granted to it returns
// true (CPython may drop that notification). Wake-ups are never spurious, but
// the state may have changed again by the time the waiter holds the lock:
// re-check it (wait_for does). No order among waiters is promised.
//
// Timeouts: a negative timeout behaves as zero, as in CPython.
//
// Memory ordering: the lock provides it: what the notifier wrote while
// holding the lock is visible to the waiter once wait() returns.
//
// Lifetime: must outlive every thread that uses it; destroying it while a
// thread waits is undefined behaviour. Neither copyable nor movable. For
// processes use racegate::mp::Condition.
//
// Thread-safety: every member may be called concurrently from any thread.
#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include "racegate/internal/deadline.h"
#include "racegate/internal/sync_condition.h"
#include "racegate/thread_annotations.h"
#include "racegate/threading/rlock.h"

namespace racegate::threading {

class Lock;  // racegate/threading/lock.h

class RG_CAPABILITY("mutex") Condition {
 public:
  // A condition over a new RLock of its own.
  Condition();
  // A condition over `lock`, which must outlive it.
  explicit Condition(Lock& lock);
  explicit Condition(RLock& lock);
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;
  ~Condition();

  // Condition::acquire / release: the lock's own (same errors).
  bool acquire() RG_ACQUIRE();
  [[nodiscard]] bool acquire(bool blocking,
                             std::optional<racegate::internal::Seconds> timeout = std::nullopt)
      RG_TRY_ACQUIRE(true);
  void release() RG_RELEASE();
  void lock() RG_ACQUIRE() { acquire(); }
  [[nodiscard]] bool try_lock() RG_TRY_ACQUIRE(true) { return acquire(false); }
  void unlock() RG_RELEASE() { release(); }

  // Condition::wait(timeout)
  //
  // Requires the lock. Releases it, blocks until notified or until `timeout`
  // passes (for ever when empty), takes the lock back, and returns true when
  // notified, false on a timeout.
  bool wait(std::optional<racegate::internal::Seconds> timeout = std::nullopt);

  // Condition::wait_for(predicate, timeout)
  //
  // Requires the lock. Waits until `predicate()` is true or `timeout` passes,
  // evaluating it with the lock held (first before any wait); returns the
  // last value of the predicate.
  template <class Predicate>
  [[nodiscard]] bool wait_for(Predicate predicate,
                              std::optional<racegate::internal::Seconds> timeout = std::nullopt);

  // Condition::notify(n)
  //
  // Requires the lock. Wakes at most n waiters (none when n <= 0).
  void notify(int n = 1);

  // Condition::notify_all(): requires the lock; wakes every waiter.
  void notify_all();

  // Waiters counted now (a snapshot, for diagnostics).
  [[nodiscard]] int waiting() const noexcept { return static_cast<int>(core_.waiting()); }

 private:
  [[nodiscard]] bool is_owned() const noexcept;
  bool wait_until(const racegate::internal::Deadline& deadline);

  std::unique_ptr<RLock> own_;  // the default lock
  Lock* plain_ = nullptr;       // exactly one of plain_ / rlock_ is set
  RLock* rlock_ = nullptr;
  racegate::internal::ConditionCore core_;
};

template <class Predicate>
bool Condition::wait_for(Predicate predicate, std::optional<racegate::internal::Seconds> timeout) {
  bool result = predicate();
  if (result) return result;
  const racegate::internal::Deadline deadline = racegate::internal::Deadline::from(timeout);
  // As CPython's threading: the first wait happens even with a zero timeout.
  for (bool first = true; !result; first = false) {
    if (!first && deadline.expired()) break;
    wait_until(deadline);
    result = predicate();
  }
  return result;
}

}  // namespace racegate::threading
