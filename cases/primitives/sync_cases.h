// Catalog sections 5-8: the primitive behaviors (Lock, RLock, Event,
// Condition, Semaphore, BoundedSemaphore), each written once as a template
// over an adapter concept (cases/adapters/sync.h) and registered for every
// implementation it fits: under the bare catalog id for the reference, as
// "<id>@<implementation>" for the others (register_for).
#pragma once

#include "cases/primitives/sync_condition_cases.h"
#include "cases/primitives/sync_event_cases.h"
#include "cases/primitives/sync_lock_cases.h"
#include "cases/primitives/sync_semaphore_cases.h"
#include "cases/primitives/sync_support.h"
