// Internal: the waiter accounting under threading::Condition and
// mp::Condition. Do not use directly.
//
// The lock of the condition is not part of this core: the callers hold it
// around register/notify and release it around sleep. The core counts
//
//   sleepers  waiters registered and not notified yet,
//   tokens    notifications granted to sleepers and not yet claimed,
//
// in one 64-bit atomic, plus two futex words: `seq` (bumped by every notify
// that grants tokens; sleepers block on it) and `drained` (bumped when the last
// token is claimed).
//
// - wait: with the lock held, wait until no token is outstanding (drain), then
//   count oneself a sleeper; release the lock; block until a token can be
//   claimed or the deadline passes; take the lock again.
// - notify(n): with the lock held, move min(n, sleepers) sleepers to tokens
//   and wake that many.
// - A sleeper whose deadline passes claims a token if one is left (it was
//   notified: wait returns true) and otherwise stops being a sleeper (false).
//
// Exactness: notify(n) makes exactly min(n, sleepers) waits return true. The
// drain step keeps a wait that starts after a notify from claiming a token
// meant for earlier sleepers, so a notify before anyone waits is lost, as in
// CPython. Standard layout: usable in private or shared memory.
//
// Limitation: a waiter that dies (a killed process) while counted keeps its
// token, if it was granted one, for ever; later waits then block in the drain
// until their deadline (CPython's multiprocessing.Condition hangs too).
#pragma once

#include <atomic>
#include <climits>
#include <cstdint>

#include "racegate/internal/deadline.h"
#include "racegate/internal/futex.h"

namespace racegate::internal {

struct ConditionCore {
  std::atomic<std::uint64_t> counts{0};  // low 32 bits: sleepers, high 32: tokens
  std::atomic<std::uint32_t> seq{0};
  std::atomic<std::uint32_t> drained{0};
  std::atomic<std::uint32_t> draining{0};  // callers blocked in enter()

  static constexpr std::uint64_t kToken = std::uint64_t{1} << 32;
  static constexpr std::uint32_t sleepers_of(std::uint64_t c) noexcept {
    return static_cast<std::uint32_t>(c);
  }
  static constexpr std::uint32_t tokens_of(std::uint64_t c) noexcept {
    return static_cast<std::uint32_t>(c >> 32);
  }

  // Lock held. Waits until no token is outstanding, then counts the caller as
  // a sleeper and returns the sequence number to sleep on. Returns false when
  // `deadline` passed first (the caller is then not counted).
  bool enter(const Deadline& deadline, Scope scope, std::uint32_t* ticket) noexcept {
    if (tokens_of(counts.load(std::memory_order_seq_cst)) != 0) {
      draining.fetch_add(1, std::memory_order_seq_cst);
      bool timed_out = false;
      for (;;) {
        const std::uint32_t d = drained.load(std::memory_order_seq_cst);
        if (tokens_of(counts.load(std::memory_order_seq_cst)) == 0) break;
        if (timed_out) break;
        timed_out = futex_wait(drained, d, deadline, scope) == WaitResult::kTimedOut;
      }
      draining.fetch_sub(1, std::memory_order_relaxed);
      if (tokens_of(counts.load(std::memory_order_seq_cst)) != 0) return false;
    }
    counts.fetch_add(1, std::memory_order_seq_cst);
    *ticket = seq.load(std::memory_order_seq_cst);
    return true;
  }

  // Lock released. Blocks until a token is claimed (true) or `deadline` passes
  // and none is left (false).
  bool sleep(std::uint32_t ticket, const Deadline& deadline, Scope scope) noexcept {
    for (;;) {
      if (try_claim(scope)) return true;
      if (futex_wait(seq, ticket, deadline, scope) == WaitResult::kTimedOut) {
        // Claim a token if one is left, else stop being a sleeper.
        std::uint64_t c = counts.load(std::memory_order_seq_cst);
        for (;;) {
          if (tokens_of(c) != 0) {
            if (counts.compare_exchange_weak(c, c - kToken, std::memory_order_seq_cst)) {
              after_claim(c - kToken, scope);
              return true;
            }
          } else if (counts.compare_exchange_weak(c, c - 1, std::memory_order_seq_cst)) {
            return false;
          }
        }
      }
      ticket = seq.load(std::memory_order_seq_cst);
    }
  }

  // Lock held. Grants min(n, sleepers) tokens, wakes as many sleepers and
  // returns how many it granted.
  std::uint32_t notify(std::uint32_t n, Scope scope) noexcept {
    if (n == 0) return 0;
    std::uint64_t c = counts.load(std::memory_order_seq_cst);
    std::uint32_t k;
    do {
      k = sleepers_of(c) < n ? sleepers_of(c) : n;
      if (k == 0) return 0;
    } while (!counts.compare_exchange_weak(c, c - k + k * kToken, std::memory_order_seq_cst));
    seq.fetch_add(1, std::memory_order_seq_cst);
    futex_wake(seq, k > static_cast<std::uint32_t>(INT_MAX) ? INT_MAX : static_cast<int>(k), scope);
    return k;
  }

  // Waiters counted now: sleepers plus notified ones not yet awake.
  [[nodiscard]] std::uint32_t waiting() const noexcept {
    const std::uint64_t c = counts.load(std::memory_order_relaxed);
    return sleepers_of(c) + tokens_of(c);
  }

 private:
  bool try_claim(Scope scope) noexcept {
    std::uint64_t c = counts.load(std::memory_order_seq_cst);
    while (tokens_of(c) != 0) {
      if (counts.compare_exchange_weak(c, c - kToken, std::memory_order_seq_cst)) {
        after_claim(c - kToken, scope);
        return true;
      }
    }
    return false;
  }

  void after_claim(std::uint64_t now, Scope scope) noexcept {
    if (tokens_of(now) == 0) {
      drained.fetch_add(1, std::memory_order_seq_cst);
      if (draining.load(std::memory_order_seq_cst) != 0) futex_wake(drained, INT_MAX, scope);
    }
  }
};

}  // namespace racegate::internal
