// racegate/mp/lock.h — multiprocessing.Lock: a lock shared by processes.
//
// Same semantics as racegate::threading::Lock (no owner, not recursive), but
// the lock lives in shared memory, so a child process started with fork
// (racegate::mp::Process) uses the very same lock as its parent. It works
// between threads as well as between processes.
//
//   racegate::mp::Lock lock;                      // before starting children
//   racegate::mp::Process p([lock]() mutable {
//     racegate::threading::LockGuard guard(lock); // `with lock:` in the child
//     ...
//   });
//
// Sharing: an mp::Lock is a handle. Copies refer to the same lock, and a child
// process inherits it at fork (by capture or by reference). As in CPython,
// that inheritance is the only way a lock crosses a process boundary; the
// serialization layer rejects it as a value.
//
// Memory ordering: everything a thread or process wrote to shared memory
// before `release()` is visible to whoever takes the lock next.
//
// Lifetime: the shared memory stays mapped in a process while any handle in it
// exists, and disappears with the last process that maps it; it has no name in
// /dev/shm and cannot leak.
//
// Owner death (beyond CPython, whose lock deadlocks): the pid of the holder is
// part of the lock word. A blocked acquire() looks at the holder at least
// every 0.1 s; once the holding process has ended (gone, or a zombie not yet
// reaped) it throws OwnerDiedError("lock owner process PID died while holding
// the lock") *without* taking the lock. The lock stays held by the dead pid,
// so every blocking acquire reports the same (a timed acquire whose timeout
// ends before its first look returns false; acquire(false) returns false);
// whoever repairs the guarded state calls release() to make the lock usable
// again (any process may, the lock having no owner). Limits: a holder whose
// pid was reused by a new process looks alive; a thread that ends while its
// process lives is not detected (the lock belongs to the process).
//
// Thread- and process-safety: every member may be called concurrently from any
// thread of any process that shares the lock.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <type_traits>

#include "racegate/internal/deadline.h"
#include "racegate/internal/sync_inherit.h"
#include "racegate/internal/sync_robust.h"
#include "racegate/thread_annotations.h"

namespace racegate::mp {

class Condition;

class RG_CAPABILITY("mutex") Lock {
 public:
  // Creates a free lock in a new shared mapping. Throws OSError if the mapping
  // cannot be created.
  Lock();

  // Lock::acquire()
  //
  // Blocks until the lock is free, takes it and returns true. Throws
  // OwnerDiedError when the holder's process has ended (see above).
  bool acquire() RG_ACQUIRE();

  // Lock::acquire(block, timeout)
  //
  // With `block == false` takes the lock only if it is free (the timeout is
  // ignored, as in CPython). With `block == true` waits at most `timeout` (for
  // ever when empty; a negative timeout behaves as zero). Returns whether the
  // lock was taken. A blocking call throws OwnerDiedError as acquire() does.
  [[nodiscard]] bool acquire(bool block,
                             std::optional<racegate::internal::Seconds> timeout = std::nullopt)
      RG_TRY_ACQUIRE(true);

  // Lock::release()
  //
  // Frees the lock; any thread of any process may call it. Releasing a free
  // lock throws ValueError("semaphore or lock released too many times").
  void release() RG_RELEASE();

  // Whether the lock is held right now (a snapshot).
  [[nodiscard]] bool locked() const noexcept { return core_->locked(); }

  // Pid of the process holding the lock, or 0 when it is free (a snapshot,
  // for diagnostics).
  [[nodiscard]] pid_t owner_pid() const noexcept;

  // CPython's repr: "<Lock(owner=NAME)>", NAME being the holder when it is
  // the caller ("MainProcess", or "MainProcess|Thread-2" off the main
  // thread), "None" when free, "SomeOtherThread" (this process) or
  // "SomeOtherProcess".
  [[nodiscard]] std::string repr() const;

  // Lockable interface.
  void lock() RG_ACQUIRE() { acquire(); }
  [[nodiscard]] bool try_lock() RG_TRY_ACQUIRE(true) { return acquire(false); }
  void unlock() RG_RELEASE() { release(); }

 private:
  friend class Condition;  // asks whether the calling thread took it
  std::shared_ptr<racegate::internal::RobustLockCore> core_;
};

}  // namespace racegate::mp

// An mp::Lock crosses a process boundary only by inheritance.
template <>
struct racegate::internal::inherit_only<racegate::mp::Lock> : std::true_type {};
