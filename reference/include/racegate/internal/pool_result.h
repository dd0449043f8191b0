// Internal: the result side of Pool and ThreadPool (AsyncResult's shared
// state, the sinks that jobs deliver into, option parsing). Do not use
// directly; the public types are in racegate/mp/async_result.h.
//
// Threading model. A job's results are delivered on the pool's result-handler
// thread (and, for a job that fails before it is queued, on the submitting
// thread), one task at a time: a sink is written by one thread only. Readers
// (AsyncResult::get, IMapIterator::next) run on any thread; they synchronize
// with the writer through the result's Event (ApplyResult, MapResult) or the
// iterator's mutex (IMapIterator).
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "racegate/errors.h"
#include "racegate/internal/deadline.h"
#include "racegate/schedule.h"
#include "racegate/threading/event.h"

namespace racegate::mp {

// CallbackOption / ErrorCallbackOption
//
// The `callback=` and `error_callback=` keyword arguments of apply_async,
// map_async and starmap_async, made with mp::callback(f) and
// mp::error_callback(f) and passed after the task's arguments.
template <class C>
struct CallbackOption {
  C fn;
};
template <class C>
struct ErrorCallbackOption {
  C fn;
};

}  // namespace racegate::mp

namespace racegate::internal::pool {

// The value a task of result type R produces: R itself, std::monostate (the
// C++ spelling of None) for void.
template <class R>
using value_t = std::conditional_t<std::is_void_v<R>, std::monostate, std::remove_cvref_t<R>>;

template <class>
inline constexpr bool dependent_false = false;

// Prints an exception that escaped a user callback on the result-handler
// thread ("Exception in callback of <kind>:" then "Type: message") and
// carries on: the result still becomes ready.
void report_callback_exception(const char* kind) noexcept;

// The racegate type of an exception in flight, or a RemoteError naming its
// C++ type when it is not a racegate::Error (used to hand a non-racegate
// exception to an error callback that takes `const racegate::Error&`).
RemoteError describe_as_remote_error(std::exception_ptr error);

// Throws a fresh copy of the exception in `error` (same type, same message)
// when its type is one racegate knows how to rebuild (racegate's errors, the
// standard exception types, mp::SystemExit), else `error` itself.
//
// Why: a result's error is one object shared by the threads that get() it and
// the thread that created it, and libstdc++ counts its references with atomics
// ThreadSanitizer cannot see. A caller reading the exception it caught while
// another thread frees the shared original would be reported as a race that
// is not one. A copy made while the result is still held belongs to the caller.
[[noreturn]] void rethrow_fresh(const std::exception_ptr& error);

// "Chunksize must be 1+, not N" (CPython's imap message, used for every
// method here); returns the checked value.
std::size_t check_chunksize(long long chunksize);

// CPython's default map chunksize: ceil(len / (4 * workers)), 0 when empty.
std::size_t default_chunksize(std::size_t length, std::size_t workers) noexcept;

// ---- ApplyResult / MapResult state --------------------------------------------------

// The non-typed half of an AsyncResult: the Event that says "ready", the
// success flag and the error. `kind` is CPython's class name ("ApplyResult",
// "MapResult"), used by repr().
class ResultBase {
 public:
  explicit ResultBase(const char* kind) noexcept : kind_(kind) {}
  ResultBase(const ResultBase&) = delete;
  ResultBase& operator=(const ResultBase&) = delete;
  virtual ~ResultBase() = default;

  [[nodiscard]] bool ready() const noexcept { return event_.is_set(); }

  // ValueError("<multiprocessing.pool.ApplyResult object at 0x...> not ready")
  // before the result is in.
  [[nodiscard]] bool successful() const;

  // Blocks until ready or `timeout` passes; returns ready().
  bool wait(std::optional<Seconds> timeout) { return event_.wait(timeout); }

  // `<multiprocessing.pool.ApplyResult object at 0x...>`.
  [[nodiscard]] std::string repr() const;

  // get(): waits, throws TimeoutError("") when not ready, rethrows the error.
  void wait_for_get(std::optional<Seconds> timeout) const;

 protected:
  mutable threading::Event event_;
  bool success_ = false;        // written before event_.set(), read after
  std::exception_ptr error_;    // likewise
  bool finished_ = false;       // writer side only
  const char* kind_;
};

template <class V>
class ResultState final : public ResultBase {
 public:
  using ResultBase::ResultBase;

  std::function<void(const V&)> callback;               // set before submission
  std::function<void(std::exception_ptr)> error_callback;

  // Stores the value, runs the callback, then makes the result ready (the
  // order CPython uses: a callback runs before get() returns).
  void set_value(V value) {
    if (finished_) return;
    finished_ = true;
    value_.emplace(std::move(value));
    success_ = true;
    if (callback) {
      try {
        callback(*value_);
      } catch (...) {
        report_callback_exception(kind_);
      }
    }
    event_.set();
  }

  // Ready with no callback (map over nothing, as CPython's MapResult).
  void set_value_silently(V value) {
    if (finished_) return;
    finished_ = true;
    value_.emplace(std::move(value));
    success_ = true;
    event_.set();
  }

  void set_error(std::exception_ptr error) {
    if (finished_) return;
    finished_ = true;
    error_ = std::move(error);
    success_ = false;
    if (error_callback) {
      try {
        error_callback(error_);
      } catch (...) {
        report_callback_exception(kind_);
      }
    }
    event_.set();
  }

  // The value after a successful wait_for_get().
  [[nodiscard]] const V& value() const { return *value_; }

 private:
  std::optional<V> value_;
};

// ---- sinks -----------------------------------------------------------------------------

// Where the results of a job's tasks go. Task `index` of a job covers one
// chunk of its items; `values` holds one value per item of the chunk.
template <class V>
class JobSink {
 public:
  virtual ~JobSink() = default;
  virtual void set_values(std::size_t index, std::vector<V>&& values) = 0;
  virtual void set_error(std::size_t index, std::exception_ptr error) = 0;
};

// apply_async: one task of one item.
template <class V>
class ApplySink final : public JobSink<V> {
 public:
  explicit ApplySink(std::shared_ptr<ResultState<V>> state) : state_(std::move(state)) {}
  void set_values(std::size_t, std::vector<V>&& values) override {
    state_->set_value(std::move(values.at(0)));
  }
  void set_error(std::size_t, std::exception_ptr error) override { state_->set_error(std::move(error)); }

 private:
  std::shared_ptr<ResultState<V>> state_;
};

// map_async / starmap_async: `length` items in chunks of `chunksize`; ready
// once every chunk is in. The first error to arrive wins, as in CPython, and
// the error callback runs only when every chunk is in.
template <class V>
class MapSink final : public JobSink<V> {
 public:
  MapSink(std::shared_ptr<ResultState<std::vector<V>>> state, std::size_t length, std::size_t chunksize)
      : state_(std::move(state)),
        values_(length),
        chunksize_(chunksize),
        left_(chunksize == 0 ? 0 : (length + chunksize - 1) / chunksize) {}

  void set_values(std::size_t index, std::vector<V>&& values) override {
    if (!error_) {
      std::size_t at = index * chunksize_;
      for (std::size_t k = 0; k < values.size() && at + k < values_.size(); ++k) {
        values_[at + k].emplace(std::move(values[k]));
      }
    }
    done_one();
  }

  void set_error(std::size_t, std::exception_ptr error) override {
    if (!error_) error_ = std::move(error);
    done_one();
  }

 private:
  void done_one() {
    if (left_ == 0 || --left_ > 0) return;
    if (error_) {
      state_->set_error(error_);
      return;
    }
    std::vector<V> out;
    out.reserve(values_.size());
    for (auto& v : values_) out.push_back(std::move(*v));
    state_->set_value(std::move(out));
  }

  std::shared_ptr<ResultState<std::vector<V>>> state_;
  std::vector<std::optional<V>> values_;
  std::size_t chunksize_;
  std::size_t left_;
  std::exception_ptr error_;
};

// imap / imap_unordered: results are handed out one item at a time, in input
// order (ordered) or in completion order. A failed chunk yields its error once,
// at the chunk's place; iteration then goes on with the next chunk.
template <class V>
class IMapState final : public JobSink<V> {
 public:
  IMapState(bool ordered, std::size_t chunks) : ordered_(ordered), chunks_(chunks) {}

  void set_values(std::size_t index, std::vector<V>&& values) override {
    Outcome o;
    o.values = std::move(values);
    put(index, std::move(o));
  }
  void set_error(std::size_t index, std::exception_ptr error) override {
    Outcome o;
    o.error = std::move(error);
    put(index, std::move(o));
  }

  // The next item; empty at the end (StopIteration). Throws TimeoutError("")
  // when `timeout` passes first, or the task's error at its place.
  std::optional<V> next(std::optional<Seconds> timeout) {
    const Deadline deadline = Deadline::from(timeout);
    for (;;) {
      {
        std::lock_guard lk(mu_);
        if (!items_.empty()) {
          Item item = std::move(items_.front());
          items_.pop_front();
          if (items_.empty() && !finished_locked()) available_.clear();
          if (item.error) rethrow_fresh(item.error);
          return std::move(item.value);
        }
        if (finished_locked()) return std::nullopt;
      }
      // `available_` is set exactly while an item is queued or the job is
      // over (kept so under mu_), so waiting on it outside the lock is exact.
      std::optional<Seconds> left;
      if (!deadline.is_never()) left = Seconds(deadline.remaining_ms() / 1000.0);
      if (!available_.wait(left) && deadline.expired()) {
        std::lock_guard lk(mu_);
        if (items_.empty() && !finished_locked()) throw TimeoutError("");
      }
    }
  }

 private:
  struct Outcome {
    std::vector<V> values;
    std::exception_ptr error;
  };
  struct Item {
    std::optional<V> value;
    std::exception_ptr error;
  };

  bool finished_locked() const { return (ordered_ ? next_chunk_ : received_) >= chunks_; }

  void push_locked(Outcome&& o) {
    if (o.error) {
      items_.push_back(Item{std::nullopt, std::move(o.error)});
      return;
    }
    for (auto& v : o.values) items_.push_back(Item{std::move(v), nullptr});
  }

  void put(std::size_t index, Outcome&& o) {
    std::lock_guard lk(mu_);
    ++received_;
    if (!ordered_) {
      push_locked(std::move(o));
    } else if (index == next_chunk_) {
      push_locked(std::move(o));
      ++next_chunk_;
      for (auto it = held_.find(next_chunk_); it != held_.end(); it = held_.find(next_chunk_)) {
        push_locked(std::move(it->second));
        held_.erase(it);
        ++next_chunk_;
      }
    } else {
      held_.emplace(index, std::move(o));
    }
    if (!items_.empty() || finished_locked()) available_.set();
  }

  const bool ordered_;
  const std::size_t chunks_;
  std::mutex mu_;
  threading::Event available_;              // set/cleared under mu_ (see next())
  std::deque<Item> items_;                  // guarded by mu_
  std::map<std::size_t, Outcome> held_;     // guarded by mu_ (ordered: arrived early)
  std::size_t next_chunk_ = 0;              // guarded by mu_
  std::size_t received_ = 0;                // guarded by mu_
};

// ---- options ---------------------------------------------------------------------------

template <class T>
struct is_option : std::false_type {};
template <class C>
struct is_option<mp::CallbackOption<C>> : std::true_type {};
template <class C>
struct is_option<mp::ErrorCallbackOption<C>> : std::true_type {};
template <class T>
inline constexpr bool is_option_v = is_option<std::remove_cvref_t<T>>::value;

template <class T>
struct is_callback_option : std::false_type {};
template <class C>
struct is_callback_option<mp::CallbackOption<C>> : std::true_type {};

// How many of As... at the end are callback options.
template <class... As>
constexpr std::size_t count_trailing_options() {
  constexpr std::size_t n = sizeof...(As);
  constexpr bool flags[n + 1] = {is_option_v<As>..., false};
  std::size_t k = 0;
  while (k < n && flags[n - 1 - k]) ++k;
  return k;
}
template <class... As>
constexpr std::size_t count_options() {
  return (std::size_t{0} + ... + (is_option_v<As> ? 1 : 0));
}

template <class V, class C>
std::function<void(const V&)> adapt_callback(C c) {
  if constexpr (std::is_invocable_v<C&, const V&>) {
    return [c = std::move(c)](const V& v) mutable { std::invoke(c, v); };
  } else if constexpr (std::is_same_v<V, std::monostate> && std::is_invocable_v<C&>) {
    return [c = std::move(c)](const V&) mutable { std::invoke(c); };
  } else {
    static_assert(dependent_false<C>, "callback must be callable with the task's result (const R&)");
    return {};
  }
}

// An error callback may take std::exception_ptr, const racegate::Error& or
// const std::exception& (a non-racegate exception reaches the last two as a
// RemoteError naming its type).
template <class C>
std::function<void(std::exception_ptr)> adapt_error_callback(C c) {
  if constexpr (std::is_invocable_v<C&, std::exception_ptr>) {
    return [c = std::move(c)](std::exception_ptr e) mutable { std::invoke(c, std::move(e)); };
  } else if constexpr (std::is_invocable_v<C&, const racegate::Error&>) {
    return [c = std::move(c)](std::exception_ptr e) mutable {
      try {
        std::rethrow_exception(e);
      } catch (const racegate::Error& err) {
        std::invoke(c, err);
      } catch (...) {
        std::invoke(c, describe_as_remote_error(e));
      }
    };
  } else if constexpr (std::is_invocable_v<C&, const std::exception&>) {
    return [c = std::move(c)](std::exception_ptr e) mutable {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& err) {
        std::invoke(c, err);
      } catch (...) {
        std::invoke(c, describe_as_remote_error(e));
      }
    };
  } else {
    static_assert(dependent_false<C>,
                  "error_callback must take std::exception_ptr, const racegate::Error& or "
                  "const std::exception&");
    return {};
  }
}

// Callbacks and chunksize gathered from the trailing arguments of a call.
template <class V>
struct Options {
  std::function<void(const V&)> callback;
  std::function<void(std::exception_ptr)> error_callback;
  std::optional<long long> chunksize;

  template <class O>
  void take(O&& o) {
    using T = std::remove_cvref_t<O>;
    if constexpr (is_option_v<T>) {
      if constexpr (is_callback_option<T>::value) {
        callback = adapt_callback<V>(std::forward<O>(o).fn);
      } else {
        error_callback = adapt_error_callback(std::forward<O>(o).fn);
      }
    } else if constexpr (std::is_same_v<T, std::nullopt_t>) {
      chunksize.reset();
    } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      chunksize = static_cast<long long>(o);
    } else if constexpr (requires { typename T::value_type; o.has_value(); } &&
                         std::is_integral_v<typename T::value_type>) {
      if (o.has_value()) {
        chunksize = static_cast<long long>(*o);
      } else {
        chunksize.reset();
      }
    } else {
      static_assert(dependent_false<T>,
                    "expected a chunksize (integer or std::nullopt), mp::callback(...) or "
                    "mp::error_callback(...)");
    }
  }
};

}  // namespace racegate::internal::pool
