// racegate/schedule.h — the schedule-point hook and the blocking hooks.
//
// Every blocking or synchronizing operation of the reference implementation
// (lock acquire and release, event set and wait, semaphore, condition,
// barrier, queue put and get, pipe send and recv, thread and process start
// and join) calls `racegate::schedule::point(op, object)` before it acts.
// With no hook installed that call is one relaxed atomic load and a
// predictable branch. A harness that explores interleavings (noise
// injection, PCT) installs a hook to perturb or control which thread runs
// next.
//
// A scheduler that lets one thread run at a time (PCT) must also know when a
// thread blocks, or a thread asleep in the kernel would keep every other one
// from running. So every wait of the reference goes through one of two
// places: a wait on a futex word (internal/futex.h), which asks the installed
// `Blocking::wait` first, and a wait in the kernel on something no scheduler
// models (poll on a pipe, a socket or a pidfd; waitpid), which is bracketed
// by `OutsideScheduler` (Blocking::leave / Blocking::enter). Every futex wake
// also calls `Blocking::wake`. With no blocking hooks installed each of these
// is one relaxed load and a branch on top of the system call.
//
// Thread-safety: `set_hook` and `set_blocking` may be called from any
// thread; hooks must be thread-safe and must not call back into the
// primitive that invoked them. Hooks are inherited by forked children.
//
// Memory ordering: installing a hook is an atomic exchange; a thread sees
// it at its next point or a later one. A `Blocking` table is read through
// an acquire load of its pointer and must not change once installed.
// Install hooks before starting the threads they should see.
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

// ---- blocking hooks -----------------------------------------------------

// What Blocking::wait decided.
enum class WaitOutcome : std::uint8_t {
  kRecheck,   // the word changed or was woken: the caller re-checks its condition
  kTimedOut,  // the deadline passed
  kKernel,    // nothing else in this process can run now: wait in the kernel
              // (between leave() and enter()), as without a scheduler
};

struct Blocking {
  // The caller would block while `*word == expected` (a futex wait). The
  // scheduler checks the word and, if it still holds `expected`, blocks the
  // caller until `wake(word)`, until `deadline_ns` (CLOCK_MONOTONIC, 0: none)
  // passes, or, when `can_idle`, until nothing else can run (kKernel). A
  // wait with `can_idle` false and no deadline that nothing can end is a
  // deadlock of the program, which the scheduler reports.
  WaitOutcome (*wait)(const std::atomic<std::uint32_t>* word, std::uint32_t expected, std::uint64_t deadline_ns,
                      bool can_idle) noexcept;
  // `word` was changed and its waiters woken (called after the futex wake).
  void (*wake)(const void* word) noexcept;
  // The caller is about to block in the kernel on something the scheduler
  // does not model, and is back from it.
  void (*leave)() noexcept;
  void (*enter)() noexcept;
};

namespace internal {
inline std::atomic<const Blocking*> g_blocking{nullptr};
}  // namespace internal

// Installs `blocking` (nullptr removes it; the table must outlive its use)
// and returns the previous one.
inline const Blocking* set_blocking(const Blocking* blocking) noexcept {
  return internal::g_blocking.exchange(blocking, std::memory_order_acq_rel);
}

// The installed blocking hooks, or nullptr.
inline const Blocking* blocking() noexcept { return internal::g_blocking.load(std::memory_order_acquire); }

// Brackets a wait in the kernel that no scheduler models (poll, read,
// waitpid): leave() on construction, enter() on destruction.
class OutsideScheduler {
 public:
  OutsideScheduler() noexcept : hooks_(blocking()) {
    if (hooks_ != nullptr) [[unlikely]] hooks_->leave();
  }
  ~OutsideScheduler() {
    if (hooks_ != nullptr) [[unlikely]] hooks_->enter();
  }
  OutsideScheduler(const OutsideScheduler&) = delete;
  OutsideScheduler& operator=(const OutsideScheduler&) = delete;

 private:
  const Blocking* hooks_;
};

// Runs `call` (a blocking system call) outside the scheduler and returns its
// result; errno is what the call left.
template <class Call>
auto outside(Call&& call) {
  OutsideScheduler guard;
  return call();
}

}  // namespace racegate::schedule
