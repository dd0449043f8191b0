// racegate/threading/timer.h — threading.Timer.
//
// A Timer is a Thread that calls `function` after `interval`, unless
// cancel() is called first. start() starts the countdown; cancel() stops a
// timer that is still waiting (and does nothing once the function started).
//
//   racegate::threading::Timer t(std::chrono::milliseconds(50), [] { fire(); });
//   t.start();
//   t.cancel();        // fire() never runs if this comes within 50 ms
//   t.join();
//
// Everything else is Thread's: the name is `Thread-N`, join()/is_alive() work
// as for any thread, an exception from `function` is printed as "Exception in
// thread NAME:" and ends the thread, and a non-daemon timer still running when
// main() returns is waited for (so it fires unless cancelled). The interval
// is measured on the monotonic clock; a negative one behaves as zero.
//
// Memory ordering: what the starting thread wrote before start() is visible to
// `function`; what `function` wrote is visible after join() returns.
// cancel() before the interval ends is seen by the timer (it then skips the
// call), which CPython implements as an Event and so do we.
//
// Lifetime: the destructor behaves as Thread's (joins a running non-daemon
// timer: it waits for the interval or a cancel). The function and its state
// are owned by the thread, so a daemon timer may outlive the object.
//
// Thread-safety: cancel() may be called from any thread, any number of times.
#pragma once

#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "racegate/internal/deadline.h"
#include "racegate/threading/thread.h"

namespace racegate::internal {
struct TimerState;
}

namespace racegate::threading {

class Timer : public Thread {
 public:
  Timer(racegate::internal::Seconds interval, std::function<void()> function);
  // Timer(interval, f, args...): calls f(args...); the arguments are copied in.
  template <class F, class... As>
    requires(sizeof...(As) > 0 && std::is_invocable_v<std::decay_t<F>&, std::decay_t<As>&...>)
  Timer(racegate::internal::Seconds interval, F&& f, As&&... as)
      : Timer(interval, std::function<void()>(
                            [f = std::forward<F>(f), ... args = std::forward<As>(as)]() mutable {
                              std::invoke(f, args...);
                            })) {}

  // Timer::cancel(): stops the timer if it has not fired yet.
  void cancel() noexcept;

  // Whether the timer is finished: cancelled, or the function has returned.
  [[nodiscard]] bool finished() const noexcept;

 private:
  explicit Timer(std::shared_ptr<racegate::internal::TimerState> state);
  std::shared_ptr<racegate::internal::TimerState> timer_;
};

}  // namespace racegate::threading
