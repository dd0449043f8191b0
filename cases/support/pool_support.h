// Test support for the pool, manager and cross-process counter cases: the
// message of an expected error, elapsed time, a guard that reaps a group of
// children, a guard that points stderr at a file, and process liveness.
#pragma once

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <unistd.h>
#include <utility>
#include <vector>

// process_guard.h first: it includes mp/event.h, which must come before
// mp/process.h.
#include "cases/support/process_guard.h"
#include "racegate/errors.h"
#include "racegate/mp/process.h"

namespace racegate::test {

using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

inline double seconds_since(Clock::time_point t0) { return Seconds(Clock::now() - t0).count(); }

// The what() of the E that `f` throws; empty when it throws nothing. Any
// other exception goes through (and fails the property that called it).
template <class E, class F>
std::optional<std::string> error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

// Whether a process with this pid still exists (running or not yet reaped).
inline bool process_exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno != ESRCH; }

// Starts children and, on scope exit, reaps every one of them: it gives each
// a moment to end, then kills and joins it (a property that failed half-way
// leaves nothing behind).
class Children {
 public:
  Children() = default;
  Children(const Children&) = delete;
  Children& operator=(const Children&) = delete;
  ~Children() {
    for (auto& p : procs_) {
      try {
        if (!p->pid()) continue;
        if (p->is_alive()) p->join(std::chrono::seconds(5));
        if (p->is_alive()) p->kill();
        p->join();
      } catch (...) {
        // A guard must not throw; the property has already failed.
      }
    }
  }

  mp::Process& start(std::function<void()> body) {
    procs_.push_back(std::make_unique<mp::Process>(std::move(body)));
    procs_.back()->start();
    return *procs_.back();
  }

  // Joins every child (at most `timeout` each; one still alive then is
  // killed) and returns the exit codes (-1000 for a child that was killed).
  std::vector<int> join_all(Seconds timeout = Seconds(120)) {
    std::vector<int> codes;
    for (auto& p : procs_) {
      p->join(timeout);
      if (p->is_alive()) {
        p->kill();
        p->join();
        codes.push_back(-1000);
        continue;
      }
      codes.push_back(p->exitcode().value_or(-2000));
    }
    return codes;
  }

 private:
  std::vector<std::unique_ptr<mp::Process>> procs_;
};

// Points this process's stderr (fd 2) at an unlinked temporary file until
// destroyed; children forked meanwhile inherit it. written() is the number
// of bytes written to it so far.
class StderrCapture {
 public:
  StderrCapture() {
    char path[] = "/tmp/racegate-case-stderr-XXXXXX";
    file_ = ::mkstemp(path);
    if (file_ < 0) return;
    ::unlink(path);
    std::fflush(stderr);
    saved_ = ::dup(2);
    if (saved_ >= 0) ::dup2(file_, 2);
  }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;
  ~StderrCapture() {
    std::fflush(stderr);
    if (saved_ >= 0) {
      ::dup2(saved_, 2);
      ::close(saved_);
    }
    if (file_ >= 0) ::close(file_);
  }
  [[nodiscard]] bool ok() const { return file_ >= 0 && saved_ >= 0; }
  [[nodiscard]] long written() const {
    std::fflush(stderr);
    return file_ >= 0 ? static_cast<long>(::lseek(file_, 0, SEEK_END)) : -1;
  }

 private:
  int file_ = -1;
  int saved_ = -1;
};

}  // namespace racegate::test
