// Catalog section 8: the Semaphore / BoundedSemaphore behaviors, written
// once over SemaphoreAdapter and run against every implementation.
#pragma once

#include <algorithm>
#include <atomic>
#include <sched.h>
#include <string>

#include <rapidcheck.h>

#include "cases/adapters/sync.h"
#include "cases/primitives/sync_support.h"
#include "racegate/harness/case.h"
#include "racegate/mp/event.h"

namespace racegate::cases::sync_cases {

using harness::CaseContext;
using harness::Expectation;
using harness::Grade;

// The semaphore's value, asked as the type allows: get_value(), or the
// number of units try_acquire() can take (given back afterwards).
template <SemaphoreAdapter A>
int semaphore_units(typename A::Handle& h) {
  if constexpr (A::kValueQuery.has) {
    return A::value(h);
  } else {
    int n = 0;
    while (A::try_acquire(h)) ++n;
    for (int i = 0; i < n; ++i) A::release(h);
    return n;
  }
}

template <SemaphoreAdapter A>
void note_value_query(CaseContext& ctx) {
  if (!A::kValueQuery.has) ctx.skip_check("get_value()", std::string(A::kValueQuery.why_not));
}

// ---- semaphore.max_concurrency ---------------------------------------------------------------

inline Behavior semaphore_max_concurrency_behavior() {
  return {"semaphore.max_concurrency",
          make_spec("At most N parties are inside a Semaphore(N) at once", "001_41cd22346628bbc0.txt, 000_78ac54c149ecb25e.txt",
                    {"semaphore", "process", "D"}, 12, Expectation::kOutcomes)};
}

struct ConcurrencyBoard {
  std::atomic<int> active{0};
  std::atomic<int> peak{0};
  std::atomic<int> entered{0};      // holders inside (phase 1)
  std::atomic<int> probed{0};       // probers done (phase 1)
  std::atomic<int> probe_took{0};   // probers whose acquire(False) got a unit
  std::atomic<int> free_peak{0};    // peak of phase 2

  void enter(bool phase2) {
    const int now = active.fetch_add(1) + 1;
    raise_to(peak, now);
    if (phase2) raise_to(free_peak, now);
  }
  void leave() { active.fetch_sub(1); }
  static void raise_to(std::atomic<int>& a, int v) {
    int cur = a.load();
    while (cur < v && !a.compare_exchange_weak(cur, v)) {
    }
  }
};

// P parties share a Semaphore(N). Phase 1, forced: min(N, P) holders take a
// unit each and stay; then every other party's acquire(False) must fail
// (the semaphore is full) — no hold times, so the bound is deterministic.
// Phase 2, free: everyone takes and gives back a unit a few times; the peak
// stays <= N, and whether it reaches N without forcing is the scheduler's
// (recorded as an outcome, the catalog's "peak == N is only statistical").
// The catalog's elapsed >= hold * ceil(P/N) needs hold times; the forced
// phase checks the bound without them.
template <SemaphoreAdapter A>
void semaphore_max_concurrency_over(CaseContext& ctx, bool processes) {
  ctx.check([&ctx, processes] {
    const int n = *rc::gen::inRange(1, std::min(5, A::kMaxValue) + 1);
    const int parties = *rc::gen::inRange(1, 9);
    const int rounds = *rc::gen::inRange(1, 6);
    const int holders = std::min(n, parties);
    const int probers = parties - holders;
    auto sem = A::make(n);
    auto board = SharedObject<ConcurrencyBoard>::make();
    mp::Event full, probe, probed, release;
    Team team(processes);
    for (auto e : {full, probe, probed, release}) team.release_on_unwind(e);
    auto take = [](typename A::Handle& s) {
      if constexpr (A::kTimedAcquire.has) {
        require(A::acquire_for(s, Seconds(30)), "acquire() did not get a unit within 30 s");
      } else {
        A::acquire(s);
      }
    };
    auto phase2 = [=](typename A::Handle& s) {
      for (int r = 0; r < rounds; ++r) {
        take(s);
        board->enter(true);
        sched_yield();
        board->leave();
        A::release(s);
      }
    };
    for (int i = 0; i < holders; ++i) {
      team.spawn([=]() mutable {
        take(sem);
        board->enter(false);
        if (board->entered.fetch_add(1) + 1 == holders) full.set();
        const bool ok = release.wait(Seconds(30));
        board->leave();
        A::release(sem);
        require(ok, "never released");
        phase2(sem);
      });
    }
    for (int i = 0; i < probers; ++i) {
      team.spawn([=]() mutable {
        require(probe.wait(Seconds(30)), "never told to probe");
        if (A::try_acquire(sem)) {  // must not happen: N holders are inside
          board->probe_took.fetch_add(1);
          board->enter(false);
          board->leave();
          A::release(sem);
        }
        if (board->probed.fetch_add(1) + 1 == probers) probed.set();
        require(release.wait(Seconds(30)), "never released");
        phase2(sem);
      });
    }
    RC_ASSERT(full.wait(Seconds(30)));
    RC_ASSERT(board->active.load() == holders);
    if (probers > 0) {
      probe.set();
      RC_ASSERT(probed.wait(Seconds(30)));
    }
    const int probe_took = board->probe_took.load();
    release.set();
    const std::string err = team.join();
    if (!err.empty()) RC_FAIL(err);
    const int peak = board->peak.load();
    if (peak > n || probe_took > 0) {
      ctx.outcome("more than N inside at once", Grade::kForbidden);
      RC_FAIL("peak " + std::to_string(peak) + " with N = " + std::to_string(n) + "; " +
              std::to_string(probe_took) + " acquire(False) got a unit of a full semaphore");
    }
    RC_ASSERT(peak == holders);  // phase 1 had min(N, P) inside at once
    ctx.outcome(board->free_peak.load() == holders ? "peak <= N; N at once without forcing too"
                                                   : "peak <= N; fewer than N at once without forcing",
                board->free_peak.load() == holders ? Grade::kAcceptable : Grade::kInteresting);
    RC_ASSERT(semaphore_units<A>(sem) == n);  // every unit came back
  });
}

template <SemaphoreAdapter A>
void semaphore_max_concurrency(CaseContext& ctx) {
  semaphore_max_concurrency_over<A>(ctx, parties_across_processes<A>(ctx, "the parties are processes"));
}

// ---- semaphore.over_release ------------------------------------------------------------------

inline Behavior semaphore_over_release_behavior() {
  return {"semaphore.over_release",
          make_spec("A Semaphore may be released past its initial value; a BoundedSemaphore raises", "",
                    {"semaphore", "D"}, 40)};
}

template <SemaphoreAdapter A>
void semaphore_over_release(CaseContext& ctx) {
  constexpr const Misuse& m = A::kOverRelease;
  note_value_query<A>(ctx);
  if (!A::kBoundedVariant.has) {
    ctx.skip_check("BoundedSemaphore(1).release() raises ValueError", std::string(A::kBoundedVariant.why_not));
  }
  if (!A::kBounded && !m.why.empty()) ctx.skip_check("release() past the type's maximum value", std::string(m.why));
  ctx.check([] {
    const int top = std::min(5, A::kMaxValue);
    const int v = *rc::gen::inRange(0, top + 1);
    auto sem = A::make(v);
    // Units taken and given back first: always fine.
    const int taken = *rc::gen::inRange(0, v + 1);
    for (int i = 0; i < taken; ++i) RC_ASSERT(A::try_acquire(sem));
    for (int i = 0; i < taken; ++i) A::release(sem);
    RC_ASSERT(semaphore_units<A>(sem) == v);
    if constexpr (!A::kBounded) {
      // release() without an acquire: allowed, the value grows (within the type's maximum).
      const int extra = *rc::gen::inRange(0, std::min(10, A::kMaxValue - v) + 1);
      for (int i = 0; i < extra; ++i) {
        const Raised r = raised([&] { A::release(sem); });
        RC_ASSERT(!r.raised);
      }
      RC_ASSERT(semaphore_units<A>(sem) == v + extra);
    } else if constexpr (m.is_raises()) {
      const int extra = *rc::gen::inRange(1, 4);
      for (int i = 0; i < extra; ++i) {
        const Raised r = raised([&] { A::release(sem); });
        RC_ASSERT(r.raised);
        RC_ASSERT(r.type == std::string(m.type));
        RC_ASSERT(r.message == std::string(m.message));
      }
      RC_ASSERT(semaphore_units<A>(sem) == v);  // and it changed nothing
    }
  });
}

// ---- semaphore.acquire_timeout_invalid --------------------------------------------------------

inline Behavior semaphore_acquire_timeout_behavior() {
  return {"semaphore.acquire_timeout_invalid",
          make_spec("acquire(False) and acquire(timeout=t) on Semaphore(0) give False; Semaphore(-1) raises",
                    "", {"semaphore", "T"}, 8)};
}

template <SemaphoreAdapter A>
void semaphore_acquire_timeout_invalid(CaseContext& ctx) {
  constexpr const Misuse& neg = A::kNegativeInitial;
  if (!A::kTimedAcquire.has) {
    ctx.skip_check("acquire(timeout=t) on Semaphore(0) returns False after t", std::string(A::kTimedAcquire.why_not));
  }
  if (!neg.is_raises()) ctx.skip_check("Semaphore(-1) raises", std::string(neg.why));
  ctx.check([] {
    const double t = *rc::gen::inRange(10, 151) / 1000.0;
    auto sem = A::make(0);
    RC_ASSERT(!A::try_acquire(sem));
    if constexpr (A::kTimedAcquire.has) {
      const auto t0 = Clock::now();
      const bool took = A::acquire_for(sem, Seconds(t));
      const double elapsed = seconds_since(t0);
      RC_ASSERT(!took);
      RC_ASSERT(elapsed >= t);
      RC_ASSERT(elapsed < t + 5.0);
    }
    // Units released later are there to take, then it is empty again.
    const int units = *rc::gen::inRange(0, std::min(3, A::kMaxValue) + 1);
    for (int i = 0; i < units; ++i) A::release(sem);
    for (int i = 0; i < units; ++i) RC_ASSERT(A::try_acquire(sem));
    RC_ASSERT(!A::try_acquire(sem));
    if constexpr (neg.is_raises()) {
      const int value = -*rc::gen::inRange(1, 1000);
      const Raised r = raised([&] { (void)A::make(value); });
      RC_ASSERT(r.raised);
      RC_ASSERT(r.type == std::string(neg.type));
      RC_ASSERT(r.message == std::string(neg.message));
    }
  });
}

}  // namespace racegate::cases::sync_cases
