// racegate/aio/wait_for.h — aio::wait_for: await with a timeout
// (asyncio.wait_for, CPython 3.11's algorithm).
//
//   try {
//     int v = co_await aio::wait_for(slow(), 1.0);
//   } catch (const racegate::TimeoutError&) { ... }   // slow() was cancelled
//
// `wait_for(aw, timeout)` is a coroutine: nothing happens until it is awaited.
// Then a coroutine argument becomes a task (a future or task handle is used as
// is) and the caller waits for it for at most `timeout` seconds of loop time.
// - It finishes in time: its result is returned (its exception rethrown).
// - The timeout expires first: the inner task is cancelled and wait_for waits
//   until it has really finished (so it no longer runs when wait_for returns),
//   then throws racegate::TimeoutError (empty message, like CPython's
//   `TimeoutError()`) — unless the inner coroutine swallowed the cancellation
//   and returned a value or threw, which wait_for then returns or rethrows.
// - `timeout` <= 0: returns the result if the awaitable is already done,
//   else cancels it at once (a new task never runs its body) as above.
// - `timeout` empty (std::nullopt): plain `co_await aw` (a coroutine runs
//   inline, as CPython 3.11 does).
// - The task awaiting wait_for is cancelled: the inner one is cancelled and
//   waited for, then CancelledError propagates (unless the inner one was
//   already done: its result is returned).
//
// Thread-safety, memory ordering and lifetime: as for futures
// (racegate/aio/future.h). A future passed in must belong to the running loop.
#pragma once

#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "racegate/aio/future.h"
#include "racegate/aio/loop.h"
#include "racegate/aio/task.h"
#include "racegate/errors.h"

namespace racegate::aio {

namespace internal {

// _cancel_and_wait: cancels `fut` and waits until it is done.
Task<void> cancel_and_wait(std::shared_ptr<FutureBase> fut);

template <class T>
T result_of(const Future<T>& fut) {
  FutureAccess::base(fut)->check_result();
  if constexpr (!std::is_void_v<T>) return extract(*FutureAccess::slot(fut));
}

// A future's result, or TimeoutError in place of its CancelledError.
template <class T>
T result_or_timeout(const Future<T>& fut) {
  try {
    return result_of(fut);
  } catch (const CancelledError&) {
    throw TimeoutError("");
  }
}

}  // namespace internal

// Why `static`: clang 14 cannot compile a coroutine that lives in a COMDAT
// section (an inline function or a template instance of external linkage)
// with -fsanitize=function, part of -fsanitize=undefined ("error: Cannot
// represent a difference across sections"). Internal linkage keeps every
// instance in the including file's own sections. The same holds for a user's
// own template or inline coroutines under the asan preset (see
// docs/reference/aio.md).

// wait_for(future or task handle, timeout): see the file comment.
template <class T>
static Task<T> wait_for(Future<T> fut, std::optional<Delay> timeout) {
  using internal::FutureAccess;
  EventLoop& loop = get_running_loop();
  if (!timeout) co_return co_await fut;
  const auto base = FutureAccess::base(fut);
  if (!(timeout->seconds > 0)) {
    if (base->done()) co_return internal::result_of(fut);
    co_await internal::cancel_and_wait(base);
    co_return internal::result_or_timeout(fut);
  }

  auto waiter = loop.create_future<void>();
  auto release = [w = FutureAccess::base(waiter)](internal::FutureBase&) {
    if (!w->done()) w->finish_result();
  };
  Handle timeout_handle = loop.call_later(*timeout, [w = FutureAccess::base(waiter)] {
    if (!w->done()) w->finish_result();
  });
  struct TimerGuard {
    Handle h;
    ~TimerGuard() { h.cancel(); }
  } guard{timeout_handle};
  const std::uint64_t cb = base->add_done_callback(release);

  std::exception_ptr cancelled;
  try {
    co_await waiter;  // until the future is done or the timeout expires
  } catch (const CancelledError&) {
    cancelled = std::current_exception();
  }
  if (cancelled) {
    if (base->done()) co_return internal::result_of(fut);
    base->remove_done_callback(cb);
    co_await internal::cancel_and_wait(base);
    std::rethrow_exception(cancelled);
  }
  if (base->done()) co_return internal::result_of(fut);
  base->remove_done_callback(cb);
  co_await internal::cancel_and_wait(base);
  co_return internal::result_or_timeout(fut);
}

// wait_for(coroutine, timeout): the coroutine becomes a task when wait_for
// starts (or is awaited inline when `timeout` is empty).
template <class T>
static Task<T> wait_for(Task<T> coro, std::optional<Delay> timeout) {
  if (!timeout) co_return co_await std::move(coro);
  co_return co_await wait_for(Future<T>(get_running_loop().create_task(std::move(coro))), timeout);
}

}  // namespace racegate::aio
