// Internal: the counting semaphore under threading::Semaphore and
// mp::Semaphore (and their bounded forms). Do not use directly.
//
// A 32-bit futex word holds the value; `waiters` counts the threads that may
// be blocked on it, so that release() makes a system call only when someone
// can be waiting (std::counting_semaphore in libstdc++ 12 makes one on every
// release). Standard layout: usable in private memory (Scope::kThread) and in
// shared memory (Scope::kProcess). No fairness: a woken waiter competes with
// arriving acquirers.
#pragma once

#include <atomic>
#include <climits>
#include <cstdint>

#include "racegate/internal/deadline.h"
#include "racegate/internal/futex.h"

namespace racegate::internal {

struct SemaphoreCore {
  // SEM_VALUE_MAX on Linux: the largest value of an unbounded semaphore.
  static constexpr std::uint32_t kMaxValue = INT_MAX;

  std::atomic<std::uint32_t> value;
  std::atomic<std::uint32_t> waiters{0};
  const std::uint32_t max_value;  // the bound; kMaxValue when unbounded

  SemaphoreCore(std::uint32_t initial, std::uint32_t bound) noexcept
      : value(initial), max_value(bound) {}

  // Decrements the value if it is positive; never blocks.
  bool try_acquire() noexcept {
    std::uint32_t v = value.load(std::memory_order_relaxed);
    while (v > 0) {
      if (value.compare_exchange_weak(v, v - 1, std::memory_order_acquire,
                                      std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }

  // Decrements the value, blocking while it is 0 until `deadline`.
  bool acquire(const Deadline& deadline, Scope scope) noexcept {
    if (try_acquire()) return true;
    waiters.fetch_add(1, std::memory_order_seq_cst);
    bool ok = false;
    for (;;) {
      // seq_cst load: pairs with release()'s update and its load of `waiters`
      // so that a release either sees this waiter or is seen by it.
      if (value.load(std::memory_order_seq_cst) != 0 && try_acquire()) {
        ok = true;
        break;
      }
      if (futex_wait(value, 0, deadline, scope) == WaitResult::kTimedOut) {
        ok = try_acquire();
        break;
      }
    }
    waiters.fetch_sub(1, std::memory_order_relaxed);
    return ok;
  }

  // Adds `n` (> 0) and wakes up to `n` waiters. Returns false, and changes
  // nothing, when the value would exceed max_value.
  bool release(std::uint32_t n, Scope scope) noexcept {
    std::uint32_t v = value.load(std::memory_order_relaxed);
    do {
      if (n > max_value - v) return false;
    } while (!value.compare_exchange_weak(v, v + n, std::memory_order_seq_cst,
                                          std::memory_order_relaxed));
    if (waiters.load(std::memory_order_seq_cst) != 0) {
      futex_wake(value, n > static_cast<std::uint32_t>(INT_MAX) ? INT_MAX : static_cast<int>(n),
                 scope);
    }
    return true;
  }

  [[nodiscard]] std::uint32_t get() const noexcept { return value.load(std::memory_order_relaxed); }
};

}  // namespace racegate::internal
