// Process adapters: the join behaviors of catalog section 1 (process.join.*)
// written once over a small adapter and instantiated per implementation:
// the reference mp::Process (bare ids) and plain fork(2) + waitpid(2)
// ("<id>@posix.fork_waitpid"); tests/broken/ instantiates them over a broken
// one. Also the helpers the process cases share (markers, pid checks).
//
// An adapter A runs `body` in a child process that exits with its result:
//
//   A p([] { return 3; });      // the child's exit code is 3
//   p.start();
//   p.join();                   // or p.join(Seconds(0.2))
//   p.is_alive(); p.exitcode(); // as mp::Process: empty while it runs
//   p.kill_and_reap();          // cleanup: never throws, leaves no child
#pragma once

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <utility>

#include "racegate/harness/case.h"
#include "racegate/mp/event.h"
#include "racegate/mp/process.h"
#include "racegate/threading/event.h"
#include "racegate/threading/thread.h"

namespace racegate::cases {

using Seconds = std::chrono::duration<double>;
using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) { return Seconds(Clock::now() - t0).count(); }

// The bound of every wait that must not hang a run.
inline constexpr Seconds kLong{60};

// The message of the E that `f` throws, or a marker when it throws nothing or
// another type.
template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (...) {
    return "<another exception>";
  }
  return "<no exception>";
}

// Reads `fd` until end of file, at most `timeout` in all.
inline std::string read_all(int fd, Seconds timeout) {
  std::string out;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout);
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
    ssize_t k = ::read(fd, buf, sizeof buf);
    if (k <= 0) break;
    out.append(buf, static_cast<size_t>(k));
  }
  return out;
}

// A private temporary directory (mkdtemp under $TMPDIR or /tmp), removed with
// everything in it when the object goes away.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/racegate-case.XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Writes a marker file.
inline void write_marker(const std::string& path, const std::string& text = "done") {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  (void)!::write(fd, text.data(), text.size());
  ::close(fd);
}

inline bool file_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// Whether `pid` names no process at all (reaped, or never existed).
inline bool pid_reaped(pid_t pid) { return ::kill(pid, 0) == -1 && errno == ESRCH; }

// Whether `pid` has ended: reaped, or a zombie waiting for its parent.
inline bool pid_ended(pid_t pid) {
  if (pid_reaped(pid)) return true;
  // Plain read(2): a process reaped while we read makes it fail (ESRCH).
  std::string s;
  int fd = ::open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[1024];
    ssize_t k = ::read(fd, buf, sizeof buf);
    if (k > 0) s.assign(buf, static_cast<size_t>(k));
    ::close(fd);
  }
  if (s.empty()) return pid_reaped(pid);  // reaped between the two looks
  auto close_paren = s.rfind(')');
  return close_paren != std::string::npos && s.size() > close_paren + 2 && s[close_paren + 2] == 'Z';
}

inline int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  long fd = ::syscall(SYS_pidfd_open, pid, 0);
  return fd >= 0 ? static_cast<int>(fd) : -1;
#else
  (void)pid;
  return -1;
#endif
}

// Waits until `pid` (any process, not only a child) has ended, at most
// `timeout`; returns whether it did. Event-driven through a pidfd (readable
// once the process has ended); without one, a bounded re-check.
inline bool wait_pid_ended(pid_t pid, Seconds timeout) {
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout);
  int fd = open_pidfd(pid);
  bool ended = false;  // once seen ended, it stays so
  for (;;) {
    if ((ended = pid_ended(pid))) break;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    if (fd >= 0) {
      pollfd pfd{fd, POLLIN, 0};
      (void)::poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 1000)));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<long long>(left, 5)));
    }
  }
  if (fd >= 0) ::close(fd);
  return ended;
}

// ---- the adapters -----------------------------------------------------------

// The reference: racegate::mp::Process.
class ReferenceProcess {
 public:
  explicit ReferenceProcess(std::function<int()> body)
      : p_([body = std::move(body)] {
          int code = body();
          if (code != 0) throw mp::SystemExit(code);
        }) {}
  ~ReferenceProcess() { kill_and_reap(); }
  ReferenceProcess(const ReferenceProcess&) = delete;
  ReferenceProcess& operator=(const ReferenceProcess&) = delete;

  void start() { p_.start(); }
  void join() { p_.join(); }
  void join(Seconds timeout) { p_.join(timeout); }
  [[nodiscard]] bool is_alive() const { return p_.is_alive(); }
  [[nodiscard]] std::optional<int> exitcode() const { return p_.exitcode(); }
  void kill_and_reap() noexcept {
    try {
      if (!p_.pid()) return;
      if (p_.is_alive()) p_.kill();
      p_.join();
    } catch (...) {
    }
  }

 private:
  mp::Process p_;
};

// A second implementation: plain fork(2); join waits on a pidfd (readable once
// the child ended) and reaps with waitpid(2). Exit codes as mp::Process: the
// status, or -N after signal N.
class ForkWaitpid {
 public:
  explicit ForkWaitpid(std::function<int()> body) : body_(std::move(body)) {}
  ~ForkWaitpid() {
    kill_and_reap();
    if (pidfd_ >= 0) ::close(pidfd_);
  }
  ForkWaitpid(const ForkWaitpid&) = delete;
  ForkWaitpid& operator=(const ForkWaitpid&) = delete;

  void start() {
    std::fflush(nullptr);
    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid == -1) throw std::runtime_error("fork failed");
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
      int code = 1;
      try {
        code = body_();
      } catch (...) {
        code = 1;
      }
      std::fflush(nullptr);
      ::_exit(code);
    }
    std::lock_guard lk(mu_);
    pid_ = pid;
    pidfd_ = open_pidfd(pid);
  }

  void join() {
    // A concurrent joiner (or kill_and_reap) may reap first.
    while (!reap()) {
      {
        std::lock_guard lk(mu_);
        if (pid_ <= 0) return;
      }
      wait_readable(1000);
    }
  }

  void join(Seconds timeout) {
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout);
    for (;;) {
      if (reap()) return;
      auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()).count();
      if (left <= 0) return;
      wait_readable(static_cast<int>(std::min<long long>((left + 999) / 1000, 1000)));
    }
  }

  [[nodiscard]] bool is_alive() {
    {
      std::lock_guard lk(mu_);
      if (pid_ <= 0) return false;
    }
    return !reap();
  }

  [[nodiscard]] std::optional<int> exitcode() {
    (void)reap();
    std::lock_guard lk(mu_);
    return code_;
  }

  void kill_and_reap() noexcept {
    {
      std::lock_guard lk(mu_);
      if (pid_ <= 0 || code_) return;
      ::kill(pid_, SIGKILL);  // not reaped yet, so the pid is still ours
    }
    while (!reap()) wait_readable(100);
  }

 private:
  // Waits (at most ms) until the pidfd says the child ended.
  void wait_readable(int ms) {
    if (pidfd_ >= 0) {
      pollfd pfd{pidfd_, POLLIN, 0};
      (void)::poll(&pfd, 1, ms);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(ms, 1)));
    }
  }

  // Reaps the child if it ended; returns whether it has been reaped (by this
  // call or before).
  bool reap() {
    std::lock_guard lk(mu_);
    if (pid_ <= 0) return false;
    if (code_) return true;
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(pid_, &status, WNOHANG);
    } while (r == -1 && errno == EINTR);
    if (r == pid_) {
      code_ = WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
      return true;
    }
    return false;
  }

  std::function<int()> body_;
  std::mutex mu_;
  pid_t pid_ = -1;
  int pidfd_ = -1;  // written by start() before any other thread uses it
  std::optional<int> code_;
};

// ---- the join cases, over any adapter ---------------------------------------

// Joins from a thread of its own, so that the case's thread can see whether
// join() has returned yet. On a failed assertion the destructor kills and
// reaps the child, which lets the joiner return, then joins the joiner.
template <class A>
class Joiner {
 public:
  Joiner(A& p, std::optional<Seconds> timeout)
      : p_(p), thread_([this, timeout] {
          auto t0 = Clock::now();
          if (timeout) {
            p_.join(*timeout);
          } else {
            p_.join();
          }
          elapsed_ = seconds_since(t0);  // published by returned_.set()
          returned_.set();
        }) {
    thread_.start();
  }
  ~Joiner() {
    p_.kill_and_reap();
    thread_.join(Seconds(30));
  }
  Joiner(const Joiner&) = delete;
  Joiner& operator=(const Joiner&) = delete;

  // Whether join() returned within `t`.
  bool returned_within(Seconds t) { return returned_.wait(t); }
  // How long join() took; valid once returned_within() said true.
  [[nodiscard]] double elapsed() const { return elapsed_; }

 private:
  A& p_;
  double elapsed_ = 0;
  threading::Event returned_;
  threading::Thread thread_;
};

inline harness::CaseSpec join_blocks_until_exit_spec() {
  harness::CaseSpec s;
  s.title = "join() blocks until the child exits; then is_alive() is false and exitcode is the child's";
  s.seed_document = "001_41cd22346628bbc0.txt";
  s.tags = {"process", "join", "D"};
  s.default_trials = 15;
  return s;
}

// join() on a child held by an event has not returned after t (whatever t);
// once the child is released it returns, and the child has ended with its code.
template <class A>
void join_blocks_until_exit(harness::CaseContext& ctx) {
  ctx.check([] {
    const int code = *rc::gen::inRange(0, 101);
    const double t = *rc::gen::inRange(10, 151) / 1000.0;
    mp::Event release;
    A p([release, code]() mutable {
      release.wait();
      return code;
    });
    p.start();
    Joiner<A> joiner(p, std::nullopt);
    RC_ASSERT(!joiner.returned_within(Seconds(t)));  // the child is held: join() must still block
    RC_ASSERT(p.is_alive());
    release.set();
    RC_ASSERT(joiner.returned_within(kLong));
    RC_ASSERT(!p.is_alive());
    RC_ASSERT(p.exitcode() == std::optional<int>(code));
  });
}

inline harness::CaseSpec join_timeout_returns_while_alive_spec() {
  harness::CaseSpec s;
  s.title = "join(t) on a running child returns after t with the child still alive";
  s.seed_document = "001_41cd22346628bbc0.txt";
  s.tags = {"process", "join", "T"};
  s.default_trials = 10;
  return s;
}

// join(t) on a child held by an event (not a sleep) returns after at least t
// with the child alive and no exit code; once released, join() gives its code.
template <class A>
void join_timeout_returns_while_alive(harness::CaseContext& ctx) {
  ctx.check([] {
    const double t = *rc::gen::inRange(10, 301) / 1000.0;
    const int code = *rc::gen::inRange(0, 101);
    mp::Event release;
    A p([release, code]() mutable {
      release.wait();
      return code;
    });
    p.start();
    auto t0 = Clock::now();
    p.join(Seconds(t));
    auto elapsed = seconds_since(t0);
    RC_ASSERT(elapsed >= t);
    RC_ASSERT(elapsed < t + 5.0);
    RC_ASSERT(p.is_alive());
    RC_ASSERT(!p.exitcode().has_value());
    release.set();
    p.join(kLong);
    RC_ASSERT(!p.is_alive());
    RC_ASSERT(p.exitcode() == std::optional<int>(code));
  });
}

inline harness::CaseSpec join_timeout_longer_returns_early_spec() {
  harness::CaseSpec s;
  s.title = "join(long timeout) returns as soon as the child ends";
  s.seed_document = "001_41cd22346628bbc0.txt";
  s.tags = {"process", "join", "T"};
  s.default_trials = 15;
  return s;
}

// join(T) with a long T (30..600 s) on a child held by an event still waits
// after a short t; once the child is released it returns when the child ends,
// far sooner than T (loose bound: a third of T), with the child's code.
template <class A>
void join_timeout_longer_returns_early(harness::CaseContext& ctx) {
  ctx.check([] {
    const double timeout = *rc::gen::inRange(30, 601);
    const double t = *rc::gen::inRange(10, 151) / 1000.0;
    const int code = *rc::gen::inRange(0, 101);
    mp::Event release;
    A p([release, code]() mutable {
      release.wait();
      return code;
    });
    p.start();
    Joiner<A> joiner(p, Seconds(timeout));
    RC_ASSERT(!joiner.returned_within(Seconds(t)));  // held: join(T) must still wait
    release.set();
    RC_ASSERT(joiner.returned_within(Seconds(timeout / 3)));
    RC_ASSERT(joiner.elapsed() < timeout / 3);
    RC_ASSERT(!p.is_alive());
    RC_ASSERT(p.exitcode() == std::optional<int>(code));
  });
}

}  // namespace racegate::cases
