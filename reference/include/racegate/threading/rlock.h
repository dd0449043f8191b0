// racegate/threading/rlock.h — threading.RLock: a re-entrant lock for the
// threads of one process.
//
// An RLock has an owner: the thread that acquired it. The owner may acquire it
// again without blocking; each acquire() adds one to a recursion count and
// each release() takes one off, and the lock is free again when the count
// reaches zero. Other threads block while it is held. Only the owner may
// release it.
//
//   racegate::threading::RLock lock;
//   void outer() { racegate::threading::LockGuard g(lock); inner(); }
//   void inner() { racegate::threading::LockGuard g(lock); ... }  // no deadlock
//
// RLock meets the C++ Lockable requirements (`lock`, `try_lock`, `unlock`).
//
// Errors (CPython 3.11's texts): release() by a thread that does not own it,
// or when it is free, throws RuntimeError("cannot release un-acquired lock")
// and changes nothing. acquire(false, timeout) throws ValueError("can't
// specify a timeout for a non-blocking call"); a negative timeout throws
// ValueError("timeout value must be positive").
//
// Memory ordering: everything the owner wrote before its last release() (the
// one that frees the lock) is visible to the thread that acquires it next.
//
// Fairness: none; a freed lock goes to whichever thread takes it first.
//
// Lifetime: an RLock must outlive every thread that uses it; destroying it
// while held or waited on is undefined behaviour. Neither copyable nor
// movable. It cannot cross a process boundary (use racegate::mp::RLock). A
// thread that ends while owning it leaves it held for ever (as in CPython).
//
// Thread-safety: every member may be called concurrently from any thread.
#pragma once

#include <atomic>
#include <optional>

#include "racegate/internal/deadline.h"
#include "racegate/internal/sync_core.h"
#include "racegate/thread_annotations.h"

namespace racegate::threading {

class Condition;

class RG_CAPABILITY("mutex") RLock {
 public:
  RLock() = default;
  RLock(const RLock&) = delete;
  RLock& operator=(const RLock&) = delete;

  // RLock::acquire()
  //
  // Takes the lock, blocking while another thread owns it, and returns true.
  // From the owner it only increments the recursion count.
  bool acquire() RG_ACQUIRE();

  // RLock::acquire(blocking, timeout)
  //
  // With `blocking == false` takes it only if that needs no waiting (free, or
  // owned by the caller). With `blocking == true` waits at most `timeout`
  // (for ever when empty). Returns whether the caller now owns it. Argument
  // errors as described above.
  [[nodiscard]] bool acquire(bool blocking,
                             std::optional<racegate::internal::Seconds> timeout = std::nullopt)
      RG_TRY_ACQUIRE(true);

  // RLock::release()
  //
  // Decrements the recursion count; frees the lock and wakes one waiter when
  // it reaches zero. Throws RuntimeError("cannot release un-acquired lock")
  // when the caller does not own it.
  void release() RG_RELEASE();

  // Whether the calling thread owns the lock (CPython's _is_owned()).
  [[nodiscard]] bool is_owned() const noexcept;

  // The recursion count if the calling thread owns the lock, else 0 (CPython's
  // _recursion_count()).
  [[nodiscard]] int recursion_count() const noexcept;

  // Whether any thread owns it (a snapshot).
  [[nodiscard]] bool locked() const noexcept { return core_.locked(); }

  // Lockable interface.
  void lock() RG_ACQUIRE() { acquire(); }
  [[nodiscard]] bool try_lock() RG_TRY_ACQUIRE(true) { return acquire(false); }
  void unlock() RG_RELEASE() { release(); }

 private:
  friend class Condition;
  // Condition::wait: free the lock whatever the count, and give the count back.
  int release_save();
  void acquire_restore(int count);

  racegate::internal::LockCore core_;
  std::atomic<unsigned long long> owner_{0};  // this_thread_key() of the owner, 0 when free
  int count_ = 0;                             // touched by the owner only
};

}  // namespace racegate::threading
