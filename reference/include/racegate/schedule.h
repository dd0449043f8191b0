// racegate/schedule.h — the schedule-point hook.
//
// Every blocking or synchronizing operation of the reference implementation
// (lock acquire and release, event set and wait, thread and process start and
// join) calls `racegate::schedule::point(op, object)` before it acts. With no
// hook installed that call is one relaxed atomic load and a predictable branch.
// A harness that explores interleavings (noise injection, PCT) installs a hook
// to perturb or control which thread runs next.
//
// Thread-safety: `set_hook` may be called from any thread; a hook must be
// thread-safe and async-signal-tolerant in the sense that it must not call back
// into the primitive that invoked it. The hook is inherited by forked children.
//
// Memory ordering: installing a hook is a relaxed store; a thread observes the
// new hook at its next schedule point or later. Install hooks before starting
// the threads they should see.
#pragma once

#include <atomic>
#include <cstdint>

namespace racegate::schedule {

enum class Op : std::uint8_t {
  kLockAcquire,
  kLockRelease,
  kEventSet,
  kEventClear,
  kEventWait,
  kThreadStart,
  kThreadJoin,
  kProcessStart,
  kProcessJoin,
  // racegate::threading / racegate::mp synchronization (RLock, Semaphore,
  // Condition, Barrier); `object` is the primitive's identity.
  kRLockAcquire,
  kRLockRelease,
  kSemaphoreAcquire,
  kSemaphoreRelease,
  kConditionWait,
  kConditionNotify,
  kBarrierWait,
  kBarrierReset,
  kBarrierAbort,
  // racegate::aio: the event loop is about to step (resume) a task; `object`
  // is the task. Suggested name: "aio.task_step".
  kAioTaskStep,
  // racegate::mp queues and connections: an item is put / got, a message is
  // sent / received; `object` is the queue's or the connection's identity.
  kQueuePut,
  kQueueGet,
  kConnectionSend,
  kConnectionRecv,
};

// Returns a stable lower-case name for `op` ("lock.acquire", ...).
const char* op_name(Op op) noexcept;

using Hook = void (*)(Op op, const void* object) noexcept;

namespace internal {
inline std::atomic<Hook> g_hook{nullptr};
}  // namespace internal

// Installs `hook` (nullptr removes it) and returns the previous one.
inline Hook set_hook(Hook hook) noexcept {
  return internal::g_hook.exchange(hook, std::memory_order_acq_rel);
}

// Reports a schedule point to the installed hook, if any.
inline void point(Op op, const void* object) noexcept {
  if (Hook h = internal::g_hook.load(std::memory_order_relaxed)) [[unlikely]] {
    h(op, object);
  }
}

}  // namespace racegate::schedule
