// racegate/aio/gather.h — aio::gather: run awaitables concurrently, collect
// their results in argument order (asyncio.gather).
//
//   auto [a, b] = co_await aio::gather(fetch(1), fetch(2));   // 2 s, not 3
//   std::vector<int> all = co_await aio::gather(std::move(coros));
//
// `gather(args...)` is an ordinary function, not a coroutine: it wraps every
// coroutine argument in a task at once (in argument order) and returns a
// Future of a std::tuple of the results — `std::monostate` for a void one —
// in argument order, whatever order they finish in. Arguments are
// coroutines (aio::Task<T>, passed as rvalues), futures and task handles. The
// vector overloads return a Future of a std::vector.
//
// Exceptions (CPython's return_exceptions=False): the first child to fail
// (or to be cancelled, as CancelledError) finishes the gather future with its
// exception; the other children are not cancelled and go on running.
// Cancelling the gather future cancels every child that is not done; it then
// finishes, once all children are done, with CancelledError.
//
// Must be called inside a running loop (RuntimeError("no running event loop")
// otherwise). Thread-safety, memory ordering and lifetime: as for futures
// (racegate/aio/future.h).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "racegate/aio/future.h"
#include "racegate/aio/loop.h"
#include "racegate/aio/task.h"

namespace racegate::aio {

namespace internal {

// The element a void result becomes in gather's tuple or vector.
template <class T>
using gather_value_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

// What an awaitable argument of gather/wait_for yields.
template <class A>
struct awaitable_traits {};
template <class T>
struct awaitable_traits<Task<T>> {
  using result = T;
};
template <class T>
struct awaitable_traits<Future<T>> {
  using result = T;
};
template <class T>
struct awaitable_traits<TaskHandle<T>> {
  using result = T;
};
template <class A>
using awaitable_result_t = typename awaitable_traits<std::remove_cvref_t<A>>::result;

template <class A>
concept GatherArgument =
    requires { typename awaitable_traits<std::remove_cvref_t<A>>::result; } &&
    (!std::is_same_v<std::remove_cvref_t<A>, Task<awaitable_result_t<A>>> ||
     std::is_rvalue_reference_v<A&&>);

// asyncio.ensure_future: a coroutine becomes a task of the running loop.
template <class T>
Future<T> ensure_future(EventLoop& loop, Task<T>&& coro) {
  return loop.create_task(std::move(coro));
}
template <class T>
Future<T> ensure_future(EventLoop&, const Future<T>& fut) {
  return fut;
}

// The part of gather that does not depend on the result types.
class GatherBase : public FutureBase {
 public:
  GatherBase(EventLoop& loop, const std::type_info& value_type,
             std::vector<std::shared_ptr<FutureBase>> children)
      : FutureBase(loop, value_type), children_(std::move(children)) {}
  // _GatheringFuture.cancel: cancels the children.
  bool cancel(const std::string& message) override;
  // Registers the children's callbacks (after construction: needs shared_from_this).
  void start();

 protected:
  // Stores the results of all children (each finished with a result).
  virtual void collect() = 0;

 private:
  void on_child_done(FutureBase& child);
  std::vector<std::shared_ptr<FutureBase>> children_;
  std::size_t finished_ = 0;
  bool cancel_requested_ = false;
};

template <class T>
gather_value_t<T> gather_result(const Future<T>& f) {
  if constexpr (std::is_void_v<T>) {
    return std::monostate{};
  } else {
    return extract(*FutureAccess::slot(f));
  }
}

template <class... Ts>
class TupleGather final : public GatherBase, public ResultSlot<std::tuple<gather_value_t<Ts>...>> {
 public:
  TupleGather(EventLoop& loop, std::tuple<Future<Ts>...> futures)
      : GatherBase(loop, typeid(std::tuple<gather_value_t<Ts>...>), bases(futures)),
        futures_(std::move(futures)) {}

 private:
  static std::vector<std::shared_ptr<FutureBase>> bases(const std::tuple<Future<Ts>...>& fs) {
    return std::apply(
        [](const auto&... f) {
          return std::vector<std::shared_ptr<FutureBase>>{FutureAccess::base(f)...};
        },
        fs);
  }
  void collect() override {
    std::apply([this](const auto&... f) { this->value.emplace(gather_result(f)...); }, futures_);
  }
  std::tuple<Future<Ts>...> futures_;
};

template <class T>
class VectorGather final : public GatherBase, public ResultSlot<std::vector<gather_value_t<T>>> {
 public:
  VectorGather(EventLoop& loop, std::vector<Future<T>> futures)
      : GatherBase(loop, typeid(std::vector<gather_value_t<T>>), bases(futures)),
        futures_(std::move(futures)) {}

 private:
  static std::vector<std::shared_ptr<FutureBase>> bases(const std::vector<Future<T>>& fs) {
    std::vector<std::shared_ptr<FutureBase>> out;
    out.reserve(fs.size());
    for (const auto& f : fs) out.push_back(FutureAccess::base(f));
    return out;
  }
  void collect() override {
    std::vector<gather_value_t<T>> out;
    out.reserve(futures_.size());
    for (const auto& f : futures_) out.push_back(gather_result(f));
    this->value.emplace(std::move(out));
  }
  std::vector<Future<T>> futures_;
};

template <class T>
Future<std::vector<gather_value_t<T>>> gather_vector(EventLoop& loop, std::vector<Future<T>> fs) {
  auto s = std::make_shared<VectorGather<T>>(loop, std::move(fs));
  s->start();
  return FutureAccess::make<std::vector<gather_value_t<T>>>(s, s.get());
}

}  // namespace internal

// gather(args...): see the file comment.
template <class... As>
  requires(internal::GatherArgument<As> && ...)
Future<std::tuple<internal::gather_value_t<internal::awaitable_result_t<As>>...>> gather(
    As&&... args) {
  EventLoop& loop = get_running_loop();
  using Tuple = std::tuple<internal::gather_value_t<internal::awaitable_result_t<As>>...>;
  // Braced initialization evaluates left to right: tasks start in argument order.
  std::tuple<Future<internal::awaitable_result_t<As>>...> futures{
      internal::ensure_future(loop, std::forward<As>(args))...};
  auto s = std::make_shared<internal::TupleGather<internal::awaitable_result_t<As>...>>(
      loop, std::move(futures));
  s->start();
  return internal::FutureAccess::make<Tuple>(s, s.get());
}

// gather(vector of coroutines): each becomes a task, in order.
template <class T>
Future<std::vector<internal::gather_value_t<T>>> gather(std::vector<Task<T>> coros) {
  EventLoop& loop = get_running_loop();
  std::vector<Future<T>> fs;
  fs.reserve(coros.size());
  for (auto& c : coros) fs.push_back(loop.create_task(std::move(c)));
  return internal::gather_vector(loop, std::move(fs));
}

// gather(vector of futures or task handles).
template <class T>
Future<std::vector<internal::gather_value_t<T>>> gather(const std::vector<Future<T>>& futures) {
  return internal::gather_vector(get_running_loop(), futures);
}
template <class T>
Future<std::vector<internal::gather_value_t<T>>> gather(const std::vector<TaskHandle<T>>& tasks) {
  return internal::gather_vector(get_running_loop(), std::vector<Future<T>>(tasks.begin(), tasks.end()));
}

}  // namespace racegate::aio
