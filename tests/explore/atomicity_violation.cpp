// Atomicity violation on atomics: each deposit reads the balance, records the
// operation in a locked audit log, then stores the new balance. Every access
// is atomic, yet a deposit made between another's load and store is lost.
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "planted.h"

std::atomic<int> g_balance{0};
std::mutex g_audit_mutex;
std::vector<int> g_audit;  // guarded by g_audit_mutex

void deposit(int amount) {
  const int before = g_balance.load();
  {
    std::lock_guard<std::mutex> hold(g_audit_mutex);
    g_audit.push_back(amount);
  }
  g_balance.store(before + amount);
}

int main() {
  std::thread a([] { deposit(10); });
  std::thread b([] {
    planted::work();  // the second client arrives a little later
    deposit(20);
  });
  a.join();
  b.join();
  if (g_balance.load() != 30) planted::bug("a deposit was lost between load and store");
  return 0;
}
