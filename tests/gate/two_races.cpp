// Two distinct data races in one process. Run several times by the test, so
// that the same two races are reported by many processes (deduplicated).
#include <cstdio>

#include "race_common.h"

int g_first = 0;
long g_second = 0;

void first_a() { g_first = 1; }
void first_b() { g_first = 2; }  // gate-test: two_races.first
void second_a() { g_second += 1; }
void second_b() { g_second += 2; }  // gate-test: two_races.second

int main() {
  gate_test::overlap(first_a, first_b);
  gate_test::overlap(second_a, second_b);
  std::printf("%d %ld\n", g_first, g_second);
  return 0;
}
