// racegate/aio/future.h — aio::Future<T>: asyncio.Future, a result that will
// be set later, and the core that aio::TaskHandle<T> (asyncio.Task) shares.
//
// A Future is created pending by `loop.create_future<T>()` and becomes done
// exactly once: with a result (`set_result`), an exception (`set_exception`),
// or by `cancel()`. `co_await fut` suspends the awaiting task until it is done
// and then returns the result, rethrows the exception, or throws
// racegate::CancelledError. Done callbacks (`add_done_callback`) never run
// inside the call that completes the future: they are scheduled on the loop
// (`call_soon`), in registration order, as in CPython. A task waiting on a
// future therefore resumes in the loop iteration after the one that completed
// it.
//
// Errors (CPython's messages): `result()` of a pending future throws
// aio::InvalidStateError("Result is not set."), `exception()` of a pending one
// InvalidStateError("Exception is not set."); completing a done future throws
// InvalidStateError("invalid state"); `result()` and `exception()` of a
// cancelled future throw CancelledError carrying the cancel message.
//
// Handles: aio::Future<T> is a cheap, copyable handle to shared state; copies
// see the same future. `Future<void>` can view any `Future<U>` (awaiting it
// waits and discards the value), which is what `aio::current_task()` returns.
//
// Memory ordering / thread-safety: none across threads. A future belongs to
// its loop's thread; every member must be called on that thread (or while no
// loop runs it). There is no call_soon_threadsafe.
//
// Lifetime: the state lives while a handle, a callback or the loop refers to
// it. A result is kept until the last handle goes, so `result()` may be read
// any number of times (move-only results are moved out by the first await).
#pragma once

#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>
#include <vector>

#include "racegate/aio/task.h"
#include "racegate/errors.h"

namespace racegate::aio {

class EventLoop;

// asyncio.InvalidStateError: an operation not allowed in the future's state.
class InvalidStateError : public Error {
 public:
  using Error::Error;
  [[nodiscard]] const char* python_type() const noexcept override { return "InvalidStateError"; }
};

template <class T = void>
class Future;
template <class T = void>
class TaskHandle;

namespace internal {

// FutureBase: the state of every future, typed or not. Internal.
class FutureBase : public std::enable_shared_from_this<FutureBase> {
 public:
  using Callback = std::function<void(FutureBase&)>;

  FutureBase(EventLoop& loop, const std::type_info& value_type) noexcept
      : loop_(&loop), value_type_(&value_type) {}
  virtual ~FutureBase() = default;
  FutureBase(const FutureBase&) = delete;
  FutureBase& operator=(const FutureBase&) = delete;

  [[nodiscard]] EventLoop& loop() const noexcept { return *loop_; }
  [[nodiscard]] const std::type_info& value_type() const noexcept { return *value_type_; }
  [[nodiscard]] bool done() const noexcept { return state_ != State::kPending; }
  [[nodiscard]] bool cancelled() const noexcept { return state_ == State::kCancelled; }
  [[nodiscard]] bool failed() const noexcept { return state_ == State::kFinished && exception_; }

  // Cancels a pending future (true) or does nothing to a done one (false).
  virtual bool cancel(const std::string& message);

  // Throws what result() would throw; returns normally when a result is set.
  void check_result() const;
  // CPython's Future.exception(): the exception, or null for a result.
  [[nodiscard]] std::exception_ptr exception() const;
  // The stored exception of a finished future (null otherwise). No checks.
  [[nodiscard]] std::exception_ptr stored_exception() const noexcept { return exception_; }
  [[nodiscard]] CancelledError make_cancelled_error() const { return CancelledError(cancel_message_); }

  std::uint64_t add_done_callback(Callback cb);
  std::size_t remove_done_callback(std::uint64_t id) noexcept;

  // Throws when the future may not be completed now (done, or a task).
  virtual void check_settable(bool exception) const;
  // Marks a pending future finished with the result already stored in its slot.
  void finish_result();
  void finish_exception(std::exception_ptr ep);
  void set_exception(std::exception_ptr ep) {
    check_settable(true);
    finish_exception(std::move(ep));
  }
  // Drops every callback unrun (loop teardown).
  void drop_callbacks() noexcept { callbacks_.clear(); }

 protected:
  void finish_cancelled(std::string message);

 private:
  enum class State : std::uint8_t { kPending, kCancelled, kFinished };
  void schedule_callbacks();

  EventLoop* loop_;
  const std::type_info* value_type_;
  State state_ = State::kPending;
  std::exception_ptr exception_;
  std::string cancel_message_;
  std::vector<std::pair<std::uint64_t, Callback>> callbacks_;
  std::uint64_t next_callback_id_ = 1;
};

template <class T>
struct ResultSlot {
  std::optional<T> value;
};
template <>
struct ResultSlot<void> {};

template <class T>
class FutureState final : public FutureBase, public ResultSlot<T> {
 public:
  explicit FutureState(EventLoop& loop) noexcept : FutureBase(loop, typeid(T)) {}
};

// A result as an await hands it out: copied while copyable, else moved.
template <class T>
T extract(ResultSlot<T>& slot) {
  if constexpr (std::is_copy_constructible_v<T>) {
    return *slot.value;
  } else {
    return std::move(*slot.value);
  }
}

// TaskBase: the type-independent part of a scheduled task (asyncio.Task):
// steps the coroutine on the loop, tracks the future it waits on, delivers
// cancellation. Internal; see TaskHandle in racegate/aio/loop.h.
class TaskBase : public FutureBase {
 public:
  TaskBase(EventLoop& loop, const std::type_info& value_type, std::coroutine_handle<> root,
           PromiseBase& promise) noexcept
      : FutureBase(loop, value_type), root_(root), promise_(&promise) {}

  bool cancel(const std::string& message) override;
  void check_settable(bool exception) const override;

  [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

  // One step of the coroutine (Task.__step): runs it until it suspends or
  // ends. `exc` is thrown into it at its suspension point.
  void step(std::exception_ptr exc);
  // Called by an awaiter that suspends the task until `fut` is done.
  void suspend_on(std::shared_ptr<FutureBase> fut, std::coroutine_handle<> h);
  // Called by an awaiter that yields to the loop for one iteration (sleep(0)).
  void suspend_yield(std::coroutine_handle<> h);
  // Called by every awaiter when the task resumes: throws what the loop threw
  // into the task (a CancelledError).
  void take_pending_throw() {
    if (auto e = std::exchange(pending_throw_, nullptr)) std::rethrow_exception(e);
  }
  // Loop teardown: destroys the frame of a task that never finished.
  void abandon() noexcept;

 protected:
  virtual void harvest_value() = 0;
  virtual void release_frame(bool quietly) noexcept = 0;

 private:
  friend class racegate::aio::EventLoop;
  void complete(std::exception_ptr ep);

  std::coroutine_handle<> root_;
  PromiseBase* promise_;
  std::coroutine_handle<> resume_;
  std::shared_ptr<FutureBase> fut_waiter_;
  std::exception_ptr pending_throw_;
  std::string must_cancel_message_;
  bool must_cancel_ = false;
  bool stepped_ = false;
  std::uint64_t id_ = 0;
  std::string name_;
};

// The task the running loop of this thread is stepping. Throws
// RuntimeError("no running event loop") outside a running loop.
TaskBase& current_task_or_throw();

// co_await on a future: suspends the current task until the future is done.
template <class T>
class FutureAwaiter {
 public:
  FutureAwaiter(std::shared_ptr<FutureBase> fut, ResultSlot<T>* slot) noexcept
      : fut_(std::move(fut)), slot_(slot) {}
  bool await_ready() const noexcept { return fut_->done(); }
  void await_suspend(std::coroutine_handle<> h) {
    task_ = &current_task_or_throw();
    task_->suspend_on(fut_, h);
  }
  T await_resume() {
    if (task_) task_->take_pending_throw();
    fut_->check_result();
    if constexpr (!std::is_void_v<T>) return extract(*slot_);
  }

 private:
  std::shared_ptr<FutureBase> fut_;
  ResultSlot<T>* slot_;
  TaskBase* task_ = nullptr;
};

// co_await YieldAwaiter{}: gives the loop one iteration (asyncio.sleep(0)).
struct YieldAwaiter {
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    task_ = &current_task_or_throw();
    task_->suspend_yield(h);
  }
  void await_resume() { task_->take_pending_throw(); }
  TaskBase* task_ = nullptr;
};

struct FutureAccess;

}  // namespace internal

template <class T>
class Future {
 public:
  using value_type = T;

  // An empty handle (no future). Every member but `valid()` requires a future.
  Future() noexcept = default;

  // A Future<void> view of a typed future: waits for it, ignores its value.
  template <class U>
    requires(std::is_void_v<T> && !std::is_void_v<U>)
  Future(const Future<U>& other) noexcept : base_(other.base_), slot_(nullptr) {}

  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(base_); }

  // Future::done(): finished with a result or an exception, or cancelled.
  [[nodiscard]] bool done() const noexcept { return base_->done(); }
  // Future::cancelled(): whether it was cancelled.
  [[nodiscard]] bool cancelled() const noexcept { return base_->cancelled(); }

  // Future::cancel(msg)
  //
  // Cancels a pending future and schedules its callbacks; returns false (and
  // does nothing) when it is already done. For a task, see TaskHandle.
  bool cancel(const std::string& message = {}) { return base_->cancel(message); }

  // Future::result(): the result; throws the exception it finished with,
  // CancelledError if cancelled, InvalidStateError("Result is not set.") if
  // pending.
  [[nodiscard]] decltype(auto) result() const {
    base_->check_result();
    if constexpr (!std::is_void_v<T>) {
      return static_cast<const T&>(*slot_->value);
    }
  }

  // Future::exception(): the exception it finished with (null for a result);
  // CancelledError if cancelled, InvalidStateError if pending.
  [[nodiscard]] std::exception_ptr exception() const { return base_->exception(); }

  // Future::set_result(v): finishes a pending future with `v`; throws
  // InvalidStateError("invalid state") when done, RuntimeError for a task.
  template <class U = T>
    requires(!std::is_void_v<T>)
  void set_result(U&& v) {
    base_->check_settable(false);
    slot_->value.emplace(std::forward<U>(v));
    base_->finish_result();
  }
  void set_result()
    requires std::is_void_v<T>
  {
    if (base_->value_type() != typeid(void)) {
      throw TypeError("set_result() without a value on a future of a non-void type");
    }
    base_->check_settable(false);
    base_->finish_result();
  }
  // Future::set_exception(e): finishes a pending future with an exception.
  void set_exception(std::exception_ptr e) { base_->set_exception(std::move(e)); }
  template <class E>
    requires(!std::is_same_v<std::decay_t<E>, std::exception_ptr>)
  void set_exception(E&& e) {
    set_exception(std::make_exception_ptr(std::forward<E>(e)));
  }

  // Future::add_done_callback(cb): `cb(future)` is scheduled on the loop
  // (call_soon) when the future becomes done, or at once if it already is;
  // it never runs inside this call. Returns an id for remove_done_callback.
  std::uint64_t add_done_callback(std::function<void(Future<T>)> cb) {
    return base_->add_done_callback(
        [cb = std::move(cb), slot = slot_](internal::FutureBase& b) {
          cb(Future<T>(b.shared_from_this(), slot));
        });
  }
  // Future::remove_done_callback(id): how many callbacks were removed (0 or 1).
  std::size_t remove_done_callback(std::uint64_t id) noexcept {
    return base_->remove_done_callback(id);
  }

  [[nodiscard]] EventLoop& get_loop() const noexcept { return base_->loop(); }

  internal::FutureAwaiter<T> operator co_await() const noexcept { return {base_, slot_}; }

  // Two handles are equal when they name the same future.
  friend bool operator==(const Future& a, const Future& b) noexcept { return a.base_ == b.base_; }

 protected:
  Future(std::shared_ptr<internal::FutureBase> base, internal::ResultSlot<T>* slot) noexcept
      : base_(std::move(base)), slot_(slot) {}

  template <class>
  friend class Future;
  friend struct internal::FutureAccess;

  std::shared_ptr<internal::FutureBase> base_;
  internal::ResultSlot<T>* slot_ = nullptr;
};

namespace internal {

struct FutureAccess {
  template <class T>
  static Future<T> make(std::shared_ptr<FutureBase> base, ResultSlot<T>* slot) noexcept {
    return Future<T>(std::move(base), slot);
  }
  template <class T>
  static const std::shared_ptr<FutureBase>& base(const Future<T>& f) noexcept {
    return f.base_;
  }
  template <class T>
  static ResultSlot<T>* slot(const Future<T>& f) noexcept {
    return f.slot_;
  }
};

}  // namespace internal
}  // namespace racegate::aio
