// threading::Timer: CPython's Timer, a Thread whose body waits on an Event.
#include <utility>

#include "racegate/threading/event.h"
#include "racegate/threading/timer.h"

namespace racegate::internal {

struct TimerState {
  TimerState(Seconds i, std::function<void()> f) : interval(i), function(std::move(f)) {}
  const Seconds interval;
  const std::function<void()> function;
  threading::Event finished;

  void run() {
    finished.wait(interval);
    if (!finished.is_set() && function) function();
    finished.set();
  }
};

}  // namespace racegate::internal

namespace racegate::threading {

Timer::Timer(racegate::internal::Seconds interval, std::function<void()> function)
    : Timer(std::make_shared<racegate::internal::TimerState>(interval, std::move(function))) {}

Timer::Timer(std::shared_ptr<racegate::internal::TimerState> state)
    : Thread([state] { state->run(); }), timer_(std::move(state)) {}

void Timer::cancel() noexcept { timer_->finished.set(); }

bool Timer::finished() const noexcept { return timer_->finished.is_set(); }

}  // namespace racegate::threading
