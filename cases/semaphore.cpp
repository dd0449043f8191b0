// Catalog section 8: Semaphore / BoundedSemaphore, written once
// (cases/primitives/sync_semaphore_cases.h) and run against the reference,
// std::counting_semaphore, std::binary_semaphore and Boost.Interprocess's
// interprocess_semaphore.
#include <string>

#include <rapidcheck.h>

#include "cases/adapters/sync_boost.h"
#include "cases/adapters/sync_reference.h"
#include "cases/adapters/sync_std.h"
#include "cases/primitives/sync_cases.h"
#include "racegate/mp/semaphore.h"

namespace mp = racegate::mp;
using namespace racegate::cases::sync_cases;  // NOLINT: the case vocabulary

namespace {

// mp.Semaphore across processes (the seeds'), mp.BoundedSemaphore alike,
// threading.Semaphore across threads.
RG_CASE("semaphore.max_concurrency", (semaphore_max_concurrency_behavior().spec)) {
  semaphore_max_concurrency_over<RefMpSemaphore>(ctx, true);
  semaphore_max_concurrency_over<RefMpBoundedSemaphore>(ctx, true);
  semaphore_max_concurrency_over<RefThreadingSemaphore>(ctx, false);
}

// Both modules, both kinds; then the mp reprs <Semaphore(value=3)> and
// <BoundedSemaphore(value=3, maxvalue=3)>.
RG_CASE("semaphore.over_release", (semaphore_over_release_behavior().spec)) {
  semaphore_over_release<RefThreadingSemaphore>(ctx);
  semaphore_over_release<RefThreadingBoundedSemaphore>(ctx);
  semaphore_over_release<RefMpSemaphore>(ctx);
  semaphore_over_release<RefMpBoundedSemaphore>(ctx);
  ctx.check([] {
    const int v = *rc::gen::inRange(0, 10);
    const int taken = *rc::gen::inRange(0, v + 1);
    mp::Semaphore sem(v);
    mp::BoundedSemaphore bounded(v);
    RC_ASSERT(mp::Semaphore(3).repr() == "<Semaphore(value=3)>");
    RC_ASSERT(mp::BoundedSemaphore(3).repr() == "<BoundedSemaphore(value=3, maxvalue=3)>");
    for (int i = 0; i < taken; ++i) {
      RC_ASSERT(sem.acquire(false));
      RC_ASSERT(bounded.acquire(false));
    }
    const std::string value = std::to_string(v - taken);
    RC_ASSERT(sem.repr() == "<Semaphore(value=" + value + ")>");
    RC_ASSERT(bounded.repr() == "<BoundedSemaphore(value=" + value + ", maxvalue=" + std::to_string(v) + ")>");
    for (int i = 0; i < taken; ++i) {
      sem.release();
      bounded.release();
    }
    sem.release();  // past the initial value: allowed
    RC_ASSERT(sem.repr() == "<Semaphore(value=" + std::to_string(v + 1) + ")>");
  });
}

RG_CASE("semaphore.acquire_timeout_invalid", (semaphore_acquire_timeout_behavior().spec)) {
  semaphore_acquire_timeout_invalid<RefThreadingSemaphore>(ctx);
  semaphore_acquire_timeout_invalid<RefMpSemaphore>(ctx);
}

template <SemaphoreAdapter A>
bool register_semaphore_cases() {
  return register_for<A>(semaphore_max_concurrency_behavior(), &semaphore_max_concurrency<A>) &&
         register_for<A>(semaphore_over_release_behavior(), &semaphore_over_release<A>) &&
         register_for<A>(semaphore_acquire_timeout_behavior(), &semaphore_acquire_timeout_invalid<A>);
}

[[maybe_unused]] const bool kRegistered =
    register_semaphore_cases<StdCountingSemaphore>() && register_semaphore_cases<StdBinarySemaphore>() &&
    register_semaphore_cases<BoostSemaphore>();

}  // namespace
