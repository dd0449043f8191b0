#include "racegate/internal/futex.h"

#include "racegate/schedule.h"

#include <cerrno>
#include <climits>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace racegate::internal {
namespace {

int op_for(int op, Scope scope) noexcept {
  return scope == Scope::kThread ? (op | FUTEX_PRIVATE_FLAG) : op;
}

static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

WaitResult kernel_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, const Deadline& deadline,
                       Scope scope) noexcept {
  auto* addr = reinterpret_cast<std::uint32_t*>(&word);
  long rc;
  if (deadline.is_never()) {
    rc = syscall(SYS_futex, addr, op_for(FUTEX_WAIT, scope), expected, nullptr, nullptr, 0);
  } else {
    // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so
    // spurious wake-ups and retries never stretch the total wait.
    timespec ts = deadline.as_timespec();
    rc = syscall(SYS_futex, addr, op_for(FUTEX_WAIT_BITSET, scope), expected, &ts, nullptr,
                 FUTEX_BITSET_MATCH_ANY);
  }
  if (rc == -1 && errno == ETIMEDOUT) return WaitResult::kTimedOut;
  // 0 (woken), EAGAIN (value already changed), EINTR: the caller re-checks.
  return WaitResult::kWoken;
}

}  // namespace

// Under a scheduler (schedule.h, "blocking hooks") the wait is the
// scheduler's first: it blocks the caller in its own model of the futex and
// sends it to the kernel only when nothing else in this process can run and
// the word is shared with other processes (one the scheduler does not see
// may change it). A wait with a deadline ends there, in real time.
WaitResult futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                      const Deadline& deadline, Scope scope) noexcept {
  if (const schedule::Blocking* hooks = schedule::blocking(); hooks != nullptr) [[unlikely]] {
    std::uint64_t deadline_ns = 0;
    if (!deadline.is_never()) {
      const timespec ts = deadline.as_timespec();
      deadline_ns = static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
      if (deadline_ns == 0) deadline_ns = 1;  // 0 means "none" to the hook
    }
    const bool can_idle = scope == Scope::kProcess;
    switch (hooks->wait(&word, expected, deadline_ns, can_idle)) {
      case schedule::WaitOutcome::kRecheck:
        return WaitResult::kWoken;
      case schedule::WaitOutcome::kTimedOut:
        return WaitResult::kTimedOut;
      case schedule::WaitOutcome::kKernel:
        break;
    }
    schedule::OutsideScheduler outside;
    return kernel_wait(word, expected, deadline, scope);
  }
  return kernel_wait(word, expected, deadline, scope);
}

void futex_wake(std::atomic<std::uint32_t>& word, int count, Scope scope) noexcept {
  auto* addr = reinterpret_cast<std::uint32_t*>(&word);
  syscall(SYS_futex, addr, op_for(FUTEX_WAKE, scope), count, nullptr, nullptr, 0);
  if (const schedule::Blocking* hooks = schedule::blocking(); hooks != nullptr) [[unlikely]] hooks->wake(&word);
}

}  // namespace racegate::internal
