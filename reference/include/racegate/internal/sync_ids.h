// Internal: who is calling, and whether a process has ended. Used by the
// owner-aware primitives (RLock, Condition, robust locks). Do not use directly.
#pragma once

#include <chrono>
#include <sys/types.h>

#include "racegate/internal/deadline.h"

namespace racegate::internal {

// The calling thread's process id and kernel thread id. Cached per thread and
// refreshed in a child after fork(), so a forked child never sees its parent's
// ids. Thread ids are unique system-wide (in one pid namespace) while the
// thread lives, so (pid, tid) names one thread of one process.
struct ThreadIds {
  pid_t pid;
  pid_t tid;
};
const ThreadIds& this_thread_ids() noexcept;

// A per-thread number, unique over the life of the process and never reused
// (unlike thread ids): for thread-level owners and per-thread storage.
unsigned long long this_thread_key() noexcept;

// Whether process `pid` has ended: it no longer exists, or it is a zombie
// (ended but not yet reaped by its parent). Uses a pidfd when the kernel has
// them, kill(pid, 0) and /proc/<pid>/stat otherwise. A pid reused by a new
// process looks alive: racegate cannot tell it from the old one.
bool process_has_ended(pid_t pid) noexcept;

// Throws OwnerDiedError("lock owner process PID died while holding the lock").
[[noreturn]] void throw_owner_died(pid_t pid);

// How often a blocked acquirer of a process-shared lock looks at the owner.
inline constexpr std::chrono::milliseconds kOwnerCheckInterval{100};

// The earlier of `deadline` and `slice` from now.
inline Deadline earlier_of(const Deadline& deadline, Seconds slice) noexcept {
  if (deadline.is_never()) return Deadline::after(slice);
  const timespec at = deadline.as_timespec();
  const double now = std::chrono::duration<double>(
                         std::chrono::steady_clock::now().time_since_epoch()).count();
  const double left = static_cast<double>(at.tv_sec) + static_cast<double>(at.tv_nsec) * 1e-9 - now;
  return Deadline::after(Seconds(left < slice.count() ? left : slice.count()));
}

}  // namespace racegate::internal
