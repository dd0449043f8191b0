// Catalog section 1: Process (targets, subclasses, names, misuse, join, exit codes, fork inheritance).
#include <algorithm>
#include <csignal>
#include <deque>
#include <fcntl.h>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <poll.h>
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
#include "racegate/mp/lock.h"
#include "racegate/mp/manager.h"
#include "racegate/mp/pool.h"
#include "racegate/mp/process.h"
#include "racegate/mp/queue.h"
#include "racegate/threading/lock.h"

namespace mp = racegate::mp;
using racegate::cases::Clock;
using racegate::cases::error_of;
using racegate::cases::ForkWaitpid;
using racegate::cases::kLong;
using racegate::cases::read_all;
using racegate::cases::ReferenceProcess;
using racegate::cases::Seconds;
using racegate::cases::seconds_since;
using racegate::harness::Grade;
using racegate::test::ProcessGuard;

namespace {

int name_number(const std::string& name) { return std::stoi(name.substr(name.rfind('-') + 1)); }

std::string alnum_string(int min_size, int max_size) {
  const int size = *rc::gen::inRange(min_size, max_size + 1);
  return *rc::gen::container<std::string>(
      static_cast<std::size_t>(size),
      rc::gen::elementOf(std::string("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ ")));
}

}  // namespace

// ---- targets and subclasses -------------------------------------------------

// Each of n children runs its target with its own arguments and reports
// (ppid, pid, name, a value computed from the arguments) through a Queue; the
// parent compares the set of reports, whatever the order the children ran in.
RG_CASE("process.target_args_runs_in_child",
        {.title = "Process(target, args).start() runs target(args) in a new child of this process",
         .seed_document = "001_41cd22346628bbc0.txt",
         .tags = {"process", "D"},
         .default_trials = 15}) {
  ctx.check([] {
    const int n = *rc::gen::inRange(1, 5);
    const auto xs = *rc::gen::container<std::vector<int>>(static_cast<std::size_t>(n), rc::gen::arbitrary<int>());
    const std::string tag = *rc::gen::string<std::string>();
    using Report = std::tuple<int, int, std::string, long long>;  // ppid, pid, name, 2x + |tag|
    mp::Queue<Report> q;
    std::deque<mp::Process> ps;
    std::deque<ProcessGuard> guards;
    for (int i = 0; i < n; ++i) {
      ps.emplace_back(
          [q](int x, const std::string& s) mutable {
            q.put({static_cast<int>(getppid()), static_cast<int>(getpid()), mp::current_process().name(),
                   2LL * x + static_cast<long long>(s.size())});
          },
          xs[static_cast<std::size_t>(i)], tag);
      guards.emplace_back(ps.back());
    }
    std::multiset<Report> expected;
    for (int i = 0; i < n; ++i) {
      auto& p = ps[static_cast<std::size_t>(i)];
      p.start();
      RC_ASSERT(p.pid().has_value());
      RC_ASSERT(*p.pid() != getpid());
      expected.insert({static_cast<int>(getpid()), static_cast<int>(*p.pid()), p.name(),
                       2LL * xs[static_cast<std::size_t>(i)] + static_cast<long long>(tag.size())});
    }
    std::multiset<Report> seen;
    for (int i = 0; i < n; ++i) seen.insert(q.get(true, kLong));
    for (auto& p : ps) {
      p.join(kLong);
      RC_ASSERT(p.exitcode() == std::optional<int>(0));
    }
    RC_ASSERT(seen == expected);
  });
}

namespace {

using NameReport = std::tuple<std::string, std::string, int>;  // current_process().name(), name(), pid

// The seeds' subclass: its constructor runs the base (as super().__init__())
// and sets a name; run() is overridden.
class NamedWorker : public mp::Process {
 public:
  NamedWorker(std::string name, mp::Queue<NameReport> q) : q_(std::move(q)) { set_name(std::move(name)); }

 protected:
  void run() override { q_.put({mp::current_process().name(), name(), static_cast<int>(getpid())}); }

 private:
  mp::Queue<NameReport> q_;
};

}  // namespace

// start() runs the overridden run() in the child, where the name set in the
// subclass's constructor is current_process().name().
RG_CASE("process.subclass_run_override",
        {.title = "A Process subclass's run() runs in the child and sees the name set in its constructor",
         .seed_document = "001_41cd22346628bbc0.txt, 004_7648374c0ccc69dc.txt",
         .tags = {"process", "D"},
         .default_trials = 15}) {
  ctx.check([] {
    const auto names = *rc::gen::container<std::vector<std::string>>(
        static_cast<std::size_t>(*rc::gen::inRange(1, 4)), rc::gen::nonEmpty(rc::gen::string<std::string>()));
    mp::Queue<NameReport> q;
    std::deque<NamedWorker> ws;
    std::deque<ProcessGuard> guards;
    for (const auto& name : names) {
      ws.emplace_back(name, q);
      guards.emplace_back(ws.back());
      RC_ASSERT(ws.back().name() == name);
    }
    std::multiset<NameReport> expected;
    for (auto& w : ws) {
      w.start();
      expected.insert({w.name(), w.name(), static_cast<int>(*w.pid())});
    }
    std::multiset<NameReport> seen;
    for (std::size_t i = 0; i < ws.size(); ++i) seen.insert(q.get(true, kLong));
    for (auto& w : ws) {
      w.join(kLong);
      RC_ASSERT(w.exitcode() == std::optional<int>(0));
    }
    RC_ASSERT(seen == expected);
  });
}

namespace {

// Names no base constructor: C++ runs Process() anyway.
class NoSuper : public mp::Process {
 public:
  explicit NoSuper(mp::Event ran) : ran_(std::move(ran)) {}

 protected:
  void run() override { ran_.set(); }

 private:
  mp::Event ran_;
};

// Sets its name in its constructor's body, after the base was constructed.
class NameBeforeSuper : public mp::Process {
 public:
  explicit NameBeforeSuper(const std::string& name) { set_name(name); }
};

}  // namespace

// CPython: leaving out super().__init__() makes start() raise AttributeError,
// and a name set before super().__init__() is overwritten by the default. In
// C++ the base constructor always runs first: a subclass that names no base
// constructor is a complete Process (start() works, run() runs in the child,
// the default name is <Class>-N from the one counter), and a name set in the
// subclass's constructor is kept. Both CPython checks are skipped out loud.
RG_CASE("process.subclass_without_super_init",
        {.title = "A Process subclass always has its base initialized (C++); its default name is <Class>-N",
         .seed_document = "001_41cd22346628bbc0.txt",
         .tags = {"process", "D"},
         .default_trials = 10}) {
  ctx.skip_check("start() without super().__init__() raises AttributeError: 'NoSuper' object has no attribute '_closed'",
                 "C++ always runs a base-class constructor before the subclass's: a Process subclass cannot "
                 "leave its base uninitialized");
  ctx.skip_check("a name set before super().__init__() is overwritten by the default (NameBeforeSuper-6)",
                 "C++ runs no subclass code before the base constructor; a name set in the subclass's "
                 "constructor comes after it and is kept");
  ctx.check([] {
    const int k = *rc::gen::inRange(1, 4);
    const std::string name = *rc::gen::nonEmpty(rc::gen::string<std::string>());
    mp::Process before;
    const int n = name_number(before.name());
    std::vector<mp::Event> ran(static_cast<std::size_t>(k));
    std::deque<NoSuper> subs;
    std::deque<ProcessGuard> guards;
    for (int i = 0; i < k; ++i) {
      subs.emplace_back(ran[static_cast<std::size_t>(i)]);
      guards.emplace_back(subs.back());
      RC_ASSERT(subs.back().name() == "NoSuper-" + std::to_string(n + 1 + i));
      RC_ASSERT(!subs.back().pid().has_value());
    }
    NameBeforeSuper named(name);
    RC_ASSERT(named.name() == name);
    mp::Process after;
    RC_ASSERT(name_number(after.name()) == n + k + 2);  // every subclass bumped the one counter
    for (auto& s : subs) s.start();
    for (std::size_t i = 0; i < subs.size(); ++i) {
      subs[i].join(kLong);
      RC_ASSERT(subs[i].exitcode() == std::optional<int>(0));
      RC_ASSERT(ran[i].is_set());
    }
  });
}

// ---- names and state ----------------------------------------------------------

namespace {

class Sub : public mp::Process {};

std::string worker_name() { return mp::current_process().name(); }

}  // namespace

// Names count from one per-process counter bumped at construction by every
// Process, subclass (named after its class), explicitly named Process, pool
// worker and manager; a child's own processes are Parent-N:M with M from 1.
// Before start(): no pid, no exit code, not alive, not daemonic. The main
// process is MainProcess with no parent.
RG_CASE("process.default_names_and_initial_state",
        {.title = "Default names <Class>-N from one counter (children Parent-N:M); initial state before start",
         .seed_document = "000_78ac54c149ecb25e.txt, 001_41cd22346628bbc0.txt",
         .tags = {"process", "D"},
         .default_trials = 8}) {
  ctx.check([] {
    RC_ASSERT(mp::current_process().name() == "MainProcess");
    RC_ASSERT(mp::current_process().pid() == std::optional<pid_t>(getpid()));
    RC_ASSERT(!mp::parent_process().has_value());

    const auto kinds = *rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 3));
    const int m = *rc::gen::inRange(1, 4);  // processes the child constructs
    const int workers = *rc::gen::inRange(0, 3);
    const bool manager = *rc::gen::arbitrary<bool>();

    mp::Process first;
    int n = name_number(first.name());
    RC_ASSERT(first.name() == "Process-" + std::to_string(n));
    std::deque<mp::Process> plain;
    std::deque<Sub> subs;
    for (int kind : kinds) {
      ++n;
      const mp::Process* p = nullptr;
      std::string expected;
      if (kind == 0) {
        p = &plain.emplace_back();
        expected = "Process-" + std::to_string(n);
      } else if (kind == 1) {
        p = &subs.emplace_back();
        expected = "Sub-" + std::to_string(n);
      } else {
        expected = "explicit-" + std::to_string(n);
        p = &plain.emplace_back([] {}, expected);
      }
      RC_ASSERT(p->name() == expected);
      RC_ASSERT(!p->pid().has_value());
      RC_ASSERT(!p->exitcode().has_value());
      RC_ASSERT(!p->is_alive());
      RC_ASSERT(!p->daemon());
    }

    // A child: its processes are <its name>:M, M from 1, and a grandchild's
    // <grandchild's name>:1; each reports what it saw.
    const pid_t parent = getpid();
    mp::Queue<std::vector<std::string>> q;
    mp::Process child([q, m, parent]() mutable {
      std::vector<std::string> seen{mp::current_process().name()};
      auto pp = mp::parent_process();
      seen.push_back(pp && pp->pid == parent ? pp->name : "<no parent>");
      std::deque<mp::Process> made;
      made.emplace_back([q]() mutable {
        mp::Process great;
        q.put({mp::current_process().name(), mp::parent_process() ? mp::parent_process()->name : "<none>",
               great.name()});
      });
      for (int i = 1; i < m; ++i) made.emplace_back();
      for (auto& p : made) seen.push_back(p.name());
      made.front().start();
      made.front().join();
      q.put(seen);
    });
    ProcessGuard guard(child);
    ++n;
    RC_ASSERT(child.name() == "Process-" + std::to_string(n));
    child.start();
    const std::string c = child.name();
    auto grandchild_seen = q.get(true, kLong);
    auto child_seen = q.get(true, kLong);
    child.join(kLong);
    RC_ASSERT(child.exitcode() == std::optional<int>(0));
    std::vector<std::string> expected_child{c, "MainProcess"};
    for (int i = 1; i <= m; ++i) expected_child.push_back(c + ":" + std::to_string(i));
    RC_ASSERT(child_seen == expected_child);
    RC_ASSERT(grandchild_seen == (std::vector<std::string>{c + ":1", c, c + ":1:1"}));

    // Pool workers and the manager's server take numbers from the same counter.
    if (manager) {
      mp::Manager mgr;
      ++n;
      mgr.shutdown();
    }
    if (workers > 0) {
      mp::Pool pool(workers);
      const std::string w = pool.apply(worker_name);
      std::set<std::string> allowed;
      for (int i = 1; i <= workers; ++i) allowed.insert("ForkPoolWorker-" + std::to_string(n + i));
      RC_ASSERT(allowed.count(w) == 1u);
      n += workers;
      pool.close();
      pool.join();
    }
    mp::Process last;
    RC_ASSERT(last.name() == "Process-" + std::to_string(n + 1));
  });
}

// ---- misuse ---------------------------------------------------------------------

// join() before start(), a second start() (while running and after the end),
// and join() of a process object from a process that did not create it raise
// AssertionError with CPython's texts; the misuse leaves the process working.
RG_CASE("process.misuse_errors",
        {.title = "Misusing a Process raises AssertionError with CPython's messages",
         .seed_document = "",
         .tags = {"process", "D"},
         .default_trials = 10}) {
  ctx.skip_check("close() while running raises ValueError: Cannot close a process while it is still running. "
                 "You should first call join() or terminate().",
                 "the reference's mp::Process has no close(): its resources go with the object");
  ctx.skip_check("use after close() raises ValueError: process object is closed",
                 "the reference's mp::Process has no close()");
  ctx.check([] {
    const int tries = *rc::gen::inRange(1, 4);
    const int code = *rc::gen::inRange(0, 101);
    const double t = *rc::gen::inRange(0, 51) / 1000.0;
    mp::Event release;
    mp::Queue<std::string> q;
    mp::Process sibling;  // created here: a child may not join it
    mp::Process p([release, q, &sibling, code]() mutable {
      std::string msg = error_of<racegate::AssertionError>([&] { sibling.join(); });
      q.put(msg);
      release.wait();
      throw mp::SystemExit(code);
    });
    ProcessGuard guard(p, release);
    for (int i = 0; i < tries; ++i) {
      RC_ASSERT(error_of<racegate::AssertionError>([&] { p.join(); }) == "can only join a started process");
      RC_ASSERT(error_of<racegate::AssertionError>([&] { p.join(Seconds(t)); }) ==
                "can only join a started process");
    }
    try {
      p.join();
      RC_FAIL("join() before start() did not throw");
    } catch (const racegate::AssertionError& e) {
      RC_ASSERT(std::string(e.python_type()) == "AssertionError");
    }
    p.start();
    for (int i = 0; i < tries; ++i) {
      RC_ASSERT(error_of<racegate::AssertionError>([&] { p.start(); }) == "cannot start a process twice");
    }
    RC_ASSERT(q.get(true, kLong) == "can only join a child process");
    RC_ASSERT(p.is_alive());
    release.set();
    p.join(kLong);
    RC_ASSERT(p.exitcode() == std::optional<int>(code));
    RC_ASSERT(error_of<racegate::AssertionError>([&] { p.start(); }) == "cannot start a process twice");
    RC_ASSERT(p.exitcode() == std::optional<int>(code));
  });
}

// ---- join (over adapters: cases/adapters/process.h) ------------------------------

RG_CASE("process.join.blocks_until_exit", (racegate::cases::join_blocks_until_exit_spec())) {
  racegate::cases::join_blocks_until_exit<ReferenceProcess>(ctx);
}
RG_CASE("process.join.blocks_until_exit@posix.fork_waitpid", (racegate::cases::join_blocks_until_exit_spec())) {
  racegate::cases::join_blocks_until_exit<ForkWaitpid>(ctx);
}
RG_CASE("process.join.timeout_returns_while_alive", (racegate::cases::join_timeout_returns_while_alive_spec())) {
  racegate::cases::join_timeout_returns_while_alive<ReferenceProcess>(ctx);
}
RG_CASE("process.join.timeout_returns_while_alive@posix.fork_waitpid",
        (racegate::cases::join_timeout_returns_while_alive_spec())) {
  racegate::cases::join_timeout_returns_while_alive<ForkWaitpid>(ctx);
}
RG_CASE("process.join.timeout_longer_returns_early", (racegate::cases::join_timeout_longer_returns_early_spec())) {
  racegate::cases::join_timeout_longer_returns_early<ReferenceProcess>(ctx);
}
RG_CASE("process.join.timeout_longer_returns_early@posix.fork_waitpid",
        (racegate::cases::join_timeout_longer_returns_early_spec())) {
  racegate::cases::join_timeout_longer_returns_early<ForkWaitpid>(ctx);
}

// Two children share an mp::Lock; both are released together by one event, so
// which takes the lock first is a race (the outcome). Inside its critical
// section each logs enter/exit through a Queue, waits until the other child is
// at the lock, and holds the lock h_i. Whatever the order: the sections do not
// overlap (enter, exit, enter, exit, from one child each), and p1.join();
// p2.join() takes at least h1 + h2.
RG_CASE("process.join.serial_lock_order",
        {.title = "Two children holding one Lock in turn: sections never overlap; which goes first is a race",
         .seed_document = "001_41cd22346628bbc0.txt",
         .tags = {"process", "join", "lock", "R"},
         .expectation = racegate::harness::Expectation::kOutcomes,
         .default_trials = 12}) {
  ctx.check([&ctx] {
    const double h1 = *rc::gen::inRange(10, 81) / 1000.0;
    const double h2 = *rc::gen::inRange(10, 81) / 1000.0;
    mp::Lock lock;
    mp::Event go, never;
    std::vector<mp::Event> at_lock(2);
    mp::Queue<std::pair<int, int>> log;  // (child 1|2, 0 enter | 1 exit)
    auto body = [lock, go, never, at_lock, log](int me, double hold) mutable {
      go.wait();
      at_lock[static_cast<std::size_t>(me - 1)].set();
      racegate::threading::LockGuard held(lock);
      log.put({me, 0});
      at_lock[static_cast<std::size_t>(2 - me)].wait(kLong);  // the other child is contending
      never.wait(Seconds(hold));                                // holds the lock `hold`
      log.put({me, 1});
    };
    mp::Process p1(body, 1, h1);
    mp::Process p2(body, 2, h2);
    ProcessGuard g1(p1, go), g2(p2, go);
    p1.start();
    p2.start();
    auto t0 = Clock::now();
    go.set();
    p1.join(kLong);
    p2.join(kLong);
    const double total = seconds_since(t0);
    RC_ASSERT(p1.exitcode() == std::optional<int>(0));
    RC_ASSERT(p2.exitcode() == std::optional<int>(0));
    std::vector<std::pair<int, int>> events;
    for (int i = 0; i < 4; ++i) events.push_back(log.get(true, kLong));
    const int a = events[0].first;
    const int b = 3 - a;
    const bool serial = events == std::vector<std::pair<int, int>>{{a, 0}, {a, 1}, {b, 0}, {b, 1}};
    if (!serial) ctx.outcome("critical sections overlap", Grade::kForbidden);
    RC_ASSERT(serial);
    ctx.outcome(a == 1 ? "p1 took the lock first" : "p2 took the lock first", Grade::kAcceptable);
    RC_ASSERT(total >= h1 + h2);
  });
}

// ---- exit codes -------------------------------------------------------------------

// The exit code of a child: 0 when its body returns or it has no target; the
// code of SystemExit(n) (0 for SystemExit() = sys.exit(None)); 1 after an
// uncaught exception, printed to its stderr as "Process NAME:" and the error.
RG_CASE("process.exitcode.normal_sysexit_exception",
        {.title = "exitcode: 0 on return, n for SystemExit(n), 1 and stderr report for an uncaught exception",
         .seed_document = "",
         .tags = {"process", "D"},
         .default_trials = 25}) {
  ctx.skip_check("sys.exit('msg') gives exitcode 1 and writes msg to stderr",
                 "racegate::mp::SystemExit carries only an integer code (sys.exit(str) has no C++ form)");
  ctx.skip_check("the uncaught exception's report carries a Python traceback",
                 "C++ has no traceback: the reference prints 'Process NAME:' and 'Type: message' only");
  ctx.check([] {
    const int kind = *rc::gen::inRange(0, 5);  // return, SystemExit(n), SystemExit(), throw, no target
    const int n = *rc::gen::inRange(0, 256);
    const std::string msg = alnum_string(0, 40);
    int fds[2];
    RC_ASSERT(::pipe2(fds, O_CLOEXEC) == 0);
    std::function<void()> body;
    int expected = 0;
    switch (kind) {
      case 0: body = [] {}; break;
      case 1: body = [n] { throw mp::SystemExit(n); }; expected = n; break;
      case 2: body = [] { throw mp::SystemExit(); }; break;
      case 3: body = [msg] { throw racegate::ValueError(msg); }; expected = 1; break;
      default: break;
    }
    std::optional<mp::Process> p;
    if (kind == 4) {
      p.emplace();
    } else {
      p.emplace([body, fds] {
        ::dup2(fds[1], 2);
        body();
      });
    }
    ProcessGuard guard(*p);
    p->start();
    ::close(fds[1]);
    const std::string err = read_all(fds[0], kLong);
    ::close(fds[0]);
    p->join(kLong);
    RC_ASSERT(p->exitcode() == std::optional<int>(expected));
    if (kind == 3) {
      RC_ASSERT(err == "Process " + p->name() + ":\nValueError: " + msg + "\n");
    } else {
      RC_ASSERT(err.empty());
    }
  });
}

// terminate() ends a running child with exitcode -SIGTERM, kill() with
// -SIGKILL; signalling it again once it ended changes nothing.
RG_CASE("process.exitcode.negative_signal",
        {.title = "terminate() gives exitcode -15, kill() gives -9",
         .seed_document = "",
         .tags = {"process", "D"},
         .default_trials = 15}) {
  ctx.skip_check("repr shows '<Process name=... pid=... parent=... stopped exitcode=-SIGTERM>'",
                 "the reference's mp::Process has no repr()");
  ctx.check([] {
    const auto how = *rc::gen::container<std::vector<bool>>(static_cast<std::size_t>(*rc::gen::inRange(1, 4)),
                                                            rc::gen::arbitrary<bool>());  // true: kill()
    mp::Event never;
    std::vector<mp::Event> started(how.size());
    std::deque<mp::Process> ps;
    std::deque<ProcessGuard> guards;
    for (std::size_t i = 0; i < how.size(); ++i) {
      ps.emplace_back([s = started[i], never]() mutable {
        s.set();
        never.wait();
      });
      guards.emplace_back(ps.back(), never);
    }
    for (auto& p : ps) p.start();
    for (std::size_t i = 0; i < how.size(); ++i) {
      RC_ASSERT(started[i].wait(kLong));
      RC_ASSERT(ps[i].is_alive());
      if (how[i]) {
        ps[i].kill();
      } else {
        ps[i].terminate();
      }
    }
    for (std::size_t i = 0; i < how.size(); ++i) {
      ps[i].join(kLong);
      const int expected = how[i] ? -SIGKILL : -SIGTERM;
      RC_ASSERT(!ps[i].is_alive());
      RC_ASSERT(ps[i].exitcode() == std::optional<int>(expected));
      ps[i].terminate();
      ps[i].kill();
      RC_ASSERT(ps[i].exitcode() == std::optional<int>(expected));
    }
  });
}

// ---- fork inheritance ---------------------------------------------------------------

namespace {

// Stand-ins for what cannot be pickled: a "module" (a table of functions and
// a pointer into the parent's memory) and a class instance with a closure.
struct Module {
  long long (*scale)(long long);
  const int* parent_value;  // valid in the child: its memory is a copy of the parent's
};
long long triple(long long x) { return 3 * x; }

struct Instance {
  std::function<long long(long long)> closure;
  std::vector<int> items;
};

}  // namespace

// Under fork, Process arguments are inherited, never serialized: a "module"
// (function table and a raw pointer into the parent's memory), a class
// instance holding a closure, and an mp::Lock all reach the child, and the
// lock is the parent's own (held by the parent, the child cannot take it
// until the parent lets go).
RG_CASE("process.args_inherited_under_fork",
        {.title = "Under fork, Process args are inherited, not serialized: a module-like object and a Lock work",
         .seed_document = "002_b9c4f45d0419849c.txt",
         .tags = {"process", "D"},
         .default_trials = 15}) {
  ctx.skip_check("under the spawn context, start() raises TypeError: cannot pickle 'module' object",
                 "the reference has only the fork start method");
  ctx.check([] {
    const int value = *rc::gen::arbitrary<int>();
    const int k = *rc::gen::inRange(-1000, 1001);
    const auto items = *rc::gen::container<std::vector<int>>(rc::gen::arbitrary<int>());
    static int parent_value;  // a global of the parent
    parent_value = value;
    Module module{&triple, &parent_value};
    Instance instance{[k](long long x) { return x + k; }, items};
    mp::Lock lock;
    using Report = std::tuple<bool, long long, int, long long, std::size_t, bool>;
    mp::Queue<bool> first;
    mp::Queue<Report> q;
    mp::Process p(
        [first, q](Module m, Instance inst, mp::Lock l) mutable {
          bool free_at_once = l.acquire(false);  // the parent holds it: false
          if (free_at_once) l.release();
          first.put(free_at_once);
          bool acquired = l.acquire(true, kLong);
          if (acquired) l.release();
          long long sum = 0;
          for (int x : inst.items) sum += x;
          q.put({free_at_once, m.scale(7), *m.parent_value, inst.closure(sum), inst.items.size(), acquired});
        },
        module, instance, lock);
    ProcessGuard guard(p);
    lock.acquire();  // a fresh lock: taken at once
    p.start();
    const bool child_took_held_lock = first.get(true, kLong);
    lock.release();
    RC_ASSERT(!child_took_held_lock);
    Report r = q.get(true, kLong);
    p.join(kLong);
    RC_ASSERT(p.exitcode() == std::optional<int>(0));
    long long sum = 0;
    for (int x : items) sum += x;
    const Report expected{false, 21, value, sum + k, items.size(), true};
    RC_ASSERT(r == expected);
  });
}
