// One data race: two threads write the same global without a lock.
#include <cstdio>

#include "race_common.h"

int g_value = 0;

void write_one() { g_value = 1; }
void write_two() { g_value = 2; }  // gate-test: one_race

int main() {
  gate_test::overlap(write_one, write_two);
  std::printf("value=%d\n", g_value);
  return 0;
}
