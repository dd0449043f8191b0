// Use-after-free through a queue hand-off: the producer hands an item to the
// consumer, which processes and frees it, but the producer reads the item
// again after the hand-off. ASan reports the read; in a plain build the
// consumer's poison mark, left in the freed block, shows it.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "planted.h"

constexpr int kPoison = 0x0dead;

struct Item {
  long header[3] = {0, 0, 0};  // keeps the allocator's free-list words off `size`
  std::atomic<int> size{0};
};

std::mutex g_queue_mutex;
std::condition_variable g_queue_cv;
std::deque<Item*> g_queue;  // guarded by g_queue_mutex
std::mutex g_stats_mutex;
long g_bytes = 0;  // guarded by g_stats_mutex

int main() {
  std::thread consumer([] {
    Item* item = nullptr;
    {
      std::unique_lock<std::mutex> hold(g_queue_mutex);
      g_queue_cv.wait(hold, [] { return !g_queue.empty(); });
      item = g_queue.front();
      g_queue.pop_front();
    }
    planted::long_work();  // processes the item
    item->size.store(kPoison);
    delete item;
  });
  planted::work();  // prepares the item
  auto* item = new Item;
  item->size.store(64);
  {
    std::lock_guard<std::mutex> hold(g_queue_mutex);
    g_queue.push_back(item);
  }
  g_queue_cv.notify_one();
  {
    std::lock_guard<std::mutex> hold(g_stats_mutex);
    const int size = item->size.load();  // the bug: the item belongs to the consumer now
    if (size == kPoison) planted::bug("the producer used the item after the consumer freed it");
    g_bytes += size;
  }
  consumer.join();
  return 0;
}
