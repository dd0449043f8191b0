// Pipe adapters: the pipe cases (cases/primitives/queue_pipe.h) are written
// over the PipeAdapter concept. An adapter makes a connected pair of ends for
// values of T, as multiprocessing.Pipe(duplex) does:
//
//   auto ends = P::template make<T>(duplex);   // std::pair of connections
//
// and each end offers send(x), recv(), poll(timeout), close(), closed(),
// readable(), writable() with CPython's errors (EofError at end of stream,
// OSError for a closed handle, a wrong direction, a broken pipe). Ends are
// handles that a forked child inherits.
//
// Declared differences: kBrokenPipeErrorType (whether send() to a closed
// peer raises a type of its own, CPython's BrokenPipeError).
#pragma once

#include <concepts>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "cases/adapters/queue.h"
#include "racegate/mp/connection.h"

namespace racegate::cases::queue_adapters {

template <class C, class T>
concept ConnectionOf = std::copy_constructible<C> && requires(C c, const C cc, const T& x, std::optional<Seconds> t) {
  c.send(x);
  { c.recv() } -> std::same_as<T>;
  { c.poll(t) } -> std::same_as<bool>;
  { c.poll() } -> std::same_as<bool>;
  c.close();
  { cc.closed() } -> std::same_as<bool>;
  { cc.readable() } -> std::same_as<bool>;
  { cc.writable() } -> std::same_as<bool>;
};

template <class P>
concept PipeAdapter = requires {
  { P::kName } -> std::convertible_to<std::string_view>;
  { P::kBrokenPipeErrorType } -> std::convertible_to<Support>;
  requires ConnectionOf<typename decltype(P::template make<int>(true))::first_type, int>;
  requires ConnectionOf<typename decltype(P::template make<std::string>(false))::second_type, std::string>;
};

// multiprocessing.Pipe -> racegate::mp::Pipe.
struct RefPipe {
  static constexpr std::string_view kName = "reference.mp.Pipe";
  static constexpr Support kBrokenPipeErrorType{
      false,
      "the reference has no BrokenPipeError type: send() to a closed peer raises racegate::OSError "
      "with CPython's BrokenPipeError text \"[Errno 32] Broken pipe\" (docs/reference/data.md)"};

  template <class T>
  static std::pair<mp::Connection<T>, mp::Connection<T>> make(bool duplex) {
    return mp::Pipe<T>(duplex);
  }
};

static_assert(PipeAdapter<RefPipe>);

}  // namespace racegate::cases::queue_adapters
