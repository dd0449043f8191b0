// racegate/mp/pool.h — multiprocessing.Pool: a pool of worker processes.
//
// A Pool starts `processes` worker processes when it is constructed and runs
// tasks in them: a call of a function with arguments, or one call per item of
// a range. Arguments and results cross the process boundary serialized
// (cereal, see racegate/internal/serialize.h); the function itself is named
// by identity, since workers are forks of this process (see "Tasks" below).
//
//   int square(int x) { return x * x; }
//
//   racegate::mp::Pool pool(4);
//   int v = pool.apply(square, 7);                        // 49, blocks
//   auto r = pool.apply_async(square, 8,                  // returns at once
//                             racegate::mp::callback([](const int& v) { log(v); }));
//   std::vector<int> all = pool.map(square, std::vector{1, 2, 3});  // {1, 4, 9}
//   for (int x : pool.imap_unordered(square, xs)) use(x);
//   pool.close();
//   pool.join();
//
// Construction, as CPython's Pool(processes, initializer, initargs,
// maxtasksperchild):
//  - `processes` defaults to mp::cpu_count(); less than 1 throws
//    ValueError("Number of processes must be at least 1").
//  - `initializer(initargs...)` runs once in each worker before its first
//    task. It and its arguments are inherited at fork, not serialized, so an
//    mp::Lock may be one of them (lock.pool_initializer_global). If it throws,
//    the worker prints "Process ForkPoolWorker-N:" and the error and ends, and
//    the pool breaks (see below) instead of respawning forever as CPython does.
//  - `maxtasksperchild` (>= 1, else ValueError("maxtasksperchild must be a
//    positive int or None")) makes a worker leave after that many tasks; a
//    new worker (a new pid) replaces it.
//  - Inside a daemonic process (a pool worker) it throws
//    AssertionError("daemonic processes are not allowed to have children").
//  - Workers exist when the constructor returns (pool.prefork_workers). They
//    are daemonic and named ForkPoolWorker-N, N taken from the same counter
//    as Process-N: inside a task current_process().name() is
//    "ForkPoolWorker-1", current_process().daemon() is true, and starting a
//    Process throws AssertionError("daemonic processes are not allowed to
//    have children").
//
// Methods (the same on ThreadPool):
//  - apply(f, args...) blocks and returns f(args...) or throws its error.
//  - apply_async(f, args..., [mp::callback(cb)], [mp::error_callback(eb)])
//    returns an AsyncResult<R> at once (racegate/mp/async_result.h).
//  - map(f, items, [chunksize]) returns std::vector<R> in input order,
//    whatever the order of completion; starmap(f, items) unpacks each item (a
//    tuple, pair or array) into the arguments. map_async / starmap_async
//    take [chunksize], [mp::callback(cb)] (called with the whole vector),
//    [mp::error_callback(eb)] and return AsyncResult<std::vector<R>>. Without
//    a chunksize the items go in ceil(n / (4 * processes)) per task, as in
//    CPython. A map is ready when every chunk is in; its error is the first to
//    arrive.
//  - imap(f, items, chunksize = 1) and imap_unordered(...) return an
//    IMapIterator<R>: input order and completion order. chunksize < 1 throws
//    ValueError("Chunksize must be 1+, not N") (here for map too). The items
//    are read when the call is made (CPython reads them lazily).
//  - close(): no more tasks; the workers leave once the queued ones are done.
//  - terminate(): stops the workers at once (SIGTERM, then SIGKILL after one
//    second) and discards queued tasks; their results never become ready, as
//    in CPython. Blocks until the workers are gone. Destroying a Pool
//    terminates it (CPython's `with Pool() as p:`).
//  - join(): waits until the workers and the handler thread are gone. Before
//    close() or terminate() it throws ValueError("Pool is still running").
//  - Every task method on a closed or terminated pool throws
//    ValueError("Pool not running").
//
// Tasks. The callable must be one the workers can find by identity:
//  - a function pointer or member-function pointer (`&square`,
//    `&Point::norm` with Point items);
//  - a captureless lambda (any empty, default-constructible function object);
//  - a function object cereal can serialize (it travels with the arguments:
//    the C++ form of a bound method);
//  - or any callable registered with mp::register_task() before the Pool was
//    constructed (a lambda with captures, a std::function); a Pool made
//    before the registration rejects it with TypeError.
// Anything else is a compile-time error. Arguments and results must be
// serializable by cereal and default-constructible; synchronization objects
// are rejected at compile time ("Lock objects should only be shared between
// processes through inheritance"): pass them through the initializer, or a
// registered callable, instead. Results of void tasks are std::monostate.
//
// Errors in tasks. An exception escaping a task is caught in the worker and
// carried back with its type name and message; get(), apply() and map()
// raise it in the caller: the original racegate type when it was one
// (ValueError, TypeError, ...), otherwise racegate::RemoteError with
// python_type() naming the C++ type (e.g. "std::runtime_error") and what() its
// message. mp::SystemExit in a task is carried back as a RemoteError of type
// "SystemExit" whose message is the code (CPython's worker would die and the
// result would never come). Nothing is printed: an apply_async whose result is
// never read and has no error callback stays silent, as in CPython.
//
// Callbacks run in this process, on the pool's handler thread (named
// "Thread-N (_handle_results)" as CPython's result handler), one at a time,
// before the result becomes ready; they must not wait for another result of
// the same pool (that deadlocks, as in CPython). A task that fails before it
// is queued (an argument that cannot be serialized, a late-registered
// callable) fails on the calling thread, so its error callback runs there.
//
// Broken pool (beyond CPython). If a worker ends other than by leaving
// normally (killed by a signal, _exit(), an initializer that throws) or the
// fork server dies, the pool is broken: every result not yet in fails with
// BrokenPoolError, whose message names the worker, its pid and how it ended
// ("pool worker ForkPoolWorker-2 (pid 1234) was killed by signal 9 (SIGKILL)
// ..."); the other workers are stopped; later tasks fail at once with the same
// error. close(), terminate() and join() work as usual. CPython would respawn
// the worker and leave the lost task's result pending for ever.
//
// Design: the fork server. A process that has threads must not fork (a
// forked child holds copies of locks other threads held, and under
// ThreadSanitizer such a child may not start threads: `die_after_fork`). The
// Pool has a handler thread, so it never forks workers itself. Instead the
// constructor, before starting any thread of its own, forks one small *fork
// server* process (single-threaded, not a racegate Process: it takes no
// Process-N number and is not listed by active_children()). The server forks
// every worker (as a daemonic mp::Process named ForkPoolWorker-N), initial
// ones and replacements alike, and passes the parent its end of a socketpair
// per worker over a control socket (SCM_RIGHTS). So every worker is a fork of
// a single-threaded process, the memory image of this process at Pool
// construction: functions, registered callables and initializer arguments are
// where the parent had them. The server reaps the workers and reports each
// exit (pid and status) to the parent, which is how a killed worker is told
// from one that left after maxtasksperchild. In this process, one handler
// thread polls the control socket and the workers' sockets: it hands queued
// tasks to idle workers (one task in flight per worker, so the pool knows
// which tasks a dead worker took), reads results, runs callbacks, requests
// replacements and shuts the workers down. Messages are length-framed
// (racegate/internal/wire.h); tasks and results are internal::dumps bytes.
// Consequences:
//  - Build pools while the process is single-threaded where you can (the
//    main thread, before other pools and threads): then workers are clean
//    forks. A Pool built later still works, but its server is then forked
//    from a threaded process: under ThreadSanitizer its workers run with
//    TSan's checks off and die (exit code 66) if a task starts a thread.
//  - Objects created after the Pool was constructed are not in its workers.
//  - Workers are grandchildren of this process. They die with the server
//    (parent-death signal) and the server dies with the thread that
//    constructed the Pool: construct it on a thread that outlives it.
//  - A destroyed or joined Pool leaves no process behind: the server reaps
//    every worker before it exits and the pool reaps the server.
//
// Memory ordering: everything written before the Pool was constructed is in
// its workers; nothing a task writes in a worker is visible here except its
// result. A result's value, and what its callback wrote, are visible to a
// thread whose get()/wait() returned because the result became ready.
//
// Thread-safety: every method may be called from any thread at once. The
// Pool object must outlive the calls made on it; results and iterators may
// outlive it.
#pragma once

#include <functional>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "racegate/internal/pool_api.h"
#include "racegate/internal/pool_engine.h"
#include "racegate/mp/async_result.h"

namespace racegate::mp {

// The number of CPUs this process may run on (sched_getaffinity), at least 1.
// (CPython 3.11's os.cpu_count() ignores the affinity mask; racegate honours it.)
int cpu_count();

class Pool : public racegate::internal::pool::PoolApi<Pool> {
 public:
  // Pool(processes = cpu_count()).
  explicit Pool(std::optional<int> processes = std::nullopt)
      : Pool(processes, std::function<void()>(), std::nullopt) {}

  // Pool(processes, initializer, maxtasksperchild): `initializer()` runs in
  // each worker; bind its arguments into it or use the initargs form below.
  Pool(std::optional<int> processes, std::function<void()> initializer,
       std::optional<int> maxtasksperchild = std::nullopt)
      : engine_({racegate::internal::pool::check_processes(processes), std::move(initializer),
                 maxtasksperchild}) {}

  // Pool(processes, initializer, initargs, maxtasksperchild).
  template <class F, class... As>
    requires std::is_invocable_v<std::decay_t<F>&, std::decay_t<As>&...>
  Pool(std::optional<int> processes, F&& initializer, std::tuple<As...> initargs,
       std::optional<int> maxtasksperchild = std::nullopt)
      : Pool(processes,
             std::function<void()>([f = std::forward<F>(initializer), args = std::move(initargs)]() mutable {
               std::apply(f, args);
             }),
             maxtasksperchild) {}

  // Terminates the pool (as leaving `with Pool() as p:`) and waits for it.
  ~Pool() = default;
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Pool::close(): accept no more tasks; workers leave when the queue is done.
  void close() { engine_.close(); }
  // Pool::terminate(): stop the workers now and drop queued tasks; blocks
  // until the workers are gone.
  void terminate() { engine_.terminate(); }
  // Pool::join(): wait for the workers to leave. ValueError("Pool is still
  // running") before close() or terminate().
  void join() { engine_.join(); }

  // The number of worker processes.
  [[nodiscard]] int processes() const noexcept { return engine_.processes(); }

  // Pool::worker_pids(): the pids of the current workers (CPython's
  // `[w.pid for w in pool._pool]`): `processes()` of them right after
  // construction; a worker replaced after maxtasksperchild drops out once its
  // exit is known. Workers are not children of this process (see "Design"),
  // so mp::active_children() does not list them; use this instead.
  [[nodiscard]] std::vector<pid_t> worker_pids() const { return engine_.worker_pids(); }

 private:
  friend class racegate::internal::pool::PoolApi<Pool>;

  void engine_check_running() const { engine_.check_running(); }
  int engine_processes() const noexcept { return engine_.processes(); }

  template <class Fn, class Tuple, class V>
  void dispatch(Fn fn, std::vector<std::vector<Tuple>> chunks,
                std::shared_ptr<racegate::internal::pool::JobSink<V>> sink) {
    namespace ip = racegate::internal::pool;
    ip::check_callable<Fn>();
    auto job = std::make_shared<ip::EncodedJob<V>>(sink);
    ip::Invocation invocation;
    std::vector<std::string> payloads;
    payloads.reserve(chunks.size());
    try {
      invocation = ip::make_invocation<Fn, Tuple>(fn, engine_.generation());
      for (auto& chunk : chunks) payloads.push_back(racegate::internal::dumps(chunk));
    } catch (...) {
      // CPython: a task that cannot be sent fails its result (apply_async is
      // then ready and not successful; apply and map raise).
      auto error = std::current_exception();
      for (std::size_t i = 0; i < chunks.size(); ++i) job->fail(i, error);
      return;
    }
    engine_.submit(std::move(job), std::move(invocation), std::move(payloads));
  }

  racegate::internal::pool::ProcessEngine engine_;
};

}  // namespace racegate::mp
