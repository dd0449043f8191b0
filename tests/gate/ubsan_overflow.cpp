// A signed integer overflow (UBSan, recoverable: the program goes on).
#include <climits>
#include <cstdio>
#include <cstdlib>

int main(int argc, char**) {
  volatile int big = INT_MAX - 1 + argc;  // INT_MAX with no argument
  int sum = big + 1;  // gate-test: ubsan_overflow
  std::printf("%d\n", sum);
  return 0;
}
