// racegate::aio — futures, the task step (Task.__step), gather, sleep and
// the helpers of wait_for. See racegate/aio/loop.h for the model.
#include <atomic>
#include <cmath>
#include <exception>
#include <memory>
#include <string>
#include <utility>

#include "racegate/aio/future.h"
#include "racegate/aio/gather.h"
#include "racegate/aio/loop.h"
#include "racegate/aio/task.h"
#include "racegate/aio/wait_for.h"
#include "racegate/errors.h"
#include "racegate/schedule.h"

namespace racegate::aio {

namespace {

std::atomic<std::uint64_t> g_never_awaited{0};

bool is_cancelled_error(const std::exception_ptr& ep) {
  if (!ep) return false;
  try {
    std::rethrow_exception(ep);
  } catch (const CancelledError&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

std::uint64_t never_awaited_count() noexcept {
  return g_never_awaited.load(std::memory_order_relaxed);
}

namespace internal {

void note_never_awaited() noexcept { g_never_awaited.fetch_add(1, std::memory_order_relaxed); }

// ---------------------------------------------------------------- FutureBase

bool FutureBase::cancel(const std::string& message) {
  if (state_ != State::kPending) return false;
  finish_cancelled(message);
  return true;
}

void FutureBase::check_result() const {
  switch (state_) {
    case State::kPending:
      throw InvalidStateError("Result is not set.");
    case State::kCancelled:
      throw make_cancelled_error();
    case State::kFinished:
      if (exception_) std::rethrow_exception(exception_);
      return;
  }
}

std::exception_ptr FutureBase::exception() const {
  switch (state_) {
    case State::kPending:
      throw InvalidStateError("Exception is not set.");
    case State::kCancelled:
      throw make_cancelled_error();
    case State::kFinished:
      break;
  }
  return exception_;
}

std::uint64_t FutureBase::add_done_callback(Callback cb) {
  const std::uint64_t id = next_callback_id_++;
  if (done()) {
    loop_->enqueue([self = shared_from_this(), cb = std::move(cb)] { cb(*self); });
  } else {
    callbacks_.emplace_back(id, std::move(cb));
  }
  return id;
}

std::size_t FutureBase::remove_done_callback(std::uint64_t id) noexcept {
  const auto before = callbacks_.size();
  std::erase_if(callbacks_, [id](const auto& entry) { return entry.first == id; });
  return before - callbacks_.size();
}

void FutureBase::check_settable(bool) const {
  if (done()) throw InvalidStateError("invalid state");
}

void FutureBase::finish_result() {
  if (done()) throw InvalidStateError("invalid state");
  state_ = State::kFinished;
  schedule_callbacks();
}

void FutureBase::finish_exception(std::exception_ptr ep) {
  if (done()) throw InvalidStateError("invalid state");
  if (!ep) throw TypeError("exception must not be null");
  state_ = State::kFinished;
  exception_ = std::move(ep);
  schedule_callbacks();
}

void FutureBase::finish_cancelled(std::string message) {
  state_ = State::kCancelled;
  cancel_message_ = std::move(message);
  schedule_callbacks();
}

void FutureBase::schedule_callbacks() {
  auto callbacks = std::move(callbacks_);
  callbacks_.clear();
  for (auto& [id, cb] : callbacks) {
    loop_->enqueue([self = shared_from_this(), cb = std::move(cb)] { cb(*self); });
  }
}

// ------------------------------------------------------------------ TaskBase

bool TaskBase::cancel(const std::string& message) {
  if (done()) return false;
  // Cancelling the awaited future wakes the task with CancelledError. The
  // waiter is kept: a task that swallows the cancellation may need another.
  if (fut_waiter_ && fut_waiter_->cancel(message)) return true;
  must_cancel_ = true;
  must_cancel_message_ = message;
  return true;
}

void TaskBase::check_settable(bool exception) const {
  throw RuntimeError(exception ? "Task does not support set_exception operation"
                               : "Task does not support set_result operation");
}

void TaskBase::step(std::exception_ptr exc) {
  if (done() || !root_) return;
  auto self = std::static_pointer_cast<TaskBase>(shared_from_this());  // lives through the step
  if (must_cancel_) {
    if (!is_cancelled_error(exc)) exc = std::make_exception_ptr(CancelledError(must_cancel_message_));
    must_cancel_ = false;
  }
  fut_waiter_.reset();
  EventLoop& loop = this->loop();
  loop.current_task_ = this;
  schedule::point(schedule::Op::kAioTaskStep, this);
  if (!stepped_) {
    stepped_ = true;
    if (exc) {
      // Thrown into a coroutine that never started: its body never runs.
      loop.current_task_ = nullptr;
      release_frame(true);
      complete(exc);
      return;
    }
    resume_ = root_;
  } else {
    pending_throw_ = std::move(exc);
  }
  const auto h = std::exchange(resume_, {});
  if (h) h.resume();
  loop.current_task_ = nullptr;
  if (root_.done()) {
    std::exception_ptr ep = promise_->exception;
    if (!ep && must_cancel_) {
      // Cancelled right before the coroutine returned.
      must_cancel_ = false;
      ep = std::make_exception_ptr(CancelledError(must_cancel_message_));
    } else if (!ep) {
      harvest_value();
    }
    release_frame(false);
    complete(ep);
  } else if (must_cancel_ && fut_waiter_) {
    // cancel() ran while the task was running (e.g. it cancelled itself):
    // cancel what it now waits on.
    if (fut_waiter_->cancel(must_cancel_message_)) must_cancel_ = false;
  }
}

void TaskBase::complete(std::exception_ptr ep) {
  root_ = {};
  promise_ = nullptr;
  pending_throw_ = nullptr;
  loop().task_done(*this);
  if (!ep) {
    finish_result();
    return;
  }
  try {
    std::rethrow_exception(ep);
  } catch (const CancelledError& e) {
    finish_cancelled(e.what());
  } catch (...) {
    finish_exception(ep);
  }
}

void TaskBase::suspend_on(std::shared_ptr<FutureBase> fut, std::coroutine_handle<> h) {
  resume_ = h;
  auto self = std::static_pointer_cast<TaskBase>(shared_from_this());
  if (fut.get() == this) {
    auto e = std::make_exception_ptr(
        RuntimeError("Task cannot await on itself: <Task pending name='" + name_ + "'>"));
    loop().enqueue([self, e] { self->step(e); });
    return;
  }
  if (&fut->loop() != &loop()) {
    auto e = std::make_exception_ptr(RuntimeError(
        "Task <Task pending name='" + name_ + "'> got Future attached to a different loop"));
    loop().enqueue([self, e] { self->step(e); });
    return;
  }
  fut->add_done_callback([self](FutureBase&) { self->step(nullptr); });
  fut_waiter_ = std::move(fut);
}

void TaskBase::suspend_yield(std::coroutine_handle<> h) {
  resume_ = h;
  auto self = std::static_pointer_cast<TaskBase>(shared_from_this());
  loop().enqueue([self] { self->step(nullptr); });
}

void TaskBase::abandon() noexcept {
  fut_waiter_.reset();
  pending_throw_ = nullptr;
  resume_ = {};
  if (root_) {
    release_frame(false);
    root_ = {};
    promise_ = nullptr;
  }
  drop_callbacks();
}

TaskBase& current_task_or_throw() {
  EventLoop* loop = running_loop();
  if (loop == nullptr) throw RuntimeError("no running event loop");
  if (loop->current_task_ == nullptr) throw RuntimeError("no current task: only a task can await");
  return *loop->current_task_;
}

// ---------------------------------------------------------------- GatherBase

void GatherBase::start() {
  if (children_.empty()) {
    collect();
    finish_result();
    return;
  }
  std::weak_ptr<GatherBase> weak = std::static_pointer_cast<GatherBase>(shared_from_this());
  for (auto& child : children_) {
    child->add_done_callback([weak](FutureBase& c) {
      if (auto g = weak.lock()) g->on_child_done(c);
    });
  }
}

bool GatherBase::cancel(const std::string& message) {
  if (done()) return false;
  bool any = false;
  for (auto& child : children_) {
    if (child->cancel(message)) any = true;
  }
  // The gather finishes (with CancelledError) once every child is done.
  if (any) cancel_requested_ = true;
  return any;
}

void GatherBase::on_child_done(FutureBase& child) {
  ++finished_;
  if (done()) return;
  if (child.cancelled()) {
    finish_exception(std::make_exception_ptr(child.make_cancelled_error()));
    return;
  }
  if (auto ep = child.stored_exception()) {
    finish_exception(ep);
    return;
  }
  if (finished_ == children_.size()) {
    if (cancel_requested_) {
      finish_exception(std::make_exception_ptr(child.make_cancelled_error()));
      return;
    }
    collect();
    finish_result();
  }
}

// ------------------------------------------------------------ wait_for helper

Task<void> cancel_and_wait(std::shared_ptr<FutureBase> fut) {
  EventLoop& loop = get_running_loop();
  auto waiter = loop.create_future<void>();
  const auto id = fut->add_done_callback([w = FutureAccess::base(waiter)](FutureBase&) {
    if (!w->done()) w->finish_result();
  });
  struct RemoveCallback {
    std::shared_ptr<FutureBase> fut;
    std::uint64_t id;
    ~RemoveCallback() { fut->remove_done_callback(id); }
  } remove{fut, id};
  fut->cancel(std::string());
  co_await waiter;
}

}  // namespace internal

// --------------------------------------------------------------------- sleep

Task<void> sleep(Delay delay) {
  if (std::isnan(delay.seconds)) throw ValueError("Invalid delay: NaN (not a number)");
  if (!(delay.seconds > 0)) {
    co_await internal::YieldAwaiter{};
    co_return;
  }
  EventLoop& loop = get_running_loop();
  auto fut = loop.create_future<void>();
  struct TimerGuard {
    Handle h;
    ~TimerGuard() { h.cancel(); }
  } guard{loop.call_later(delay, [f = internal::FutureAccess::base(fut)] {
    if (!f->done()) f->finish_result();
  })};
  co_await fut;
}

}  // namespace racegate::aio
