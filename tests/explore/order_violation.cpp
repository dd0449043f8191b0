// Order violation: the worker assumes main has published the configuration
// before it looks, but nothing makes it wait. Both sides lock properly.
#include <mutex>
#include <string>
#include <thread>

#include "planted.h"

std::mutex g_mutex;
const std::string* g_config = nullptr;  // guarded by g_mutex

int main() {
  std::thread worker([] {
    planted::long_work();  // sets itself up, then reads the configuration
    std::lock_guard<std::mutex> hold(g_mutex);
    if (g_config == nullptr) planted::bug("worker read the configuration before main published it");
  });
  static const std::string config = "threads=2";
  {
    std::lock_guard<std::mutex> hold(g_mutex);
    g_config = &config;
  }
  worker.join();
  return 0;
}
