// A heap-use-after-free (AddressSanitizer). The pointer lives in a volatile
// global so that the compiler cannot elide the allocation.
#include <cstdio>

int* volatile g_ints = nullptr;

int main() {
  g_ints = new int[4];
  g_ints[0] = 7;
  delete[] g_ints;
  int v = g_ints[0];  // gate-test: heap_use_after_free
  std::printf("%d\n", v);
  return 0;
}
