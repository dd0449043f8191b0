// Internal: the lock and event algorithms shared by racegate::threading and
// racegate::mp. Do not use directly.
//
// Both are standard-layout structs of 32-bit atomics, usable in private memory
// (Scope::kThread) or in memory shared between processes (Scope::kProcess).
// Blocking is a futex wait; all ordering comes from the C++ atomics (so
// ThreadSanitizer, which models atomics, sees the happens-before edges).
#pragma once

#include <atomic>
#include <cstdint>

#include "racegate/internal/deadline.h"
#include "racegate/internal/futex.h"

namespace racegate::internal {

// A non-recursive lock without an owner (any thread or process may release
// it), as Python's Lock. word: 0 free, 1 held, 2 held and maybe waited on.
struct LockCore {
  std::atomic<std::uint32_t> word{0};
  // Pid of the last process that acquired it (diagnostics only; 0 when free).
  std::atomic<std::int32_t> owner_pid{0};

  // Takes the lock without blocking; true on success.
  bool try_acquire() noexcept {
    std::uint32_t expected = 0;
    return word.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                        std::memory_order_relaxed);
  }

  // Takes the lock, blocking until `deadline`; true on success.
  bool acquire(const Deadline& deadline, Scope scope) noexcept {
    if (try_acquire()) return true;
    for (;;) {
      // Announce a waiter (2) and take the lock if it was free in the meantime.
      if (word.exchange(2, std::memory_order_acquire) == 0) return true;
      if (futex_wait(word, 2, deadline, scope) == WaitResult::kTimedOut) {
        // One last try: the lock may have been freed at the deadline.
        return word.exchange(2, std::memory_order_acquire) == 0;
      }
    }
  }

  // Returns false (and changes nothing) when the lock was not held.
  bool release(Scope scope) noexcept {
    owner_pid.store(0, std::memory_order_relaxed);
    std::uint32_t prev = word.exchange(0, std::memory_order_release);
    if (prev == 2) futex_wake(word, 1, scope);
    return prev != 0;
  }

  [[nodiscard]] bool locked() const noexcept {
    return word.load(std::memory_order_relaxed) != 0;
  }
};

// A flag with waiters, as Python's Event.
struct EventCore {
  std::atomic<std::uint32_t> flag{0};
  std::atomic<std::uint32_t> waiters{0};

  void set(Scope scope) noexcept {
    flag.store(1, std::memory_order_seq_cst);
    if (waiters.load(std::memory_order_seq_cst) != 0) futex_wake(flag, INT32_MAX, scope);
  }

  void clear() noexcept { flag.store(0, std::memory_order_seq_cst); }

  [[nodiscard]] bool is_set() const noexcept { return flag.load(std::memory_order_acquire) != 0; }

  // Blocks until the flag is set or `deadline` passes; returns the flag.
  bool wait(const Deadline& deadline, Scope scope) noexcept {
    if (is_set()) return true;
    waiters.fetch_add(1, std::memory_order_seq_cst);
    bool result = false;
    for (;;) {
      if (flag.load(std::memory_order_seq_cst) != 0) { result = true; break; }
      if (futex_wait(flag, 0, deadline, scope) == WaitResult::kTimedOut) {
        result = flag.load(std::memory_order_seq_cst) != 0;
        break;
      }
    }
    waiters.fetch_sub(1, std::memory_order_seq_cst);
    // Pair with set()'s store so that what the setter wrote before set() is
    // visible to the waiter (acquire), even on the seq_cst path above.
    if (result) (void)flag.load(std::memory_order_acquire);
    return result;
  }
};

}  // namespace racegate::internal
