// racegate/aio/loop.h — the event loop: asyncio.run, create_task, sleep, the
// loop's clock, and aio::TaskHandle<T> (asyncio.Task).
//
//   aio::Task<void> say_after(double delay, std::string what) {
//     co_await aio::sleep(delay);
//     std::cout << what << '\n';
//   }
//   aio::Task<void> main_() {
//     auto t1 = aio::create_task(say_after(1, "hello"));
//     auto t2 = aio::create_task(say_after(2, "world"));
//     co_await t1;
//     co_await t2;                          // 2 s in all, not 3
//   }
//   aio::run(main_());                      // real clock: really waits 2 s
//   aio::run(main_(), aio::Clock::virtual_time());   // instant; loop.time() == 2.0 at the end
//
// Scheduling (CPython's, step for step). The loop has a FIFO of ready
// callbacks and a heap of timers. One iteration moves every expired timer to
// the ready FIFO and runs the callbacks that were ready when it began;
// callbacks they schedule run in the next iteration. When nothing is ready it
// waits for the earliest timer. A task is stepped by a ready callback: its
// coroutine runs until it awaits something that is not done, then the loop
// moves on. So:
//   - `create_task(coro)` schedules the first step; the body does not run until
//     the creating coroutine yields to the loop (catalog
//     asyncio.create_task_deferred). Tasks start in creation order.
//   - a task waiting on a future resumes in the iteration after the future
//     completes; `sleep(0)` yields for exactly one iteration.
//   - a blocking call inside a coroutine (std::this_thread::sleep_for,
//     aio::blocking_sleep) blocks every task: timers that expire meanwhile run
//     only when the loop gets control back (catalog
//     asyncio.blocking_sleep_blocks_loop).
//
// Clocks. `Clock::real()` is the monotonic clock: sleeps really wait.
// `Clock::virtual_time(start)` starts `loop.time()` at `start` (0 by default)
// and moves it only (a) to the earliest timer when nothing is ready, at once,
// and (b) by the duration of an aio::blocking_sleep. Timings are then exact and
// instant: the seeds' "why 4 seconds" program ends at loop.time() == 4.0
// (times are kept in integer nanoseconds, so sums of delays are exact).
// std::this_thread::sleep_for under a virtual clock blocks for real and does
// not move virtual time.
//
// Deadlock (beyond CPython, which blocks for ever): when no callback is ready,
// no timer is pending and the awaited future is not done, nothing can ever
// happen (the loop has no I/O and no cross-thread entry), so the loop throws
// RuntimeError("event loop deadlock: no task can make progress (every task
// waits and no callback or timer is pending)").
//
// Cancellation. `task.cancel(msg)` asks the task to stop: the future the task
// waits on is cancelled (a sleep's, an awaited task — which cancels that task
// in turn — or a gather's children), and the task resumes with
// racegate::CancelledError thrown at its `co_await`. A task that has not
// started never runs its body. A coroutine may catch CancelledError (and then
// the task is not cancelled); a task whose coroutine lets it escape ends
// cancelled. `cancel()` returns false for a task that is done.
//
// Exceptions propagate through `co_await` of a coroutine, a task and a future;
// a task that ends with an exception keeps it for `result()`/`co_await`
// (CPython's "Task exception was never retrieved" log is not reproduced).
//
// Schedule points: every task step calls
// racegate::schedule::point(Op::kAioTaskStep, task) before it resumes the
// coroutine.
//
// Memory ordering / thread-safety: none across threads. A loop, its tasks and
// futures belong to the thread that runs the loop; every call on them must be
// made on that thread. Different threads may run different loops at the same
// time (the running loop is per thread, as in CPython); `never_awaited_count()`
// is the only state shared between them. There is no call_soon_threadsafe.
//
// Lifetime: `run()` owns its loop; after `main` ends it cancels every task
// still pending and runs the loop until they finish (asyncio.run's
// _cancel_all_tasks), so no coroutine frame outlives it. A hand-made EventLoop
// destroys, unrun, the frames of tasks still pending when it is destroyed.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "racegate/aio/future.h"
#include "racegate/aio/task.h"
#include "racegate/errors.h"

namespace racegate::aio {

// Delay: a number of seconds, from a number (`sleep(1)`, `sleep(0.5)`) or any
// std::chrono duration (`sleep(500ms)`).
struct Delay {
  double seconds;
  Delay(double s) noexcept : seconds(s) {}  // NOLINT: implicit by design
  template <class Rep, class Period>
  Delay(std::chrono::duration<Rep, Period> d) noexcept  // NOLINT: implicit by design
      : seconds(std::chrono::duration<double>(d).count()) {}
};

// Clock: the time base of a loop.
class Clock {
 public:
  // The monotonic clock (CPython's time.monotonic): sleeps really wait.
  static Clock real() noexcept { return Clock(false, 0); }
  // A virtual clock starting at `start` seconds (see the file comment).
  static Clock virtual_time(double start = 0.0);

  [[nodiscard]] bool is_virtual() const noexcept { return virtual_; }

 private:
  friend class EventLoop;
  Clock(bool is_virtual, std::int64_t start_ns) noexcept : virtual_(is_virtual), start_ns_(start_ns) {}
  bool virtual_;
  std::int64_t start_ns_;
};

namespace internal {
struct CallbackEntry;
class GatherBase;
}  // namespace internal

// Handle: a callback scheduled with call_soon, call_later or call_at
// (asyncio.Handle / TimerHandle).
class Handle {
 public:
  Handle() noexcept = default;
  // Handle::cancel(): the callback will not run (no effect once it ran).
  void cancel() noexcept;
  [[nodiscard]] bool cancelled() const noexcept;
  // Handle::when(): the loop time a timer is due at; empty for call_soon.
  [[nodiscard]] std::optional<double> when() const noexcept;

 private:
  friend class EventLoop;
  explicit Handle(std::shared_ptr<internal::CallbackEntry> e) noexcept : entry_(std::move(e)) {}
  std::shared_ptr<internal::CallbackEntry> entry_;
};

namespace internal {

template <class T>
class TaskState final : public TaskBase, public ResultSlot<T> {
 public:
  TaskState(EventLoop& loop, Task<T> coro) noexcept
      : TaskBase(loop, typeid(T), TaskAccess::handle(coro), TaskAccess::handle(coro).promise()),
        coro_(std::move(coro)) {}

 private:
  void harvest_value() override {
    if constexpr (!std::is_void_v<T>) {
      this->value.emplace(std::move(*TaskAccess::handle(coro_).promise().value));
    }
  }
  void release_frame(bool quietly) noexcept override {
    if (quietly) {
      TaskAccess::destroy_quietly(coro_);
    } else {
      coro_ = Task<T>();
    }
  }
  Task<T> coro_;
};

}  // namespace internal

// TaskHandle<T>: a scheduled coroutine (asyncio.Task), returned by
// create_task. It is a Future<T>: `co_await h` waits for the task and returns
// its result (or rethrows its exception, or throws CancelledError if it was
// cancelled); `done()`, `result()`, `cancel(msg)`, callbacks as for futures.
// The loop keeps a task alive until it is done, even when no handle remains
// (unlike CPython, which keeps only a weak reference). `set_result` and
// `set_exception` throw RuntimeError("Task does not support set_result
// operation") / ("... set_exception operation"), as in CPython.
template <class T>
class TaskHandle : public Future<T> {
 public:
  TaskHandle() noexcept = default;
  // A TaskHandle<void> view of any task (what current_task() returns).
  template <class U>
    requires(std::is_void_v<T> && !std::is_void_v<U>)
  TaskHandle(const TaskHandle<U>& other) noexcept : Future<T>(other) {}

  // TaskHandle::get_name(): "Task-N" (N counts tasks in the process) unless set.
  [[nodiscard]] const std::string& get_name() const noexcept { return task().name(); }
  void set_name(std::string name) { task().set_name(std::move(name)); }

  // TaskHandle::cancel(msg)
  //
  // Requests cancellation (see the file comment) and returns true, or false
  // when the task is done. The task is not cancelled yet when this returns:
  // CancelledError reaches its coroutine when the loop next steps it, and the
  // coroutine may catch it.
  bool cancel(const std::string& message = {}) { return this->base_->cancel(message); }

 private:
  friend class EventLoop;
  friend TaskHandle<void> current_task();
  template <class>
  friend class TaskHandle;
  explicit TaskHandle(std::shared_ptr<internal::TaskState<T>> s) noexcept
      : Future<T>(s, s.get()) {}
  explicit TaskHandle(std::shared_ptr<internal::TaskBase> s) noexcept
    requires std::is_void_v<T>
      : Future<T>(std::move(s), nullptr) {}
  internal::TaskBase& task() const noexcept {
    return static_cast<internal::TaskBase&>(*this->base_);
  }
};

class EventLoop {
 public:
  explicit EventLoop(Clock clock = Clock::real());
  // Destroys, unrun, the frames of tasks still pending (see Lifetime).
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // EventLoop::time(): the loop's clock in seconds (loop.time()).
  [[nodiscard]] double time() const noexcept;
  // EventLoop::time_ns(): the same in integer nanoseconds.
  [[nodiscard]] std::int64_t time_ns() const noexcept;
  [[nodiscard]] bool is_virtual_time() const noexcept { return clock_.virtual_; }

  [[nodiscard]] bool is_running() const noexcept { return running_; }
  [[nodiscard]] bool is_closed() const noexcept { return closed_; }

  // EventLoop::call_soon(cb): runs `cb` in the next iteration, after what is
  // already scheduled. An exception escaping `cb` is printed to stderr
  // ("Exception in callback: ...") and the loop goes on, as in CPython.
  // Throws RuntimeError("Event loop is closed") on a closed loop.
  Handle call_soon(std::function<void()> cb);
  // EventLoop::call_later(delay, cb) / call_at(when, cb): runs `cb` once the
  // loop time reaches now + delay / `when`. Timers due at the same time run in
  // the order they were scheduled.
  Handle call_later(Delay delay, std::function<void()> cb);
  Handle call_at(double when, std::function<void()> cb);

  // EventLoop::create_future<T>(): a pending future of this loop.
  template <class T = void>
  Future<T> create_future() {
    auto s = std::make_shared<internal::FutureState<T>>(*this);
    return internal::FutureAccess::make<T>(s, s.get());
  }

  // EventLoop::create_task(coro, name)
  //
  // Wraps `coro` in a task and schedules its first step (call_soon); returns
  // its handle. The loop need not be running. Throws RuntimeError("Event loop
  // is closed") on a closed loop, RuntimeError("cannot reuse already awaited
  // coroutine") for a coroutine that already started, TypeError for an empty
  // Task.
  template <class T>
  TaskHandle<T> create_task(Task<T> coro, std::string name = {}) {
    check_closed();
    check_task_source(coro.valid(), coro.started());
    auto s = std::make_shared<internal::TaskState<T>>(*this, std::move(coro));
    adopt_task(s, std::move(name));
    return TaskHandle<T>(std::move(s));
  }

  // EventLoop::run_until_complete(coro or future)
  //
  // Runs the loop until the task made of `coro` (or the future) is done and
  // returns its result or rethrows its exception. Tasks still pending then stay
  // pending. Throws RuntimeError("This event loop is already running"),
  // RuntimeError("Cannot run the event loop while another loop is running"),
  // RuntimeError("Event loop is closed"), or the deadlock RuntimeError.
  template <class T>
  T run_until_complete(Task<T> coro) {
    check_closed();
    return run_until_complete(Future<T>(create_task(std::move(coro))));
  }
  template <class T>
  T run_until_complete(Future<T> fut) {
    const auto& base = internal::FutureAccess::base(fut);
    run_until_done(base);
    base->check_result();
    if constexpr (!std::is_void_v<T>) return internal::extract(*internal::FutureAccess::slot(fut));
  }

  // EventLoop::stop(): the loop stops after the current iteration.
  void stop() noexcept { stopping_ = true; }

  // EventLoop::close(): drops every scheduled callback and timer; the loop can
  // no longer run. Throws RuntimeError("Cannot close a running event loop").
  void close();

  // EventLoop::cancel_all_tasks(): cancels every pending task and runs the
  // loop until all of them are done (what asyncio.run does after main). A
  // deadlock among them ends it early; their frames then go with the loop.
  // Throws RuntimeError("This event loop is already running") inside the loop.
  void cancel_all_tasks();

  // EventLoop::pending_tasks(): how many tasks of this loop are not done.
  [[nodiscard]] std::size_t pending_tasks() const noexcept { return tasks_.size(); }

 private:
  friend class internal::TaskBase;
  friend class internal::FutureBase;
  friend TaskHandle<void> current_task();
  friend internal::TaskBase& internal::current_task_or_throw();
  friend void blocking_sleep(Delay);

  struct TimerOrder {
    bool operator()(const std::shared_ptr<internal::CallbackEntry>& a,
                    const std::shared_ptr<internal::CallbackEntry>& b) const noexcept;
  };

  Handle call_at_ns(std::int64_t when_ns, std::function<void()> cb);
  void check_closed() const;
  static void check_task_source(bool valid, bool started);
  void adopt_task(std::shared_ptr<internal::TaskBase> task, std::string name);
  void task_done(internal::TaskBase& task) noexcept;
  // Schedules `cb` without the closed check (internal callers).
  void enqueue(std::function<void()> cb);
  void run_until_done(const std::shared_ptr<internal::FutureBase>& fut);
  void run_forever();
  void run_once();
  void pop_cancelled_timers() noexcept;

  Clock clock_;
  std::int64_t virtual_now_ns_;
  bool running_ = false;
  bool stopping_ = false;
  bool closed_ = false;
  internal::TaskBase* current_task_ = nullptr;
  std::deque<std::shared_ptr<internal::CallbackEntry>> ready_;
  std::vector<std::shared_ptr<internal::CallbackEntry>> timers_;  // a min-heap
  std::size_t timers_compact_at_ = 256;
  std::uint64_t timer_seq_ = 0;
  std::map<std::uint64_t, std::shared_ptr<internal::TaskBase>> tasks_;  // pending, by id
};

// get_running_loop(): the loop running in this thread; throws
// RuntimeError("no running event loop") when there is none.
EventLoop& get_running_loop();

// create_task(coro, name): asyncio.create_task on the running loop (see
// EventLoop::create_task). Throws RuntimeError("no running event loop")
// outside a running loop (the coroutine is then dropped, never awaited).
template <class T>
TaskHandle<T> create_task(Task<T> coro, std::string name = {}) {
  return get_running_loop().create_task(std::move(coro), std::move(name));
}

// current_task(): the task being run (a TaskHandle<void> view); an empty handle
// when the loop runs a plain callback. Throws RuntimeError("no running event
// loop") outside a running loop.
TaskHandle<void> current_task();

// sleep(delay): asyncio.sleep, a coroutine. Awaited, it suspends the current
// task for `delay` seconds of loop time without blocking the loop; the timer
// starts when it is awaited. A delay <= 0 yields to the loop for exactly one
// iteration. Throws ValueError("Invalid delay: NaN (not a number)") for NaN.
// Cancelling the task while it sleeps removes the timer and delivers
// CancelledError.
Task<void> sleep(Delay delay);

// blocking_sleep(delay): time.sleep, for use inside a coroutine to show what a
// blocking call does: it blocks the thread, hence the loop and every task.
// Under a virtual clock it moves the loop's time forward by `delay` instead of
// waiting; elsewhere it really sleeps. Throws ValueError("sleep length must
// be non-negative") or ValueError("Invalid value NaN (not a number)") as
// time.sleep does.
void blocking_sleep(Delay delay);

namespace internal {
// asyncio.run's checks, shared by every run<T>.
void check_can_run(bool valid);
// The loop running in this thread, or null.
EventLoop* running_loop() noexcept;
}  // namespace internal

// run(main, clock)
//
// asyncio.run: runs `main` to completion on a new loop with `clock`, then
// cancels the tasks still pending and runs the loop until they finish, closes
// the loop and returns main's result (or rethrows its exception). Throws
// RuntimeError("asyncio.run() cannot be called from a running event loop")
// inside a running loop and ValueError("a coroutine was expected, got None")
// for an empty Task. Blocks the calling thread (the loop runs on it).
template <class T>
T run(Task<T> main, Clock clock = Clock::real()) {
  internal::check_can_run(main.valid());
  EventLoop loop(clock);
  std::exception_ptr error;
  if constexpr (std::is_void_v<T>) {
    try {
      loop.run_until_complete(std::move(main));
    } catch (...) {
      error = std::current_exception();
    }
    loop.cancel_all_tasks();
    loop.close();
    if (error) std::rethrow_exception(error);
  } else {
    std::optional<T> result;
    try {
      result.emplace(loop.run_until_complete(std::move(main)));
    } catch (...) {
      error = std::current_exception();
    }
    loop.cancel_all_tasks();
    loop.close();
    if (error) std::rethrow_exception(error);
    return std::move(*result);
  }
}

}  // namespace racegate::aio
