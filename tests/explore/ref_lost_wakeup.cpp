// Lost wake-up on the reference's threading::Condition: the consumer tests
// the flag outside the condition's lock and then waits without a
// predicate; a notify_all() sent between the test and the wait is lost (as
// in CPython) and the consumer waits forever, which PCT must report as a
// deadlock (exit 86) through the reference's blocking hooks.
#include <atomic>

#include "planted.h"
#include "racegate/harness/explore_bridge.h"
#include "racegate/threading/condition.h"
#include "racegate/threading/lock.h"
#include "racegate/threading/thread.h"

namespace th = racegate::threading;

std::atomic<bool> g_ready{false};
th::Condition g_cond;
th::Lock g_log;
int g_log_lines = 0;  // guarded by g_log

int main() {
  if (racegate::harness::install_explore_bridge() == racegate::harness::ExploreBridge::kMissingLibrary) return 2;
  planted::hang_watchdog("the consumer missed the notification (lost wake-up)", 500);
  th::Thread consumer([] {
    if (!g_ready.load()) {
      for (int i = 0; i < 3; ++i) {  // logs that it will wait: more steps in the window
        th::LockGuard hold(g_log);
        ++g_log_lines;
      }
      g_cond.acquire();
      (void)g_cond.wait();  // the bug: no predicate, and the flag was tested unlocked
      g_cond.release();
    }
  });
  th::Thread producer([] {
    planted::work();  // prepares the data
    g_ready.store(true);
    g_cond.acquire();
    g_cond.notify_all();
    g_cond.release();
  });
  consumer.start();
  producer.start();
  producer.join();
  consumer.join();
  return 0;
}
