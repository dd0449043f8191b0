// Catalog section 5: the Lock / RLock behaviors, written once over
// LockAdapter (cases/adapters/sync.h) and run against every implementation.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <sched.h>
#include <string>
#include <thread>
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

// ---- helpers --------------------------------------------------------------------------------

// Whether anyone holds the lock, asked as the type allows: locked(), or
// try_acquire() from another thread (given back at once if it succeeds).
template <LockAdapter A>
bool lock_is_held(typename A::Handle& h) {
  if constexpr (A::kLockedQuery.has) {
    return A::locked(h);
  } else {
    bool took = false;
    std::thread probe([&] {
      took = A::try_acquire(h);
      if (took) A::release(h);
    });
    probe.join();
    return !took;
  }
}

// acquire(False) that gives the lock back when it got it: a check that must
// see False never leaves the lock held when it fails.
template <LockAdapter A>
bool try_then_release(typename A::Handle& h) {
  const bool took = A::try_acquire(h);
  if (took) A::release(h);
  return took;
}

// The case's own hold on a lock: released as often as it was taken when a
// check fails half-way (destroying a held lock is undefined for most types).
template <LockAdapter A>
class Holding {
 public:
  explicit Holding(typename A::Handle& h) : h_(h) {}
  Holding(const Holding&) = delete;
  Holding& operator=(const Holding&) = delete;
  ~Holding() {
    try {
      while (count_ > 0) release();
    } catch (...) {
      // A check has already failed; nothing more to say.
    }
  }
  void acquire() {
    A::acquire(h_);
    ++count_;
  }
  bool try_acquire() {
    const bool took = A::try_acquire(h_);
    if (took) ++count_;
    return took;
  }
  bool acquire_for(Seconds t)
    requires(A::kTimedAcquire.has)
  {
    const bool took = A::acquire_for(h_, t);
    if (took) ++count_;
    return took;
  }
  void release() {
    --count_;
    A::release(h_);
  }
  // Another party released the lock for the case (a Lock has no owner).
  void released_by_other() { count_ = 0; }

 private:
  typename A::Handle& h_;
  int count_ = 0;
};

inline std::string str(std::string_view s) { return std::string(s); }

// ---- lock.mutual_exclusion_processes ---------------------------------------------------------

inline Behavior lock_mutual_exclusion_behavior() {
  return {"lock.mutual_exclusion_processes",
          make_spec("The critical sections of parties sharing a lock never interleave",
                    "001_41cd22346628bbc0.txt", {"lock", "process", "D"}, 15, Expectation::kOutcomes)};
}

// Every party logs "try", "enter" and "exit" into one shared log; the log's
// order is the order of its atomic index, which a lock that excludes turns
// into enter/exit pairs of one party with nothing but "try" between them.
struct ExclusionLog {
  static constexpr int kMaxParties = 4;
  static constexpr int kMaxRounds = 40;
  static constexpr int kCapacity = kMaxParties * kMaxRounds * 3;
  enum Kind : std::uint32_t { kTry = 1, kEnter = 2, kExit = 3 };

  std::atomic<int> size{0};
  std::atomic<std::uint32_t> entries[kCapacity];  // kind << 8 | party
  std::atomic<int> tries{0};
  std::atomic<int> enters{0};
  std::atomic<int> finished{0};
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  int guarded = 0;  // a plain int, changed only inside the critical section

  void append(Kind k, int party) {
    const int i = size.fetch_add(1);
    if (i < kCapacity) entries[i].store(static_cast<std::uint32_t>(k) << 8 | static_cast<std::uint32_t>(party));
  }
  void tried(int party) {
    append(kTry, party);
    tries.fetch_add(1);
  }
  void entered(int party) {
    enters.fetch_add(1);
    if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
    append(kEnter, party);
    ++guarded;
  }
  // Stays inside until another party waits to enter (a lock that does not
  // exclude lets it in now), another party is inside already, or every
  // other party has finished; at most 1 s. Not a timing oracle: a lock that
  // excludes passes however long this is.
  void linger(int parties) {
    const auto until = Clock::now() + std::chrono::seconds(1);
    while (tries.load() - enters.load() <= 0 && inside.load() < 2 && finished.load() < parties - 1 &&
           Clock::now() < until) {
      sched_yield();
    }
  }
  void exiting(int party) {
    append(kExit, party);
    inside.fetch_sub(1);
  }
};

template <LockAdapter A>
void lock_mutual_exclusion_over(CaseContext& ctx, bool processes) {
  ctx.check([&ctx, processes] {
    const int parties = *rc::gen::inRange(2, ExclusionLog::kMaxParties + 1);
    const int rounds = *rc::gen::inRange(1, ExclusionLog::kMaxRounds + 1);
    auto lock = A::make();
    auto log = SharedObject<ExclusionLog>::make();
    mp::Event go;
    Team team(processes);
    team.release_on_unwind(go);
    for (int p = 0; p < parties; ++p) {
      team.spawn([=]() mutable {
        require(go.wait(Seconds(30)), "never told to start");
        for (int r = 0; r < rounds; ++r) {
          log->tried(p);
          A::with(lock, [&] {  // `with lock:` as the seed's workers
            log->entered(p);
            log->linger(parties);
            log->exiting(p);
          });
        }
        log->finished.fetch_add(1);
      });
    }
    go.set();
    const std::string err = team.join();
    if (!err.empty()) RC_FAIL(err);

    RC_ASSERT(log->size.load() == parties * rounds * 3);
    // Enter/exit pairs, in log order, with the "try" entries left out.
    std::vector<std::uint32_t> seq;
    for (int i = 0; i < log->size.load(); ++i) {
      const std::uint32_t e = log->entries[i].load();
      if (e >> 8 != ExclusionLog::kTry) seq.push_back(e);
    }
    bool adjacent = seq.size() == static_cast<std::size_t>(2 * parties * rounds) && log->overlaps.load() == 0;
    std::vector<int> owners;  // the party of each section, in order
    for (std::size_t k = 0; adjacent && k + 1 < seq.size(); k += 2) {
      const std::uint32_t enter = seq[k], exit = seq[k + 1];
      adjacent = enter >> 8 == ExclusionLog::kEnter && exit >> 8 == ExclusionLog::kExit &&
                 (enter & 0xff) == (exit & 0xff);
      owners.push_back(static_cast<int>(enter & 0xff));
    }
    if (!adjacent) {
      ctx.outcome("critical sections overlapped", Grade::kForbidden);
      RC_FAIL("critical sections overlapped: " + std::to_string(log->overlaps.load()) +
              " entries into an occupied section");
    }
    RC_ASSERT(log->guarded == parties * rounds);
    // The order of the sections is the scheduler's: record it, require nothing.
    int runs = 1;
    for (std::size_t k = 1; k < owners.size(); ++k) runs += owners[k] != owners[k - 1] ? 1 : 0;
    ctx.outcome(runs == parties ? "sections adjacent; each party's sections in one run"
                                : "sections adjacent; parties took turns",
                Grade::kAcceptable);
  });
}

template <LockAdapter A>
void lock_mutual_exclusion(CaseContext& ctx) {
  lock_mutual_exclusion_over<A>(ctx, parties_across_processes<A>(ctx, "critical sections exclude across processes"));
}

// ---- lock.with_statement ---------------------------------------------------------------------

inline Behavior lock_with_statement_behavior() {
  return {"lock.with_statement",
          make_spec("`with lock:` acquires and releases on every exit, exceptions included",
                    "000_78ac54c149ecb25e.txt, 004_7648374c0ccc69dc.txt", {"lock", "D"}, 50)};
}

struct Boom {};

template <LockAdapter A>
void with_blocks(typename A::Handle& lock, int depth, bool throws) {
  A::with(lock, [&] {
    RC_ASSERT(lock_is_held<A>(lock));
    if (depth > 1) {
      with_blocks<A>(lock, depth - 1, throws);
    } else if (throws) {
      throw Boom{};
    }
  });
}

template <LockAdapter A>
void lock_with_statement(CaseContext& ctx) {
  if (!A::kLockedQuery.has) ctx.skip_check("locked() is False after the with block", str(A::kLockedQuery.why_not));
  if (!A::kAcquireReturnsTrue.has) {
    ctx.skip_check("Lock().__enter__() returns True", str(A::kAcquireReturnsTrue.why_not));
  }
  ctx.check([] {
    // Blocks one after another; an RLock's nest (depth > 1), and some end
    // with an exception from the innermost body.
    const int blocks = *rc::gen::inRange(0, 10);
    auto lock = A::make();
    for (int b = 0; b < blocks; ++b) {
      const int depth = A::kRecursive ? *rc::gen::inRange(1, 5) : 1;
      const bool throws = *rc::gen::arbitrary<bool>();
      bool caught = false;
      try {
        with_blocks<A>(lock, depth, throws);
      } catch (const Boom&) {
        caught = true;
      }
      RC_ASSERT(caught == throws);
      RC_ASSERT(!lock_is_held<A>(lock));
    }
    if constexpr (A::kAcquireReturnsTrue.has) {
      RC_ASSERT(A::acquire(lock));  // __enter__ returns acquire()'s True
      A::release(lock);
    }
    RC_ASSERT(!lock_is_held<A>(lock));
  });
}

// ---- lock.nonblocking_timeout_nesting --------------------------------------------------------

inline Behavior lock_nonblocking_behavior() {
  return {"lock.nonblocking_timeout_nesting",
          make_spec("acquire(False) and acquire(timeout=t) on a held lock give False; an RLock nests",
                    "000_78ac54c149ecb25e.txt", {"lock", "T"}, 8)};
}

template <LockAdapter A>
void lock_nonblocking_over(CaseContext& ctx, bool processes) {
  if (!A::kTimedAcquire.has) {
    ctx.skip_check("acquire(timeout=t) on a held lock returns False after t", str(A::kTimedAcquire.why_not));
  }
  if (!A::kRecursive && !A::kTryByHolder.has) {
    ctx.skip_check("acquire(False) by the thread holding the lock returns False", str(A::kTryByHolder.why_not));
  }
  if (A::kTimedAcquire.has && !A::kTimedByHolder.has) {
    ctx.skip_check("acquire(timeout=t) by the thread holding the lock (don't nest)", str(A::kTimedByHolder.why_not));
  }
  ctx.check([processes] {
    const double t = *rc::gen::inRange(10, 151) / 1000.0;
    auto lock = A::make();
    {  // held by another party
      mp::Event held, done;
      Team team(processes);
      team.release_on_unwind(done);
      team.spawn([=]() mutable {
        A::acquire(lock);
        held.set();
        const bool released = done.wait(Seconds(30));
        A::release(lock);
        require(released, "the case never let the holder go");
      });
      RC_ASSERT(held.wait(Seconds(30)));
      RC_ASSERT(!try_then_release<A>(lock));
      if constexpr (A::kTimedAcquire.has) {
        const auto t0 = Clock::now();
        const bool took = A::acquire_for(lock, Seconds(t));
        const double elapsed = seconds_since(t0);
        if (took) A::release(lock);
        RC_ASSERT(!took);
        RC_ASSERT(elapsed >= t);
        RC_ASSERT(elapsed < t + 5.0);
      }
      done.set();
      const std::string err = team.join();
      if (!err.empty()) RC_FAIL(err);
    }
    // Taken again by the thread that holds it.
    Holding<A> holding(lock);
    RC_ASSERT(holding.try_acquire());
    if constexpr (A::kRecursive) {
      const int depth = *rc::gen::inRange(2, 5);
      for (int i = 1; i < depth; ++i) RC_ASSERT(holding.try_acquire());  // an RLock nests: True
      if constexpr (A::kTimedAcquire.has && A::kTimedByHolder.has) {
        const auto t0 = Clock::now();
        RC_ASSERT(holding.acquire_for(Seconds(t)));
        RC_ASSERT(seconds_since(t0) < t + 5.0);
        holding.release();
      }
      for (int i = 0; i < depth; ++i) holding.release();
    } else {
      if constexpr (A::kTryByHolder.has) RC_ASSERT(!holding.try_acquire());
      if constexpr (A::kTimedAcquire.has && A::kTimedByHolder.has) {
        // The nesting deadlock, bounded: the timeout form shows False.
        const auto t0 = Clock::now();
        RC_ASSERT(!holding.acquire_for(Seconds(t)));
        const double elapsed = seconds_since(t0);
        RC_ASSERT(elapsed >= t);
        RC_ASSERT(elapsed < t + 5.0);
      }
      holding.release();
    }
    RC_ASSERT(!lock_is_held<A>(lock));
  });
}

template <LockAdapter A>
void lock_nonblocking_timeout_nesting(CaseContext& ctx) {
  lock_nonblocking_over<A>(ctx, parties_across_processes<A>(ctx, "a lock held by another process"));
}

// ---- lock.release_unlocked -------------------------------------------------------------------

inline Behavior lock_release_unlocked_behavior() {
  return {"lock.release_unlocked",
          make_spec("release() of an unlocked lock raises CPython's error and changes nothing", "",
                    {"lock", "D"}, 40)};
}

template <LockAdapter A>
void lock_release_unlocked(CaseContext& ctx) {
  constexpr const Misuse& m = A::kReleaseUnlocked;
  if (!m.is_raises()) ctx.skip_check("release() of an unlocked lock raises", str(m.why));
  ctx.check([] {
    // Any number of acquire/release rounds (an RLock's nested) first.
    const int rounds = *rc::gen::inRange(0, 6);
    auto lock = A::make();
    for (int r = 0; r < rounds; ++r) {
      const int depth = A::kRecursive ? *rc::gen::inRange(1, 4) : 1;
      Holding<A> holding(lock);
      for (int d = 0; d < depth; ++d) holding.acquire();
      for (int d = 0; d < depth; ++d) holding.release();
    }
    RC_ASSERT(!lock_is_held<A>(lock));
    if constexpr (m.is_raises()) {
      const int extra = *rc::gen::inRange(1, 4);
      for (int i = 0; i < extra; ++i) {
        const Raised r = raised([&] { A::release(lock); });
        RC_ASSERT(r.raised);
        RC_ASSERT(r.type == str(m.type));
        RC_ASSERT(r.message == str(m.message));
      }
      // It changed nothing: the lock is free and works.
      RC_ASSERT(!lock_is_held<A>(lock));
      RC_ASSERT(try_then_release<A>(lock));
    }
  });
}

// ---- lock.non_owner_release ------------------------------------------------------------------

inline Behavior lock_non_owner_release_behavior() {
  return {"lock.non_owner_release",
          make_spec("A Lock has no owner (anyone may release it); an RLock's release by a non-owner raises",
                    "", {"lock", "D"}, 20)};
}

// CPython: a Lock has no owner, so another thread (mp: another process) may
// release it; an RLock checks its owner and raises. Either the case holds
// and the other party releases, or the other way round.
template <LockAdapter A>
void lock_non_owner_release_over(CaseContext& ctx, bool processes) {
  constexpr const Misuse& m = A::kNonOwnerRelease;
  if (!m.is_allowed() && !m.is_raises()) {
    ctx.skip_check(A::kRecursive ? "release() by a thread or process that does not own the RLock raises"
                                 : "release() by a thread or process that did not acquire the Lock frees it",
                   str(m.why));
  }
  ctx.check([processes] {
    const int depth = A::kRecursive ? *rc::gen::inRange(1, 4) : 1;
    const bool party_holds = *rc::gen::arbitrary<bool>();
    auto lock = A::make();
    mp::Event held, tried;
    Team team(processes);
    team.release_on_unwind(tried);
    if (!party_holds) {
      Holding<A> holding(lock);
      for (int d = 0; d < depth; ++d) holding.acquire();
      team.spawn([=]() mutable {
        if constexpr (m.is_allowed()) {
          const Raised r = raised([&] { A::release(lock); });
          require(!r.raised, "release() by a non-owner: " + describe(r));
        } else if constexpr (m.is_raises()) {
          const Raised r = raised([&] { A::release(lock); });
          require(is_error(r, m), "release() by a non-owner: " + describe(r));
          require(!try_then_release<A>(lock), "the lock was free after a refused release()");
        } else {
          require(!try_then_release<A>(lock), "acquire(False) took a lock another party holds");
        }
      });
      const std::string err = team.join();
      if (!err.empty()) RC_FAIL(err);
      if constexpr (m.is_allowed()) {
        holding.released_by_other();
        RC_ASSERT(!lock_is_held<A>(lock));
        RC_ASSERT(try_then_release<A>(lock));  // the case's acquire(False) is True again
      } else {
        RC_ASSERT(lock_is_held<A>(lock));  // still the case's
        for (int d = 0; d < depth; ++d) holding.release();
        RC_ASSERT(!lock_is_held<A>(lock));
      }
    } else {
      team.spawn([=]() mutable {
        for (int d = 0; d < depth; ++d) A::acquire(lock);
        held.set();
        const bool ok = tried.wait(Seconds(30));
        if constexpr (m.is_allowed()) {
          // The case released it: it is free.
          require(ok, "the case never tried its release");
          require(try_then_release<A>(lock), "after the case's release acquire(False) is False");
        } else {
          for (int d = 0; d < depth; ++d) A::release(lock);
          require(ok, "the case never tried its release");
        }
      });
      RC_ASSERT(held.wait(Seconds(30)));
      if constexpr (m.is_allowed()) {
        const Raised r = raised([&] { A::release(lock); });
        RC_ASSERT(!r.raised);
      } else if constexpr (m.is_raises()) {
        const Raised r = raised([&] { A::release(lock); });
        RC_ASSERT(is_error(r, m));
        RC_ASSERT(!try_then_release<A>(lock));  // still the other party's
      } else {
        RC_ASSERT(!try_then_release<A>(lock));
      }
      tried.set();
      const std::string err = team.join();
      if (!err.empty()) RC_FAIL(err);
      RC_ASSERT(!lock_is_held<A>(lock));
    }
    if constexpr (m.is_raises()) {
      // Released when not held at all: the same error.
      RC_ASSERT(is_error(raised([&] { A::release(lock); }), m));
    }
  });
}

template <LockAdapter A>
void lock_non_owner_release(CaseContext& ctx) {
  lock_non_owner_release_over<A>(ctx, parties_across_processes<A>(ctx, "a release from another process"));
}

}  // namespace racegate::cases::sync_cases

#if defined(__clang__)
#pragma clang diagnostic pop
#endif
