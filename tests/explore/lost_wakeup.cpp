// Lost wake-up: the consumer tests the flag outside the lock and then waits
// without a predicate; a notification sent between the test and the wait is
// lost and the consumer waits forever.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "planted.h"

std::atomic<bool> g_ready{false};
std::mutex g_mutex;
std::condition_variable g_cv;

int main() {
  planted::hang_watchdog("the consumer missed the notification (lost wake-up)", 500);
  std::thread consumer([] {
    if (!g_ready.load()) {
      std::unique_lock<std::mutex> hold(g_mutex);
      g_cv.wait(hold);  // the bug: no predicate, and the flag was tested unlocked
    }
  });
  std::thread producer([] {
    planted::work();  // prepares the data
    g_ready.store(true);
    g_cv.notify_one();
  });
  producer.join();
  consumer.join();
  return 0;
}
