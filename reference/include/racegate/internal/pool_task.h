// Internal: how a process Pool names a task to a worker. Do not use directly.
//
// A worker is a fork of the pool's fork server, itself a fork of the process
// that built the Pool: code has the same addresses there, and so has every
// object that existed when the Pool was constructed. A task therefore crosses
// to a worker as
//   - an *invoker*: the address of a function template instantiated for the
//     task's callable type and argument tuple, which decodes the arguments,
//     calls, and encodes the results (the same code in every process);
//   - the callable's identity:
//       * function and member-function pointers: their bytes;
//       * empty, default-constructible function objects (captureless
//         lambdas): nothing, the worker makes a fresh one;
//       * mp::RegisteredTask<F>: the address of the registered object, valid
//         in workers of pools made after the registration;
//       * other function objects that cereal can serialize: their bytes;
//   - the arguments of one chunk of items, serialized (internal::dumps).
// Anything else (a lambda with captures) is rejected at compile time.
#pragma once

#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <cereal/details/traits.hpp>
#include <cereal/types/variant.hpp>

#include "racegate/errors.h"
#include "racegate/internal/pool_result.h"
#include "racegate/internal/serialize.h"

namespace racegate::mp {

// RegisteredTask<F>
//
// A callable registered with mp::register_task() (below). Calling it calls the
// registered object. Pools constructed after the registration can run it in
// their workers, which inherit the object at fork; a Pool constructed before
// it rejects it with TypeError. ThreadPools accept it like any callable.
template <class F>
class RegisteredTask {
 public:
  using callable_type = F;

  template <class... As>
  decltype(auto) operator()(As&&... as) const {
    return std::invoke(*fn_, std::forward<As>(as)...);
  }

  [[nodiscard]] F* get() const noexcept { return fn_; }
  [[nodiscard]] std::uint64_t generation() const noexcept { return generation_; }

  RegisteredTask(F* fn, std::uint64_t generation) noexcept : fn_(fn), generation_(generation) {}

 private:
  F* fn_;
  std::uint64_t generation_;
};

}  // namespace racegate::mp

namespace racegate::internal::pool {

// Keeps `object` alive until the program ends; returns the registration's
// generation (1, 2, ...).
std::uint64_t register_object(std::shared_ptr<void> object);
// The generation of the latest registration (0 before any).
std::uint64_t registry_generation() noexcept;

// ---- errors across the process boundary -------------------------------------------------

// An exception caught in a worker: its Python type name, its message and, when
// it is exactly one of racegate's own types, that type's index in a table
// shared by parent and worker (-1 otherwise).
struct ErrorInfo {
  std::string type;
  std::string message;
  std::int32_t exact = -1;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(type, message, exact);
  }
};

// Describes the exception in flight (call inside a catch block).
ErrorInfo describe_current_exception();
// The exception a parent raises for `info`: the racegate type itself, or a
// RemoteError(type, message).
std::exception_ptr rebuild_exception(const ErrorInfo& info);

// ---- callables --------------------------------------------------------------------------

template <class T>
struct is_registered : std::false_type {};
template <class F>
struct is_registered<mp::RegisteredTask<F>> : std::true_type {};

enum class CallableKind { kRawBytes, kStateless, kRegistered, kSerialized, kUnsupported };

template <class Fn>
constexpr CallableKind callable_kind() {
  if constexpr (is_registered<Fn>::value) {
    return CallableKind::kRegistered;
  } else if constexpr (std::is_pointer_v<Fn> || std::is_member_pointer_v<Fn>) {
    return CallableKind::kRawBytes;
  } else if constexpr (std::is_class_v<Fn> && std::is_empty_v<Fn> &&
                       std::is_default_constructible_v<Fn>) {
    return CallableKind::kStateless;
  } else if constexpr (std::is_class_v<Fn> && std::is_default_constructible_v<Fn> &&
                       cereal::traits::is_output_serializable<Fn, cereal::PortableBinaryOutputArchive>::value &&
                       cereal::traits::is_input_serializable<Fn, cereal::PortableBinaryInputArchive>::value) {
    return CallableKind::kSerialized;
  } else {
    return CallableKind::kUnsupported;
  }
}

template <class Fn>
void check_callable() {
  static_assert(callable_kind<Fn>() != CallableKind::kUnsupported,
                "a process Pool task must be a function pointer, a captureless lambda, a function "
                "object cereal can serialize, or a callable registered with "
                "racegate::mp::register_task() before the Pool is constructed (workers are forked "
                "processes: a lambda's captures cannot reach them)");
}

// Rejects, at compile time and with CPython's words, synchronization objects
// among a task's arguments: they can reach a worker only by inheritance
// (through the initializer or a registered callable).
template <class Tuple>
struct argument_check;
template <class... Es>
struct argument_check<std::tuple<Es...>> {
  static void run() { (reject_inherit_only<Es>(), ...); }
};

// The result type of calling Fn with the elements of Tuple as lvalues.
template <class Fn, class Tuple>
using apply_result_t = decltype(std::apply(std::declval<Fn&>(), std::declval<Tuple&>()));

template <class Fn, class Tuple>
inline constexpr bool invocable_with_tuple_v = requires(Fn& f, Tuple& t) { std::apply(f, t); };

// Calls `fn` on every tuple of `items`, collecting one value per item.
template <class V, class Fn, class Tuple>
std::vector<V> call_each(Fn& fn, std::vector<Tuple>& items) {
  std::vector<V> out;
  out.reserve(items.size());
  for (auto& t : items) {
    if constexpr (std::is_same_v<apply_result_t<Fn, Tuple>, void>) {
      std::apply(fn, t);
      out.emplace_back();
    } else {
      out.push_back(std::apply(fn, t));
    }
  }
  return out;
}

// A worker-side entry point: (callable bytes, chunk payload) -> encoded values.
using Invoker = std::string (*)(std::string_view callable, std::string_view payload);

template <class Fn, class Tuple>
std::string invoke_chunk(std::string_view callable, std::string_view payload) {
  using V = value_t<apply_result_t<Fn, Tuple>>;
  auto items = loads<std::vector<Tuple>>(payload);
  constexpr CallableKind kind = callable_kind<Fn>();
  if constexpr (kind == CallableKind::kRawBytes) {
    Fn fn;
    if (callable.size() != sizeof fn) throw ValueError("malformed task: callable size");
    std::memcpy(static_cast<void*>(&fn), callable.data(), sizeof fn);
    return dumps(call_each<V>(fn, items));
  } else if constexpr (kind == CallableKind::kStateless) {
    Fn fn{};
    return dumps(call_each<V>(fn, items));
  } else if constexpr (kind == CallableKind::kRegistered) {
    using F = typename Fn::callable_type;
    F* p = nullptr;
    if (callable.size() != sizeof p) throw ValueError("malformed task: callable size");
    std::memcpy(static_cast<void*>(&p), callable.data(), sizeof p);
    return dumps(call_each<V>(*p, items));
  } else {
    Fn fn = loads<Fn>(callable);
    return dumps(call_each<V>(fn, items));
  }
}

// What a task message carries besides its arguments.
struct Invocation {
  std::string invoker;   // the bytes of an Invoker
  std::string callable;  // the callable's identity (see above)
};

// Builds the invocation of `fn` for a pool whose workers were forked when the
// registry was at `pool_generation`. Throws TypeError for a callable
// registered after that.
template <class Fn, class Tuple>
Invocation make_invocation(const Fn& fn, std::uint64_t pool_generation) {
  check_callable<Fn>();
  argument_check<Tuple>::run();
  Invocation inv;
  Invoker invoker = &invoke_chunk<Fn, Tuple>;
  inv.invoker.assign(reinterpret_cast<const char*>(&invoker), sizeof invoker);
  constexpr CallableKind kind = callable_kind<Fn>();
  if constexpr (kind == CallableKind::kRawBytes) {
    inv.callable.assign(reinterpret_cast<const char*>(&fn), sizeof fn);
  } else if constexpr (kind == CallableKind::kRegistered) {
    if (fn.generation() > pool_generation) {
      throw TypeError(
          "task registered after the pool was created: its workers cannot see it (call "
          "racegate::mp::register_task() before constructing the Pool)");
    }
    auto* p = fn.get();
    inv.callable.assign(reinterpret_cast<const char*>(&p), sizeof p);
  } else if constexpr (kind == CallableKind::kSerialized) {
    inv.callable = dumps(fn);
  }
  return inv;
}

}  // namespace racegate::internal::pool

namespace racegate::mp {

// mp::register_task(f)
//
// Registers a callable (a lambda with captures, a std::function, any function
// object) so that process Pools constructed *afterwards* can run it: the
// object is kept for the rest of the program and inherited by their workers
// at fork. Returns the handle to pass as the task. Thread-safe.
template <class F>
RegisteredTask<std::decay_t<F>> register_task(F&& f) {
  using T = std::decay_t<F>;
  auto holder = std::make_shared<T>(std::forward<F>(f));
  T* p = holder.get();
  std::uint64_t gen = racegate::internal::pool::register_object(std::move(holder));
  return RegisteredTask<T>(p, gen);
}

}  // namespace racegate::mp
