// Condition of racegate::threading and racegate::mp: the lock handling and
// CPython's ownership checks around internal::ConditionCore.
#include <climits>
#include <string>

#include "racegate/errors.h"
#include "racegate/internal/shared_memory.h"
#include "racegate/internal/sync_ids.h"
#include "racegate/mp/condition.h"
#include "racegate/schedule.h"
#include "racegate/threading/condition.h"
#include "racegate/threading/lock.h"

// The lock is taken and released through whichever of two lock types the
// condition was made with; Clang's static analysis cannot follow that.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif

namespace racegate {

using internal::Deadline;
using internal::Scope;
using schedule::Op;

namespace {

std::uint32_t notify_count(int n) { return n <= 0 ? 0U : static_cast<std::uint32_t>(n); }

}  // namespace

// ---- threading::Condition -------------------------------------------------------

namespace threading {

Condition::Condition() : own_(std::make_unique<RLock>()) { rlock_ = own_.get(); }
Condition::Condition(Lock& lock) : plain_(&lock) {}
Condition::Condition(RLock& lock) : rlock_(&lock) {}
Condition::~Condition() = default;

bool Condition::acquire() { return plain_ ? plain_->acquire() : rlock_->acquire(); }

bool Condition::acquire(bool blocking, std::optional<internal::Seconds> timeout) {
  return plain_ ? plain_->acquire(blocking, timeout) : rlock_->acquire(blocking, timeout);
}

void Condition::release() {
  if (plain_) {
    plain_->release();
  } else {
    rlock_->release();
  }
}

bool Condition::is_owned() const noexcept {
  // CPython: an RLock knows its owner; a plain Lock counts as owned when held.
  return plain_ ? plain_->locked() : rlock_->is_owned();
}

bool Condition::wait(std::optional<internal::Seconds> timeout) {
  return wait_until(Deadline::from(timeout));
}

bool Condition::wait_until(const Deadline& deadline) {
  if (!is_owned()) throw RuntimeError("cannot wait on un-acquired lock");
  schedule::point(Op::kConditionWait, this);
  std::uint32_t ticket = 0;
  if (!core_.enter(deadline, Scope::kThread, &ticket)) return false;
  int saved = 1;
  if (plain_) {
    plain_->release();
  } else {
    saved = rlock_->release_save();
  }
  const bool notified = core_.sleep(ticket, deadline, Scope::kThread);
  if (plain_) {
    plain_->acquire();
  } else {
    rlock_->acquire_restore(saved);
  }
  return notified;
}

void Condition::notify(int n) {
  if (!is_owned()) throw RuntimeError("cannot notify on un-acquired lock");
  schedule::point(Op::kConditionNotify, this);
  core_.notify(notify_count(n), Scope::kThread);
}

void Condition::notify_all() {
  if (!is_owned()) throw RuntimeError("cannot notify on un-acquired lock");
  schedule::point(Op::kConditionNotify, this);
  core_.notify(UINT32_MAX, Scope::kThread);
}

}  // namespace threading

// ---- mp::Condition ----------------------------------------------------------------

namespace mp {

Condition::Condition() : Condition(RLock()) {}

Condition::Condition(Lock lock)
    : plain_(std::move(lock)), core_(internal::make_shared_object<internal::ConditionCore>()) {}

Condition::Condition(RLock lock)
    : rlock_(std::move(lock)), core_(internal::make_shared_object<internal::ConditionCore>()) {}

bool Condition::acquire() { return plain_ ? plain_->acquire() : rlock_->acquire(); }

bool Condition::acquire(bool block, std::optional<internal::Seconds> timeout) {
  return plain_ ? plain_->acquire(block, timeout) : rlock_->acquire(block, timeout);
}

void Condition::release() {
  if (plain_) {
    plain_->release();
  } else {
    rlock_->release();
  }
}

bool Condition::is_mine() const noexcept {
  return plain_ ? plain_->core_->held_by(internal::this_thread_ids()) : rlock_->is_owned();
}

int Condition::waiting() const noexcept { return static_cast<int>(core_->waiting()); }

std::string Condition::repr() const {
  return "<Condition(" + (plain_ ? plain_->repr() : rlock_->repr()) + ", " +
         std::to_string(waiting()) + ")>";
}

bool Condition::wait(std::optional<internal::Seconds> timeout) {
  return wait_until(Deadline::from(timeout));
}

bool Condition::wait_until(const Deadline& deadline) {
  if (!is_mine()) throw AssertionError("must acquire() condition before using wait()");
  schedule::point(Op::kConditionWait, core_.get());
  std::uint32_t ticket = 0;
  if (!core_->enter(deadline, Scope::kProcess, &ticket)) return false;
  int saved = 1;
  if (plain_) {
    plain_->release();
  } else {
    saved = rlock_->release_save();
  }
  const bool notified = core_->sleep(ticket, deadline, Scope::kProcess);
  if (plain_) {
    plain_->acquire();
  } else {
    rlock_->acquire_restore(saved);
  }
  return notified;
}

void Condition::notify(int n) {
  if (!is_mine()) throw AssertionError("lock is not owned");
  schedule::point(Op::kConditionNotify, core_.get());
  core_->notify(notify_count(n), Scope::kProcess);
}

void Condition::notify_all() {
  if (!is_mine()) throw AssertionError("lock is not owned");
  schedule::point(Op::kConditionNotify, core_.get());
  core_->notify(UINT32_MAX, Scope::kProcess);
}

}  // namespace mp
}  // namespace racegate
