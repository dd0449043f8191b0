// Semaphore and BoundedSemaphore of racegate::threading and racegate::mp,
// over internal::SemaphoreCore, with CPython's checks and messages.
#include <string>

#include "racegate/errors.h"
#include "racegate/internal/shared_memory.h"
#include "racegate/mp/semaphore.h"
#include "racegate/schedule.h"
#include "racegate/threading/semaphore.h"

namespace racegate {

using internal::Deadline;
using internal::Scope;
using internal::SemaphoreCore;
using schedule::Op;

namespace {

std::uint32_t checked_threading_value(int value) {
  if (value < 0) throw ValueError("semaphore initial value must be >= 0");
  return static_cast<std::uint32_t>(value);
}

std::uint32_t checked_mp_value(int value) {
  if (value < 0) throw OSError("[Errno 22] Invalid argument");
  return static_cast<std::uint32_t>(value);
}

void check_n(int n) {
  if (n < 1) throw ValueError("n must be one or more");
}

}  // namespace

// ---- threading ------------------------------------------------------------------

namespace threading {

Semaphore::Semaphore(int value) : Semaphore(value, false) {}

Semaphore::Semaphore(int value, bool bounded)
    : core_(checked_threading_value(value),
            bounded ? static_cast<std::uint32_t>(value) : SemaphoreCore::kMaxValue),
      bounded_(bounded) {}

bool Semaphore::acquire() {
  schedule::point(Op::kSemaphoreAcquire, this);
  return core_.acquire(Deadline::never(), Scope::kThread);
}

bool Semaphore::acquire(bool blocking, std::optional<internal::Seconds> timeout) {
  if (!blocking && timeout) throw ValueError("can't specify timeout for non-blocking acquire");
  schedule::point(Op::kSemaphoreAcquire, this);
  if (!blocking) return core_.try_acquire();
  return core_.acquire(Deadline::from(timeout), Scope::kThread);
}

void Semaphore::release(int n) {
  check_n(n);
  schedule::point(Op::kSemaphoreRelease, this);
  if (!core_.release(static_cast<std::uint32_t>(n), Scope::kThread)) {
    if (bounded_) throw ValueError("Semaphore released too many times");
    throw ValueError("semaphore value would exceed " + std::to_string(SemaphoreCore::kMaxValue));
  }
}

}  // namespace threading

// ---- mp ---------------------------------------------------------------------------

namespace mp {

Semaphore::Semaphore(int value) : Semaphore(value, false) {}

Semaphore::Semaphore(int value, bool bounded)
    : core_(internal::make_shared_object<SemaphoreCore>(
          checked_mp_value(value),
          bounded ? static_cast<std::uint32_t>(value) : SemaphoreCore::kMaxValue)),
      bounded_(bounded) {}

bool Semaphore::acquire() {
  schedule::point(Op::kSemaphoreAcquire, core_.get());
  return core_->acquire(Deadline::never(), Scope::kProcess);
}

bool Semaphore::acquire(bool block, std::optional<internal::Seconds> timeout) {
  schedule::point(Op::kSemaphoreAcquire, core_.get());
  if (!block) return core_->try_acquire();  // the timeout is ignored, as CPython
  return core_->acquire(Deadline::from(timeout), Scope::kProcess);
}

void Semaphore::release(int n) {
  check_n(n);
  schedule::point(Op::kSemaphoreRelease, core_.get());
  if (!core_->release(static_cast<std::uint32_t>(n), Scope::kProcess)) {
    throw ValueError("semaphore or lock released too many times");
  }
}

int Semaphore::get_value() const noexcept { return static_cast<int>(core_->get()); }

std::string Semaphore::repr() const {
  const std::string value = std::to_string(get_value());
  if (!bounded_) return "<Semaphore(value=" + value + ")>";
  return "<BoundedSemaphore(value=" + value + ", maxvalue=" + std::to_string(core_->max_value) +
         ")>";
}

}  // namespace mp
}  // namespace racegate
