// racegate/mp/process.h — multiprocessing.Process with the fork start method.
//
// A Process runs a callable (its target), or the `run()` of a subclass, in a
// new child process made by fork(2). The child starts as a copy of the parent:
// it sees the parent's memory as it was at start(), and what it changes stays
// in the child (a global set by the child is unchanged in the parent). Only
// shared-memory objects (racegate::mp::Lock, mp::Event, ...) are shared.
//
//   racegate::mp::Process p([](int x) { work(x); }, 42);
//   p.start();
//   p.join();
//   assert(p.exitcode() == 0);
//
// Exit codes, as CPython: 0 when run() returns; the code of a thrown
// racegate::mp::SystemExit; 1 after any other uncaught exception (printed to
// the child's stderr as "Process NAME:" then "Type: message"); -N when the
// child was ended by signal N.
//
// Names: `Process-N` by default, N counting from 1 over every Process
// constructed in this process; a subclass is named after its class
// (`Worker-3`). In a child, the counter restarts and names carry the parent's
// number: the first child of `Process-2` constructs `Process-2:1`.
//
// Daemon rules, as CPython:
//  - `daemon` is settable only before start(): afterwards AssertionError("process
//    has already started").
//  - A daemonic process cannot start children: start() inside it throws
//    AssertionError("daemonic processes are not allowed to have children").
//  - When the main program ends (exit or return from main), daemonic children
//    still running are terminated (SIGTERM) and then every child is joined;
//    a child process does the same when its run() ends.
//  - Beyond CPython: every child gets a parent-death signal (SIGKILL), so no
//    child outlives a parent that crashed or was killed. Linux ties that
//    signal to the thread that forked: start processes from a thread that
//    outlives them (the main thread is always safe).
//
// Misuse, as CPython: a second start() throws AssertionError("cannot start a
// process twice"); join() before start() throws AssertionError("can only join
// a started process"); join(), is_alive() or start() from a process that did
// not create the object throw AssertionError("can only join a child process"),
// ("can only test a child process"), ("can only start a process object created
// by current process").
//
// Memory ordering: the child sees every write of the parent made before
// start(). Nothing flows back except through shared memory, pipes and the exit
// code; a join() that returns after the child ended makes its exit code
// visible.
//
// Lifetime: destroying a Process object does not stop or wait for its child;
// the child stays registered (see active_children()) and is reaped later. Every
// child is reaped: by join(), by is_alive() or exitcode() once it ended, by
// active_children(), and at the latest when the parent's main program ends.
//
// Thread-safety: start, join, is_alive, exitcode, terminate and kill may be
// called from several threads at once. Setters only before start() from one
// thread. Starting processes while other threads run is allowed (fork copies
// only the calling thread); under ThreadSanitizer, a child forked from a
// multi-threaded parent must not start threads (TSan's die_after_fork).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <type_traits>
#include <utility>
#include <vector>

#include "racegate/errors.h"  // SystemExit, AssertionError
#include "racegate/internal/deadline.h"

namespace racegate::mp {

namespace internal {
struct ProcessState;
}

// A view of a child process, as returned by active_children(). Copies refer to
// the same child.
class ChildProcess {
 public:
  [[nodiscard]] const std::string& name() const;
  [[nodiscard]] std::optional<pid_t> pid() const;
  [[nodiscard]] bool daemon() const;
  [[nodiscard]] bool is_alive() const;
  [[nodiscard]] std::optional<int> exitcode() const;
  void join();
  void join(racegate::internal::Seconds timeout);
  void terminate();
  void kill();

 private:
  friend class Process;
  friend std::vector<ChildProcess> active_children();
  explicit ChildProcess(std::shared_ptr<internal::ProcessState> s) : state_(std::move(s)) {}
  std::shared_ptr<internal::ProcessState> state_;
};

class Process {
 public:
  // A process with no target: run() does nothing and the exit code is 0.
  Process();
  // A process that runs `target()` in the child.
  explicit Process(std::function<void()> target, std::optional<std::string> name = std::nullopt);
  // A process that runs `f(args...)` in the child; the arguments are copied
  // (or moved) in and inherited by the child at fork.
  template <class F, class... As>
    requires(sizeof...(As) > 0 && std::is_invocable_v<std::decay_t<F>&, std::decay_t<As>&...>)
  Process(F&& f, As&&... as)
      : Process(std::function<void()>(
            [f = std::forward<F>(f), ... args = std::forward<As>(as)]() mutable {
              std::invoke(f, args...);
            })) {}

  virtual ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Process::start(): forks the child, which runs run() and exits. Returns in
  // the parent once the child exists. Throws AssertionError on misuse (see
  // above) and OSError if fork fails.
  void start();

  // Process::join(): blocks until the child ends and reaps it.
  void join();
  // Process::join(timeout): blocks until the child ends or `timeout` passes
  // (negative behaves as zero). Returns nothing; exitcode() stays empty while
  // the child runs.
  void join(racegate::internal::Seconds timeout);

  // Whether the child was started and has not ended (reaps it if it ended).
  // For the object describing the calling process itself, true.
  [[nodiscard]] bool is_alive() const;

  // Empty before start() and while running; then 0, the SystemExit code, 1
  // after an uncaught exception, or -N after signal N.
  [[nodiscard]] std::optional<int> exitcode() const;

  // Pid once started (for the current process, its own pid).
  [[nodiscard]] std::optional<pid_t> pid() const;

  [[nodiscard]] const std::string& name() const;
  void set_name(std::string name);

  [[nodiscard]] bool daemon() const;
  // Throws AssertionError("process has already started") after start().
  void set_daemon(bool daemonic);

  // Sends SIGTERM / SIGKILL to a running child; does nothing once it ended.
  void terminate();
  void kill();

 protected:
  // Runs the target; override it to give a subclass its own body.
  virtual void run();

 private:
  friend Process& current_process();
  struct MainTag {};
  explicit Process(MainTag);
  [[noreturn]] void bootstrap_child();
  std::shared_ptr<internal::ProcessState> state_;
  std::function<void()> target_;
};

// The Process object describing the calling process: `MainProcess` in the
// main program, the child's own Process object inside a child.
Process& current_process();

// The parent of the calling process (empty in the main program).
struct ParentProcess {
  std::string name;
  pid_t pid;
  // Whether the parent is still running.
  [[nodiscard]] bool is_alive() const;
};
std::optional<ParentProcess> parent_process();

// The children of the calling process that are still running; reaps those
// that ended.
std::vector<ChildProcess> active_children();

}  // namespace racegate::mp
