// racegate/mp/event.h — multiprocessing.Event: an event shared by processes.
//
// Same semantics as racegate::threading::Event, in shared memory: a child
// process started with fork inherits it, and a `set()` in any process wakes the
// waiters of every process.
//
// Sharing: an mp::Event is a handle; copies refer to the same event. It crosses
// a process boundary only by inheritance at fork.
//
// Memory ordering: what a process wrote to shared memory before `set()` is
// visible to a waiter whose `wait()` returns true because of that set.
//
// Lifetime: as racegate::mp::Lock (anonymous shared mapping, never left in
// /dev/shm).
//
// Thread- and process-safety: every member may be called concurrently from any
// thread of any process that shares the event.
#pragma once

#include <memory>
#include <optional>
#include <type_traits>

#include "racegate/internal/deadline.h"
#include "racegate/internal/sync_core.h"
#include "racegate/internal/sync_inherit.h"

namespace racegate::mp {

class Event {
 public:
  // Creates an unset event in a new shared mapping; throws OSError on failure.
  Event();

  // Event::is_set(): whether the flag is set now.
  [[nodiscard]] bool is_set() const noexcept { return core_->is_set(); }

  // Event::set(): sets the flag and wakes the waiters of every process.
  void set() noexcept;

  // Event::clear(): unsets the flag.
  void clear() noexcept;

  // Event::wait(timeout)
  //
  // Blocks until the flag is set or `timeout` passes (for ever when empty; a
  // negative timeout behaves as zero) and returns the flag: true when set,
  // false on a timeout. A timeout never sets the flag.
  bool wait(std::optional<racegate::internal::Seconds> timeout = std::nullopt) noexcept;

 private:
  std::shared_ptr<racegate::internal::EventCore> core_;
};

}  // namespace racegate::mp

// An mp::Event crosses a process boundary only by inheritance.
template <>
struct racegate::internal::inherit_only<racegate::mp::Event> : std::true_type {};
