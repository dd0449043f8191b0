// racegate/threading/thread.h — threading.Thread.
//
// A Thread runs a callable (its target), or the `run()` of a subclass, on a new
// thread of this process. Threads share the process's memory: a global changed
// by a thread is seen by the thread that joins it.
//
//   racegate::threading::Thread t([&] { data = 222; });
//   t.start();
//   t.join();            // data == 222 here
//
// Names: a Thread is named `Thread-N` by default, N counting from 1 over every
// Thread constructed in the process (subclasses included), as in CPython.
//
// Daemon threads: the process does not wait for them when main() returns. The
// non-daemon threads still running then are joined before the process exits
// (CPython's threading._shutdown), and a child process started by
// racegate::mp::Process joins its non-daemon threads before it exits.
//
// Errors (CPython's messages): a second `start()` throws
// RuntimeError("threads can only be started once"); `join()` before `start()`
// throws RuntimeError("cannot join thread before it is started"); a thread
// joining itself throws RuntimeError("cannot join current thread"); setting
// `daemon` after start throws RuntimeError("cannot set daemon status of active
// thread"). An exception escaping the target is printed to stderr as
// "Exception in thread NAME:" followed by its type and message; the thread
// ends and the process goes on.
//
// Memory ordering: everything the thread wrote is visible to a thread whose
// `join()` returned because the thread ended (or whose `is_alive()` returned
// false); everything written before `start()` is visible to the new thread.
//
// Lifetime: the destructor of a Thread whose thread is still running joins it
// if it is non-daemonic and detaches it if it is daemonic. A plain Thread keeps
// its target in shared state, so a detached daemon thread stays valid. A
// subclass's run() runs on `this`: join the thread before the subclass object
// is destroyed (as with std::jthread, the base destructor runs too late).
//
// Thread-safety: `start`, `join`, `is_alive` and the getters may be called from
// any thread; the setters only before `start()` from one thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "racegate/internal/deadline.h"

namespace racegate::threading {

namespace internal {
struct ThreadState;
}

class Thread {
 public:
  // A thread with no target: run() does nothing.
  Thread();
  // A thread that runs `target()`.
  explicit Thread(std::function<void()> target, std::optional<std::string> name = std::nullopt);
  // A thread that runs `f(args...)`; the arguments are copied (or moved) in.
  template <class F, class... As>
    requires(sizeof...(As) > 0 && std::is_invocable_v<std::decay_t<F>&, std::decay_t<As>&...>)
  Thread(F&& f, As&&... as)
      : Thread(std::function<void()>(
            [f = std::forward<F>(f), ... args = std::forward<As>(as)]() mutable {
              std::invoke(f, args...);
            })) {}

  virtual ~Thread();
  Thread(const Thread&) = delete;
  Thread& operator=(const Thread&) = delete;

  // Thread::start(): starts the thread. Throws RuntimeError on a second call.
  void start();

  // Thread::join(): blocks until the thread ends.
  void join();
  // Thread::join(timeout): blocks until the thread ends or `timeout` passes
  // (a negative timeout behaves as zero). Returns nothing, as in CPython: call
  // is_alive() to learn whether it ended.
  void join(racegate::internal::Seconds timeout);

  // Whether the thread was started and its run() has not returned yet.
  [[nodiscard]] bool is_alive() const;

  // pthread id of the thread once started (CPython's `ident`).
  [[nodiscard]] std::optional<unsigned long> ident() const;
  // Kernel thread id once started (CPython's `native_id`).
  [[nodiscard]] std::optional<long> native_id() const;

  [[nodiscard]] const std::string& name() const;
  void set_name(std::string name);

  [[nodiscard]] bool daemon() const;
  // Throws RuntimeError("cannot set daemon status of active thread") after start().
  void set_daemon(bool daemonic);

 protected:
  // Runs the target; override it to give a subclass its own body.
  virtual void run();

 private:
  void join_until(const racegate::internal::Deadline& deadline);
  std::shared_ptr<internal::ThreadState> state_;
};

// Name of the calling thread: `MainThread` for the process's main thread, a
// racegate Thread's name on its thread, `Dummy-<ident>` otherwise.
std::string current_thread_name();

}  // namespace racegate::threading
