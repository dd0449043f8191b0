// Catalog section 1: Process (join with timeouts).
#include <chrono>

#include "cases/support/process_guard.h"
#include "racegate/harness/case.h"
#include "racegate/mp/event.h"
#include "racegate/mp/process.h"

namespace mp = racegate::mp;
using racegate::test::ProcessGuard;
using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

// join(t) on a child held by an event (not a sleep) returns after at least t
// with the child alive and no exit code; once released, join() gives 0.
RG_CASE("process.join.timeout_returns_while_alive",
        {.title = "join(t) on a running child returns after t with the child still alive",
         .seed_document = "001_41cd22346628bbc0.txt",
         .tags = {"process", "join", "T"},
         .default_trials = 10}) {
  ctx.check([] {
    const double t = *rc::gen::inRange(10, 301) / 1000.0;
    mp::Event release;
    mp::Process p([release]() mutable { release.wait(); });
    ProcessGuard guard(p, release);
    p.start();
    auto t0 = Clock::now();
    p.join(Seconds(t));
    auto elapsed = Seconds(Clock::now() - t0).count();
    RC_ASSERT(elapsed >= t);
    RC_ASSERT(elapsed < t + 5.0);
    RC_ASSERT(p.is_alive());
    RC_ASSERT(!p.exitcode().has_value());
    release.set();
    p.join();
    RC_ASSERT(!p.is_alive());
    RC_ASSERT(p.exitcode() == std::optional<int>(0));
  });
}

// join(long timeout) on a child that ends at once returns when it ends, far
// sooner than the timeout (loose bound: a third of a timeout of 30 s or more).
RG_CASE("process.join.timeout_longer_returns_early",
        {.title = "join(long timeout) returns as soon as the child ends",
         .seed_document = "001_41cd22346628bbc0.txt",
         .tags = {"process", "join", "T"},
         .default_trials = 20}) {
  ctx.check([] {
    const double timeout = *rc::gen::inRange(30, 601);
    const int code = *rc::gen::inRange(0, 100);
    mp::Process p([code] { throw mp::SystemExit(code); });
    ProcessGuard guard(p);
    p.start();
    auto t0 = Clock::now();
    p.join(Seconds(timeout));
    auto elapsed = Seconds(Clock::now() - t0).count();
    RC_ASSERT(elapsed < timeout / 3);
    RC_ASSERT(!p.is_alive());
    RC_ASSERT(p.exitcode() == std::optional<int>(code));
  });
}
