#include "racegate/internal/futex.h"

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

}  // namespace

WaitResult futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                      const Deadline& deadline, Scope scope) noexcept {
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

void futex_wake(std::atomic<std::uint32_t>& word, int count, Scope scope) noexcept {
  auto* addr = reinterpret_cast<std::uint32_t*>(&word);
  syscall(SYS_futex, addr, op_for(FUTEX_WAKE, scope), count, nullptr, nullptr, 0);
}

}  // namespace racegate::internal
