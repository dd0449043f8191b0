// No bug: two threads add to a counter under a mutex and signal a condition
// variable; main waits for both with a predicate. Every schedule gives 200.
// `racegate gate --explore` must pass it in every run (tests/explore_gate_test.py).
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

std::mutex g_mutex;
std::condition_variable g_done_cv;
int g_counter = 0;  // guarded by g_mutex
int g_done = 0;     // guarded by g_mutex

void add() {
  for (int i = 0; i < 100; ++i) {
    std::lock_guard<std::mutex> hold(g_mutex);
    ++g_counter;
  }
  std::lock_guard<std::mutex> hold(g_mutex);
  ++g_done;
  g_done_cv.notify_all();
}

int main() {
  std::thread a(add);
  std::thread b(add);
  {
    std::unique_lock<std::mutex> lock(g_mutex);
    g_done_cv.wait(lock, [] { return g_done == 2; });
  }
  a.join();
  b.join();
  std::lock_guard<std::mutex> hold(g_mutex);
  if (g_counter != 200) {
    std::fprintf(stderr, "counter %d, expected 200\n", g_counter);
    return 1;
  }
  return 0;
}
