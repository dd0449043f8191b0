// A lock-order inversion: A then B on one thread, later B then A on another.
// Never deadlocks (the threads run one after the other), yet the order is
// one that can.
#include <mutex>
#include <thread>

std::mutex g_a, g_b;

void a_then_b() {
  std::lock_guard<std::mutex> first(g_a);
  std::lock_guard<std::mutex> second(g_b);  // gate-test: lock_order
}

void b_then_a() {
  std::lock_guard<std::mutex> first(g_b);
  std::lock_guard<std::mutex> second(g_a);
}

int main() {
  std::thread t1(a_then_b);
  t1.join();
  std::thread t2(b_then_a);
  t2.join();
  return 0;
}
