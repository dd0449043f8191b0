// Fixture for tests/writers_test.cpp, not compiled: the sample run's
// ThreadSanitizer finding points at lines of this file, so that report.html
// shows source snippets. Keep line numbers stable (the golden reports quote
// lines 12-16, 18-22 and 26-30); edit the goldens with it.
#include <thread>
#include <vector>

int g_counter = 0;  // shared, unguarded: <the race> & "its" 'site'

namespace {

void increment(std::vector<int>& log) {
  log.push_back(g_counter);
  g_counter = g_counter + 1;  // racy read-modify-write
  (void)log;
}

void worker(int rounds) {
  std::vector<int> log;
  for (int i = 0; i < rounds; ++i) increment(log);
  (void)log;
}

}  // namespace

int main() {
  std::thread t1(worker, 1000);
  std::thread t2(worker, 1000);
  t1.join();
  t2.join();
  return g_counter == 2000 ? 0 : 1;
}
