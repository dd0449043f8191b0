// Not a bug: main spins on an atomic flag that a worker sets under a lock.
// The spin reaches no schedule point, so under PCT only the time slice lets
// the worker run when main holds the token.
#include <atomic>
#include <mutex>
#include <thread>

std::atomic<bool> g_flag{false};
std::mutex g_mutex;

int main() {
  std::thread worker([] {
    std::lock_guard<std::mutex> hold(g_mutex);
    g_flag.store(true);
  });
  while (!g_flag.load()) {
  }
  worker.join();
  return 0;
}
