// racegate/mp/semaphore.h — multiprocessing.Semaphore and
// multiprocessing.BoundedSemaphore, shared by processes.
//
// A counter in shared memory: acquire() takes one unit, blocking while it is
// 0; release(n) gives n back and wakes up to n waiters, in any process. A
// Semaphore may be released more than it was acquired; a BoundedSemaphore
// refuses to go above its initial value.
//
//   racegate::mp::Semaphore slots(2);            // at most 2 children at once
//   racegate::mp::Process p([slots]() mutable {
//     racegate::threading::LockGuard g(slots);   // `with slots:`
//     ...
//   });
//
// Errors (CPython 3.11's texts): a negative initial value throws
// OSError("[Errno 22] Invalid argument"); a release that would take the value
// above the bound (the initial value for BoundedSemaphore, 2147483647 —
// SEM_VALUE_MAX — otherwise) throws ValueError("semaphore or lock released too
// many times") and changes nothing. release(n) with n < 1 (beyond CPython,
// whose release takes no n) throws ValueError("n must be one or more").
//
// Timeouts: acquire(true, timeout) waits at most `timeout`; a negative one
// behaves as zero; with block == false the timeout is ignored (as CPython).
//
// Memory ordering: what a process wrote to shared memory before release() is
// visible to the process whose acquire() takes that unit.
//
// Fairness: none; CPython promises no order either. No owner: a process that
// dies holding units does not give them back.
//
// Sharing and lifetime: a handle; copies refer to the same semaphore, in an
// anonymous shared mapping (never in /dev/shm), inherited at fork only.
//
// Thread- and process-safety: every member may be called concurrently from any
// thread of any process that shares it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "racegate/internal/deadline.h"
#include "racegate/internal/sync_inherit.h"
#include "racegate/internal/sync_semaphore.h"

namespace racegate::mp {

class Semaphore {
 public:
  // Semaphore(value): throws OSError when value < 0, OSError when the shared
  // mapping cannot be made.
  explicit Semaphore(int value = 1);

  // Semaphore::acquire(): takes a unit, blocking while there is none; true.
  bool acquire();

  // Semaphore::acquire(block, timeout)
  //
  // With `block == false` takes a unit only if one is available now. With
  // `block == true` waits at most `timeout` (for ever when empty). Returns
  // whether a unit was taken.
  [[nodiscard]] bool acquire(bool block,
                             std::optional<racegate::internal::Seconds> timeout = std::nullopt);

  // Semaphore::release(n): adds n units and wakes up to n waiters.
  void release(int n = 1);

  // Semaphore::get_value(): the counter now (a snapshot).
  [[nodiscard]] int get_value() const noexcept;

  // CPython's repr: "<Semaphore(value=3)>", "<BoundedSemaphore(value=3,
  // maxvalue=3)>".
  [[nodiscard]] std::string repr() const;

  // Lockable interface (acquire one, release one), for `with sem:`.
  void lock() { acquire(); }
  [[nodiscard]] bool try_lock() { return acquire(false); }
  void unlock() { release(); }

 protected:
  Semaphore(int value, bool bounded);

 private:
  std::shared_ptr<racegate::internal::SemaphoreCore> core_;
  bool bounded_;
};

class BoundedSemaphore : public Semaphore {
 public:
  // BoundedSemaphore(value): the initial value is also the bound.
  explicit BoundedSemaphore(int value = 1) : Semaphore(value, true) {}
};

}  // namespace racegate::mp

template <>
struct racegate::internal::inherit_only<racegate::mp::Semaphore> : std::true_type {};
template <>
struct racegate::internal::inherit_only<racegate::mp::BoundedSemaphore> : std::true_type {};
