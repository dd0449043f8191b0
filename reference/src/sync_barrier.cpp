// Barrier of racegate::threading and racegate::mp: internal::BarrierAlgorithm
// over the matching Condition.
#include "racegate/internal/shared_memory.h"
#include "racegate/mp/barrier.h"
#include "racegate/schedule.h"
#include "racegate/threading/barrier.h"
#include "racegate/threading/lock.h"

namespace racegate {

using schedule::Op;

namespace threading {

using Algorithm = internal::BarrierAlgorithm<Condition>;

Barrier::Barrier(int parties, std::function<void()> action,
                 std::optional<internal::Seconds> timeout)
    : lock_(std::make_unique<Lock>()),
      cond_(*lock_),
      parties_(parties),
      action_(std::move(action)),
      timeout_(timeout) {}

Barrier::~Barrier() = default;

int Barrier::wait(std::optional<internal::Seconds> timeout) {
  schedule::point(Op::kBarrierWait, this);
  return Algorithm::wait(cond_, state_, parties_, action_, timeout ? timeout : timeout_);
}

void Barrier::reset() {
  schedule::point(Op::kBarrierReset, this);
  Algorithm::reset(cond_, state_);
}

void Barrier::abort() {
  schedule::point(Op::kBarrierAbort, this);
  Algorithm::abort(cond_, state_);
}

int Barrier::n_waiting() const noexcept { return Algorithm::n_waiting(state_); }
bool Barrier::broken() const noexcept { return Algorithm::broken(state_); }

}  // namespace threading

namespace mp {

using Algorithm = internal::BarrierAlgorithm<Condition>;

Barrier::Barrier(int parties, std::function<void()> action,
                 std::optional<internal::Seconds> timeout)
    : state_(internal::make_shared_object<internal::BarrierState>()),
      parties_(parties),
      action_(std::make_shared<const std::function<void()>>(std::move(action))),
      timeout_(timeout) {}

int Barrier::wait(std::optional<internal::Seconds> timeout) {
  schedule::point(Op::kBarrierWait, state_.get());
  return Algorithm::wait(cond_, *state_, parties_, *action_, timeout ? timeout : timeout_);
}

void Barrier::reset() {
  schedule::point(Op::kBarrierReset, state_.get());
  Algorithm::reset(cond_, *state_);
}

void Barrier::abort() {
  schedule::point(Op::kBarrierAbort, state_.get());
  Algorithm::abort(cond_, *state_);
}

int Barrier::n_waiting() const noexcept { return Algorithm::n_waiting(*state_); }
bool Barrier::broken() const noexcept { return Algorithm::broken(*state_); }

}  // namespace mp
}  // namespace racegate
