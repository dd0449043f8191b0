// racegate/threading/barrier.h — threading.Barrier.
//
// A Barrier for `parties` threads: each calls wait(), and all of them are
// released once the last one arrives. wait() returns the arrival index, a
// distinct number in [0, parties) for each of the threads of one round. The
// barrier then starts a new round, so it can be reused.
//
//   racegate::threading::Barrier start(3);
//   // in each of 3 threads:
//   if (start.wait() == 0) { /* exactly one thread of the round */ }
//
// Action: an optional callable run by the last thread to arrive, before any
// thread is released. If it throws, the barrier breaks and the exception
// propagates from that thread's wait().
//
// Broken state: a wait() that times out, abort(), or a throwing action breaks
// the barrier: every thread waiting now and every later wait() throws
// BrokenBarrierError (empty message, as CPython) until reset(). reset() also
// makes the threads waiting now throw BrokenBarrierError and returns the
// barrier to its initial state once they have left.
//
// Timeouts: wait(timeout) uses `timeout`, or the barrier's default timeout
// when empty (for ever when that is empty too); a negative one behaves as
// zero. A timeout breaks the barrier (CPython's behaviour), not just the wait.
//
// Parties: as CPython 3.11, any number is accepted; with parties < 1 a wait()
// can never complete a round and only returns by timeout, abort or reset.
//
// Memory ordering: everything a thread wrote before its wait() is visible to
// every thread of the same round after theirs returns (the barrier's lock
// orders them), and the action's writes too.
//
// Lifetime: must outlive every thread that uses it. Neither copyable nor
// movable. For processes use racegate::mp::Barrier.
//
// Thread-safety: every member may be called concurrently from any thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "racegate/internal/deadline.h"
#include "racegate/internal/sync_barrier.h"
#include "racegate/threading/condition.h"

namespace racegate::threading {

class Lock;  // racegate/threading/lock.h

class Barrier {
 public:
  explicit Barrier(int parties, std::function<void()> action = {},
                   std::optional<racegate::internal::Seconds> timeout = std::nullopt);
  ~Barrier();
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;

  // Barrier::wait(timeout)
  //
  // Blocks until `parties` threads have called wait() (while the previous
  // round is still draining, it first waits for that). Returns the arrival
  // index. Throws BrokenBarrierError when the barrier is or becomes broken or
  // reset while waiting, and whatever the action throws in the last thread.
  int wait(std::optional<racegate::internal::Seconds> timeout = std::nullopt);

  // Barrier::reset(): back to the initial state; current waiters throw
  // BrokenBarrierError.
  void reset();

  // Barrier::abort(): breaks the barrier; current and later waiters throw
  // BrokenBarrierError until reset().
  void abort();

  [[nodiscard]] int parties() const noexcept { return parties_; }
  // Threads waiting in the current round (0 while draining or broken).
  [[nodiscard]] int n_waiting() const noexcept;
  [[nodiscard]] bool broken() const noexcept;

 private:
  std::unique_ptr<Lock> lock_;  // CPython: Condition(Lock())
  Condition cond_;
  racegate::internal::BarrierState state_;
  const int parties_;
  const std::function<void()> action_;
  const std::optional<racegate::internal::Seconds> timeout_;
};

}  // namespace racegate::threading
