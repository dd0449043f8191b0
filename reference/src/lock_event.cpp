// Lock and Event of racegate::threading and racegate::mp: thin wrappers over
// internal::LockCore / EventCore with CPython's argument checks and messages.
#include <unistd.h>

#include "racegate/errors.h"
#include "racegate/internal/shared_memory.h"
#include "racegate/internal/sync_ids.h"
#include "racegate/mp/event.h"
#include "racegate/mp/lock.h"
#include "racegate/schedule.h"
#include "racegate/threading/event.h"
#include "racegate/threading/lock.h"

namespace racegate {

using internal::Deadline;
using internal::Scope;
using schedule::Op;

namespace threading {

bool Lock::acquire() {
  schedule::point(Op::kLockAcquire, this);
  return core_.acquire(Deadline::never(), Scope::kThread);
}

bool Lock::acquire(bool blocking, std::optional<internal::Seconds> timeout) {
  if (!blocking && timeout) {
    throw ValueError("can't specify a timeout for a non-blocking call");
  }
  if (timeout && timeout->count() < 0) {
    throw ValueError("timeout value must be positive");
  }
  schedule::point(Op::kLockAcquire, this);
  if (!blocking) return core_.try_acquire();
  return core_.acquire(Deadline::from(timeout), Scope::kThread);
}

void Lock::release() {
  schedule::point(Op::kLockRelease, this);
  if (!core_.release(Scope::kThread)) throw RuntimeError("release unlocked lock");
}

void Event::set() noexcept {
  schedule::point(Op::kEventSet, this);
  core_.set(Scope::kThread);
}

void Event::clear() noexcept {
  schedule::point(Op::kEventClear, this);
  core_.clear();
}

bool Event::wait(std::optional<internal::Seconds> timeout) noexcept {
  schedule::point(Op::kEventWait, this);
  return core_.wait(Deadline::from(timeout), Scope::kThread);
}

}  // namespace threading

namespace mp {

Lock::Lock() : core_(internal::make_shared_object<internal::RobustLockCore>()) {}

bool Lock::acquire() {
  schedule::point(Op::kLockAcquire, core_.get());
  pid_t dead = 0;
  if (core_->acquire(Deadline::never(), internal::this_thread_ids(), &dead) ==
      internal::RobustLockCore::Acquired::kOwnerDied) {
    internal::throw_owner_died(dead);
  }
  return true;
}

bool Lock::acquire(bool block, std::optional<internal::Seconds> timeout) {
  schedule::point(Op::kLockAcquire, core_.get());
  const internal::ThreadIds& me = internal::this_thread_ids();
  if (!block) return core_->try_acquire(me);
  pid_t dead = 0;
  switch (core_->acquire(Deadline::from(timeout), me, &dead)) {
    case internal::RobustLockCore::Acquired::kYes: return true;
    case internal::RobustLockCore::Acquired::kTimedOut: return false;
    case internal::RobustLockCore::Acquired::kOwnerDied: break;
  }
  internal::throw_owner_died(dead);
}

void Lock::release() {
  schedule::point(Op::kLockRelease, core_.get());
  if (!core_->release()) {
    throw ValueError("semaphore or lock released too many times");
  }
}

pid_t Lock::owner_pid() const noexcept { return core_->owner(); }

std::string Lock::repr() const { return "<Lock(owner=" + internal::holder_name(*core_) + ")>"; }

Event::Event() : core_(internal::make_shared_object<internal::EventCore>()) {}

void Event::set() noexcept {
  schedule::point(Op::kEventSet, core_.get());
  core_->set(Scope::kProcess);
}

void Event::clear() noexcept {
  schedule::point(Op::kEventClear, core_.get());
  core_->clear();
}

bool Event::wait(std::optional<internal::Seconds> timeout) noexcept {
  schedule::point(Op::kEventWait, core_.get());
  return core_->wait(Deadline::from(timeout), Scope::kProcess);
}

}  // namespace mp

const char* schedule::op_name(Op op) noexcept {
  switch (op) {
    case Op::kLockAcquire: return "lock.acquire";
    case Op::kLockRelease: return "lock.release";
    case Op::kEventSet: return "event.set";
    case Op::kEventClear: return "event.clear";
    case Op::kEventWait: return "event.wait";
    case Op::kThreadStart: return "thread.start";
    case Op::kThreadJoin: return "thread.join";
    case Op::kProcessStart: return "process.start";
    case Op::kProcessJoin: return "process.join";
    case Op::kRLockAcquire: return "rlock.acquire";
    case Op::kRLockRelease: return "rlock.release";
    case Op::kSemaphoreAcquire: return "semaphore.acquire";
    case Op::kSemaphoreRelease: return "semaphore.release";
    case Op::kConditionWait: return "condition.wait";
    case Op::kConditionNotify: return "condition.notify";
    case Op::kBarrierWait: return "barrier.wait";
    case Op::kBarrierReset: return "barrier.reset";
    case Op::kBarrierAbort: return "barrier.abort";
    case Op::kAioTaskStep: return "aio.task_step";
    case Op::kQueuePut: return "queue.put";
    case Op::kQueueGet: return "queue.get";
    case Op::kConnectionSend: return "connection.send";
    case Op::kConnectionRecv: return "connection.recv";
  }
  return "unknown";
}

}  // namespace racegate
