// racegate/aio/task.h — aio::Task<T>: a coroutine, as `async def` makes one.
//
// A function returning `racegate::aio::Task<T>` and using `co_await` or
// `co_return` is a coroutine. Calling it creates the coroutine object and does
// nothing else: the body does not run until the object is awaited
// (`co_await f()`, Python's `await f()`) or made a task
// (`aio::create_task(f())`). A Task that is destroyed without ever having
// started never runs its body (catalog asyncio.coroutine_not_run); CPython
// warns "coroutine '...' was never awaited" then, racegate counts it in
// `aio::never_awaited_count()`. The class is [[nodiscard]], so dropping one
// on the floor is also a compile-time warning.
//
//   aio::Task<int> answer() { co_await aio::sleep(1); co_return 42; }
//   aio::Task<void> main_() { int x = co_await answer(); ... }
//
// Awaiting a Task runs it inline, in the awaiting task: it does not yield to
// the event loop unless its body does (Python's `await coro`). Its result is
// the value of `co_return`; an exception escaping its body is rethrown by the
// `co_await`. A Task can be awaited (or made a task) once: a second attempt
// throws RuntimeError("cannot reuse already awaited coroutine").
//
// Python's names map as follows: a Python coroutine object is an aio::Task<T>;
// a Python asyncio.Task (a scheduled coroutine) is an aio::TaskHandle<T>,
// returned by aio::create_task (see racegate/aio/loop.h).
//
// Lifetime: a Task owns its coroutine frame and destroys it in its destructor
// (after a run to completion, or while suspended). Arguments a coroutine takes
// by reference, and the captures of a coroutine lambda, must outlive its run:
// pass by value what a task keeps (the usual C++ coroutine rule).
//
// Only racegate::aio awaitables may suspend a Task (sleep, Future, TaskHandle,
// gather, wait_for, other Tasks). A foreign awaitable that suspends the
// coroutine without telling the loop leaves the task suspended for ever.
//
// Memory ordering / thread-safety: a Task belongs to the thread of the loop
// that runs it; it is not thread-safe and needs no synchronization, because
// one loop runs one task at a time on one thread. A not-yet-started Task may
// be moved to another thread.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "racegate/errors.h"

namespace racegate::aio {

template <class T = void>
class Task;

// never_awaited_count(): how many coroutines (aio::Task objects) this process
// destroyed without ever starting them: CPython's "RuntimeWarning: coroutine
// '...' was never awaited". Thread-safe.
std::uint64_t never_awaited_count() noexcept;

namespace internal {

void note_never_awaited() noexcept;
struct TaskAccess;

// The part of a Task's promise that does not depend on T.
struct PromiseBase {
  std::coroutine_handle<> continuation{};  // the awaiting coroutine, when awaited inline
  std::exception_ptr exception{};          // what escaped the body
  bool started = false;                    // the body began to run

  struct InitialAwaiter {
    PromiseBase* promise;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) const noexcept {}
    void await_resume() const noexcept { promise->started = true; }
  };
  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) const noexcept {
      // Back to the awaiting coroutine (symmetric transfer), or, for the root
      // coroutine of a loop task, back to the loop.
      if (auto c = h.promise().continuation) return c;
      return std::noop_coroutine();
    }
    void await_resume() const noexcept {}
  };

  InitialAwaiter initial_suspend() noexcept { return InitialAwaiter{this}; }
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { exception = std::current_exception(); }
};

template <class T>
struct Promise : PromiseBase {
  std::optional<T> value;
  Task<T> get_return_object() noexcept;
  template <class U = T>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
};

template <>
struct Promise<void> : PromiseBase {
  Task<void> get_return_object() noexcept;
  void return_void() noexcept {}
};

}  // namespace internal

template <class T>
class [[nodiscard]] Task {
 public:
  using promise_type = internal::Promise<T>;
  using value_type = T;
  using handle_type = std::coroutine_handle<promise_type>;

  // An empty Task (no coroutine), as left behind by a move.
  Task() noexcept = default;
  Task(Task&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      reset();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() { reset(); }

  // Task::valid(): whether this object holds a coroutine.
  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(h_); }

  // Task::started(): whether the body has begun to run.
  [[nodiscard]] bool started() const noexcept { return h_ && h_.promise().started; }

  // Task::done(): whether the body has finished (returned or thrown).
  [[nodiscard]] bool done() const noexcept { return h_ && h_.done(); }

  // co_await task: runs the coroutine inline and yields its result (or
  // rethrows its exception).
  class Awaiter {
   public:
    explicit Awaiter(handle_type h) noexcept : h_(h) {}
    bool await_ready() const {
      if (!h_ || h_.promise().started) {
        throw RuntimeError("cannot reuse already awaited coroutine");
      }
      return false;
    }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
      h_.promise().continuation = awaiting;
      return h_;
    }
    T await_resume() {
      auto& p = h_.promise();
      if (p.exception) std::rethrow_exception(p.exception);
      if constexpr (!std::is_void_v<T>) return std::move(*p.value);
    }

   private:
    handle_type h_;
  };
  Awaiter operator co_await() & noexcept { return Awaiter{h_}; }
  Awaiter operator co_await() && noexcept { return Awaiter{h_}; }

 private:
  friend struct internal::TaskAccess;
  friend struct internal::Promise<T>;
  explicit Task(handle_type h) noexcept : h_(h) {}

  void reset(bool count_never_awaited = true) noexcept {
    if (!h_) return;
    if (count_never_awaited && !h_.promise().started) internal::note_never_awaited();
    std::exchange(h_, {}).destroy();
  }

  handle_type h_{};
};

namespace internal {

template <class T>
Task<T> Promise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline Task<void> Promise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}

// Access to a Task's frame for the loop (racegate/aio/loop.h).
struct TaskAccess {
  template <class T>
  static typename Task<T>::handle_type handle(const Task<T>& t) noexcept {
    return t.h_;
  }
  // Destroys the frame without counting it as never awaited (a task that was
  // cancelled before its first step: CPython throws into the coroutine, which
  // closes it without a warning).
  template <class T>
  static void destroy_quietly(Task<T>& t) noexcept {
    t.reset(false);
  }
};

}  // namespace internal
}  // namespace racegate::aio
