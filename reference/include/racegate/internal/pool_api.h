// Internal: the methods Pool and ThreadPool share (apply, map, imap, ...),
// written once over the engine that runs the tasks. Do not use directly; the
// contract is in racegate/mp/pool.h.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "racegate/internal/pool_result.h"
#include "racegate/internal/pool_task.h"
#include "racegate/mp/async_result.h"

namespace racegate::internal::pool {

// The tuple a starmap item unpacks into (std::tuple, std::pair, std::array).
template <class Elem>
using star_tuple_t = decltype(std::tuple_cat(std::declval<const std::remove_cvref_t<Elem>&>()));

template <class Tuple, class... As, std::size_t... I>
Tuple take_args(std::tuple<As...>& all, std::index_sequence<I...>) {
  return Tuple(std::get<I>(all)...);
}

template <class T>
std::vector<std::vector<T>> make_chunks(std::vector<T>&& items, std::size_t chunksize) {
  std::vector<std::vector<T>> chunks;
  if (chunksize == 0) return chunks;
  chunks.reserve((items.size() + chunksize - 1) / chunksize);
  for (std::size_t at = 0; at < items.size(); at += chunksize) {
    std::size_t end = std::min(items.size(), at + chunksize);
    std::vector<T> chunk;
    chunk.reserve(end - at);
    for (std::size_t k = at; k < end; ++k) chunk.push_back(std::move(items[k]));
    chunks.push_back(std::move(chunk));
  }
  return chunks;
}

template <class Derived>
class PoolApi {
 public:
  // apply(f, args...): f(args...) in a worker; blocks and returns its value or
  // throws its error.
  template <class F, class... As>
  auto apply(F&& f, As&&... as) {
    return apply_async(std::forward<F>(f), std::forward<As>(as)...).get();
  }

  // apply_async(f, args..., [mp::callback(cb)], [mp::error_callback(eb)]).
  template <class F, class... As>
  auto apply_async(F&& f, As&&... as) {
    constexpr std::size_t kOptions = count_trailing_options<As...>();
    constexpr std::size_t kArgs = sizeof...(As) - kOptions;
    static_assert(count_options<As...>() == kOptions,
                  "mp::callback(...) and mp::error_callback(...) go after the task's arguments");
    using Fn = std::decay_t<F>;
    auto all = std::forward_as_tuple(std::forward<As>(as)...);
    using Tuple = decltype(decay_prefix(all, std::make_index_sequence<kArgs>()));
    static_assert(invocable_with_tuple_v<Fn, Tuple>, "the task cannot be called with these arguments");
    using R = apply_result_t<Fn, Tuple>;
    using V = value_t<R>;

    self().engine_check_running();
    auto state = std::make_shared<ResultState<V>>("ApplyResult");
    Options<V> opts;
    take_options(opts, all, std::make_index_sequence<kOptions>(), std::integral_constant<std::size_t, kArgs>());
    state->callback = std::move(opts.callback);
    state->error_callback = std::move(opts.error_callback);

    std::vector<std::vector<Tuple>> chunks(1);
    chunks[0].push_back(take_args<Tuple>(all, std::make_index_sequence<kArgs>()));
    self().template dispatch<Fn, Tuple, V>(Fn(std::forward<F>(f)), std::move(chunks),
                                            std::make_shared<ApplySink<V>>(state));
    return mp::AsyncResult<R>(std::move(state));
  }

  // map(f, items, [chunksize]): [f(x) for x in items], in input order.
  template <class F, class Range, class... Opts>
  auto map(F&& f, Range&& items, Opts&&... opts) {
    return map_async(std::forward<F>(f), std::forward<Range>(items), std::forward<Opts>(opts)...).get();
  }

  // map_async(f, items, [chunksize], [mp::callback(cb)], [mp::error_callback(eb)]).
  template <class F, class Range, class... Opts>
  auto map_async(F&& f, Range&& items, Opts&&... opts) {
    using Elem = std::remove_cvref_t<std::ranges::range_reference_t<Range>>;
    using Tuple = std::tuple<Elem>;
    return map_impl<Tuple>(std::forward<F>(f), std::forward<Range>(items),
                           [](auto&& x) { return Tuple(std::forward<decltype(x)>(x)); },
                           std::forward<Opts>(opts)...);
  }

  // starmap(f, items, [chunksize]): [f(*x) for x in items]; each item is a
  // std::tuple, std::pair or std::array of arguments.
  template <class F, class Range, class... Opts>
  auto starmap(F&& f, Range&& items, Opts&&... opts) {
    return starmap_async(std::forward<F>(f), std::forward<Range>(items), std::forward<Opts>(opts)...).get();
  }

  template <class F, class Range, class... Opts>
  auto starmap_async(F&& f, Range&& items, Opts&&... opts) {
    using Tuple = star_tuple_t<std::ranges::range_reference_t<Range>>;
    return map_impl<Tuple>(std::forward<F>(f), std::forward<Range>(items),
                           [](auto&& x) { return Tuple(std::tuple_cat(x)); },
                           std::forward<Opts>(opts)...);
  }

  // imap(f, items, chunksize = 1): an iterator over the results in input order.
  template <class F, class Range>
  auto imap(F&& f, Range&& items, long long chunksize = 1) {
    return imap_impl(true, std::forward<F>(f), std::forward<Range>(items), chunksize);
  }

  // imap_unordered(f, items, chunksize = 1): the results as they complete.
  template <class F, class Range>
  auto imap_unordered(F&& f, Range&& items, long long chunksize = 1) {
    return imap_impl(false, std::forward<F>(f), std::forward<Range>(items), chunksize);
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }

  template <class... As, std::size_t... I>
  static auto decay_prefix(std::tuple<As...>&, std::index_sequence<I...>)
      -> std::tuple<std::decay_t<std::tuple_element_t<I, std::tuple<As...>>>...>;

  template <class V, class... As, std::size_t... I, std::size_t Offset>
  static void take_options(Options<V>& opts, std::tuple<As...>& all, std::index_sequence<I...>,
                           std::integral_constant<std::size_t, Offset>) {
    (opts.take(std::get<Offset + I>(all)), ...);
  }

  template <class Tuple, class F, class Range, class Convert, class... Opts>
  auto map_impl(F&& f, Range&& items, Convert convert, Opts&&... opts) {
    using Fn = std::decay_t<F>;
    static_assert(invocable_with_tuple_v<Fn, Tuple>, "the task cannot be called with the items");
    using R = apply_result_t<Fn, Tuple>;
    using V = value_t<R>;

    self().engine_check_running();
    Options<std::vector<V>> options;
    (options.take(std::forward<Opts>(opts)), ...);
    std::vector<Tuple> list;
    for (auto&& x : items) list.push_back(convert(std::forward<decltype(x)>(x)));
    std::size_t chunksize = options.chunksize
                                ? check_chunksize(*options.chunksize)
                                : default_chunksize(list.size(), static_cast<std::size_t>(self().engine_processes()));
    auto state = std::make_shared<ResultState<std::vector<V>>>("MapResult");
    state->callback = std::move(options.callback);
    state->error_callback = std::move(options.error_callback);
    if (list.empty()) {
      state->set_value_silently({});
      return mp::AsyncResult<std::vector<V>>(std::move(state));
    }
    auto sink = std::make_shared<MapSink<V>>(state, list.size(), chunksize);
    self().template dispatch<Fn, Tuple, V>(Fn(std::forward<F>(f)), make_chunks(std::move(list), chunksize),
                                            std::move(sink));
    return mp::AsyncResult<std::vector<V>>(std::move(state));
  }

  template <class F, class Range>
  auto imap_impl(bool ordered, F&& f, Range&& items, long long chunksize_arg) {
    using Fn = std::decay_t<F>;
    using Elem = std::remove_cvref_t<std::ranges::range_reference_t<Range>>;
    using Tuple = std::tuple<Elem>;
    static_assert(invocable_with_tuple_v<Fn, Tuple>, "the task cannot be called with the items");
    using V = value_t<apply_result_t<Fn, Tuple>>;

    self().engine_check_running();
    std::size_t chunksize = check_chunksize(chunksize_arg);
    std::vector<Tuple> list;
    for (auto&& x : items) list.emplace_back(std::forward<decltype(x)>(x));
    auto chunks = make_chunks(std::move(list), chunksize);
    auto state = std::make_shared<IMapState<V>>(ordered, chunks.size());
    if (!chunks.empty()) {
      self().template dispatch<Fn, Tuple, V>(Fn(std::forward<F>(f)), std::move(chunks), state);
    }
    return mp::IMapIterator<V>(std::move(state));
  }
};

}  // namespace racegate::internal::pool
