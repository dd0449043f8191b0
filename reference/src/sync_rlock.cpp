// RLock of racegate::threading (over a private LockCore) and racegate::mp
// (over a process-shared RobustLockCore), with CPython's checks and messages.
#include <string>

#include "racegate/errors.h"
#include "racegate/internal/shared_memory.h"
#include "racegate/internal/sync_ids.h"
#include "racegate/mp/rlock.h"
#include "racegate/schedule.h"
#include "racegate/threading/rlock.h"

namespace racegate {

using internal::Deadline;
using internal::Scope;
using schedule::Op;

// ---- threading::RLock ---------------------------------------------------------

namespace threading {

bool RLock::acquire() {
  schedule::point(Op::kRLockAcquire, this);
  const unsigned long long me = internal::this_thread_key();
  if (owner_.load(std::memory_order_relaxed) == me) {
    ++count_;
    return true;
  }
  core_.acquire(Deadline::never(), Scope::kThread);
  owner_.store(me, std::memory_order_relaxed);
  count_ = 1;
  return true;
}

bool RLock::acquire(bool blocking, std::optional<internal::Seconds> timeout) {
  if (!blocking && timeout) throw ValueError("can't specify a timeout for a non-blocking call");
  if (timeout && timeout->count() < 0) throw ValueError("timeout value must be positive");
  schedule::point(Op::kRLockAcquire, this);
  const unsigned long long me = internal::this_thread_key();
  if (owner_.load(std::memory_order_relaxed) == me) {
    ++count_;
    return true;
  }
  const bool ok = blocking ? core_.acquire(Deadline::from(timeout), Scope::kThread)
                           : core_.try_acquire();
  if (!ok) return false;
  owner_.store(me, std::memory_order_relaxed);
  count_ = 1;
  return true;
}

void RLock::release() {
  schedule::point(Op::kRLockRelease, this);
  if (owner_.load(std::memory_order_relaxed) != internal::this_thread_key() || count_ == 0) {
    throw RuntimeError("cannot release un-acquired lock");
  }
  if (--count_ == 0) {
    owner_.store(0, std::memory_order_relaxed);
    core_.release(Scope::kThread);
  }
}

bool RLock::is_owned() const noexcept {
  return owner_.load(std::memory_order_relaxed) == internal::this_thread_key();
}

int RLock::recursion_count() const noexcept { return is_owned() ? count_ : 0; }

int RLock::release_save() {
  schedule::point(Op::kRLockRelease, this);
  if (!is_owned()) throw RuntimeError("cannot release un-acquired lock");
  const int count = count_;
  count_ = 0;
  owner_.store(0, std::memory_order_relaxed);
  core_.release(Scope::kThread);
  return count;
}

void RLock::acquire_restore(int count) {
  schedule::point(Op::kRLockAcquire, this);
  core_.acquire(Deadline::never(), Scope::kThread);
  owner_.store(internal::this_thread_key(), std::memory_order_relaxed);
  count_ = count;
}

}  // namespace threading

// ---- mp::RLock ----------------------------------------------------------------

namespace internal {

// The shared state of an mp::RLock: the robust lock (owner pid and tid) and
// the recursion count, written by the owner only.
struct RLockShared {
  RobustLockCore core;
  std::atomic<std::int32_t> count{0};
};

}  // namespace internal

namespace mp {

namespace {

constexpr const char kNotOwned[] = "attempt to release recursive lock not owned by thread";

}  // namespace

RLock::RLock() : shared_(internal::make_shared_object<internal::RLockShared>()) {}

bool RLock::acquire() { return acquire(true); }

bool RLock::acquire(bool block, std::optional<internal::Seconds> timeout) {
  schedule::point(Op::kRLockAcquire, shared_.get());
  internal::RLockShared& s = *shared_;
  const internal::ThreadIds& me = internal::this_thread_ids();
  if (s.core.held_by(me)) {
    s.count.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  if (!block) {
    if (!s.core.try_acquire(me)) return false;
  } else {
    pid_t dead = 0;
    switch (s.core.acquire(Deadline::from(timeout), me, &dead)) {
      case internal::RobustLockCore::Acquired::kYes: break;
      case internal::RobustLockCore::Acquired::kTimedOut: return false;
      case internal::RobustLockCore::Acquired::kOwnerDied: internal::throw_owner_died(dead);
    }
  }
  s.count.store(1, std::memory_order_relaxed);
  return true;
}

void RLock::release() {
  schedule::point(Op::kRLockRelease, shared_.get());
  internal::RLockShared& s = *shared_;
  if (!s.core.held_by(internal::this_thread_ids())) throw AssertionError(kNotOwned);
  if (s.count.fetch_sub(1, std::memory_order_relaxed) == 1) s.core.release();
}

bool RLock::is_owned() const noexcept { return shared_->core.held_by(internal::this_thread_ids()); }

int RLock::count() const noexcept {
  return shared_->core.locked() ? shared_->count.load(std::memory_order_relaxed) : 0;
}

pid_t RLock::owner_pid() const noexcept { return shared_->core.owner(); }

bool RLock::locked() const noexcept { return shared_->core.locked(); }

std::string RLock::repr() const {
  const std::string name = internal::holder_name(shared_->core);
  std::string count;
  if (name == "None") {
    count = "0";
  } else if (name.rfind("SomeOther", 0) == 0) {
    count = "nonzero";
  } else {
    count = std::to_string(shared_->count.load(std::memory_order_relaxed));
  }
  return "<RLock(" + name + ", " + count + ")>";
}

int RLock::release_save() {
  schedule::point(Op::kRLockRelease, shared_.get());
  internal::RLockShared& s = *shared_;
  if (!s.core.held_by(internal::this_thread_ids())) throw AssertionError(kNotOwned);
  const int count = s.count.exchange(0, std::memory_order_relaxed);
  s.core.release();
  return count;
}

void RLock::acquire_restore(int count) {
  schedule::point(Op::kRLockAcquire, shared_.get());
  internal::RLockShared& s = *shared_;
  pid_t dead = 0;
  if (s.core.acquire(Deadline::never(), internal::this_thread_ids(), &dead) ==
      internal::RobustLockCore::Acquired::kOwnerDied) {
    internal::throw_owner_died(dead);
  }
  s.count.store(count, std::memory_order_relaxed);
}

}  // namespace mp
}  // namespace racegate
