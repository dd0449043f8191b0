// Thread and process identity for the owner-aware primitives, the ended-process
// check, and the blocking path of the robust process-shared lock.
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string>
#include <sys/syscall.h>
#include <unistd.h>

#include "racegate/errors.h"
#include "racegate/internal/sync_ids.h"
#include "racegate/internal/sync_robust.h"
#include "racegate/mp/process.h"
#include "racegate/threading/thread.h"

namespace racegate::internal {
namespace {

thread_local ThreadIds t_ids{0, 0};
thread_local unsigned long long t_key = 0;
std::atomic<unsigned long long> g_next_key{1};

// In a forked child the forking thread's cached ids are its parent's: forget
// them. (No other thread exists in the child.)
void forget_ids_in_child() noexcept { t_ids = ThreadIds{0, 0}; }

}  // namespace

const ThreadIds& this_thread_ids() noexcept {
  if (t_ids.tid == 0) [[unlikely]] {
    // Registered before any thread caches ids, so a fork always refreshes them.
    static const bool registered = (pthread_atfork(nullptr, nullptr, &forget_ids_in_child), true);
    (void)registered;
    t_ids = ThreadIds{getpid(), static_cast<pid_t>(syscall(SYS_gettid))};
  }
  return t_ids;
}

unsigned long long this_thread_key() noexcept {
  if (t_key == 0) [[unlikely]] t_key = g_next_key.fetch_add(1, std::memory_order_relaxed);
  return t_key;
}

bool process_has_ended(pid_t pid) noexcept {
  if (pid <= 0) return false;
#ifdef SYS_pidfd_open
  // A pidfd polls readable once the process has ended, zombie or not.
  const long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) {
    pollfd p{static_cast<int>(fd), POLLIN, 0};
    int r;
    do {
      r = poll(&p, 1, 0);
    } while (r < 0 && errno == EINTR);
    close(static_cast<int>(fd));
    if (r >= 0) return r > 0;
  } else if (errno == ESRCH) {
    return true;
  }
#endif
  // No pidfds: gone, or a zombie ('Z') or dead ('X') in /proc/<pid>/stat.
  if (kill(pid, 0) == -1 && errno == ESRCH) return true;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  FILE* f = std::fopen(path, "re");
  if (!f) return errno == ENOENT;
  char buf[512];
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* close_paren = std::strrchr(buf, ')');  // the name may contain ')'
  if (!close_paren || close_paren[1] != ' ') return false;
  return close_paren[2] == 'Z' || close_paren[2] == 'X';
}

std::string holder_name(const RobustLockCore& core) {
  const ThreadIds& me = this_thread_ids();
  if (core.held_by(me)) {
    std::string name = mp::current_process().name();
    std::string thread = threading::current_thread_name();
    if (thread != "MainThread") name += "|" + thread;
    return name;
  }
  const pid_t owner = core.owner();
  if (owner == 0) return "None";
  return owner == me.pid ? "SomeOtherThread" : "SomeOtherProcess";
}

void throw_owner_died(pid_t pid) {
  throw OwnerDiedError("lock owner process " + std::to_string(pid) +
                       " died while holding the lock");
}

RobustLockCore::Acquired RobustLockCore::acquire(const Deadline& deadline, const ThreadIds& me,
                                                 pid_t* dead_pid) noexcept {
  if (try_acquire(me)) return Acquired::kYes;
  const std::uint32_t mine = tag(me.pid);
  for (;;) {
    std::uint32_t v = word.load(std::memory_order_relaxed);
    if (v == 0) {
      // Take it with the waiter bit set: others may still be blocked.
      if (word.compare_exchange_strong(v, mine | kWaiters, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        owner_tid.store(me.tid, std::memory_order_relaxed);
        return Acquired::kYes;
      }
      continue;
    }
    if (!(v & kWaiters)) {
      if (!word.compare_exchange_strong(v, v | kWaiters, std::memory_order_relaxed)) continue;
      v |= kWaiters;
    }
    const Deadline slice = earlier_of(deadline, kOwnerCheckInterval);
    if (futex_wait(word, v, slice, Scope::kProcess) != WaitResult::kTimedOut) continue;
    if (deadline.expired()) {
      // One last try: the lock may have been freed at the deadline.
      std::uint32_t expected = 0;
      if (word.compare_exchange_strong(expected, mine | kWaiters, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        owner_tid.store(me.tid, std::memory_order_relaxed);
        return Acquired::kYes;
      }
      return Acquired::kTimedOut;
    }
    // A full interval without a wake-up: is the holder still alive?
    const pid_t owner = pid_of(word.load(std::memory_order_acquire));
    if (owner != 0 && owner != me.pid && process_has_ended(owner) &&
        pid_of(word.load(std::memory_order_acquire)) == owner) {
      *dead_pid = owner;
      return Acquired::kOwnerDied;
    }
  }
}

}  // namespace racegate::internal
