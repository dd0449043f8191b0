// Shared by the queue and pipe case templates (queue_mp.h, queue_thread.h,
// queue_pipe.h): item encoding, rapidcheck generators, exception and timing
// checks, a model-checked run of put/get operations, and registration of a
// case template over an adapter.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include <rapidcheck.h>

#include "cases/adapters/queue.h"
#include "racegate/errors.h"
#include "racegate/harness/case.h"

namespace racegate::cases::queues {

using queue_adapters::Seconds;
using Clock = std::chrono::steady_clock;
using racegate::harness::CaseContext;
using racegate::harness::CaseSpec;

// Every blocking call of a case waits at most this long: a hang becomes a
// failure, never a stuck run.
inline constexpr Seconds kLong{60};

inline double seconds_since(Clock::time_point t0) { return Seconds(Clock::now() - t0).count(); }

// ------------------------------------------------------------------ items

// An item: "<producer>.<k>:" then `payload` bytes that depend on (producer,
// k), so a torn, swapped or misplaced item shows.
inline std::string make_item(int producer, int k, std::size_t payload) {
  std::string s = std::to_string(producer) + "." + std::to_string(k) + ":";
  const std::size_t head = s.size();
  s.resize(head + payload);
  std::uint32_t x = static_cast<std::uint32_t>(producer) * 2654435761u + static_cast<std::uint32_t>(k) * 40503u + 1u;
  for (std::size_t i = 0; i < payload; ++i) {
    x = x * 1103515245u + 12345u;
    s[head + i] = static_cast<char>(x >> 24);
  }
  return s;
}

// The (producer, k) of an item made by make_item, or nullopt when its bytes
// are not exactly what make_item makes.
inline std::optional<std::pair<int, int>> parse_item(const std::string& s) {
  const auto dot = s.find('.');
  const auto colon = s.find(':');
  if (dot == std::string::npos || colon == std::string::npos || dot > colon) return std::nullopt;
  try {
    const int producer = std::stoi(s.substr(0, dot));
    const int k = std::stoi(s.substr(dot + 1, colon - dot - 1));
    if (s != make_item(producer, k, s.size() - colon - 1)) return std::nullopt;
    return std::make_pair(producer, k);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The largest item (header included) an adapter carries, capped at `cap`.
template <class Q>
constexpr std::size_t item_limit(std::size_t cap) {
  return Q::kMaxItemBytes == 0 || Q::kMaxItemBytes > cap ? cap : Q::kMaxItemBytes;
}
// Room left for make_item's payload under a limit (its header is < 32 bytes).
constexpr std::size_t payload_limit(std::size_t item_bytes) { return item_bytes > 32 ? item_bytes - 32 : 0; }

// A payload size in [0, max] that is often 0, often small, sometimes large
// and sometimes exactly max (at every rapidcheck size).
inline rc::Gen<std::size_t> gen_size(std::size_t max) {
  if (max == 0) return rc::gen::just<std::size_t>(0);
  const std::size_t small = max < 64 ? max : 64;
  return rc::gen::resize(
      100, rc::gen::weightedOneOf<std::size_t>({{3, rc::gen::just<std::size_t>(0)},
                                                {4, rc::gen::inRange<std::size_t>(1, small + 1)},
                                                {2, rc::gen::inRange<std::size_t>(small, max + 1)},
                                                {1, rc::gen::just(std::size_t{max})}}));
}

// ------------------------------------------------------------ exceptions

// Runs f; returns what() of the E it throws, nullopt when it throws nothing
// (any other exception propagates and fails the property).
template <class E, class F>
std::optional<std::string> error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

// f must throw exactly E (not a subclass of it) with what() == message.
template <class E, class F>
void assert_raises(std::string_view message, F&& f) {
  try {
    f();
  } catch (const E& e) {
    RC_ASSERT(typeid(e) == typeid(E));
    RC_ASSERT(std::string(e.what()) == std::string(message));
    return;
  }
  RC_FAIL("no " + std::string(E("").python_type()) + " raised (expected what() \"" + std::string(message) + "\")");
}

// f must raise E (what() == message) after at least t and well before t + 5 s.
template <class E, class F>
void assert_raises_after(std::string_view message, Seconds t, F&& f) {
  const auto t0 = Clock::now();
  assert_raises<E>(message, std::forward<F>(f));
  const double elapsed = seconds_since(t0);
  RC_ASSERT(elapsed >= t.count());
  RC_ASSERT(elapsed < t.count() + 5.0);
}

// A small timeout for the timed checks: 10..300 ms.
inline Seconds gen_short_timeout() { return Seconds(*rc::gen::inRange(10, 301) / 1000.0); }

// ------------------------------------------------------- model-checked ops

// One operation of a random sequence on one queue.
struct QueueOp {
  enum Kind { kPutNowait, kPutFalse, kGetNowait, kGetFalse, kInspect } kind;
  std::size_t payload;
};

inline rc::Gen<std::vector<QueueOp>> gen_ops(std::size_t max_payload) {
  auto op = rc::gen::apply(
      [](int kind, std::size_t payload) { return QueueOp{static_cast<QueueOp::Kind>(kind), payload}; },
      rc::gen::inRange(0, 5), gen_size(max_payload));
  return rc::gen::container<std::vector<QueueOp>>(op);
}

// Runs `ops` on q (bounded by maxsize; <= 0: none) and on a std::deque model
// from one thread: put_nowait / put(x, false) raise Full exactly when the
// model is full, get_nowait / get(false) raise Empty exactly when it is
// empty, and gets return the model's front. With `exact`, qsize/empty/full
// match the model after every operation. Drains q at the end.
template <class Q>
void run_model_ops(Q& q, long maxsize, const std::vector<QueueOp>& ops, bool exact = true) {
  std::deque<std::string> model;
  int k = 0;
  auto model_full = [&] { return maxsize > 0 && model.size() >= static_cast<std::size_t>(maxsize); };
  auto inspect = [&] {
    if (!exact) return;
    RC_ASSERT(q.qsize() == model.size());
    RC_ASSERT(q.empty() == model.empty());
    RC_ASSERT(q.full() == model_full());
  };
  for (const auto& op : ops) {
    switch (op.kind) {
      case QueueOp::kPutNowait:
      case QueueOp::kPutFalse: {
        const std::string item = make_item(0, k++, op.payload);
        const bool was_full = model_full();
        auto raised = error_of<Full>([&] {
          if (op.kind == QueueOp::kPutNowait) q.put_nowait(item);
          else q.put(item, false);
        });
        RC_ASSERT(raised.has_value() == was_full);
        if (raised) RC_ASSERT(*raised == "");
        else model.push_back(item);
        break;
      }
      case QueueOp::kGetNowait:
      case QueueOp::kGetFalse: {
        std::string got;
        auto raised = error_of<Empty>([&] { got = op.kind == QueueOp::kGetNowait ? q.get_nowait() : q.get(false); });
        RC_ASSERT(raised.has_value() == model.empty());
        if (raised) {
          RC_ASSERT(*raised == "");
        } else {
          RC_ASSERT(got == model.front());
          model.pop_front();
        }
        break;
      }
      case QueueOp::kInspect:
        break;
    }
    inspect();
  }
  while (!model.empty()) {
    RC_ASSERT(q.get(true, kLong) == model.front());
    model.pop_front();
  }
  RC_ASSERT(q.empty());
}

// ------------------------------------------------------------ registration

// A CaseSpec (built member by member: designated initializers that leave
// members out trip -Wmissing-field-initializers).
inline CaseSpec make_spec(std::string title, std::string seed_document, std::vector<std::string> tags,
                          int default_trials,
                          racegate::harness::Expectation expectation = racegate::harness::Expectation::kHolds) {
  CaseSpec spec;
  spec.title = std::move(title);
  spec.seed_document = std::move(seed_document);
  spec.tags = std::move(tags);
  spec.expectation = expectation;
  spec.default_trials = default_trials;
  return spec;
}

// Registers body<A> (a case template over adapter A) under the catalog id,
// or under "<catalog id>@<A's name>" for a non-reference implementation.
template <class Q>
bool register_queue_case(std::string_view catalog_id, CaseSpec spec, void (*body)(CaseContext&)) {
  return racegate::harness::register_case(racegate::harness::Case{queue_adapters::case_id<Q>(catalog_id), std::move(spec), body});
}

// Calls ctx.skip_check(check, why) when `s` is not supported; returns
// whether it is.
inline bool supported_or_skip(CaseContext& ctx, const queue_adapters::Support& s, const std::string& check) {
  if (!s.supported) ctx.skip_check(check, std::string(s.why_not));
  return s.supported;
}

}  // namespace racegate::cases::queues
