// Two-lock deadlock on the reference's threading::Lock: the threads take the
// same two locks in opposite orders. A thread blocked on a threading::Lock
// waits on a futex; under PCT the reference's blocking hooks make that a
// wait in the scheduler, which must then report the deadlock by itself
// (exit 86) instead of hanging in the kernel.
#include "planted.h"
#include "racegate/harness/explore_bridge.h"
#include "racegate/threading/lock.h"
#include "racegate/threading/thread.h"

namespace th = racegate::threading;

th::Lock g_accounts;
th::Lock g_journal;
th::Lock g_stats;
int g_moves = 0;     // guarded by both
int g_attempts = 0;  // guarded by g_stats

// Bookkeeping between the two acquisitions: a few more steps at which the
// holder of the first lock may be preempted.
void count_attempt() {
  for (int i = 0; i < 3; ++i) {
    th::LockGuard s(g_stats);
    ++g_attempts;
  }
}

int main() {
  if (racegate::harness::install_explore_bridge() == racegate::harness::ExploreBridge::kMissingLibrary) return 2;
  planted::hang_watchdog("the threads deadlocked on two threading::Locks", 500);
  th::Thread transfer([] {
    th::LockGuard a(g_accounts);
    count_attempt();
    th::LockGuard b(g_journal);
    ++g_moves;
  });
  th::Thread audit([] {
    planted::work();  // prepares the audit: in a plain run, transfer is done by then
    th::LockGuard b(g_journal);
    count_attempt();
    th::LockGuard a(g_accounts);
    ++g_moves;
  });
  transfer.start();
  audit.start();
  transfer.join();
  audit.join();
  return g_moves == 2 ? 0 : 1;
}
