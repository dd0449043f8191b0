// Catalog section 3: globals in processes and threads.
#include "cases/support/process_guard.h"
#include "racegate/harness/case.h"
#include "racegate/mp/event.h"
#include "racegate/mp/process.h"
#include "racegate/threading/thread.h"

namespace mp = racegate::mp;
namespace threading = racegate::threading;
using racegate::test::ProcessGuard;

namespace {
int g_data = 0;  // the seeds' module-level `data`
}

// The child proves it ran and saw its own change through an event and its
// exit code; the parent's global is unchanged.
RG_CASE("globals.process_isolated",
        {.title = "A global changed in a child process is unchanged in the parent",
         .seed_document = "004_7648374c0ccc69dc.txt",
         .tags = {"globals", "process", "D"},
         .default_trials = 40}) {
  ctx.check([](int initial) {
    const int changed = *rc::gen::distinctFrom(initial);
    g_data = initial;
    mp::Event ran;
    mp::Process p([&] {
      if (g_data != initial) throw mp::SystemExit(3);  // did not inherit the parent's value
      g_data = changed;
      ran.set();
      throw mp::SystemExit(g_data == changed ? 0 : 4);
    });
    ProcessGuard guard(p);
    p.start();
    p.join();
    RC_ASSERT(p.exitcode() == std::optional<int>(0));
    RC_ASSERT(ran.is_set());
    RC_ASSERT(g_data == initial);
  });
}

RG_CASE("globals.thread_shared",
        {.title = "A global changed in a thread is seen by the main thread after join",
         .seed_document = "004_7648374c0ccc69dc.txt, 002_b9c4f45d0419849c.txt",
         .tags = {"globals", "thread", "D"},
         .default_trials = 100}) {
  ctx.check([](int initial, int changed) {
    g_data = initial;
    threading::Thread t([changed] { g_data = changed; });
    t.start();
    t.join();
    RC_ASSERT(!t.is_alive());
    RC_ASSERT(g_data == changed);
  });
}
