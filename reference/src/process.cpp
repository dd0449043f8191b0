#include "racegate/mp/process.h"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <typeinfo>
#include <unistd.h>

#include "racegate/errors.h"
#include "racegate/internal/runtime.h"
#include "racegate/schedule.h"

namespace racegate::mp {
namespace internal {

struct ProcessState {
  std::mutex mu;
  std::string name;             // guarded by mu once started
  bool name_explicit = false;
  std::vector<int> identity;    // e.g. {2, 1} for "Process-2:1"
  bool daemon = false;
  pid_t creator_pid = 0;        // the process that constructed the object
  bool is_main = false;
  // start() claims the object once, then publishes pid and pidfd with
  // `started` (release); readers check `started` (acquire) before reading them.
  std::atomic<bool> start_claimed{false};
  std::atomic<bool> started{false};
  pid_t pid = 0;
  int pidfd = -1;               // open for the state's lifetime (never reused early)
  std::optional<int> exitcode;  // guarded by mu
  bool lost = false;            // guarded by mu: reaped by someone else (exit code unknown)

  ~ProcessState() {
    if (pidfd >= 0) close(pidfd);
  }
};

}  // namespace internal

namespace {

using internal::ProcessState;
using racegate::internal::Deadline;

struct Children {
  std::mutex mu;
  std::vector<std::shared_ptr<ProcessState>> list;
};

// Per-process bookkeeping; a forked child resets it (see bootstrap_child).
std::atomic<int> g_counter{0};
std::vector<int> g_identity;                // this process's identity ({} in main)
Process* g_current = nullptr;               // this process's object (nullptr in main)
bool g_current_daemon = false;
std::optional<ParentProcess> g_parent;
Children* g_children = new Children();      // leaked on purpose: used from atexit

std::string join_identity(const std::vector<int>& id) {
  std::string out;
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (i) out += ':';
    out += std::to_string(id[i]);
  }
  return out;
}

// waitpid(WNOHANG) on a started, unreaped child. Caller holds s.mu.
void try_reap_locked(ProcessState& s) {
  if (s.exitcode || s.lost) return;
  int status = 0;
  pid_t r;
  do {
    r = waitpid(s.pid, &status, WNOHANG);
  } while (r == -1 && errno == EINTR);
  if (r == s.pid) {
    if (WIFEXITED(status)) {
      s.exitcode = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      s.exitcode = -WTERMSIG(status);
    }
  } else if (r == -1 && errno == ECHILD) {
    s.lost = true;  // reaped by someone else's waitpid: the code is gone
  }
}

bool ended(ProcessState& s) {
  std::lock_guard lk(s.mu);
  try_reap_locked(s);
  return s.exitcode.has_value() || s.lost;
}

void wait_until(ProcessState& s, const Deadline& deadline) {
  unsigned backoff_us = 100;
  for (;;) {
    if (ended(s)) return;
    if (deadline.expired()) return;
    if (s.pidfd >= 0) {
      pollfd pfd{s.pidfd, POLLIN, 0};
      int ms = deadline.remaining_ms();
      int rc = schedule::outside([&] { return poll(&pfd, 1, ms); });
      if (rc == -1 && errno != EINTR) {
        throw OSError(std::string("poll(pidfd) failed: ") + std::strerror(errno));
      }
    } else {
      // No pidfd (old kernel): poll waitpid with a bounded back-off.
      int ms = deadline.remaining_ms();
      unsigned cap_us = ms < 0 ? 50000u : std::min(50000u, static_cast<unsigned>(ms) * 1000u + 1u);
      schedule::outside([&] { std::this_thread::sleep_for(std::chrono::microseconds(std::min(backoff_us, cap_us))); });
      backoff_us = std::min(backoff_us * 2, 50000u);
    }
  }
}

void send_signal(ProcessState& s, int sig) {
  if (!s.started || s.is_main) return;
  std::lock_guard lk(s.mu);
  try_reap_locked(s);
  if (s.exitcode || s.lost) return;
  ::kill(s.pid, sig);  // not yet reaped, so the pid cannot have been reused
}

std::vector<std::shared_ptr<ProcessState>> reap_and_list_children() {
  std::lock_guard lk(g_children->mu);
  auto& v = g_children->list;
  std::erase_if(v, [](const std::shared_ptr<ProcessState>& s) { return ended(*s); });
  return v;
}

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  long fd = syscall(SYS_pidfd_open, pid, 0);
  return fd >= 0 ? static_cast<int>(fd) : -1;
#else
  (void)pid;
  return -1;
#endif
}

}  // namespace

// ---- ChildProcess -----------------------------------------------------------

const std::string& ChildProcess::name() const { return state_->name; }
std::optional<pid_t> ChildProcess::pid() const { return state_->pid; }
bool ChildProcess::daemon() const { return state_->daemon; }
bool ChildProcess::is_alive() const { return !ended(*state_); }
std::optional<int> ChildProcess::exitcode() const {
  std::lock_guard lk(state_->mu);
  try_reap_locked(*state_);
  return state_->exitcode;
}
void ChildProcess::join() { wait_until(*state_, Deadline::never()); }
void ChildProcess::join(racegate::internal::Seconds timeout) {
  wait_until(*state_, Deadline::after(timeout));
}
void ChildProcess::terminate() { send_signal(*state_, SIGTERM); }
void ChildProcess::kill() { send_signal(*state_, SIGKILL); }

// ---- Process ----------------------------------------------------------------

Process::Process() : Process(std::function<void()>()) {}

Process::Process(std::function<void()> target, std::optional<std::string> name)
    : state_(std::make_shared<ProcessState>()), target_(std::move(target)) {
  int n = g_counter.fetch_add(1, std::memory_order_relaxed) + 1;
  state_->identity = g_identity;
  state_->identity.push_back(n);
  state_->creator_pid = getpid();
  if (name) {
    state_->name = std::move(*name);
    state_->name_explicit = true;
  } else {
    state_->name = "Process-" + join_identity(state_->identity);
  }
}

Process::Process(MainTag) : state_(std::make_shared<ProcessState>()) {
  state_->name = "MainProcess";
  state_->name_explicit = true;
  state_->is_main = true;
  state_->started = true;
  state_->creator_pid = getpid();
}

Process::~Process() = default;

void Process::run() {
  if (target_) target_();
}

const std::string& Process::name() const {
  std::lock_guard lk(state_->mu);
  if (!state_->name_explicit && !state_->started) {
    // The class name is known only once construction is over: Worker-3.
    state_->name = racegate::internal::short_type_name(typeid(*this).name()) + "-" +
                   join_identity(state_->identity);
  }
  return state_->name;
}

void Process::set_name(std::string name) {
  std::lock_guard lk(state_->mu);
  state_->name = std::move(name);
  state_->name_explicit = true;
}

bool Process::daemon() const {
  if (state_->is_main) return false;
  return state_->daemon;
}

void Process::set_daemon(bool daemonic) {
  if (state_->start_claimed) throw AssertionError("process has already started");
  state_->daemon = daemonic;
}

std::optional<pid_t> Process::pid() const {
  if (state_->is_main || this == g_current) return getpid();
  if (!state_->started) return std::nullopt;
  return state_->pid;
}

void Process::start() {
  schedule::point(schedule::Op::kProcessStart, this);
  if (state_->started || state_->is_main) throw AssertionError("cannot start a process twice");
  if (state_->creator_pid != getpid()) {
    throw AssertionError("can only start a process object created by current process");
  }
  if (g_current_daemon) {
    throw AssertionError("daemonic processes are not allowed to have children");
  }
  if (state_->start_claimed.exchange(true)) throw AssertionError("cannot start a process twice");
  racegate::internal::ensure_exit_hook();
  (void)reap_and_list_children();  // CPython's _cleanup(): reap finished children
  (void)name();                     // fix the default name before the child copies it

  // Flush so that the child does not print the parent's buffered output again.
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);

  // Hold the registry's lock across fork: no other thread of this process can
  // be inside it when the child's copy is taken.
  std::unique_lock reg(g_children->mu);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == -1) {
    int err = errno;
    state_->start_claimed = false;
    throw OSError(std::string("fork() failed: ") + std::strerror(err));
  }
  if (pid == 0) {
    // The registry and its mutex belong to the parent; the child gets fresh ones.
    g_children = new Children();
    (void)parent;
    bootstrap_child();
  }
  state_->pid = pid;
  state_->pidfd = open_pidfd(pid);
  state_->started = true;
  g_children->list.push_back(state_);
}

void Process::bootstrap_child() {
  // No child outlives its parent: SIGKILL when the forking thread's process
  // dies. If the parent died before prctl took effect, leave at once.
  pid_t parent_pid = getppid();
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent_pid || parent_pid == 1) _exit(1);

  g_parent = ParentProcess{current_process().name(), parent_pid};
  g_identity = state_->identity;
  g_counter.store(0, std::memory_order_relaxed);
  g_current = this;
  g_current_daemon = state_->daemon;
  state_->started = true;
  state_->pid = getpid();
  racegate::internal::reset_threads_after_fork();

  int code = 0;
  try {
    run();
  } catch (const SystemExit& e) {
    code = e.code();
  } catch (...) {
    char buf[2048];
    std::fprintf(stderr, "Process %s:\n%s\n", state_->name.c_str(),
                 racegate::internal::describe_current_exception(buf, sizeof buf));
    code = 1;
  }
  try {
    racegate::internal::join_nondaemon_threads();
    racegate::internal::terminate_and_join_children();
  } catch (...) {
    char buf[512];
    std::fprintf(stderr, "Process %s: error at exit: %s\n", state_->name.c_str(),
                 racegate::internal::describe_current_exception(buf, sizeof buf));
    if (code == 0) code = 1;
  }
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  _exit(code);
}

void Process::join() {
  schedule::point(schedule::Op::kProcessJoin, this);
  if (state_->creator_pid != getpid() || state_->is_main) {
    throw AssertionError("can only join a child process");
  }
  if (!state_->started) throw AssertionError("can only join a started process");
  wait_until(*state_, Deadline::never());
}

void Process::join(racegate::internal::Seconds timeout) {
  schedule::point(schedule::Op::kProcessJoin, this);
  if (state_->creator_pid != getpid() || state_->is_main) {
    throw AssertionError("can only join a child process");
  }
  if (!state_->started) throw AssertionError("can only join a started process");
  wait_until(*state_, Deadline::after(timeout));
}

bool Process::is_alive() const {
  if (this == &current_process()) return true;
  if (state_->creator_pid != getpid()) throw AssertionError("can only test a child process");
  if (!state_->started) return false;
  return !ended(*state_);
}

std::optional<int> Process::exitcode() const {
  if (!state_->started || state_->is_main || this == g_current) return std::nullopt;
  std::lock_guard lk(state_->mu);
  try_reap_locked(*state_);
  return state_->exitcode;
}

void Process::terminate() { send_signal(*state_, SIGTERM); }
void Process::kill() { send_signal(*state_, SIGKILL); }

// ---- module functions -------------------------------------------------------

Process& current_process() {
  if (g_current) return *g_current;
  static Process* main_process = new Process(Process::MainTag{});  // never destroyed
  return *main_process;
}

std::optional<ParentProcess> parent_process() { return g_parent; }

bool ParentProcess::is_alive() const { return getppid() == pid; }

std::vector<ChildProcess> active_children() {
  std::vector<ChildProcess> out;
  for (auto& s : reap_and_list_children()) out.push_back(ChildProcess(s));
  return out;
}

}  // namespace racegate::mp

namespace racegate::internal {

void terminate_and_join_children() {
  for (auto& c : mp::active_children()) {
    if (c.daemon()) c.terminate();
  }
  for (auto& c : mp::active_children()) c.join();
}

}  // namespace racegate::internal
