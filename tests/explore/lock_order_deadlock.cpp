// Two-lock deadlock: the threads take the same two mutexes in opposite
// orders. Each critical section is short, so the deadlock needs one thread to
// be preempted between its two acquisitions.
#include <mutex>
#include <thread>

#include "planted.h"

std::mutex g_accounts;
std::mutex g_journal;
int g_moves = 0;  // guarded by both

int main() {
  planted::hang_watchdog("the threads deadlocked on two mutexes", 500);
  std::thread transfer([] {
    std::lock_guard<std::mutex> a(g_accounts);
    std::lock_guard<std::mutex> b(g_journal);
    ++g_moves;
  });
  std::thread audit([] {
    std::lock_guard<std::mutex> b(g_journal);
    std::lock_guard<std::mutex> a(g_accounts);
    ++g_moves;
  });
  transfer.join();
  audit.join();
  return g_moves == 2 ? 0 : 1;
}
