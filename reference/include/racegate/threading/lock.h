// racegate/threading/lock.h — threading.Lock: a non-recursive lock for the
// threads of one process.
//
// A Lock is either held or free. `acquire()` blocks until it is free and takes
// it; `release()` frees it. As in CPython the lock has no owner: any thread may
// release a held lock, not only the one that took it. Taking it again from the
// thread that holds it blocks (for ever without a timeout): it is not
// recursive.
//
//   racegate::threading::Lock lock;
//   {
//     racegate::threading::LockGuard guard(lock);   // `with lock:`
//     ++shared_counter;
//   }
//
// Lock also meets the C++ Lockable requirements (`lock`, `try_lock`,
// `unlock`), so std::lock_guard, std::unique_lock and std::scoped_lock work.
//
// Memory ordering: everything a thread wrote before `release()` is visible to
// the thread whose `acquire()` takes the lock next (release/acquire).
//
// Fairness: none. A releasing thread wakes one waiter, which competes with
// threads arriving meanwhile.
//
// Lifetime: a Lock must outlive every thread that uses it; destroying a held
// Lock, or one with waiters, is undefined behaviour. It is neither copyable nor
// movable. It cannot cross a process boundary (use racegate::mp::Lock).
//
// Thread-safety: every member may be called concurrently from any thread.
#pragma once

#include <optional>

#include "racegate/internal/deadline.h"
#include "racegate/internal/sync_core.h"
#include "racegate/thread_annotations.h"

namespace racegate::threading {

class RG_CAPABILITY("mutex") Lock {
 public:
  Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  // Lock::acquire()
  //
  // Blocks until the lock is free, takes it and returns true.
  bool acquire() RG_ACQUIRE();

  // Lock::acquire(blocking, timeout)
  //
  // With `blocking == false`: takes the lock if it is free and returns whether
  // it did; never blocks. Giving a timeout too throws
  // ValueError("can't specify a timeout for a non-blocking call").
  // With `blocking == true`: waits at most `timeout` (for ever when empty) and
  // returns whether the lock was taken. A negative timeout throws
  // ValueError("timeout value must be positive").
  [[nodiscard]] bool acquire(bool blocking,
                             std::optional<racegate::internal::Seconds> timeout = std::nullopt)
      RG_TRY_ACQUIRE(true);

  // Lock::release()
  //
  // Frees the lock and wakes one waiter. Any thread may call it. Releasing a
  // free lock throws RuntimeError("release unlocked lock") and changes nothing.
  void release() RG_RELEASE();

  // Lock::locked()
  //
  // Whether the lock is held right now (a snapshot, for diagnostics).
  [[nodiscard]] bool locked() const noexcept { return core_.locked(); }

  // Lockable interface.
  void lock() RG_ACQUIRE() { acquire(); }
  [[nodiscard]] bool try_lock() RG_TRY_ACQUIRE(true) { return acquire(false); }
  void unlock() RG_RELEASE() { release(); }

 private:
  racegate::internal::LockCore core_;
};

// LockGuard: holds a lock (threading::Lock or mp::Lock) for its scope, like
// Python's `with lock:`; releases it on every exit path, exceptions included.
template <class L>
class RG_SCOPED_CAPABILITY LockGuard {
 public:
  explicit LockGuard(L& lock) RG_ACQUIRE(lock) : lock_(lock) { lock_.acquire(); }
  ~LockGuard() RG_RELEASE() { lock_.release(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  L& lock_;
};

}  // namespace racegate::threading
