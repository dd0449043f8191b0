// racegate-bench-explore-point: N schedule points in one thread, for
// bench/explore_overhead.sh, which runs it under callgrind at two values of
// N and divides the difference of the instruction counts by the difference
// of N: the instructions one point costs, without the start-up and exit.
//
// usage: racegate-bench-explore-point reference|engine|mutex N
//
//   reference  racegate::schedule::point with no hook installed (the
//              reference's primitives with exploration off).
//   engine     racegate::explore::point, configured from RACEGATE_EXPLORE
//              (off, noise or pct); prints the engine's statistics.
//   mutex      N pthread_mutex_lock/unlock pairs, to be run with and without
//              LD_PRELOAD=libracegate-explore.so: what a preloaded program
//              pays per locked section.
#include <pthread.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "racegate/harness/explore.h"
#include "racegate/schedule.h"

namespace {

int usage() {
  std::fprintf(stderr, "usage: racegate-bench-explore-point reference|engine|mutex N\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return usage();
  char* end = nullptr;
  const long n = std::strtol(argv[2], &end, 10);
  if (*end != '\0' || n < 0) return usage();
  static int object = 0;

  if (std::strcmp(argv[1], "reference") == 0) {
    for (long i = 0; i < n; ++i) racegate::schedule::point(racegate::schedule::Op::kLockAcquire, &object);
  } else if (std::strcmp(argv[1], "engine") == 0) {
    namespace ex = racegate::explore;
    ex::configure_from_env();
    for (long i = 0; i < n; ++i) ex::point(ex::Kind::kLock, &object);
    const ex::Stats s = ex::stats();
    std::printf("points %ld steps %llu noise_delays %llu\n", n, static_cast<unsigned long long>(s.steps),
                static_cast<unsigned long long>(s.noise_delays));
  } else if (std::strcmp(argv[1], "mutex") == 0) {
    static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
    for (long i = 0; i < n; ++i) {
      pthread_mutex_lock(&mutex);
      pthread_mutex_unlock(&mutex);
    }
  } else {
    return usage();
  }
  return 0;
}
