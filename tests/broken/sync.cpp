// Broken adapters for catalog sections 5-8: the lock, semaphore and event
// cases over the adapters of tests/broken/sync_adapters.h. Every case here
// is named in expected-sync.txt and must end in a verdict other than PASS.
#include "cases/primitives/sync_cases.h"
#include "tests/broken/sync_adapters.h"

using namespace racegate::cases::sync_cases;  // NOLINT: the case vocabulary
using racegate::broken::NonExcludingLock;
using racegate::broken::OverAdmittingSemaphore;
using racegate::broken::TimeoutIgnoringEvent;

namespace {

[[maybe_unused]] const bool kRegistered =
    // Critical sections overlap; acquire(False) on a held lock says True.
    register_for<NonExcludingLock>(lock_mutual_exclusion_behavior(), &lock_mutual_exclusion<NonExcludingLock>) &&
    register_for<NonExcludingLock>(lock_nonblocking_behavior(), &lock_nonblocking_timeout_nesting<NonExcludingLock>) &&
    // N + 1 inside at once; Semaphore(0).acquire(False) gets a unit.
    register_for<OverAdmittingSemaphore>(semaphore_max_concurrency_behavior(),
                                         &semaphore_max_concurrency<OverAdmittingSemaphore>) &&
    register_for<OverAdmittingSemaphore>(semaphore_acquire_timeout_behavior(),
                                         &semaphore_acquire_timeout_invalid<OverAdmittingSemaphore>) &&
    // wait(t) returns before t.
    register_for<TimeoutIgnoringEvent>(event_wait_timeout_behavior(),
                                       &event_wait_timeout_returns_false<TimeoutIgnoringEvent>) &&
    register_for<TimeoutIgnoringEvent>(event_initial_and_clear_behavior(),
                                       &event_initial_and_clear<TimeoutIgnoringEvent>);

}  // namespace
