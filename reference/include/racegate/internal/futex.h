// Internal: futex(2) wrappers. Do not use directly.
#pragma once

#include <atomic>
#include <cstdint>

#include "racegate/internal/deadline.h"

namespace racegate::internal {

// Whether a futex word is private to one process (threads only) or lives in
// memory shared between processes.
enum class Scope : bool { kThread = false, kProcess = true };

enum class WaitResult { kWoken, kTimedOut };

// Blocks while `*word == expected`, until woken or `deadline` passes.
// Spurious wake-ups are possible: callers re-check their condition.
WaitResult futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                      const Deadline& deadline, Scope scope) noexcept;

// Wakes up to `count` waiters blocked on `word`.
void futex_wake(std::atomic<std::uint32_t>& word, int count, Scope scope) noexcept;

}  // namespace racegate::internal
