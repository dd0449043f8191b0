// racegate/mp/barrier.h — multiprocessing.Barrier: a barrier shared by
// processes.
//
// Same contract as racegate::threading::Barrier (arrival indices, reuse
// across rounds, action, timeouts that break it, abort(), reset(),
// BrokenBarrierError with an empty message), for the threads of every process
// that shares it. Its state lives in shared memory behind an mp::Condition
// over an mp::RLock, as CPython builds it.
//
//   racegate::mp::Barrier start(3);               // before starting children
//   // in each of 3 processes:
//   start.wait();                                  // all leave together
//
// Action: each process keeps its own copy of the callable (inherited at
// fork); it runs in whichever process arrives last, before anyone is released.
// The default timeout is fixed at construction and inherited likewise.
//
// Timeouts: wait(timeout) uses `timeout`, or the default when empty (for ever
// when that is empty too); a negative one behaves as zero. A timeout breaks
// the barrier for every process.
//
// Parties: as CPython 3.11, any number is accepted; with parties < 1 a wait()
// only returns by timeout, abort or reset.
//
// Owner death: a process that dies inside wait() stays counted, and one that
// dies while holding the barrier's lock makes the others' calls throw
// OwnerDiedError (see mp::RLock); abort() from a live process is the way to
// release the waiters of a round that can no longer complete.
//
// Memory ordering: everything a process wrote to shared memory before its
// wait() is visible to every process of the same round after theirs returns.
//
// Sharing and lifetime: a handle; copies refer to the same barrier, in
// anonymous shared mappings, inherited at fork only.
//
// Thread- and process-safety: every member may be called concurrently from any
// thread of any process that shares it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <type_traits>

#include "racegate/internal/deadline.h"
#include "racegate/internal/sync_barrier.h"
#include "racegate/internal/sync_inherit.h"
#include "racegate/mp/condition.h"

namespace racegate::mp {

class Barrier {
 public:
  // Throws OSError when the shared mappings cannot be made.
  explicit Barrier(int parties, std::function<void()> action = {},
                   std::optional<racegate::internal::Seconds> timeout = std::nullopt);

  // Barrier::wait(timeout): blocks until `parties` threads (of any processes)
  // have called wait(); returns the arrival index. Throws BrokenBarrierError
  // when the barrier is or becomes broken or reset, and whatever the action
  // throws in the last thread.
  int wait(std::optional<racegate::internal::Seconds> timeout = std::nullopt);

  // Barrier::reset(): back to the initial state; current waiters throw
  // BrokenBarrierError.
  void reset();

  // Barrier::abort(): breaks the barrier until reset().
  void abort();

  [[nodiscard]] int parties() const noexcept { return parties_; }
  // Threads waiting in the current round (0 while draining or broken).
  [[nodiscard]] int n_waiting() const noexcept;
  [[nodiscard]] bool broken() const noexcept;

 private:
  Condition cond_;
  std::shared_ptr<racegate::internal::BarrierState> state_;
  int parties_;
  std::shared_ptr<const std::function<void()>> action_;
  std::optional<racegate::internal::Seconds> timeout_;
};

}  // namespace racegate::mp

template <>
struct racegate::internal::inherit_only<racegate::mp::Barrier> : std::true_type {};
