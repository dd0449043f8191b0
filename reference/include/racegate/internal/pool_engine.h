// Internal: the non-template engines behind mp::Pool (processes, through a
// fork server) and mp::ThreadPool (threads). Do not use directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "racegate/internal/pool_task.h"

namespace racegate::internal::pool {

// A job of a process Pool as the engine sees it: task `index` delivers the
// encoded values of its chunk, or fails.
class Job {
 public:
  virtual ~Job() = default;
  virtual void deliver(std::size_t index, std::string_view encoded) = 0;
  virtual void fail(std::size_t index, std::exception_ptr error) = 0;
};

// Decodes a chunk's values for a typed sink.
template <class V>
class EncodedJob final : public Job {
 public:
  explicit EncodedJob(std::shared_ptr<JobSink<V>> sink) : sink_(std::move(sink)) {}
  void deliver(std::size_t index, std::string_view encoded) override {
    std::vector<V> values;
    try {
      values = loads<std::vector<V>>(encoded);
    } catch (...) {
      sink_->set_error(index, std::current_exception());
      return;
    }
    sink_->set_values(index, std::move(values));
  }
  void fail(std::size_t index, std::exception_ptr error) override {
    sink_->set_error(index, std::move(error));
  }

 private:
  std::shared_ptr<JobSink<V>> sink_;
};

struct ProcessEngineState;

// The process Pool: a fork server forked at construction, workers forked by
// it, one handler thread in this process (see racegate/mp/pool.h).
class ProcessEngine {
 public:
  struct Options {
    int processes = 1;
    std::function<void()> initializer;
    std::optional<int> maxtasksperchild;
  };

  // Validates, forks the server, starts the workers and the handler thread.
  explicit ProcessEngine(Options options);
  ~ProcessEngine();
  ProcessEngine(const ProcessEngine&) = delete;
  ProcessEngine& operator=(const ProcessEngine&) = delete;

  [[nodiscard]] int processes() const noexcept;
  // Pids of the workers started and not yet known to have ended.
  [[nodiscard]] std::vector<pid_t> worker_pids() const;
  // The task-registry generation the workers inherited.
  [[nodiscard]] std::uint64_t generation() const noexcept;

  // ValueError("Pool not running") unless the pool runs.
  void check_running() const;

  // Queues the `payloads.size()` tasks of `job`. Throws ValueError("Pool not
  // running") unless running; on a broken pool fails every task of `job` at
  // once with BrokenPoolError (on the calling thread).
  void submit(std::shared_ptr<Job> job, Invocation invocation, std::vector<std::string> payloads);

  void close();
  void terminate();
  void join();

 private:
  std::unique_ptr<ProcessEngineState> s_;
};

// A task of a ThreadPool: `run` computes on a worker thread and returns what
// to do on the result-handler thread; `fail` fails it without running.
struct ThreadTask {
  std::function<std::function<void()>()> run;
  std::function<void(std::exception_ptr)> fail;
};

struct ThreadEngineState;

class ThreadEngine {
 public:
  ThreadEngine(int processes, std::function<void()> initializer);
  ~ThreadEngine();
  ThreadEngine(const ThreadEngine&) = delete;
  ThreadEngine& operator=(const ThreadEngine&) = delete;

  [[nodiscard]] int processes() const noexcept;
  void check_running() const;
  void submit(std::vector<ThreadTask> tasks);
  void close();
  void terminate();
  void join();

 private:
  std::unique_ptr<ThreadEngineState> s_;
};

// Checks Pool(processes): ValueError("Number of processes must be at least 1").
int check_processes(std::optional<int> processes);

}  // namespace racegate::internal::pool
