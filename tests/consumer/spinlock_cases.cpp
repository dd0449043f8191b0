// A consumer's own lock type, checked with racegate's case API: a spinlock
// on std::atomic_flag must give mutual exclusion between threads (plain and
// ASan: by counting; ThreadSanitizer also checks that unlock happens before
// the next lock, since the guarded counter is a plain int).
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include <racegate/harness/case.h>

namespace {

class Spinlock {
 public:
  void lock() noexcept {
    while (flag_.test_and_set(std::memory_order_acquire)) std::this_thread::yield();
  }
  bool try_lock() noexcept { return !flag_.test_and_set(std::memory_order_acquire); }
  void unlock() noexcept { flag_.clear(std::memory_order_release); }

 private:
  std::atomic_flag flag_ = ATOMIC_FLAG_INIT;
};

using racegate::harness::Grade;
using Observed = racegate::harness::CaseContext::Observed;

}  // namespace

// Threads take the lock many times; inside it each bumps a plain counter and
// checks that it is alone. The counter ends exact and nobody ever met (a
// broken lock fails this in every variant; TSan also reports the race).
RG_CASE("spinlock.mutual_exclusion",
        {.title = "A spinlock admits one thread at a time: the guarded counter is exact",
         .tags = {"spinlock", "thread"},
         .default_trials = 20,
         .timeout_seconds = 120}) {
  ctx.check([] {
    const int threads = *rc::gen::inRange(2, 5);
    const int rounds = *rc::gen::inRange(1, 2001);
    Spinlock lock;
    std::int64_t counter = 0;                 // guarded by lock
    std::atomic<int> inside{0};
    std::atomic<bool> overlapped{false};
    std::atomic<int> ready{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        ready.fetch_add(1);
        while (ready.load() < threads) std::this_thread::yield();
        for (int i = 0; i < rounds; ++i) {
          lock.lock();
          if (inside.fetch_add(1) != 0) overlapped = true;
          // A read-modify-write with a yield inside: without exclusion,
          // updates are lost even where threads rarely overlap.
          const std::int64_t seen = counter;
          std::this_thread::yield();
          counter = seen + 1;
          inside.fetch_sub(1);
          lock.unlock();
        }
      });
    }
    for (auto& t : pool) t.join();
    RC_ASSERT(!overlapped.load());
    RC_ASSERT(counter == static_cast<std::int64_t>(threads) * rounds);
  });
}

// Two threads released together try_lock a free spinlock: exactly one wins.
RG_CASE("spinlock.try_lock_one_winner",
        {.title = "Of two threads that try_lock a free spinlock, exactly one gets it",
         .tags = {"spinlock", "thread"},
         .expectation = racegate::harness::Expectation::kOutcomes,
         .default_trials = 200}) {
  struct State {
    Spinlock lock;
    std::atomic<int> winners{0};
  };
  // State holds atomics, so it is built in place: make() returns a prvalue.
  ctx.actors<State>(
      [](std::mt19937_64&) { return State{}; },
      {[](State& s) { if (s.lock.try_lock()) s.winners.fetch_add(1); },
       [](State& s) { if (s.lock.try_lock()) s.winners.fetch_add(1); }},
      [](const State& s) {
        const int w = s.winners.load();
        if (w == 1) return Observed{"one winner", Grade::kAcceptable};
        return Observed{w == 0 ? "no winner" : "two winners", Grade::kForbidden};
      });
}
