// Shared by the gate's test programs: run two functions on two threads that
// overlap for sure (the second starts its access only after the first made
// its own), without any synchronization ThreadSanitizer counts as
// happens-before (relaxed atomics), so that a race is reported every time.
#pragma once

#include <atomic>
#include <thread>

namespace gate_test {

inline std::atomic<int> g_step{0};

// Runs first() on one thread and second() on another; second() begins only
// after first() has returned, yet no happens-before edge joins them.
template <class First, class Second>
void overlap(First first, Second second) {
  g_step.store(0, std::memory_order_relaxed);
  std::thread a([&] {
    first();
    g_step.store(1, std::memory_order_relaxed);
    while (g_step.load(std::memory_order_relaxed) != 2) std::this_thread::yield();
  });
  std::thread b([&] {
    while (g_step.load(std::memory_order_relaxed) != 1) std::this_thread::yield();
    second();
    g_step.store(2, std::memory_order_relaxed);
  });
  a.join();
  b.join();
}

}  // namespace gate_test
