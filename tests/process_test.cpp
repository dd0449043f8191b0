// Unit tests of racegate::mp::Process.
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>

#include "racegate/errors.h"
#include "racegate/mp/event.h"
#include "racegate/mp/process.h"
#include "support/child_program.h"
#include "cases/support/process_guard.h"

namespace mp = racegate::mp;
using racegate::test::ProcessGuard;
using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

namespace {

struct Captured {
  std::string name;
  std::string stderr_text;
  std::optional<int> exitcode;
};

// Runs `body` in a child whose stderr goes to a pipe; returns what it wrote.
Captured run_capturing_stderr(std::function<void()> body) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  mp::Process p([fds, body] {
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    body();
  });
  ProcessGuard guard(p);
  p.start();
  close(fds[1]);
  Captured c;
  char buf[4096];
  for (ssize_t k; (k = read(fds[0], buf, sizeof buf)) > 0;) c.stderr_text.append(buf, static_cast<size_t>(k));
  close(fds[0]);
  p.join();
  c.name = p.name();
  c.exitcode = p.exitcode();
  return c;
}

int name_number(const std::string& name) {
  return std::stoi(name.substr(name.rfind('-') + 1));
}

class Worker : public mp::Process {
 public:
  explicit Worker(mp::Event ran) : ran_(std::move(ran)) {}

 protected:
  void run() override {
    ran_.set();
    if (mp::current_process().name() != name()) throw mp::SystemExit(5);
  }

 private:
  mp::Event ran_;
};

}  // namespace

TEST(Process, DefaultNamesAndInitialState) {
  mp::Process a, b;
  EXPECT_TRUE(std::regex_match(a.name(), std::regex("Process-[0-9]+")));
  EXPECT_EQ(name_number(b.name()), name_number(a.name()) + 1);
  EXPECT_FALSE(a.pid().has_value());
  EXPECT_FALSE(a.exitcode().has_value());
  EXPECT_FALSE(a.is_alive());
  EXPECT_FALSE(a.daemon());
  EXPECT_EQ(mp::current_process().name(), "MainProcess");
  EXPECT_TRUE(mp::current_process().is_alive());
  EXPECT_EQ(mp::current_process().pid(), getpid());
  EXPECT_FALSE(mp::parent_process().has_value());
  mp::Process named([] {}, "andy");
  EXPECT_EQ(named.name(), "andy");
}

TEST(Process, SubclassRunOverrideAndClassName) {
  mp::Event ran;
  Worker w(ran);
  EXPECT_TRUE(std::regex_match(w.name(), std::regex("Worker-[0-9]+")));
  ProcessGuard guard(w);
  w.start();
  w.join();
  EXPECT_TRUE(ran.is_set());
  EXPECT_EQ(w.exitcode(), 0);
}

TEST(Process, ChildKnowsItselfAndItsParent) {
  const pid_t parent = getpid();
  mp::Process p([parent] {
    auto pp = mp::parent_process();
    if (!pp || pp->pid != parent || pp->name != "MainProcess" || !pp->is_alive()) throw mp::SystemExit(10);
    if (mp::current_process().pid() != getpid() || getpid() == parent) throw mp::SystemExit(11);
    if (getppid() != parent) throw mp::SystemExit(12);
    // A grandchild is named after its parent: Process-N:1.
    mp::Process grandchild;
    if (grandchild.name() != mp::current_process().name() + ":1") throw mp::SystemExit(13);
  });
  ProcessGuard guard(p);
  p.start();
  EXPECT_TRUE(p.pid().has_value());
  EXPECT_NE(*p.pid(), getpid());
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(Process, TargetWithArguments) {
  mp::Process p([](int a, const std::string& s) { throw mp::SystemExit(a + static_cast<int>(s.size())); },
                40, std::string("ab"));
  ProcessGuard guard(p);
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 42);
}

TEST(Process, ExitCodes) {
  mp::Process none;
  none.start();
  none.join();
  EXPECT_EQ(none.exitcode(), 0);

  mp::Process sysexit([] { throw mp::SystemExit(3); });
  sysexit.start();
  sysexit.join();
  EXPECT_EQ(sysexit.exitcode(), 3);

  auto boom = run_capturing_stderr([] { throw std::runtime_error("boom"); });
  EXPECT_EQ(boom.exitcode, 1);
  EXPECT_EQ(boom.stderr_text, "Process " + boom.name + ":\nruntime_error: boom\n");

  auto value_error = run_capturing_stderr([] { throw racegate::ValueError("bad 4"); });
  EXPECT_EQ(value_error.exitcode, 1);
  EXPECT_EQ(value_error.stderr_text, "Process " + value_error.name + ":\nValueError: bad 4\n");
}

TEST(Process, TerminateAndKillGiveNegativeSignal) {
  for (int sig : {SIGTERM, SIGKILL}) {
    mp::Event started, never;
    mp::Process p([started, never]() mutable {
      started.set();
      never.wait();
    });
    ProcessGuard guard(p, never);
    p.start();
    ASSERT_TRUE(started.wait(Seconds(60)));
    if (sig == SIGTERM) p.terminate(); else p.kill();
    p.join();
    EXPECT_EQ(p.exitcode(), -sig);
    EXPECT_FALSE(p.is_alive());
    p.terminate();  // no effect once it ended
  }
}

TEST(Process, MisuseMessages) {
  mp::Process p;
  try {
    p.join();
    FAIL() << "join before start did not throw";
  } catch (const racegate::AssertionError& e) {
    EXPECT_STREQ(e.what(), "can only join a started process");
  }
  p.start();
  try {
    p.start();
    FAIL() << "second start did not throw";
  } catch (const racegate::AssertionError& e) {
    EXPECT_STREQ(e.what(), "cannot start a process twice");
  }
  try {
    p.set_daemon(true);
    FAIL() << "set_daemon after start did not throw";
  } catch (const racegate::AssertionError& e) {
    EXPECT_STREQ(e.what(), "process has already started");
    EXPECT_STREQ(e.python_type(), "AssertionError");
  }
  p.join();
  mp::Process d;
  d.set_daemon(true);
  EXPECT_TRUE(d.daemon());
}

TEST(Process, NegativeJoinTimeoutBehavesAsZero) {
  mp::Event release;
  mp::Process p([release]() mutable { release.wait(); });
  ProcessGuard guard(p, release);
  p.start();
  auto t0 = Clock::now();
  p.join(Seconds(-5));
  EXPECT_LT(Seconds(Clock::now() - t0).count(), 5.0);
  EXPECT_TRUE(p.is_alive());
  EXPECT_FALSE(p.exitcode().has_value());
  release.set();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(Process, ActiveChildrenListsRunningChildrenOnly) {
  mp::Event release;
  mp::Process p([release]() mutable { release.wait(); });
  ProcessGuard guard(p, release);
  p.start();
  auto kids = mp::active_children();
  ASSERT_EQ(kids.size(), 1u);
  EXPECT_EQ(kids[0].pid(), p.pid());
  EXPECT_EQ(kids[0].name(), p.name());
  release.set();
  p.join();
  EXPECT_TRUE(mp::active_children().empty());
}

TEST(Process, DestroyedObjectStillReapedThroughActiveChildren) {
  mp::Event release;
  {
    mp::Process p([release]() mutable { release.wait(); });
    p.start();
  }
  auto kids = mp::active_children();
  ASSERT_EQ(kids.size(), 1u);
  release.set();
  kids[0].join();
  EXPECT_EQ(kids[0].exitcode(), 0);
  EXPECT_TRUE(mp::active_children().empty());
}

// ---- exit-time rules, each in a fresh process --------------------------------

// Main code ends: the daemonic child (blocked for ever) is terminated, the
// non-daemonic one is joined (it finishes after main's last line).
RG_CHILD_PROGRAM(daemon_at_exit) {
  mp::Event never, main_done;
  mp::Process daemonic([never]() mutable {
    never.wait();
    std::fprintf(stderr, "daemonic-finished\n");
  });
  daemonic.set_daemon(true);
  mp::Process worker([main_done]() mutable {
    main_done.wait();
    std::fprintf(stderr, "worker-finished\n");
  });
  daemonic.start();
  worker.start();
  std::fprintf(stderr, "daemon-pid=%d\nmain-finished\n", static_cast<int>(*daemonic.pid()));
  std::fflush(stderr);
  main_done.set();
  return 0;  // exit handlers: terminate the daemon, join the worker
}

TEST(Process, DaemonTerminatedAndNonDaemonJoinedAtExit) {
  auto r = racegate::test::run_child_program("daemon_at_exit", {}, 60);
  ASSERT_FALSE(r.timed_out) << r.stderr_text;
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
  auto main_at = r.stderr_text.find("main-finished\n");
  auto worker_at = r.stderr_text.find("worker-finished\n");
  ASSERT_NE(main_at, std::string::npos) << r.stderr_text;
  ASSERT_NE(worker_at, std::string::npos) << r.stderr_text;
  EXPECT_LT(main_at, worker_at);
  EXPECT_EQ(r.stderr_text.find("daemonic-finished"), std::string::npos) << r.stderr_text;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.stderr_text, m, std::regex("daemon-pid=([0-9]+)")));
  // The daemon was terminated and reaped before the program exited.
  EXPECT_EQ(::kill(std::stoi(m[1]), 0), -1);
}

// The parent dies by SIGKILL: its child (blocked for ever) must not outlive it.
RG_CHILD_PROGRAM(killed_parent) {
  mp::Event never;
  mp::Process p([never]() mutable { never.wait(); });
  p.start();
  std::fprintf(stderr, "child-pid=%d\n", static_cast<int>(*p.pid()));
  std::fflush(stderr);
  raise(SIGKILL);
  return 0;
}

namespace {
bool process_gone(pid_t pid) {
  if (::kill(pid, 0) == -1 && errno == ESRCH) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto close_paren = s.rfind(')');
  return close_paren != std::string::npos && s.size() > close_paren + 2 && s[close_paren + 2] == 'Z';
}
}  // namespace

TEST(Process, NoChildOutlivesAKilledParent) {
  auto r = racegate::test::run_child_program("killed_parent", {}, 60);
  EXPECT_EQ(r.exit_code, -SIGKILL);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.stderr_text, m, std::regex("child-pid=([0-9]+)")));
  pid_t child = std::stoi(m[1]);
  // Loose upper bound: the kernel delivers the parent-death signal at once.
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (!process_gone(child) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(process_gone(child)) << "child " << child << " outlived its killed parent";
}
