// Catalog section 4: the unlocked counter race and its locked fix.
#include <barrier>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "racegate/harness/case.h"
#include "racegate/threading/lock.h"
#include "racegate/threading/thread.h"

namespace threading = racegate::threading;
using racegate::harness::Grade;

namespace {

// The seeds' unlocked counter: `data += 1` is a separate load and store of a
// plain int. volatile keeps the compiler from folding the loop into one add;
// it is not an atomic, so ThreadSanitizer sees the race.
struct UnlockedCounter {
  int n = 0;
  bool yield_between = false;  // the catalog's wider window: yield between load and store
  volatile int racegate_unlocked_counter = 0;
};

void unlocked_counter_step(UnlockedCounter& c, int delta) {
  for (int i = 0; i < c.n; ++i) {
    int tmp = c.racegate_unlocked_counter;
    if (c.yield_between) std::this_thread::yield();
    c.racegate_unlocked_counter = tmp + delta;
  }
}

}  // namespace

// An outcomes case: an add actor and a subtract actor, released together,
// and an arbiter that grades the final value. Plain and ASan: lost updates
// are interesting (never required) and a value outside [-n, n] is
// forbidden. TSan: the canary; the runner requires a data-race report in
// unlocked_counter_step, the racy read-modify-write (else MISSED).
RG_CASE("counter.unlocked_race",
        {.title = "Two threads add and subtract n times without a lock: updates are lost",
         .seed_document = "004_7648374c0ccc69dc.txt",
         .tags = {"counter", "thread", "R"},
         .expectation = racegate::harness::Expectation::kRaceExpected,
         .race_site = "unlocked_counter_step",
         .default_trials = 40}) {
  // Under TSan the yield adds nothing (it judges by happens-before) but time.
  const bool tsan = std::string(ctx.variant()) == "tsan";
  using Observed = racegate::harness::CaseContext::Observed;
  ctx.actors<UnlockedCounter>(
      [tsan](std::mt19937_64& rng) {
        UnlockedCounter c;
        c.n = std::uniform_int_distribution<int>(1000, 10000)(rng);
        c.yield_between = !tsan && (rng() & 1) != 0;
        return c;
      },
      {[](UnlockedCounter& c) { unlocked_counter_step(c, +1); },
       [](UnlockedCounter& c) { unlocked_counter_step(c, -1); }},
      [](const UnlockedCounter& c) {
        const int v = c.racegate_unlocked_counter;
        if (v < -c.n || v > c.n) return Observed{"final value out of [-n, n]", Grade::kForbidden};
        if (v == 0) return Observed{"final == 0", Grade::kAcceptable};
        return Observed{"final != 0 (lost updates)", Grade::kInteresting};
      });
}

// With a lock the counter is exact for any n and number of thread pairs, and
// no sanitizer reports anything.
RG_CASE("counter.locked_exact",
        {.title = "With a lock the counter ends at exactly 0",
         .seed_document = "004_7648374c0ccc69dc.txt",
         .tags = {"counter", "lock", "thread", "D"},
         .default_trials = 30}) {
  ctx.check([] {
    const int n = *rc::gen::inRange(1, 20001);
    const int pairs = *rc::gen::inRange(1, 4);
    threading::Lock lock;
    int counter = 0;
    std::barrier start(2 * pairs);
    std::vector<std::unique_ptr<threading::Thread>> threads;
    for (int t = 0; t < 2 * pairs; ++t) {
      int delta = t < pairs ? 1 : -1;
      threads.push_back(std::make_unique<threading::Thread>([&, delta] {
        start.arrive_and_wait();
        for (int i = 0; i < n; ++i) {
          threading::LockGuard guard(lock);
          counter += delta;
        }
      }));
    }
    for (auto& th : threads) th->start();
    for (auto& th : threads) th->join();
    RC_ASSERT(counter == 0);
    RC_ASSERT(!lock.locked());
  });
}
