// racegate/mp/thread_pool.h — multiprocessing.pool.ThreadPool: the Pool API
// on worker threads of this process.
//
// A ThreadPool runs tasks on `processes` threads of the calling process, with
// the methods and messages of mp::Pool (racegate/mp/pool.h): apply,
// apply_async (mp::callback / mp::error_callback), map, map_async, starmap,
// starmap_async, imap, imap_unordered, close, terminate, join.
//
//   racegate::mp::ThreadPool tp(1);
//   auto r = tp.apply_async([&] { return slow(); });   // captures are fine
//   try { r.get(std::chrono::milliseconds(100)); }
//   catch (const racegate::TimeoutError&) { /* slow() keeps running */ }
//   auto v = r.get();                                   // its value, later
//
// Differences from the process Pool, as in CPython:
//  - Nothing is serialized: any callable works (lambdas with captures
//    included), arguments and results need only be copyable, and a task's
//    exception reaches get() as the original exception object.
//  - Tasks share this process's memory; a task that touches shared data needs
//    its own locking.
//  - get(timeout) that throws TimeoutError does not cancel or abort the task
//    (threadpool.get_timeout_does_not_cancel): it runs to the end and a later
//    get() returns its value.
//  - terminate() cannot stop a running task: it drops queued tasks, waits for
//    the running ones to end and drops their results (never ready, as in
//    CPython).
//  - No maxtasksperchild (CPython's ThreadPool has none).
//
// Threads: the workers are daemon threads named "Thread-N (worker)", created
// first (so the first ThreadPool of a program has "Thread-1 (worker)"), then
// one result-handler thread "Thread-N (_handle_results)" that runs the
// callbacks. `initializer()` runs once on each worker thread before its first
// task; if it throws, the error is printed ("Exception in thread ...") and the
// pool breaks: every result not yet in fails with BrokenPoolError.
//
// Memory ordering: everything written before a task was submitted is visible
// to it; everything the task wrote is visible to a thread whose get()/wait()
// returned because its result became ready.
//
// Lifetime: destroying a ThreadPool terminates it and joins its threads.
// Thread-safety: every method may be called from any thread at once.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "racegate/internal/pool_api.h"
#include "racegate/internal/pool_engine.h"
#include "racegate/mp/async_result.h"

namespace racegate::mp {

class ThreadPool : public racegate::internal::pool::PoolApi<ThreadPool> {
 public:
  // ThreadPool(processes = cpu_count()): ValueError("Number of processes must
  // be at least 1") below 1.
  explicit ThreadPool(std::optional<int> processes = std::nullopt)
      : ThreadPool(processes, std::function<void()>()) {}

  ThreadPool(std::optional<int> processes, std::function<void()> initializer)
      : engine_(racegate::internal::pool::check_processes(processes), std::move(initializer)) {}

  // ThreadPool(processes, initializer, initargs).
  template <class F, class... As>
    requires std::is_invocable_v<std::decay_t<F>&, std::decay_t<As>&...>
  ThreadPool(std::optional<int> processes, F&& initializer, std::tuple<As...> initargs)
      : ThreadPool(processes, std::function<void()>(
                                  [f = std::forward<F>(initializer), args = std::move(initargs)]() mutable {
                                    std::apply(f, args);
                                  })) {}

  ~ThreadPool() = default;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void close() { engine_.close(); }
  void terminate() { engine_.terminate(); }
  void join() { engine_.join(); }
  [[nodiscard]] int processes() const noexcept { return engine_.processes(); }

 private:
  friend class racegate::internal::pool::PoolApi<ThreadPool>;

  void engine_check_running() const { engine_.check_running(); }
  int engine_processes() const noexcept { return engine_.processes(); }

  template <class Fn, class Tuple, class V>
  void dispatch(Fn fn, std::vector<std::vector<Tuple>> chunks,
                std::shared_ptr<racegate::internal::pool::JobSink<V>> sink) {
    namespace ip = racegate::internal::pool;
    auto shared_fn = std::make_shared<Fn>(std::move(fn));
    std::vector<ip::ThreadTask> tasks;
    tasks.reserve(chunks.size());
    for (std::size_t i = 0; i < chunks.size(); ++i) {
      auto chunk = std::make_shared<std::vector<Tuple>>(std::move(chunks[i]));
      ip::ThreadTask t;
      t.run = [shared_fn, sink, chunk, i]() -> std::function<void()> {
        try {
          auto values = ip::call_each<V>(*shared_fn, *chunk);
          auto out = std::make_shared<std::vector<V>>(std::move(values));
          return [sink, out, i] { sink->set_values(i, std::move(*out)); };
        } catch (...) {
          auto error = std::current_exception();
          return [sink, error, i] { sink->set_error(i, error); };
        }
      };
      t.fail = [sink, i](std::exception_ptr error) { sink->set_error(i, std::move(error)); };
      tasks.push_back(std::move(t));
    }
    engine_.submit(std::move(tasks));
  }

  racegate::internal::pool::ThreadEngine engine_;
};

}  // namespace racegate::mp
