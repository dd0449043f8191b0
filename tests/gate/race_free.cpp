// No finding: two threads increment a counter under a mutex.
#include <cstdio>
#include <mutex>
#include <thread>

int main() {
  std::mutex m;
  long counter = 0;
  auto work = [&] {
    for (int i = 0; i < 1000; ++i) {
      std::lock_guard<std::mutex> lock(m);
      ++counter;
    }
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  std::printf("counter=%ld\n", counter);
  return counter == 2000 ? 0 : 1;
}
