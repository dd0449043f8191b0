// Catalog section 6: the Event behaviors, written once over EventAdapter.
// Neither the standard library nor Boost.Interprocess has an event type, so
// the implementations are the reference's (threading and mp) and the broken
// adapters of tests/broken/.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include <rapidcheck.h>

#include "cases/adapters/sync.h"
#include "cases/primitives/sync_support.h"
#include "racegate/harness/case.h"
#include "racegate/mp/event.h"
#include "racegate/mp/queue.h"

namespace racegate::cases::sync_cases {

using harness::CaseContext;

// ---- event.initial_and_clear -----------------------------------------------------------------

inline Behavior event_initial_and_clear_behavior() {
  return {"event.initial_and_clear",
          make_spec("A new Event is unset; set() makes wait() True; clear() makes wait(t) False again",
                    "000_78ac54c149ecb25e.txt", {"event", "D"}, 20)};
}

// Parties: threads for threading.Event, processes for mp.Event (each
// adapter's own kind of sharing).
template <EventAdapter A>
void event_initial_and_clear(CaseContext& ctx) {
  ctx.check([] {
    auto e = A::make();
    RC_ASSERT(!A::is_set(e));
    RC_ASSERT(!A::wait_for(e, Seconds(0)));
    // Any sequence of set / clear / is_set / wait(0) agrees with a flag.
    const auto ops = *rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 4));
    bool flag = false;
    for (int op : ops) {
      switch (op) {
        case 0:
          A::set(e);
          flag = true;
          break;
        case 1:
          A::clear(e);
          flag = false;
          break;
        case 2:
          RC_ASSERT(A::is_set(e) == flag);
          break;
        default:
          RC_ASSERT(A::wait_for(e, Seconds(0)) == flag);
          break;
      }
    }
    A::set(e);
    RC_ASSERT(A::wait(e));
    RC_ASSERT(A::wait_for(e, Seconds(0)));
    A::clear(e);
    RC_ASSERT(!A::is_set(e));
    const double t = *rc::gen::inRange(10, 101) / 1000.0;
    const auto t0 = Clock::now();
    RC_ASSERT(!A::wait_for(e, Seconds(t)));
    const double elapsed = seconds_since(t0);
    RC_ASSERT(elapsed >= t);
    RC_ASSERT(elapsed < t + 5.0);
    RC_ASSERT(!A::is_set(e));
    if constexpr (across_processes<A>()) {
      // A child forked now sees what the parent last did.
      const bool last = *rc::gen::arbitrary<bool>();
      if (last) A::set(e);
      Team team(true);
      team.spawn([=]() mutable {
        require(A::is_set(e) == last, "the child sees another state");
        require(A::wait_for(e, Seconds(0)) == last, "the child's wait(0) disagrees");
      });
      const std::string err = team.join();
      if (!err.empty()) RC_FAIL(err);
    }
  });
}

// ---- event.wait_timeout_returns_false ---------------------------------------------------------

inline Behavior event_wait_timeout_behavior() {
  return {"event.wait_timeout_returns_false",
          make_spec("wait(t) on an unset event returns False after t and leaves it unset",
                    "000_78ac54c149ecb25e.txt", {"event", "T"}, 6)};
}

// The seed's ('nonblock', wait result, is_set(), waited at least t), as
// seen by the waiting party.
struct TimedWaitReport {
  std::atomic<int> reported{0};
  std::atomic<int> result{-1};
  std::atomic<int> is_set{-1};
  std::atomic<int> waited_long_enough{-1};
  std::atomic<int> waited_too_long{-1};
};

template <EventAdapter A>
void event_wait_timeout_returns_false(CaseContext& ctx) {
  ctx.check([] {
    const double t = *rc::gen::inRange(10, 301) / 1000.0;
    auto e = A::make();
    auto report = SharedObject<TimedWaitReport>::make();
    Team team(across_processes<A>());
    team.spawn([=]() mutable {
      const auto t0 = Clock::now();
      const bool r = A::wait_for(e, Seconds(t));
      const double elapsed = seconds_since(t0);
      report->result = r ? 1 : 0;
      report->is_set = A::is_set(e) ? 1 : 0;
      report->waited_long_enough = elapsed >= t ? 1 : 0;
      report->waited_too_long = elapsed >= t + 5.0 ? 1 : 0;
      report->reported = 1;
    });
    const std::string err = team.join();
    if (!err.empty()) RC_FAIL(err);
    RC_ASSERT(report->reported.load() == 1);
    RC_ASSERT(report->result.load() == 0);  // False: a timeout never sets the event
    RC_ASSERT(report->is_set.load() == 0);
    RC_ASSERT(report->waited_long_enough.load() == 1);
    RC_ASSERT(report->waited_too_long.load() == 0);
    RC_ASSERT(!A::is_set(e));
  });
}

// ---- event.set_wakes_waiters_cross_process ----------------------------------------------------

inline Behavior event_set_wakes_behavior() {
  return {"event.set_wakes_waiters_cross_process",
          make_spec("Waiters blocked in wait() return True once set() is called; a timed waiter got False",
                    "000_78ac54c149ecb25e.txt", {"event", "process", "D"}, 10)};
}

struct WakeReports {
  static constexpr int kMax = 8;
  std::atomic<int> result[kMax];  // wait()'s value, -1 until reported
  std::atomic<int> is_set[kMax];  // is_set() after it
};

// The seed's "block" waiters (1-4) and one "nonblock" waiter. Each tells the
// case it is about to wait through a Queue; the case sets the event only
// once every waiter has said so and the timed waiter has reported, so both
// results are deterministic: ('nonblock', False, False) and ('block', True, True).
template <EventAdapter A>
void event_set_wakes_waiters(CaseContext& ctx) {
  ctx.check([] {
    const int blockers = *rc::gen::inRange(1, 5);
    const double t = *rc::gen::inRange(10, 101) / 1000.0;
    auto e = A::make();
    auto reports = SharedObject<WakeReports>::make();
    for (int i = 0; i < WakeReports::kMax; ++i) reports->result[i] = -1;
    mp::Queue<int> about_to_wait;
    Team team(across_processes<A>());
    team.on_unwind([e]() mutable { A::set(e); });
    // Party 0: the "nonblock" waiter; 1..blockers: the "block" waiters.
    team.spawn([=]() mutable {
      about_to_wait.put(0);
      reports->result[0] = A::wait_for(e, Seconds(t)) ? 1 : 0;
      reports->is_set[0] = A::is_set(e) ? 1 : 0;
      about_to_wait.put(100);  // reported
    });
    for (int i = 1; i <= blockers; ++i) {
      team.spawn([=]() mutable {
        about_to_wait.put(i);
        reports->result[i] = A::wait(e) ? 1 : 0;
        reports->is_set[i] = A::is_set(e) ? 1 : 0;
      });
    }
    int heard = 0;
    bool timed_reported = false;
    while (heard < blockers + 1 || !timed_reported) {
      const int who = about_to_wait.get(true, Seconds(30));
      if (who == 100) {
        timed_reported = true;
      } else {
        ++heard;
      }
    }
    RC_ASSERT(reports->result[0].load() == 0);
    RC_ASSERT(reports->is_set[0].load() == 0);
    for (int i = 1; i <= blockers; ++i) RC_ASSERT(reports->result[i].load() == -1);  // still blocked
    A::set(e);
    const std::string err = team.join();
    if (!err.empty()) RC_FAIL(err);
    for (int i = 1; i <= blockers; ++i) {
      RC_ASSERT(reports->result[i].load() == 1);
      RC_ASSERT(reports->is_set[i].load() == 1);
    }
  });
}

}  // namespace racegate::cases::sync_cases
