// bench/primitives_process.cpp — mp::Process, mp::Pool and mp::Manager.
//
// What is measured:
//  - process.start_join (na): construct an mp::Process whose target does
//    nothing, start() it and join() it; per process. Floors: fork() + the
//    child's _exit(0) + waitpid(), and posix_spawn() of /bin/true + waitpid().
//  - pool.map.chunksize1 (na): Pool(2).map(f, 100,000 ints, chunksize 1),
//    f(x) returns x; time per task. pool.map.default: the same with the
//    default chunksize (ceil(100000 / (4 * 2)) = 12,500, as CPython). One map
//    is one batch of 100,000 iterations; Google Benchmark repeats maps only
//    to reach its minimum time. The pool is made (and closed and joined)
//    outside the clock.
//  - pool.apply_async.roundtrip (na): apply_async(f, i).get() on a Pool(2);
//    per call.
//  - manager.dict.setget_child: a child process does d.set("k", i) then
//    d.get("k") on a Manager dict<std::string, long> (CPython: d["k"] = i;
//    d["k"]); time per set+get pair, from the child's start signal to its
//    last get. The child's connection is opened (one warm-up set) before the
//    clock starts. The Manager's server is forked by the parent, so it runs
//    on CPU 0 in both placements: one_cpu has the child on CPU 0 too,
//    two_cpus has it on CPU 1.
// na pins the parent to CPU 0, and with it every process it forks (pool
// workers and their fork server included): the comparison with CPython is
// made under the same pinning.
#include <spawn.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench_support.h"
#include "racegate/mp/manager.h"
#include "racegate/mp/pool.h"

extern char** environ;

namespace rgbench {
namespace {

constexpr int kPoolTasks = 100000;

int identity_task(int x) { return x; }

// ---------------------------------------------------------------------------
// process.start_join

void start_join_racegate(benchmark::State& state) {
  for (auto _ : state) {
    racegate::mp::Process p([] {});
    p.start();
    p.join();
    if (p.exitcode() != 0) {
      state.SkipWithError("child exit code is not 0");
      break;
    }
  }
  set_counters(state);
}

void start_join_fork(benchmark::State& state) {
  for (auto _ : state) {
    const pid_t pid = fork();
    if (pid < 0) {
      state.SkipWithError("fork failed");
      break;
    }
    if (pid == 0) _exit(0);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      state.SkipWithError("child did not exit with 0");
      break;
    }
  }
  set_counters(state);
}

void start_join_posix_spawn(benchmark::State& state) {
  char arg0[] = "/bin/true";
  char* const argv[] = {arg0, nullptr};
  for (auto _ : state) {
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ);
    if (rc != 0) {
      state.SkipWithError("posix_spawn(/bin/true) failed");
      break;
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      state.SkipWithError("/bin/true did not exit with 0");
      break;
    }
  }
  set_counters(state);
}

// ---------------------------------------------------------------------------
// pool.map.*, pool.apply_async.roundtrip

std::vector<int> pool_items() {
  std::vector<int> items(kPoolTasks);
  for (int i = 0; i < kPoolTasks; ++i) items[static_cast<std::size_t>(i)] = i;
  return items;
}

void pool_map(benchmark::State& state, std::optional<long long> chunksize) {
  const std::vector<int> items = pool_items();
  racegate::mp::Pool pool(2);
  bool ok = true;
  while (state.KeepRunningBatch(kPoolTasks)) {
    std::vector<int> out = chunksize ? pool.map(&identity_task, items, *chunksize) : pool.map(&identity_task, items);
    ok = ok && out.size() == items.size() && out.back() == kPoolTasks - 1;
  }
  pool.close();
  pool.join();
  if (!ok) state.SkipWithError("map returned wrong results");
  set_counters(state);
}

void pool_apply_async(benchmark::State& state) {
  racegate::mp::Pool pool(2);
  bool ok = true;
  int i = 0;
  for (auto _ : state) {
    ok = pool.apply_async(&identity_task, i).get() == i && ok;
    ++i;
  }
  pool.close();
  pool.join();
  if (!ok) state.SkipWithError("apply_async returned a wrong result");
  set_counters(state);
}

// ---------------------------------------------------------------------------
// manager.dict.setget_child

void manager_dict_setget(benchmark::State& state, Placement placement) {
  const auto n = static_cast<long>(state.max_iterations);
  racegate::mp::Manager manager;
  auto d = manager.dict<std::string, long>();
  Shared<Handshake> hs;
  Shared<std::atomic<bool>> ok(true);
  {
    MpChild child(placement, [&hs, &ok, d, n] {
      const std::string key = "k";
      d.set(key, -1);  // opens this process's connection, outside the clock
      hs->ready.set();
      hs->go.wait();
      bool good = true;
      for (long i = 0; i < n; ++i) {
        d.set(key, i);
        good = d.get(key) == i && good;
      }
      ok->store(good);
      hs->done.set();
    });
    wait_for_peer(hs->ready, child);
    while (state.KeepRunningBatch(static_cast<benchmark::IterationCount>(n))) {
      hs->go.set();
      wait_for_peer(hs->done, child);
    }
    join_or_fail(state, child, "dict user");
  }
  manager.shutdown();
  if (!ok->load()) state.SkipWithError("dict returned a wrong value");
  set_counters(state);
}

const bool registered = [] {
  add("process.start_join", "racegate", Placement::kNa, start_join_racegate);
  add("process.start_join", "floor.fork_waitpid", Placement::kNa, start_join_fork);
  add("process.start_join", "floor.posix_spawn", Placement::kNa, start_join_posix_spawn);
  add("pool.map.chunksize1", "racegate", Placement::kNa, [](benchmark::State& s) { pool_map(s, 1); });
  add("pool.map.default", "racegate", Placement::kNa, [](benchmark::State& s) { pool_map(s, std::nullopt); });
  add("pool.apply_async.roundtrip", "racegate", Placement::kNa, pool_apply_async);
  add_placed("manager.dict.setget_child", "racegate", manager_dict_setget);
  return true;
}();

}  // namespace
}  // namespace rgbench
