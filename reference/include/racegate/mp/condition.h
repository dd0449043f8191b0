// racegate/mp/condition.h — multiprocessing.Condition: a condition variable
// shared by processes.
//
// Same contract as racegate::threading::Condition, across processes: with the
// lock held, wait() releases it, blocks until a notify() or notify_all() from
// any thread of any process sharing the condition (or the timeout), and takes
// the lock back. notify(n) wakes at most n waiters; a notify with nobody
// waiting is lost.
//
//   racegate::mp::Condition cond;                 // over a new mp::RLock
//   racegate::mp::Process p([cond]() mutable {
//     racegate::threading::LockGuard g(cond);
//     (void)cond.wait_for([&] { return flag->load() != 0; });
//   });
//
// The lock: a new mp::RLock by default (as CPython), or an mp::Lock or
// mp::RLock handle given to the constructor (shared, not copied).
// acquire/release act on that lock, with its errors.
//
// Ownership checks (CPython 3.11's texts): wait() and wait_for() when the
// calling thread does not hold the lock throw AssertionError("must acquire()
// condition before using wait()"); notify() and notify_all() throw
// AssertionError("lock is not owned"). "Holds" means this thread of this
// process took it, for an mp::Lock as for an mp::RLock (CPython's _is_mine).
//
// Results: wait() returns true when notified and false on a timeout. notify(n)
// makes exactly min(n, waiting) waits return true; a waiter whose timeout ends
// once a notification was granted to it returns true. No order among waiters.
// Unlike CPython, notify() does not block until the woken processes run; a
// wait() that starts while notified waiters have not woken yet waits for them
// first (so it cannot take their notification).
//
// Timeouts: a negative timeout behaves as zero, as in CPython.
//
// Owner death: re-taking the lock after the wait may throw OwnerDiedError
// (see mp::Lock). A process that dies while waiting stays counted: a
// notification granted to it is lost, and later waits wait for it until their
// timeout (CPython hangs in that case).
//
// Memory ordering: through the lock: what the notifier wrote to shared memory
// while holding it is visible to the waiter once wait() returns.
//
// Sharing and lifetime: a handle; copies refer to the same condition and lock,
// in anonymous shared mappings, inherited at fork only.
//
// Thread- and process-safety: every member may be called concurrently from any
// thread of any process that shares it.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "racegate/internal/deadline.h"
#include "racegate/internal/sync_condition.h"
#include "racegate/internal/sync_inherit.h"
#include "racegate/mp/lock.h"
#include "racegate/mp/rlock.h"
#include "racegate/thread_annotations.h"

namespace racegate::mp {

class RG_CAPABILITY("mutex") Condition {
 public:
  // A condition over a new mp::RLock.
  Condition();
  // A condition over `lock` (the handle is shared, not copied).
  explicit Condition(Lock lock);
  explicit Condition(RLock lock);

  // Condition::acquire / release: the lock's own (same errors).
  bool acquire() RG_ACQUIRE();
  [[nodiscard]] bool acquire(bool block,
                             std::optional<racegate::internal::Seconds> timeout = std::nullopt)
      RG_TRY_ACQUIRE(true);
  void release() RG_RELEASE();
  void lock() RG_ACQUIRE() { acquire(); }
  [[nodiscard]] bool try_lock() RG_TRY_ACQUIRE(true) { return acquire(false); }
  void unlock() RG_RELEASE() { release(); }

  // Condition::wait(timeout)
  //
  // Requires the lock. Releases it (whatever an RLock's count), blocks until
  // notified or `timeout` passes (for ever when empty), takes it back and
  // returns true when notified, false on a timeout.
  bool wait(std::optional<racegate::internal::Seconds> timeout = std::nullopt);

  // Condition::wait_for(predicate, timeout)
  //
  // Evaluates `predicate()` (with the lock held) and waits until it is true
  // or `timeout` passes; returns its last value. As CPython's multiprocessing:
  // once the timeout has passed it stops without another wait.
  template <class Predicate>
  [[nodiscard]] bool wait_for(Predicate predicate,
                              std::optional<racegate::internal::Seconds> timeout = std::nullopt);

  // Condition::notify(n): requires the lock; wakes at most n waiters (none
  // when n <= 0).
  void notify(int n = 1);

  // Condition::notify_all(): requires the lock; wakes every waiter.
  void notify_all();

  // Waiters counted now, in every process (a snapshot, for diagnostics).
  [[nodiscard]] int waiting() const noexcept;

  // CPython's repr: "<Condition(<RLock(None, 0)>, 0)>": the lock's repr and
  // the number of waiters.
  [[nodiscard]] std::string repr() const;

 private:
  [[nodiscard]] bool is_mine() const noexcept;
  bool wait_until(const racegate::internal::Deadline& deadline);

  std::optional<Lock> plain_;  // exactly one of plain_ / rlock_ is set
  std::optional<RLock> rlock_;
  std::shared_ptr<racegate::internal::ConditionCore> core_;
};

template <class Predicate>
bool Condition::wait_for(Predicate predicate, std::optional<racegate::internal::Seconds> timeout) {
  bool result = predicate();
  if (result) return result;
  const racegate::internal::Deadline deadline = racegate::internal::Deadline::from(timeout);
  while (!result) {
    if (deadline.expired()) break;
    wait_until(deadline);
    result = predicate();
  }
  return result;
}

}  // namespace racegate::mp

template <>
struct racegate::internal::inherit_only<racegate::mp::Condition> : std::true_type {};
