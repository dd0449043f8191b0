// Catalog section 15: ThreadPool (get(timeout) does not cancel the task).
#include <atomic>
#include <regex>
#include <string>
#include <tuple>
#include <unistd.h>

#include "cases/adapters/process.h"
#include "racegate/errors.h"
#include "racegate/harness/case.h"
#include "racegate/mp/async_result.h"
#include "racegate/mp/pool.h"
#include "racegate/mp/thread_pool.h"
#include "racegate/threading/event.h"
#include "racegate/threading/thread.h"

namespace mp = racegate::mp;
namespace threading = racegate::threading;
using racegate::cases::Clock;
using racegate::cases::error_of;
using racegate::cases::kLong;
using racegate::cases::Seconds;
using racegate::cases::seconds_since;

namespace {

// Blog 002's nested recipe, run as a Pool task: a ThreadPool inside the
// worker, a fast call and a slow one (held by an event), each fetched with
// get(t). Returns the two verdicts and the slow call's value fetched later.
std::tuple<std::string, std::string, int> nested_recipe(int t_ms, int value) {
  threading::Event go;
  mp::ThreadPool tp(2);
  auto fast = tp.apply_async([value] { return value; });
  auto slow = tp.apply_async([&go, value] {
    go.wait();
    return value + 1;
  });
  std::string verdicts[2];
  int i = 0;
  for (auto* r : {&fast, &slow}) {
    // The fast call gets a generous wait (it must be "ok"); the slow one t.
    try {
      (void)r->get(i == 0 ? kLong : Seconds(t_ms / 1000.0));
      verdicts[i] = "ok";
    } catch (const racegate::TimeoutError&) {
      verdicts[i] = "timeout";
    }
    ++i;
  }
  go.set();
  int later = slow.get(kLong);  // the timed-out call finished anyway
  tp.close();
  tp.join();
  return {verdicts[0], verdicts[1], later};
}

}  // namespace

// ThreadPool(1).apply_async(f).get(t) on a task held by an event raises
// TimeoutError (multiprocessing's, empty message) after at least t; f is not
// aborted: once let go it runs to the end in this process on a "Thread-N
// (worker)" thread, and a later get() returns its value. The nested recipe in
// a Pool worker gives ("ok", "timeout") and the timed-out call still finishes.
RG_CASE("threadpool.get_timeout_does_not_cancel",
        {.title = "ThreadPool get(timeout) raises TimeoutError but the task runs on and a later get() has its value",
         .seed_document = "002_b9c4f45d0419849c.txt",
         .tags = {"threadpool", "pool", "thread", "T"},
         .default_trials = 8}) {
  ctx.check([] {
    const double t = *rc::gen::inRange(10, 301) / 1000.0;
    const int value = *rc::gen::inRange(-1000000, 1000001);
    {
      threading::Event go;
      std::atomic<bool> finished{false};
      mp::ThreadPool tp(1);
      struct Release {
        threading::Event& e;
        ~Release() { e.set(); }
      } release_on_exit{go};
      // Captures are fine: nothing is serialized.
      auto r = tp.apply_async([&go, &finished, value] {
        go.wait();
        finished = true;
        return std::make_tuple(static_cast<int>(getpid()), threading::current_thread_name(), value);
      });
      auto t0 = Clock::now();
      try {
        (void)r.get(Seconds(t));
        RC_FAIL("get(t) on a held task did not raise");
      } catch (const racegate::TimeoutError& e) {
        RC_ASSERT(std::string(e.what()).empty());
        RC_ASSERT(std::string(e.python_type()) == "TimeoutError");
      }
      const double elapsed = seconds_since(t0);
      RC_ASSERT(elapsed >= t);
      RC_ASSERT(elapsed < t + 5.0);
      RC_ASSERT(!finished.load());
      RC_ASSERT(!r.ready());
      go.set();
      auto [pid, thread_name, v] = r.get(kLong);  // it ran to the end
      RC_ASSERT(finished.load());
      RC_ASSERT(pid == static_cast<int>(getpid()));
      RC_ASSERT(std::regex_match(thread_name, std::regex("Thread-[0-9]+ \\(worker\\)")));
      RC_ASSERT(v == value);
      tp.close();
      tp.join();
    }
    // The nested recipe, in a process Pool (made once this process is back
    // to one thread).
    mp::Pool pool(1);
    auto [first, second, later] = pool.apply(nested_recipe, static_cast<int>(t * 1000), value);
    RC_ASSERT(first == "ok");
    RC_ASSERT(second == "timeout");
    RC_ASSERT(later == value + 1);
    pool.close();
    pool.join();
  });
}
