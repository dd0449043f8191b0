// racegate/threading/semaphore.h — threading.Semaphore and
// threading.BoundedSemaphore.
//
// A Semaphore holds a counter. acquire() takes one unit, blocking while the
// counter is 0; release(n) gives n units back and wakes up to n waiters. A
// plain Semaphore may be released more than it was acquired (the counter
// grows); a BoundedSemaphore refuses to go above its initial value.
//
//   racegate::threading::Semaphore slots(3);     // at most 3 at once
//   slots.acquire();  ...  slots.release();
//
// Errors (CPython 3.11's texts): a negative initial value throws
// ValueError("semaphore initial value must be >= 0"); acquire(false, timeout)
// throws ValueError("can't specify timeout for non-blocking acquire");
// release(n) with n < 1 throws ValueError("n must be one or more");
// BoundedSemaphore::release beyond the initial value throws
// ValueError("Semaphore released too many times") and changes nothing. The
// counter is capped at 2147483647 (beyond CPython, whose int is unbounded):
// a release past it throws ValueError("semaphore value would exceed
// 2147483647").
//
// Timeouts: a negative timeout behaves as zero, as in CPython.
//
// Memory ordering: what a thread wrote before release() is visible to the
// thread whose acquire() takes that unit.
//
// Fairness: none. Woken waiters compete with arriving acquirers; CPython does
// not promise an order either.
//
// Implementation: a futex word and a waiter count (racegate::internal::SemaphoreCore),
// not std::counting_semaphore, whose libstdc++ 12 release() makes a system
// call every time.
//
// Lifetime: must outlive every thread that uses it. Neither copyable nor
// movable. For processes use racegate::mp::Semaphore.
//
// Thread-safety: every member may be called concurrently from any thread.
#pragma once

#include <optional>

#include "racegate/internal/deadline.h"
#include "racegate/internal/sync_semaphore.h"

namespace racegate::threading {

class Semaphore {
 public:
  // Semaphore(value): throws ValueError when value < 0.
  explicit Semaphore(int value = 1);
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;
  virtual ~Semaphore() = default;

  // Semaphore::acquire()
  //
  // Takes one unit, blocking while the counter is 0; returns true.
  bool acquire();

  // Semaphore::acquire(blocking, timeout)
  //
  // With `blocking == false` takes a unit only if one is available now. With
  // `blocking == true` waits at most `timeout` (for ever when empty; negative
  // behaves as zero). Returns whether a unit was taken.
  [[nodiscard]] bool acquire(bool blocking,
                             std::optional<racegate::internal::Seconds> timeout = std::nullopt);

  // Semaphore::release(n)
  //
  // Adds n units and wakes up to n waiters. Errors as described above.
  void release(int n = 1);

  // The counter now (a snapshot; CPython's `_value`).
  [[nodiscard]] int value() const noexcept { return static_cast<int>(core_.get()); }

  // Lockable interface (acquire one, release one), for `with sem:`.
  void lock() { acquire(); }
  [[nodiscard]] bool try_lock() { return acquire(false); }
  void unlock() { release(); }

 protected:
  Semaphore(int value, bool bounded);

 private:
  racegate::internal::SemaphoreCore core_;
  bool bounded_;
};

class BoundedSemaphore : public Semaphore {
 public:
  // BoundedSemaphore(value): the initial value is also the bound.
  explicit BoundedSemaphore(int value = 1) : Semaphore(value, true) {}
};

}  // namespace racegate::threading
