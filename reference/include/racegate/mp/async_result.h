// racegate/mp/async_result.h — multiprocessing.pool.AsyncResult and the imap
// iterators, shared by racegate::mp::Pool and racegate::mp::ThreadPool.
//
// An AsyncResult<R> is the handle that apply_async, map_async and
// starmap_async return. The task runs somewhere else; the handle says whether
// it is done and hands out its value or re-raises its error:
//
//   auto r = pool.apply_async(square, 7);
//   r.wait();                       // or r.get(std::chrono::seconds(5))
//   assert(r.ready() && r.successful() && r.get() == 49);
//
// Semantics, as CPython's ApplyResult / MapResult:
//  - get() blocks until the result is in, then returns the value or throws the
//    task's error (every time it is called). get(timeout) throws
//    racegate::TimeoutError with an empty message when the result is not in
//    after `timeout` (multiprocessing.TimeoutError, not the builtin one); the
//    task goes on and a later get() can still fetch its value.
//  - wait(timeout) blocks like get() but neither returns nor throws anything of
//    the task's; it returns ready() (CPython returns None).
//  - ready() is true once the task finished, successfully or not.
//  - successful() says whether it succeeded; before the result is in it throws
//    ValueError("<multiprocessing.pool.ApplyResult object at 0x...> not
//    ready") (MapResult for map_async), CPython's text.
//  - A callback (mp::callback(f)) runs with the value, or an error callback
//    (mp::error_callback(f)) with the error, on the pool's result-handler
//    thread in the process that made the pool, *before* the result becomes
//    ready: when get() returns, the callback has run. A callback that throws
//    is reported on stderr ("Exception in callback of ApplyResult:") and the
//    result still becomes ready. map_async's callback gets the whole list.
//  - A task's error carries its type and message. From a process Pool it is
//    the original racegate type when it was one (ValueError("bad 1") stays a
//    ValueError), otherwise a racegate::RemoteError whose python_type() names
//    the original C++ type ("std::runtime_error") and whose what() is its
//    message. From a ThreadPool it is the original exception object.
//  - R = void gives AsyncResult<void> (get() returns nothing); a map over a
//    void function gives std::vector<std::monostate>, the C++ None.
//
// An IMapIterator<V> hands out the results of imap (input order) and
// imap_unordered (completion order) one at a time: next() returns the next
// value, or nothing once every item was handed out (StopIteration), and
// throws the task's error at its place; next(timeout) throws TimeoutError("")
// when nothing arrives in time. It is also an input range:
//
//   for (int v : pool.imap(square, xs)) use(v);
//
// Memory ordering: everything the result-handler thread wrote before a
// result became ready (the value, and whatever its callback wrote) is visible
// to a thread whose wait/get/ready returned true because of it.
//
// Lifetime: handles are cheap copies of a shared state; they stay valid after
// the pool is gone. A result whose pool was terminated before the task ran
// never becomes ready (as in CPython): use get(timeout) there.
//
// Thread-safety: every member may be called from any thread at once.
#pragma once

#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "racegate/internal/deadline.h"
#include "racegate/internal/pool_result.h"

namespace racegate::mp {

// mp::callback(f): `callback=f` for apply_async / map_async / starmap_async.
// `f` is called with `const R&` (map: `const std::vector<R>&`; void tasks may
// take no argument).
template <class C>
CallbackOption<std::decay_t<C>> callback(C&& f) {
  return {std::forward<C>(f)};
}

// mp::error_callback(f): `error_callback=f`. `f` takes std::exception_ptr,
// `const racegate::Error&` or `const std::exception&`.
template <class C>
ErrorCallbackOption<std::decay_t<C>> error_callback(C&& f) {
  return {std::forward<C>(f)};
}

template <class R>
class AsyncResult {
 public:
  using value_type = racegate::internal::pool::value_t<R>;
  using State = racegate::internal::pool::ResultState<value_type>;

  explicit AsyncResult(std::shared_ptr<State> state) : state_(std::move(state)) {}

  // AsyncResult::get(): blocks until the result is in; returns the value or
  // throws the task's error.
  R get() const { return get_impl(std::nullopt); }

  // AsyncResult::get(timeout): throws TimeoutError("") when the result is not
  // in after `timeout` (the task is not cancelled).
  R get(racegate::internal::Seconds timeout) const { return get_impl(timeout); }

  // AsyncResult::wait(): blocks until the result is in.
  void wait() const { state_->wait(std::nullopt); }
  // AsyncResult::wait(timeout): blocks at most `timeout`; returns ready().
  bool wait(racegate::internal::Seconds timeout) const { return state_->wait(timeout); }

  [[nodiscard]] bool ready() const noexcept { return state_->ready(); }

  // Throws ValueError("<multiprocessing.pool.ApplyResult object at 0x...> not
  // ready") before the result is in.
  [[nodiscard]] bool successful() const { return state_->successful(); }

  // CPython's repr: `<multiprocessing.pool.ApplyResult object at 0x...>`.
  [[nodiscard]] std::string repr() const { return state_->repr(); }

 private:
  R get_impl(std::optional<racegate::internal::Seconds> timeout) const {
    state_->wait_for_get(timeout);
    if constexpr (std::is_void_v<R>) {
      return;
    } else {
      return state_->value();
    }
  }

  std::shared_ptr<State> state_;
};

template <class V>
class IMapIterator {
 public:
  using State = racegate::internal::pool::IMapState<V>;

  explicit IMapIterator(std::shared_ptr<State> state) : state_(std::move(state)) {}

  // IMapIterator::next(): the next value; empty at the end. Throws the task's
  // error at its place.
  std::optional<V> next() { return state_->next(std::nullopt); }
  // IMapIterator::next(timeout): throws TimeoutError("") when nothing arrives
  // within `timeout`.
  std::optional<V> next(racegate::internal::Seconds timeout) { return state_->next(timeout); }

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = V;
    using difference_type = std::ptrdiff_t;
    using pointer = V*;
    using reference = V&;

    iterator() = default;
    V& operator*() const { return *owner_->current_; }
    V* operator->() const { return &*owner_->current_; }
    iterator& operator++() {
      owner_->advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& a, const iterator& b) {
      return a.at_end() == b.at_end();
    }

   private:
    friend class IMapIterator;
    explicit iterator(IMapIterator* owner) : owner_(owner) {}
    bool at_end() const { return owner_ == nullptr || !owner_->current_.has_value(); }
    IMapIterator* owner_ = nullptr;
  };

  // begin() fetches the first value (blocking); each ++ fetches the next.
  iterator begin() {
    advance();
    return iterator(this);
  }
  iterator end() { return iterator(); }

 private:
  void advance() { current_ = next(); }

  std::shared_ptr<State> state_;
  std::optional<V> current_;
};

}  // namespace racegate::mp
