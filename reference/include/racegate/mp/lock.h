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
// /dev/shm and cannot leak. A process that dies while holding the lock leaves
// it held (owner-death detection is not part of this type yet).
//
// Thread- and process-safety: every member may be called concurrently from any
// thread of any process that shares the lock.
#pragma once

#include <memory>
#include <optional>
#include <sys/types.h>

#include "racegate/internal/deadline.h"
#include "racegate/internal/sync_core.h"
#include "racegate/thread_annotations.h"

namespace racegate::mp {

class RG_CAPABILITY("mutex") Lock {
 public:
  // Creates a free lock in a new shared mapping. Throws OSError if the mapping
  // cannot be created.
  Lock();

  // Lock::acquire()
  //
  // Blocks until the lock is free, takes it and returns true.
  bool acquire() RG_ACQUIRE();

  // Lock::acquire(block, timeout)
  //
  // With `block == false` takes the lock only if it is free (the timeout is
  // ignored, as in CPython). With `block == true` waits at most `timeout` (for
  // ever when empty; a negative timeout behaves as zero). Returns whether the
  // lock was taken.
  [[nodiscard]] bool acquire(bool block, std::optional<internal::Seconds> timeout = std::nullopt)
      RG_TRY_ACQUIRE(true);

  // Lock::release()
  //
  // Frees the lock; any thread of any process may call it. Releasing a free
  // lock throws ValueError("semaphore or lock released too many times").
  void release() RG_RELEASE();

  // Whether the lock is held right now (a snapshot).
  [[nodiscard]] bool locked() const noexcept { return core_->locked(); }

  // Pid of the process that took the lock last, or 0 when it is free (a
  // snapshot, for diagnostics).
  [[nodiscard]] pid_t owner_pid() const noexcept;

  // Lockable interface.
  void lock() RG_ACQUIRE() { acquire(); }
  [[nodiscard]] bool try_lock() RG_TRY_ACQUIRE(true) { return acquire(false); }
  void unlock() RG_RELEASE() { release(); }

 private:
  std::shared_ptr<internal::LockCore> core_;
};

}  // namespace racegate::mp
