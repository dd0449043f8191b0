// Catalog section 7: the Condition behaviors, written once over
// ConditionAdapter and run against every implementation.
#pragma once

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include <rapidcheck.h>

#include "cases/adapters/sync.h"
#include "cases/primitives/sync_support.h"
#include "racegate/harness/case.h"
#include "racegate/mp/event.h"

#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif

namespace racegate::cases::sync_cases {

using harness::CaseContext;
using harness::Expectation;
using harness::Grade;

// The condition's lock held by the case, given back if a check fails.
template <ConditionAdapter A>
class CondHeld {
 public:
  explicit CondHeld(typename A::Handle& h) : h_(h) { A::acquire(h_); }
  CondHeld(const CondHeld&) = delete;
  CondHeld& operator=(const CondHeld&) = delete;
  ~CondHeld() {
    try {
      A::release(h_);
    } catch (...) {
    }
  }

 private:
  typename A::Handle& h_;
};

template <ConditionAdapter A>
void note_bare_wait(CaseContext& ctx) {
  if (!A::kBareWait.has) {
    ctx.skip_check("a bare wait() returns only when notified or timed out", std::string(A::kBareWait.why_not));
  }
}

// ---- condition.notify_all_wakes_all ----------------------------------------------------------

inline Behavior condition_notify_all_behavior() {
  return {"condition.notify_all_wakes_all",
          make_spec("notify_all() wakes every waiter; each wait() returns True", "000_78ac54c149ecb25e.txt",
                    {"condition", "process", "D"}, 15, Expectation::kOutcomes)};
}

// Shared by the waiters and the notifier; the plain ints are guarded by the
// condition's lock.
struct WakeBoard {
  static constexpr int kMax = 4;
  int registered = 0;
  int woken = 0;
  int notified = 0;
  int wait_order[kMax];
  int wake_order[kMax];
  int result[kMax];
};

// The seed's stage_2 waiters and s1 notifier without its sleep(1): each
// waiter registers under the lock and waits; the last one to register tells
// the notifier, which then takes the lock (so every waiter is inside
// wait()) and notifies all.
template <ConditionAdapter A>
void condition_notify_all_over(CaseContext& ctx, bool processes) {
  note_bare_wait<A>(ctx);
  ctx.check([&ctx, processes] {
    const int waiters = *rc::gen::inRange(1, WakeBoard::kMax + 1);
    auto cond = A::make();
    auto board = SharedObject<WakeBoard>::make();
    mp::Event all_waiting;
    Team team(processes);
    team.release_on_unwind(all_waiting);
    team.on_unwind([cond]() mutable {
      CondHeld<A> held(cond);
      A::notify_all(cond);
    });
    for (int i = 0; i < waiters; ++i) {
      team.spawn([=]() mutable {
        A::acquire(cond);
        board->wait_order[board->registered] = i;
        if (++board->registered == waiters) all_waiting.set();
        const bool ok = A::wait(cond, Seconds(30));
        board->result[i] = ok ? 1 : 0;
        board->wake_order[board->woken++] = i;
        A::release(cond);
        require(ok, "wait() returned False: not notified within 30 s");
      });
    }
    team.spawn([=]() mutable {  // s1
      require(all_waiting.wait(Seconds(30)), "the waiters never all registered");
      A::acquire(cond);
      const int registered = board->registered;
      A::notify_all(cond);
      board->notified = 1;
      A::release(cond);
      require(registered == waiters, "notified before every waiter registered");
    });
    const std::string err = team.join();
    if (!err.empty()) RC_FAIL(err);
    RC_ASSERT(board->notified == 1);
    RC_ASSERT(board->woken == waiters);
    std::vector<int> woken(board->wake_order, board->wake_order + waiters);
    std::sort(woken.begin(), woken.end());
    for (int i = 0; i < waiters; ++i) {
      RC_ASSERT(woken[static_cast<std::size_t>(i)] == i);  // each waiter once: a set, not an order
      RC_ASSERT(board->result[i] == 1);
    }
    // The wake order is the scheduler's: record it, require nothing.
    const bool fifo = std::equal(board->wait_order, board->wait_order + waiters, board->wake_order);
    ctx.outcome(waiters == 1 ? "one waiter woken"
                : fifo       ? "all woken, in the order they waited"
                             : "all woken, in another order",
                Grade::kAcceptable);
  });
}

template <ConditionAdapter A>
void condition_notify_all_wakes_all(CaseContext& ctx) {
  condition_notify_all_over<A>(ctx, parties_across_processes<A>(ctx, "waiters and notifier are processes"));
}

// ---- condition.lost_wakeup ---------------------------------------------------------------------

inline Behavior condition_lost_wakeup_behavior() {
  return {"condition.lost_wakeup",
          make_spec("A notify_all() sent before anyone waits is lost: a later wait(t) returns False",
                    "000_78ac54c149ecb25e.txt", {"condition", "T"}, 6)};
}

template <ConditionAdapter A>
void condition_lost_wakeup_over(CaseContext& ctx, bool processes) {
  note_bare_wait<A>(ctx);
  ctx.check([processes] {
    const int notifies = *rc::gen::inRange(0, 4);
    const double t = *rc::gen::inRange(10, 201) / 1000.0;
    auto cond = A::make();
    {  // Another party notifies (all) before anyone waits, then ends.
      Team team(processes);
      team.spawn([=]() mutable {
        for (int i = 0; i < notifies; ++i) {
          A::acquire(cond);
          A::notify_all(cond);
          A::release(cond);
        }
      });
      const std::string err = team.join();
      if (!err.empty()) RC_FAIL(err);
    }
    CondHeld<A> held(cond);
    auto t0 = Clock::now();
    RC_ASSERT(!A::wait(cond, Seconds(t)));  // nobody notifies any more
    double elapsed = seconds_since(t0);
    RC_ASSERT(elapsed >= t);
    RC_ASSERT(elapsed < t + 5.0);
    // wait_for(predicate): True at once when it holds, False after t when not.
    t0 = Clock::now();
    RC_ASSERT(A::wait_predicate(cond, [] { return true; }, Seconds(t)));
    RC_ASSERT(seconds_since(t0) < t + 5.0);
    t0 = Clock::now();
    RC_ASSERT(!A::wait_predicate(cond, [] { return false; }, Seconds(t)));
    elapsed = seconds_since(t0);
    RC_ASSERT(elapsed >= t);
    RC_ASSERT(elapsed < t + 5.0);
  });
}

template <ConditionAdapter A>
void condition_lost_wakeup(CaseContext& ctx) {
  condition_lost_wakeup_over<A>(ctx, parties_across_processes<A>(ctx, "the notifier is another process"));
}

// ---- condition.wait_requires_lock --------------------------------------------------------------

inline Behavior condition_wait_requires_lock_behavior() {
  return {"condition.wait_requires_lock",
          make_spec("wait(), notify() and notify_all() without the lock raise CPython's errors",
                    "000_78ac54c149ecb25e.txt", {"condition", "D"}, 30)};
}

template <ConditionAdapter A>
void condition_wait_requires_lock(CaseContext& ctx) {
  constexpr const Misuse& w = A::kWaitWithoutLock;
  constexpr const Misuse& n = A::kNotifyWithoutLock;
  if (!w.is_raises()) {
    ctx.skip_check("wait() without the lock raises", std::string(w.why));
  } else if (!w.why.empty()) {
    ctx.skip_check("wait() without the lock raises CPython's type and message", std::string(w.why));
  }
  if (!n.is_raises()) {
    ctx.skip_check("notify() and notify_all() without the lock raise", std::string(n.why));
  } else if (!n.why.empty()) {
    ctx.skip_check("notify() without the lock raises CPython's type and message", std::string(n.why));
  }
  ctx.check([] {
    auto cond = A::make();
    // Any sequence of wait / notify / notify_all without the lock.
    const auto ops = *rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 3));
    for (int op : ops) {
      if (op == 0) {
        if constexpr (w.is_raises()) {
          const Raised r = raised([&] { A::wait_unlocked(cond); });
          RC_ASSERT(r.raised);
          RC_ASSERT(r.type == std::string(w.type));
          RC_ASSERT(r.message == std::string(w.message));
        }
      } else {
        if constexpr (n.is_raises() || n.is_allowed()) {
          const Raised r = raised([&] { A::notify_unlocked(cond, op == 2); });
          if constexpr (n.is_raises()) {
            RC_ASSERT(r.raised);
            RC_ASSERT(r.type == std::string(n.type));
            RC_ASSERT(r.message == std::string(n.message));
          } else {
            RC_ASSERT(!r.raised);
          }
        }
      }
    }
    // Nothing changed: with the lock held they all work.
    CondHeld<A> held(cond);
    A::notify(cond);
    A::notify_all(cond);
    const auto t0 = Clock::now();
    RC_ASSERT(!A::wait(cond, Seconds(0.01)));
    RC_ASSERT(seconds_since(t0) >= 0.01);
  });
}

}  // namespace racegate::cases::sync_cases

#if defined(__clang__)
#pragma clang diagnostic pop
#endif
