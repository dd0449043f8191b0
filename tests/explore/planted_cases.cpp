// Planted-bug cases for `racegate run --explore` (not in the catalog):
// tests/explore_run_test.py runs them under PCT. The bug is an order
// violation that is not a data race (both sides lock a std::mutex) and that
// a plain run rarely shows: the worker first does a few milliseconds of work
// without schedule points. PCT at depth 1 shows it when it gives the worker
// the higher priority, about one run in two. The correct case waits for the
// configuration on a condition variable.
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "planted.h"
#include "racegate/harness/case.h"

RG_CASE("planted.order_violation",
        {.title = "A worker reads the configuration before main published it (order violation)",
         .tags = {"planted"}, .default_trials = 1, .timeout_seconds = 60}) {
  std::mutex mutex;
  const std::string* config = nullptr;  // guarded by mutex
  bool early = false;
  std::thread worker([&] {
    planted::work();  // sets itself up, then reads the configuration
    std::lock_guard<std::mutex> hold(mutex);
    early = config == nullptr;
  });
  static const std::string published = "threads=2";
  {
    std::lock_guard<std::mutex> hold(mutex);
    config = &published;
  }
  worker.join();
  if (early) ctx.fail("planted bug shown: the worker read the configuration before main published it");
  ctx.count_trial();
}

RG_CASE("planted.ordered",
        {.title = "A worker waits for the configuration main publishes (correct)", .tags = {"planted"},
         .default_trials = 1, .timeout_seconds = 60}) {
  std::mutex mutex;
  std::condition_variable published_cv;
  const std::string* config = nullptr;  // guarded by mutex
  bool early = false;
  std::thread worker([&] {
    planted::work();
    std::unique_lock<std::mutex> hold(mutex);
    published_cv.wait(hold, [&] { return config != nullptr; });
    early = config == nullptr;
  });
  static const std::string published = "threads=2";
  {
    std::lock_guard<std::mutex> hold(mutex);
    config = &published;
  }
  published_cv.notify_one();
  worker.join();
  if (early) ctx.fail("the worker read the configuration before main published it");
  ctx.count_trial();
}

// A deadlock in every schedule: main holds the mutex while it joins the
// worker, which waits for the mutex. Under PCT the scheduler sees every
// thread blocked and exits 86; without it the case hangs until its timeout.
RG_CASE("planted.join_holding_lock",
        {.title = "Main joins a worker while holding the mutex the worker waits for (deadlock)",
         .tags = {"planted"}, .default_trials = 1, .timeout_seconds = 20}) {
  std::mutex mutex;
  std::unique_lock<std::mutex> hold(mutex);
  std::thread worker([&] { std::lock_guard<std::mutex> inner(mutex); });
  worker.join();
  ctx.count_trial();
}
