// racegate/mp/rlock.h — multiprocessing.RLock: a re-entrant lock shared by
// processes.
//
// The owner is one thread of one process, named by its pid and kernel thread
// id. The owner may acquire it again (a recursion count goes up by one); each
// release() takes one off and the lock is free when the count reaches zero.
// Any other thread, of this or any process sharing the lock, blocks while it
// is held. A forked child does not own a lock its parent holds (as CPython:
// the owner is a thread of the parent).
//
//   racegate::mp::RLock lock;                    // before starting children
//   racegate::mp::Process p([lock]() mutable {
//     racegate::threading::LockGuard g(lock);    // `with lock:` in the child
//     ...
//   });
//
// Errors (CPython 3.11's texts): release() by a thread that does not own it
// (another thread, another process) or when it is free throws
// AssertionError("attempt to release recursive lock not owned by thread") and
// changes nothing.
//
// Timeouts: acquire(true, timeout) waits at most `timeout`; a negative timeout
// behaves as zero; with block == false the timeout is ignored (as CPython).
//
// Owner death (beyond CPython): as racegate::mp::Lock. A blocked acquirer
// looks at the owner at least every 0.1 s and, once the owning process has
// ended, throws OwnerDiedError("lock owner process PID died while holding the
// lock") without taking the lock. The lock stays held by the dead process, and
// since only the owner may release an RLock it stays that way: every later
// blocking acquire reports the same. Treat it as fatal for the guarded state.
//
// Memory ordering: everything the owner wrote to shared memory before the
// release() that frees the lock is visible to whoever acquires it next.
//
// Sharing and lifetime: a handle; copies refer to the same lock, which lives
// in an anonymous shared mapping (never in /dev/shm) until the last process
// mapping it lets go. It crosses a process boundary only by inheritance at
// fork; the serialization layer rejects it as a value.
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

namespace racegate::internal {
struct RLockShared;
}

namespace racegate::mp {

class Condition;

class RG_CAPABILITY("mutex") RLock {
 public:
  // Creates a free lock in a new shared mapping; throws OSError on failure.
  RLock();

  // RLock::acquire()
  //
  // Takes the lock, blocking while another thread (of any process) owns it;
  // returns true. From the owner it only increments the recursion count.
  // Throws OwnerDiedError when the owning process has ended.
  bool acquire() RG_ACQUIRE();

  // RLock::acquire(block, timeout)
  //
  // With `block == false` takes it only if no waiting is needed (free, or
  // owned by the caller). With `block == true` waits at most `timeout` (for
  // ever when empty). Returns whether the caller now owns it.
  [[nodiscard]] bool acquire(bool block,
                             std::optional<racegate::internal::Seconds> timeout = std::nullopt)
      RG_TRY_ACQUIRE(true);

  // RLock::release()
  //
  // Decrements the recursion count; frees the lock and wakes one waiter when
  // it reaches zero. Throws AssertionError when the caller is not the owner.
  void release() RG_RELEASE();

  // Whether the calling thread owns it (CPython's _semlock._is_mine()).
  [[nodiscard]] bool is_owned() const noexcept;
  // The recursion count (CPython's _semlock._count()): the owner's count, 0
  // when free (a snapshot when asked by another thread).
  [[nodiscard]] int count() const noexcept;
  // Pid of the owning process, 0 when free (a snapshot).
  [[nodiscard]] pid_t owner_pid() const noexcept;
  // Whether any thread owns it (a snapshot).
  [[nodiscard]] bool locked() const noexcept;

  // CPython's repr: "<RLock(MainProcess, 2)>" for the caller (owner name as
  // in mp::Lock::repr, then the count), "<RLock(None, 0)>" when free,
  // "<RLock(SomeOtherThread, nonzero)>" or "<RLock(SomeOtherProcess, nonzero)>".
  [[nodiscard]] std::string repr() const;

  // Lockable interface.
  void lock() RG_ACQUIRE() { acquire(); }
  [[nodiscard]] bool try_lock() RG_TRY_ACQUIRE(true) { return acquire(false); }
  void unlock() RG_RELEASE() { release(); }

 private:
  friend class Condition;
  // Condition::wait: free the lock whatever the count, then take it back.
  int release_save();
  void acquire_restore(int count);

  std::shared_ptr<racegate::internal::RLockShared> shared_;
};

}  // namespace racegate::mp

template <>
struct racegate::internal::inherit_only<racegate::mp::RLock> : std::true_type {};
