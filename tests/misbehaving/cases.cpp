// Purpose-built misbehaving cases (not in the catalog): each must end in the
// right verdict with nothing left running. tests/runner_test.cpp runs them
// through `racegate run` and checks verdicts and hygiene.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <string>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>

#include "racegate/harness/case.h"
#include "racegate/mp/event.h"
#include "racegate/mp/process.h"

namespace mp = racegate::mp;
using racegate::harness::Expectation;

RG_CASE("misbehave.crash", {.title = "Dies of SIGSEGV", .tags = {"misbehaving"}, .default_trials = 1}) {
  std::fflush(nullptr);
  std::raise(SIGSEGV);
}

RG_CASE("misbehave.hang",
        {.title = "Blocks for ever on an event", .tags = {"misbehaving"}, .default_trials = 1,
         .timeout_seconds = 3}) {
  mp::Event never;
  never.wait();
}

RG_CASE("misbehave.grandchild_hang",
        {.title = "Joins a child process that blocks for ever", .tags = {"misbehaving"},
         .default_trials = 1, .timeout_seconds = 3}) {
  mp::Event never;
  mp::Process child([never]() mutable { never.wait(); });
  child.start();
  child.join();
}

RG_CASE("misbehave.flood",
        {.title = "Writes 64 MiB to stdout, then passes", .tags = {"misbehaving"}, .default_trials = 1}) {
  std::string line(1023, 'x');
  line += '\n';
  for (int i = 0; i < 64 * 1024; ++i) std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
  ctx.count_trial();
}

RG_CASE("misbehave.shm_leak",
        {.title = "Creates a shared-memory segment and never removes it", .tags = {"misbehaving"},
         .default_trials = 1}) {
  std::string name = "/racegate-misbehave-" + std::to_string(getpid());
  int fd = shm_open(name.c_str(), O_CREAT | O_RDWR, 0600);
  if (fd < 0) ctx.fail("shm_open failed");
  if (fd >= 0) close(fd);
  ctx.count_trial();
}

RG_CASE("misbehave.property_fails",
        {.title = "A property that fails for values above 100", .tags = {"misbehaving"},
         .default_trials = 200}) {
  ctx.check([](unsigned v) { RC_ASSERT(v % 1000 <= 100); });
}

namespace {
int g_unlocked = 0;
std::atomic<int> g_hidden{0};
}  // namespace

RG_CASE("misbehave.unexpected_race",
        {.title = "Claims to hold but races on a plain int", .tags = {"misbehaving"},
         .default_trials = 1}) {
  std::thread a([] {
    for (int i = 0; i < 1000; ++i) g_unlocked = g_unlocked + 1;
  });
  std::thread b([] {
    for (int i = 0; i < 1000; ++i) g_unlocked = g_unlocked + 1;
  });
  a.join();
  b.join();
  ctx.count_trial();
}

RG_CASE("misbehave.hidden_canary",
        {.title = "Expects a race the detector cannot see (an atomic)", .tags = {"misbehaving"},
         .expectation = Expectation::kRaceExpected, .race_site = "g_hidden", .default_trials = 1}) {
  std::thread a([] {
    for (int i = 0; i < 1000; ++i) g_hidden.fetch_add(1);
  });
  std::thread b([] {
    for (int i = 0; i < 1000; ++i) g_hidden.fetch_sub(1);
  });
  a.join();
  b.join();
  ctx.count_trial();
}
