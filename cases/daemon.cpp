// Catalog section 2: daemon processes.
#include <algorithm>
#include <deque>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unistd.h>
#include <utility>
#include <vector>

#include "cases/adapters/process.h"
#include "cases/support/process_guard.h"
#include "racegate/errors.h"
#include "racegate/harness/case.h"
#include "racegate/mp/event.h"
#include "racegate/mp/pool.h"
#include "racegate/mp/process.h"
#include "racegate/mp/queue.h"
#include "racegate/mp/thread_pool.h"

namespace mp = racegate::mp;
using racegate::cases::Clock;
using racegate::cases::error_of;
using racegate::cases::file_exists;
using racegate::cases::kLong;
using racegate::cases::pid_ended;
using racegate::cases::pid_reaped;
using racegate::cases::Seconds;
using racegate::cases::seconds_since;
using racegate::cases::TempDir;
using racegate::cases::wait_pid_ended;
using racegate::cases::write_marker;
using racegate::test::ProcessGuard;

namespace {

// A chain of `depth` non-daemonic processes; the last starts a daemonic one,
// which tries to start a child of its own. Each level exits with its child's
// exit code; the daemon's stderr goes to `err_fd`.
void daemon_chain(int depth, int err_fd) {
  if (depth > 0) {
    mp::Process next([depth, err_fd] { daemon_chain(depth - 1, err_fd); });
    next.start();
    next.join();
    throw mp::SystemExit(next.exitcode().value_or(99));
  }
  mp::Process daemonic([err_fd] {
    dup2(err_fd, 2);
    mp::Process child([] {});
    child.start();  // must throw: daemonic processes cannot have children
    throw mp::SystemExit(0);
  });
  daemonic.set_daemon(true);
  daemonic.start();
  daemonic.join();
  throw mp::SystemExit(daemonic.exitcode().value_or(98));
}

}  // namespace

// A daemonic process that starts a child fails with CPython's exact message,
// under any depth of non-daemonic ancestors; its parent sees exit code 1 and
// the message.
RG_CASE("daemon.no_children",
        {.title = "A daemonic process cannot start children",
         .seed_document = "001_41cd22346628bbc0.txt",
         .tags = {"daemon", "process", "D"},
         .default_trials = 20}) {
  ctx.check([] {
    const int depth = *rc::gen::inRange(0, 3);
    int fds[2];
    RC_ASSERT(pipe2(fds, O_CLOEXEC) == 0);
    mp::Process top([depth, fds] { daemon_chain(depth, fds[1]); });
    ProcessGuard guard(top);
    top.start();
    close(fds[1]);
    std::string err;
    char buf[4096];
    for (ssize_t k; (k = read(fds[0], buf, sizeof buf)) > 0;) err.append(buf, static_cast<size_t>(k));
    close(fds[0]);
    top.join();
    RC_ASSERT(top.exitcode() == std::optional<int>(1));
    RC_ASSERT(err.find("AssertionError: daemonic processes are not allowed to have children\n") !=
              std::string::npos);
    // The daemon's name proves the error came from the end of the chain:
    // Process-K:1[:1...] with `depth` inherited levels.
    std::string expected_name = top.name();
    for (int i = 0; i <= depth; ++i) expected_name += ":1";
    RC_ASSERT(err.rfind("Process " + expected_name + ":\n", 0) == 0);
  });
}

// ---- exit of the main program ---------------------------------------------------
//
// The "main program" is a child process M: when its run() ends, the reference
// runs CPython's exit path there (multiprocessing's _exit_function: terminate
// the daemonic children still running, then join every child). M's children
// write a marker file when they finish; their pids come back through a Queue.

namespace {

struct Kid {
  pid_t pid = 0;
  bool daemonic = false;
  std::string marker;
};

struct MainProgram {
  mp::Event main_done;  // M's main code has ended ("Main finish!")
  mp::Event daemon_go;  // lets the daemonic children finish
  mp::Event release;    // lets the other children finish
  mp::Queue<std::tuple<int, bool, std::string>> kids_q;
  std::unique_ptr<mp::Process> m;

  // M starts one child per entry of `daemonic`, reports them, sets main_done
  // and returns from run().
  MainProgram(const std::vector<bool>& daemonic, const std::string& dir) {
    m = std::make_unique<mp::Process>([daemonic, dir, done = main_done, dgo = daemon_go, rel = release,
                                       q = kids_q]() mutable {
      std::deque<mp::Process> kids;
      for (std::size_t i = 0; i < daemonic.size(); ++i) {
        const std::string marker = dir + "/kid-" + std::to_string(i);
        mp::Event go = daemonic[i] ? dgo : rel;
        kids.emplace_back([go, marker]() mutable {
          go.wait();
          write_marker(marker);
        });
        kids.back().set_daemon(daemonic[i]);
        kids.back().start();
        q.put({static_cast<int>(*kids.back().pid()), daemonic[i], marker});
      }
      done.set();
    });
  }

  std::vector<Kid> kids(std::size_t n) {
    std::vector<Kid> out;
    for (std::size_t i = 0; i < n; ++i) {
      auto [pid, d, marker] = kids_q.get(true, kLong);
      out.push_back({static_cast<pid_t>(pid), d, marker});
    }
    return out;
  }
};

}  // namespace

// Daemonic children of a main program that ends are terminated: M exits at
// once (it does not wait for them), they are gone (reaped by M's exit path
// before M exited) and never write their marker. Non-daemonic children are
// waited for: after t, M is still there and so are they; once they are let
// go, they finish (markers present) and M exits.
RG_CASE("daemon.killed_at_main_exit",
        {.title = "At main exit daemonic children are terminated; non-daemonic ones are waited for",
         .seed_document = "001_41cd22346628bbc0.txt",
         .tags = {"daemon", "process", "D", "T"},
         .default_trials = 12}) {
  ctx.check([] {
    const bool daemonic = *rc::gen::arbitrary<bool>();
    const int k = *rc::gen::inRange(1, 4);
    const double t = *rc::gen::inRange(10, 151) / 1000.0;
    TempDir dir;
    MainProgram prog(std::vector<bool>(static_cast<std::size_t>(k), daemonic), dir.path());
    mp::Process& m = *prog.m;
    ProcessGuard guard(m, prog.release);
    m.start();
    RC_ASSERT(prog.main_done.wait(kLong));
    const auto kids = prog.kids(static_cast<std::size_t>(k));
    if (daemonic) {
      auto t0 = Clock::now();
      m.join(kLong);
      RC_ASSERT(!m.is_alive());
      RC_ASSERT(seconds_since(t0) < kLong.count());
      RC_ASSERT(m.exitcode() == std::optional<int>(0));
      for (const auto& kid : kids) RC_ASSERT(pid_reaped(kid.pid));  // terminated and reaped at M's exit
      prog.daemon_go.set();  // too late: no daemon is left to finish
      for (const auto& kid : kids) RC_ASSERT(!file_exists(kid.marker));
    } else {
      auto t0 = Clock::now();
      m.join(Seconds(t));
      RC_ASSERT(seconds_since(t0) >= t);
      RC_ASSERT(m.is_alive());  // M waits for its non-daemonic children
      for (const auto& kid : kids) {
        RC_ASSERT(!pid_ended(kid.pid));
        RC_ASSERT(!file_exists(kid.marker));
      }
      prog.release.set();
      m.join(kLong);
      RC_ASSERT(!m.is_alive());
      RC_ASSERT(m.exitcode() == std::optional<int>(0));
      for (const auto& kid : kids) {
        RC_ASSERT(file_exists(kid.marker));
        RC_ASSERT(pid_reaped(kid.pid));
      }
    }
  });
}

// At exit M first terminates every daemonic child, then joins the rest: the
// daemons die while M still lingers for a non-daemonic sibling (so it is M's
// exit path that ends them, not M's death). Letting the daemons go then is too
// late; the non-daemonic children finish once released, and M exits with 0.
RG_CASE("daemon.killed_before_nondaemon_join",
        {.title = "At exit daemonic children are terminated before non-daemonic ones are joined",
         .seed_document = "",
         .tags = {"daemon", "process", "D"},
         .default_trials = 12}) {
  ctx.check([] {
    auto kinds = *rc::gen::container<std::vector<bool>>(static_cast<std::size_t>(*rc::gen::inRange(0, 4)),
                                                        rc::gen::arbitrary<bool>());
    kinds.push_back(true);
    kinds.push_back(false);
    const auto shift = *rc::gen::inRange<std::ptrdiff_t>(0, static_cast<std::ptrdiff_t>(kinds.size()));
    std::rotate(kinds.begin(), kinds.begin() + shift, kinds.end());
    const double t = *rc::gen::inRange(10, 151) / 1000.0;
    TempDir dir;
    MainProgram prog(kinds, dir.path());
    mp::Process& m = *prog.m;
    ProcessGuard guard(m, prog.release);
    m.start();
    RC_ASSERT(prog.main_done.wait(kLong));
    const auto kids = prog.kids(kinds.size());
    for (const auto& kid : kids) {
      if (kid.daemonic) RC_ASSERT(wait_pid_ended(kid.pid, kLong));
    }
    // Every daemon has ended while M and the non-daemonic children go on.
    RC_ASSERT(m.is_alive());
    for (const auto& kid : kids) {
      if (!kid.daemonic) RC_ASSERT(!pid_ended(kid.pid));
    }
    auto t0 = Clock::now();
    m.join(Seconds(t));
    RC_ASSERT(seconds_since(t0) >= t);
    RC_ASSERT(m.is_alive());
    prog.daemon_go.set();  // the daemons' work could finish now, but they are gone
    prog.release.set();
    m.join(kLong);
    RC_ASSERT(!m.is_alive());
    RC_ASSERT(m.exitcode() == std::optional<int>(0));
    for (const auto& kid : kids) {
      RC_ASSERT(file_exists(kid.marker) == !kid.daemonic);
      RC_ASSERT(pid_reaped(kid.pid));
    }
  });
}

// ---- the daemon flag ------------------------------------------------------------------

// daemon is false by default and can be set before start() (either value); the
// child sees it as current_process().daemon(). After start() (running or
// ended), setting it raises AssertionError("process has already started") and
// leaves it unchanged.
RG_CASE("daemon.set_before_start",
        {.title = "daemon can be set only before start(); afterwards AssertionError('process has already started')",
         .seed_document = "001_41cd22346628bbc0.txt",
         .tags = {"daemon", "process", "D"},
         .default_trials = 15}) {
  ctx.skip_check("Process(daemon=True) as a constructor argument",
                 "the reference's mp::Process takes the flag through set_daemon() before start(), not as a "
                 "constructor argument");
  ctx.check([] {
    const int before = *rc::gen::inRange(0, 3);  // not set, set true, set false
    const auto after = *rc::gen::container<std::vector<bool>>(static_cast<std::size_t>(*rc::gen::inRange(1, 4)),
                                                              rc::gen::arbitrary<bool>());
    mp::Event release;
    mp::Process p([release]() mutable {
      release.wait();
      throw mp::SystemExit(mp::current_process().daemon() ? 10 : 20);
    });
    ProcessGuard guard(p, release);
    RC_ASSERT(!p.daemon());
    if (before != 0) p.set_daemon(before == 1);
    const bool daemonic = before == 1;
    RC_ASSERT(p.daemon() == daemonic);
    p.start();
    for (bool v : after) {
      RC_ASSERT(error_of<racegate::AssertionError>([&] { p.set_daemon(v); }) == "process has already started");
      RC_ASSERT(p.daemon() == daemonic);
    }
    release.set();
    p.join(kLong);
    RC_ASSERT(p.exitcode() == std::optional<int>(daemonic ? 10 : 20));
    RC_ASSERT(error_of<racegate::AssertionError>([&] { p.set_daemon(!daemonic); }) == "process has already started");
    RC_ASSERT(p.daemon() == daemonic);
  });
}

// ---- pool workers ------------------------------------------------------------------------

namespace {

std::pair<std::string, bool> who_am_i(int) {
  return {mp::current_process().name(), mp::current_process().daemon()};
}

std::string start_process_in_task() {
  mp::Process p;
  p.start();  // throws: a pool worker is daemonic
  p.join();
  return "started";
}

std::string pool_in_task() {
  mp::Pool inner(1);  // throws too
  return "made";
}

long long thread_pool_in_task(int n) {
  mp::ThreadPool tp(2);
  std::vector<int> xs;
  for (int i = 0; i < n; ++i) xs.push_back(i);
  auto ys = tp.map([](int x) { return x + 1; }, xs);
  tp.close();
  tp.join();
  long long sum = 0;
  for (int y : ys) sum += y;
  return sum;
}

}  // namespace

// Inside a Pool task current_process() is ("ForkPoolWorker-N", daemonic), N
// from this process's counter; starting a Process or a Pool in a task raises
// AssertionError("daemonic processes are not allowed to have children") at
// get(); a ThreadPool in a task works.
RG_CASE("daemon.pool_workers_are_daemonic",
        {.title = "Pool workers are daemonic ForkPoolWorker-N: no child processes, but ThreadPools work",
         .seed_document = "002_b9c4f45d0419849c.txt",
         .tags = {"daemon", "pool", "process", "D"},
         .default_trials = 6}) {
  ctx.check([] {
    const int workers = *rc::gen::inRange(1, 4);
    const int n_items = *rc::gen::inRange(0, 30);
    mp::Process before;
    const int n = std::stoi(before.name().substr(before.name().rfind('-') + 1));
    mp::Pool pool(workers);
    std::set<std::string> allowed;
    for (int i = 1; i <= workers; ++i) allowed.insert("ForkPoolWorker-" + std::to_string(n + i));
    std::vector<int> items(static_cast<std::size_t>(n_items) + 1);
    for (const auto& [name, daemonic] : pool.map(who_am_i, items, 1)) {
      RC_ASSERT(allowed.count(name) == 1u);
      RC_ASSERT(daemonic);
    }
    auto r = pool.apply_async(start_process_in_task);
    RC_ASSERT(error_of<racegate::AssertionError>([&] { (void)r.get(kLong); }) ==
              "daemonic processes are not allowed to have children");
    RC_ASSERT(r.ready());
    RC_ASSERT(!r.successful());
    RC_ASSERT(error_of<racegate::AssertionError>([&] { (void)pool.apply(pool_in_task); }) ==
              "daemonic processes are not allowed to have children");
    RC_ASSERT(pool.apply(thread_pool_in_task, n_items) == static_cast<long long>(n_items) * (n_items + 1) / 2);
    pool.close();
    pool.join();
  });
}
