// Order violation on the reference's own primitives: a racegate::threading
// worker assumes main has published the configuration before it looks, but
// nothing makes it wait. Both sides hold a threading::Lock, whose futex the
// plain preload library cannot see: PCT finds the bug only through the
// reference's schedule points, driven by the engine (explore_bridge.h).
#include <string>

#include "planted.h"
#include "racegate/harness/explore_bridge.h"
#include "racegate/threading/lock.h"
#include "racegate/threading/thread.h"

namespace th = racegate::threading;

th::Lock g_lock;
const std::string* g_config = nullptr;  // guarded by g_lock

int main() {
  if (racegate::harness::install_explore_bridge() == racegate::harness::ExploreBridge::kMissingLibrary) return 2;
  th::Thread worker([] {
    planted::work();  // sets itself up, then reads the configuration
    th::LockGuard hold(g_lock);
    if (g_config == nullptr) planted::bug("worker read the configuration before main published it");
  });
  worker.start();
  static const std::string config = "threads=2";
  {
    th::LockGuard hold(g_lock);
    g_config = &config;
  }
  worker.join();
  return 0;
}
