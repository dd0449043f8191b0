// Catalog section 6: Event, written once (cases/primitives/sync_event_cases.h)
// over the reference's threading.Event and mp.Event. Neither the standard
// library nor Boost.Interprocess has an event type, so there are no
// "@std"/"@boost" instances; tests/broken/ runs the same templates over a
// broken event.
#include "cases/adapters/sync_reference.h"
#include "cases/primitives/sync_cases.h"

using namespace racegate::cases::sync_cases;  // NOLINT: the case vocabulary

namespace {

RG_CASE("event.initial_and_clear", (event_initial_and_clear_behavior().spec)) {
  event_initial_and_clear<RefThreadingEvent>(ctx);
  event_initial_and_clear<RefMpEvent>(ctx);
}

// The seed's waiter is a child process (mp.Event); threading.Event in a thread alike.
RG_CASE("event.wait_timeout_returns_false", (event_wait_timeout_behavior().spec)) {
  event_wait_timeout_returns_false<RefMpEvent>(ctx);
  event_wait_timeout_returns_false<RefThreadingEvent>(ctx);
}

RG_CASE("event.set_wakes_waiters_cross_process", (event_set_wakes_behavior().spec)) {
  event_set_wakes_waiters<RefMpEvent>(ctx);
  event_set_wakes_waiters<RefThreadingEvent>(ctx);
}

}  // namespace
