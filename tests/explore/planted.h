// Shared by the planted-bug programs of schedule exploration. Each program
// holds one concurrency bug that is not a data race (every shared variable is
// a std::atomic or guarded by a std::mutex) and that shows only under a rare
// interleaving; when it shows, the program says so on stderr and exits 1.
#pragma once

#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace planted {

[[noreturn]] inline void bug(const char* what) {
  std::fprintf(stderr, "planted bug shown: %s\n", what);
  std::fflush(stderr);
  std::_Exit(1);
}

// Work that reaches no schedule point (a few milliseconds): what a thread
// does before the racy step, which is why a plain run rarely shows the bug.
inline void work(int iterations = 5'000'000) {
  volatile unsigned sink = 0;
  for (int i = 0; i < iterations; ++i) sink = sink * 31u + static_cast<unsigned>(i);
}

// Longer work, for a racy step that a thread reaches right after it was
// created or woken. On a loaded machine the new or woken thread often runs
// first, on its creator's or waker's core, for a few milliseconds before the
// other gets the core back; work() alone is too short to outlast that, and
// the bug showed in up to 58 of 100 plain runs on a loaded machine. Three
// times as long it showed in none of 100 (docs/exploration.md). It stays well
// under the PCT time slice (100 ms) even in a TSan build, so PCT still
// decides the order at the schedule points.
inline void long_work() { work(15'000'000); }

// For programs whose bug is a hang (a deadlock, a wait nobody ends): a run
// that has not finished after `ms` milliseconds shows the bug. Under PCT the
// scheduler must report the hang itself, however slow the machine: there the
// watchdog is only a backstop, at 20 s (a loaded machine must not make a
// slow PCT run look like a hang the scheduler missed).
inline void hang_watchdog(const char* what, int ms) {
  if (const char* explore = std::getenv("RACEGATE_EXPLORE");
      explore != nullptr && std::strstr(explore, "mode=pct") != nullptr) {
    ms = 20'000;
  }
  static const char* message = nullptr;
  message = what;
  struct sigaction sa {};
  sa.sa_handler = [](int) {
    (void)!write(2, "planted bug shown: ", 19);
    std::size_t n = 0;
    while (message[n] != '\0') ++n;
    (void)!write(2, message, n);
    (void)!write(2, "\n", 1);
    _exit(1);
  };
  sigaction(SIGALRM, &sa, nullptr);
  itimerval timer{};
  timer.it_value.tv_sec = ms / 1000;
  timer.it_value.tv_usec = (ms % 1000) * 1000;
  setitimer(ITIMER_REAL, &timer, nullptr);
}

}  // namespace planted
