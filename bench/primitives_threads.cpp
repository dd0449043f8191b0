// bench/primitives_threads.cpp — thread-level primitives: racegate::queue
// and mp::ThreadPool.
//
// What is measured:
//  - tqueue.handoff_threads: a producer thread puts N std::uint64_t into an
//    unbounded racegate::queue::Queue<std::uint64_t> (CPython's
//    queue.Queue()); the benchmark's thread gets them and checks their
//    order; time per item, from the producer's start signal to the last get.
//    one_cpu: both threads on CPU 0; two_cpus: the producer on CPU 1.
//  - threadpool.map (na): ThreadPool(2).map(f, 100,000 ints) with the
//    default chunksize, f(x) returns x; time per task. One map is one batch
//    of 100,000 iterations; the pool is made and joined outside the clock.
//    Its worker threads inherit CPU 0.
#include <cstdint>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "racegate/mp/thread_pool.h"
#include "racegate/queue/queue.h"

namespace rgbench {
namespace {

constexpr int kPoolTasks = 100000;

int identity_task(int x) { return x; }

void tqueue_handoff(benchmark::State& state, Placement placement) {
  const auto n = static_cast<std::uint64_t>(state.max_iterations);
  racegate::queue::Queue<std::uint64_t> q;
  Handshake hs;
  std::exception_ptr producer_error;
  std::thread producer([&] {
    try {
      pin_self(peer_cpu(placement));
      hs.ready.set();
      hs.go.wait();
      for (std::uint64_t i = 0; i < n; ++i) q.put(i);
    } catch (...) {
      producer_error = std::current_exception();
      hs.ready.set();
    }
  });
  hs.ready.wait();
  if (producer_error) {
    producer.join();
    std::rethrow_exception(producer_error);
  }
  bool in_order = true;
  while (state.KeepRunningBatch(static_cast<benchmark::IterationCount>(n))) {
    hs.go.set();
    for (std::uint64_t i = 0; i < n; ++i) in_order = q.get() == i && in_order;
  }
  producer.join();
  if (!in_order) state.SkipWithError("items arrived out of order");
  set_counters(state);
}

void threadpool_map(benchmark::State& state) {
  std::vector<int> items(kPoolTasks);
  for (int i = 0; i < kPoolTasks; ++i) items[static_cast<std::size_t>(i)] = i;
  racegate::mp::ThreadPool pool(2);
  bool ok = true;
  while (state.KeepRunningBatch(kPoolTasks)) {
    std::vector<int> out = pool.map(&identity_task, items);
    ok = ok && out.size() == items.size() && out.back() == kPoolTasks - 1;
  }
  pool.close();
  pool.join();
  if (!ok) state.SkipWithError("map returned wrong results");
  set_counters(state);
}

const bool registered = [] {
  add_placed("tqueue.handoff_threads", "racegate", tqueue_handoff);
  add("threadpool.map", "racegate", Placement::kNa, threadpool_map);
  return true;
}();

}  // namespace
}  // namespace rgbench
