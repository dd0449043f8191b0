// Catalog section 4: the unlocked counter race and its locked fix.
#include <barrier>
#include <memory>
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
volatile int racegate_unlocked_counter = 0;

// `adders` threads of `n` increments and `subtracters` of `n` decrements,
// released together by a barrier so that they really overlap. With
// `yield_between`, each thread yields between its load and its store (the
// catalog's wider window).
int run_unlocked_counter(int n, int adders, int subtracters, bool yield_between) {
  racegate_unlocked_counter = 0;
  std::barrier start(adders + subtracters);
  std::vector<std::thread> threads;
  for (int t = 0; t < adders + subtracters; ++t) {
    int delta = t < adders ? 1 : -1;
    threads.emplace_back([&, delta] {
      start.arrive_and_wait();
      for (int i = 0; i < n; ++i) {
        int tmp = racegate_unlocked_counter;
        if (yield_between) std::this_thread::yield();
        racegate_unlocked_counter = tmp + delta;
      }
    });
  }
  for (auto& th : threads) th.join();
  return racegate_unlocked_counter;
}

}  // namespace

// Plain and ASan: the final value is only bounded, and how often updates are
// lost is the histogram (interesting, never required). TSan: the canary; the
// runner requires a data-race report on the counter (else MISSED).
RG_CASE("counter.unlocked_race",
        {.title = "Two threads add and subtract n times without a lock: updates are lost",
         .seed_document = "004_7648374c0ccc69dc.txt",
         .tags = {"counter", "thread", "R"},
         .expectation = racegate::harness::Expectation::kRaceExpected,
         .race_site = "racegate_unlocked_counter",
         .default_trials = 40}) {
  const bool tsan = std::string(ctx.variant()) == "tsan";
  ctx.check([&ctx, tsan] {
    const int n = *rc::gen::inRange(1000, 10001);
    // Under TSan the yield adds nothing (it judges by happens-before) but time.
    const bool yield_between = !tsan && *rc::gen::arbitrary<bool>();
    const int final_value = run_unlocked_counter(n, 1, 1, yield_between);
    if (final_value < -n || final_value > n) {
      ctx.outcome("final value out of [-n, n]", Grade::kForbidden);
    } else {
      ctx.outcome(final_value == 0 ? "final == 0" : "final != 0 (lost updates)",
                  final_value == 0 ? Grade::kAcceptable : Grade::kInteresting);
    }
    RC_ASSERT(final_value >= -n);
    RC_ASSERT(final_value <= n);
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
