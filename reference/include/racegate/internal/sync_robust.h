// Internal: the owner-aware, process-shared lock under mp::Lock, mp::RLock
// and the process-level Condition and Barrier. Do not use directly.
//
// The futex word holds the owner's pid, so who holds the lock and whether it
// is held change together in one atomic step:
//
//   word == 0                     free
//   word == pid << 1 | W          held by a thread of process `pid`; W (bit 0)
//                                 set when a waiter may be blocked on the word
//
// Pids fit in 22 bits on Linux (PID_MAX_LIMIT), so the shift never loses one.
// `owner_tid` names the thread that took it (0 when free), for the ownership
// checks of RLock and Condition.
//
// Owner death: a blocked acquirer wakes at least every kOwnerCheckInterval and
// asks whether the owning process has ended (process_has_ended: gone or a
// zombie). If it has and still holds the lock, acquire() reports kOwnerDied and
// the lock is left as it was: held by the dead pid. Only a release() (which
// mp::Lock allows from anyone) frees it.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <sys/types.h>

#include "racegate/internal/deadline.h"
#include "racegate/internal/futex.h"
#include "racegate/internal/sync_ids.h"

namespace racegate::internal {

struct RobustLockCore {
  static constexpr std::uint32_t kWaiters = 1;

  std::atomic<std::uint32_t> word{0};
  std::atomic<std::int32_t> owner_tid{0};

  enum class Acquired { kYes, kTimedOut, kOwnerDied };

  static constexpr std::uint32_t tag(pid_t pid) noexcept {
    return static_cast<std::uint32_t>(pid) << 1;
  }
  static constexpr pid_t pid_of(std::uint32_t w) noexcept { return static_cast<pid_t>(w >> 1); }

  // Takes the lock if it is free; never blocks.
  bool try_acquire(const ThreadIds& me) noexcept {
    std::uint32_t expected = 0;
    if (!word.compare_exchange_strong(expected, tag(me.pid), std::memory_order_acquire,
                                      std::memory_order_relaxed)) {
      return false;
    }
    owner_tid.store(me.tid, std::memory_order_relaxed);
    return true;
  }

  // Takes the lock, blocking until `deadline`. On kOwnerDied, `*dead_pid` is
  // the pid of the ended owner and nothing changed.
  Acquired acquire(const Deadline& deadline, const ThreadIds& me, pid_t* dead_pid) noexcept;

  // Frees the lock (whoever calls it) and wakes one waiter. Returns false, and
  // changes nothing, when it was free.
  bool release() noexcept {
    if (word.load(std::memory_order_relaxed) == 0) return false;
    owner_tid.store(0, std::memory_order_relaxed);
    const std::uint32_t prev = word.exchange(0, std::memory_order_release);
    if (prev & kWaiters) futex_wake(word, 1, Scope::kProcess);
    return prev != 0;
  }

  [[nodiscard]] bool locked() const noexcept { return word.load(std::memory_order_relaxed) != 0; }

  // Pid of the holder, 0 when free (a snapshot).
  [[nodiscard]] pid_t owner() const noexcept {
    return pid_of(word.load(std::memory_order_relaxed));
  }

  // Whether the calling thread holds it. Exact for the caller: no other thread
  // can make it true or false for the caller.
  [[nodiscard]] bool held_by(const ThreadIds& me) const noexcept {
    const std::uint32_t w = word.load(std::memory_order_relaxed);
    return w != 0 && pid_of(w) == me.pid && owner_tid.load(std::memory_order_relaxed) == me.tid;
  }
};

// The holder as CPython's reprs name it: the caller's "ProcessName" or
// "ProcessName|ThreadName" (off the main thread), "None" when free,
// "SomeOtherThread" (this process) or "SomeOtherProcess".
std::string holder_name(const RobustLockCore& core);

}  // namespace racegate::internal
