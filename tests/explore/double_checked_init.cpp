// Broken double-checked initialization: the instance pointer is atomic and
// the creation is locked, but the second check inside the lock is missing,
// so two threads that both saw no instance each create one.
#include <atomic>
#include <mutex>
#include <thread>

#include "planted.h"

struct Registry {
  Registry() { g_created.fetch_add(1); }
  static inline std::atomic<int> g_created{0};
};

std::atomic<Registry*> g_instance{nullptr};
std::mutex g_mutex;

Registry* instance() {
  Registry* r = g_instance.load(std::memory_order_acquire);
  if (r == nullptr) {
    std::lock_guard<std::mutex> hold(g_mutex);
    r = new Registry;  // the bug: no second check of g_instance here
    Registry* old = g_instance.exchange(r, std::memory_order_acq_rel);
    delete old;
  }
  return r;
}

int main() {
  std::thread a([] { (void)instance(); });
  std::thread b([] {
    planted::work();  // the second user arrives a little later
    (void)instance();
  });
  a.join();
  b.join();
  delete g_instance.load();
  if (Registry::g_created.load() != 1) planted::bug("the singleton was created twice");
  return 0;
}
