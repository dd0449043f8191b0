// Internal: deadlines for timed blocking calls. Do not use directly.
#pragma once

#include <chrono>
#include <ctime>
#include <optional>

namespace racegate::internal {

// Seconds as a floating-point duration: the unit of every racegate timeout,
// as in CPython. Any std::chrono duration converts to it implicitly.
using Seconds = std::chrono::duration<double>;

// A point on CLOCK_MONOTONIC (std::chrono::steady_clock on Linux), or none
// for "wait forever".
class Deadline {
 public:
  // No deadline: blocks until the condition holds.
  static Deadline never() noexcept { return Deadline(); }

  // `timeout` from now; a negative timeout behaves as zero. Timeouts beyond
  // about 100 years are treated as forever.
  static Deadline after(Seconds timeout) noexcept {
    Deadline d;
    if (timeout.count() > 3.0e9) return d;
    if (!(timeout.count() > 0.0)) timeout = Seconds(0.0);  // also maps NaN to 0
    d.at_ = std::chrono::steady_clock::now() +
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
    return d;
  }

  static Deadline from(const std::optional<Seconds>& timeout) noexcept {
    return timeout ? after(*timeout) : never();
  }

  [[nodiscard]] bool is_never() const noexcept { return !at_.has_value(); }

  [[nodiscard]] bool expired() const noexcept {
    return at_ && std::chrono::steady_clock::now() >= *at_;
  }

  // Absolute CLOCK_MONOTONIC time, for futex and poll-style calls.
  [[nodiscard]] timespec as_timespec() const noexcept {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(at_->time_since_epoch()).count();
    return timespec{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  }

  // Milliseconds left, rounded up, for poll(2); -1 for never.
  [[nodiscard]] int remaining_ms() const noexcept {
    if (!at_) return -1;
    auto left = *at_ - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) return 0;
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return ms > 1000000 ? 1000000 : static_cast<int>(ms);
  }

 private:
  Deadline() = default;
  std::optional<std::chrono::steady_clock::time_point> at_;
};

}  // namespace racegate::internal
