// racegate/threading/event.h — threading.Event: a flag that threads can wait on.
//
// An Event starts unset. `set()` sets it and wakes every waiter; `clear()`
// unsets it; `wait()` blocks until it is set. Waiters that arrive while it is
// set return at once.
//
// Memory ordering: everything a thread wrote before `set()` is visible to a
// thread after its `wait()` (or `is_set()`) returns true because of that set.
//
// Lifetime: an Event must outlive every thread that uses it. Neither copyable
// nor movable. For processes use racegate::mp::Event.
//
// Thread-safety: every member may be called concurrently from any thread.
#pragma once

#include <optional>

#include "racegate/internal/deadline.h"
#include "racegate/internal/sync_core.h"

namespace racegate::threading {

class Event {
 public:
  Event() = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  // Event::is_set(): whether the flag is set now.
  [[nodiscard]] bool is_set() const noexcept { return core_.is_set(); }

  // Event::set(): sets the flag and wakes all waiters.
  void set() noexcept;

  // Event::clear(): unsets the flag. Threads that wait afterwards block.
  void clear() noexcept;

  // Event::wait(timeout)
  //
  // Blocks until the flag is set or `timeout` passes (for ever when empty; a
  // negative timeout behaves as zero) and returns the flag: true when set,
  // false on a timeout. A timeout never sets the flag.
  bool wait(std::optional<racegate::internal::Seconds> timeout = std::nullopt) noexcept;

 private:
  racegate::internal::EventCore core_;
};

}  // namespace racegate::threading
