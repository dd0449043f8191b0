// Internal: the blocking machinery of the data area (queues, pipes). Do not
// use directly.
//
// CondCore is a condition variable over a LockCore, built on one futex
// sequence word, so that it works in private memory (Scope::kThread) and in
// memory shared between processes (Scope::kProcess) alike. DataMutex wraps a
// LockCore as an annotated capability for the thread-level queues.
//
// Schedule points: a put, get, send or recv calls schedule::point before it
// acts, with the queue's (or connection's) identity as the object. The ops
// are Op::kQueuePut / kQueueGet / kConnectionSend / kConnectionRecv when
// racegate/schedule.h declares them; until it does, a put or send reports
// itself as Op::kEventSet (it makes something available) and a get or recv
// as Op::kEventWait (it waits for something to be available). The choice is
// made at compile time below, the only place to look.
#pragma once

#include <atomic>
#include <climits>
#include <cstdint>

#include "racegate/internal/deadline.h"
#include "racegate/internal/futex.h"
#include "racegate/internal/sync_core.h"
#include "racegate/schedule.h"
#include "racegate/thread_annotations.h"

namespace racegate::internal {

namespace data_ops {
template <class O = schedule::Op>
constexpr O queue_put() {
  if constexpr (requires { O::kQueuePut; }) return O::kQueuePut; else return O::kEventSet;
}
template <class O = schedule::Op>
constexpr O queue_get() {
  if constexpr (requires { O::kQueueGet; }) return O::kQueueGet; else return O::kEventWait;
}
template <class O = schedule::Op>
constexpr O connection_send() {
  if constexpr (requires { O::kConnectionSend; }) return O::kConnectionSend; else return O::kEventSet;
}
template <class O = schedule::Op>
constexpr O connection_recv() {
  if constexpr (requires { O::kConnectionRecv; }) return O::kConnectionRecv; else return O::kEventWait;
}
}  // namespace data_ops

// Before a queue's put / get acts.
inline void data_put_point(const void* queue) noexcept {
  schedule::point(data_ops::queue_put(), queue);
}
inline void data_get_point(const void* queue) noexcept {
  schedule::point(data_ops::queue_get(), queue);
}

// Before a connection's send / recv acts.
inline void data_send_point(const void* connection) noexcept {
  schedule::point(data_ops::connection_send(), connection);
}
inline void data_recv_point(const void* connection) noexcept {
  schedule::point(data_ops::connection_recv(), connection);
}

// A condition variable for a LockCore. Standard layout, 32-bit atomics only.
// Waiters re-check their predicate after every return (wake-ups may be
// spurious); notify_all wakes every waiter, so a waiter that times out can
// never swallow a wake-up meant for another.
struct CondCore {
  std::atomic<std::uint32_t> seq{0};
  std::atomic<std::uint32_t> waiters{0};

  // The caller holds `mutex`. Releases it, blocks until a notify_all() after
  // this call began or until `deadline`, then takes `mutex` again. Returns
  // false when the deadline had passed.
  bool wait(LockCore& mutex, const Deadline& deadline, Scope scope) noexcept {
    waiters.fetch_add(1, std::memory_order_seq_cst);
    const std::uint32_t observed = seq.load(std::memory_order_seq_cst);
    mutex.release(scope);
    const WaitResult r = futex_wait(seq, observed, deadline, scope);
    waiters.fetch_sub(1, std::memory_order_seq_cst);
    mutex.acquire(Deadline::never(), scope);
    return r != WaitResult::kTimedOut;
  }

  // Wakes every waiter. Called with the mutex held, after the state change.
  void notify_all(Scope scope) noexcept {
    seq.fetch_add(1, std::memory_order_seq_cst);
    if (waiters.load(std::memory_order_seq_cst) != 0) futex_wake(seq, INT_MAX, scope);
  }
};

// A thread-level mutex with lock annotations (for -Wthread-safety).
class RG_CAPABILITY("mutex") DataMutex {
 public:
  DataMutex() = default;
  DataMutex(const DataMutex&) = delete;
  DataMutex& operator=(const DataMutex&) = delete;

  void lock() RG_ACQUIRE() { core_.acquire(Deadline::never(), Scope::kThread); }
  void unlock() RG_RELEASE() { core_.release(Scope::kThread); }

  // Waits on `cond` with this mutex held (released during the wait).
  bool wait(CondCore& cond, const Deadline& deadline) RG_REQUIRES(this) {
    return cond.wait(core_, deadline, Scope::kThread);
  }

 private:
  LockCore core_;
};

class RG_SCOPED_CAPABILITY DataLock {
 public:
  explicit DataLock(DataMutex& mu) RG_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~DataLock() RG_RELEASE() { mu_.unlock(); }
  DataLock(const DataLock&) = delete;
  DataLock& operator=(const DataLock&) = delete;

 private:
  DataMutex& mu_;
};

}  // namespace racegate::internal
