// bench/primitives_sync.cpp — mp::Lock, RLock, Semaphore, Event and Value
// beside raw floors.
//
// What is measured:
//  - lock.uncontended / rlock.uncontended (placement na): one acquire() +
//    release() of an mp::Lock / mp::RLock, per pair, while a second thread of
//    the process is alive and idle (blocked on a futex), so nothing can take a
//    single-threaded shortcut. Floor: pthread_mutex_lock + unlock of a
//    PTHREAD_PROCESS_SHARED + PTHREAD_MUTEX_ROBUST mutex in anonymous shared
//    memory (PTHREAD_MUTEX_RECURSIVE too for rlock), with the same idle thread.
//  - lock.contended2p: the parent and a child each do N/2 acquire+release
//    pairs of one mp::Lock, at the same time; time per pair over both, from
//    the start signal until both finished. Floor: the robust process-shared
//    pthread mutex.
//  - semaphore.handoff: ping-pong over two mp::Semaphore(0): the parent
//    releases A and acquires B, the child acquires A and releases B; time per
//    round trip (two hand-offs). event.handoff: the same over two mp::Event
//    (parent: e1.set(), e2.wait(), e2.clear(); child: e1.wait(), e1.clear(),
//    e2.set()). One untimed round trip first. Floor for both: a 1-byte
//    ping-pong over two pipes.
//  - value.increment_locked (na): `with v.get_lock(): v.value += 1` on an
//    mp::Value<long>, i.e. get_lock() held while value() and set_value() take
//    the RLock again (CPython's Synchronized does the same); per increment.
//    Floor: ++ of a long under the robust process-shared pthread mutex.
// Placements: na pins everything to CPU 0; one_cpu puts the child on CPU 0
// too, two_cpus on CPU 1.
#include <pthread.h>

#include <cstdint>
#include <thread>

#include "bench_support.h"
#include "racegate/mp/event.h"
#include "racegate/mp/lock.h"
#include "racegate/mp/rlock.h"
#include "racegate/mp/semaphore.h"
#include "racegate/mp/value.h"
#include "racegate/threading/lock.h"

namespace rgbench {
namespace {

// A second thread, alive and blocked until destroyed (it inherits CPU 0).
class IdleThread {
 public:
  IdleThread() : thread_([this] { stop_.wait(); }) {}
  ~IdleThread() {
    stop_.set();
    thread_.join();
  }
  IdleThread(const IdleThread&) = delete;
  IdleThread& operator=(const IdleThread&) = delete;

 private:
  Flag stop_;
  std::thread thread_;
};

// floor.pthread_robust_pshared: lives in shared memory (Shared<RobustMutex>).
class RobustMutex {
 public:
  explicit RobustMutex(bool recursive = false) {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
    if (recursive) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    const int rc = pthread_mutex_init(&mutex_, &attr);
    pthread_mutexattr_destroy(&attr);
    if (rc != 0) throw std::system_error(rc, std::generic_category(), "pthread_mutex_init");
  }
  ~RobustMutex() { pthread_mutex_destroy(&mutex_); }
  RobustMutex(const RobustMutex&) = delete;
  RobustMutex& operator=(const RobustMutex&) = delete;

  void lock() {
    const int rc = pthread_mutex_lock(&mutex_);
    if (rc == EOWNERDEAD) {
      pthread_mutex_consistent(&mutex_);
    } else if (rc != 0) {
      throw std::system_error(rc, std::generic_category(), "pthread_mutex_lock");
    }
  }
  void unlock() { pthread_mutex_unlock(&mutex_); }

  long value = 0;  // the floor of value.increment_locked

 private:
  pthread_mutex_t mutex_;
};

// ---------------------------------------------------------------------------
// lock.uncontended, rlock.uncontended

template <class L>
void uncontended_racegate(benchmark::State& state) {
  L lock;
  IdleThread idle;
  for (auto _ : state) {
    lock.acquire();
    lock.release();
  }
  set_counters(state);
}

void uncontended_pthread(benchmark::State& state, bool recursive) {
  Shared<RobustMutex> m(recursive);
  IdleThread idle;
  for (auto _ : state) {
    m->lock();
    m->unlock();
  }
  set_counters(state);
}

// ---------------------------------------------------------------------------
// lock.contended2p: N (rounded up to even) pairs, half in each process.

template <class Child, class Acquire, class Release>
void contended2p(benchmark::State& state, Placement placement, Acquire acquire, Release release) {
  const auto half = static_cast<std::uint64_t>((state.max_iterations + 1) / 2);
  Shared<Handshake> hs;
  Child child(placement, [&hs, half, acquire, release]() mutable {
    hs->ready.set();
    hs->go.wait();
    for (std::uint64_t i = 0; i < half; ++i) {
      acquire();
      release();
    }
    hs->done.set();
  });
  wait_for_peer(hs->ready, child);
  while (state.KeepRunningBatch(static_cast<benchmark::IterationCount>(2 * half))) {
    hs->go.set();
    for (std::uint64_t i = 0; i < half; ++i) {
      acquire();
      release();
    }
    wait_for_peer(hs->done, child);
  }
  join_or_fail(state, child, "second locker");
  set_counters(state);
}

void contended_racegate(benchmark::State& state, Placement placement) {
  racegate::mp::Lock lock;
  contended2p<MpChild>(
      state, placement, [lock]() mutable { lock.acquire(); }, [lock]() mutable { lock.release(); });
}

void contended_pthread(benchmark::State& state, Placement placement) {
  Shared<RobustMutex> m;
  RobustMutex* raw = m.get();
  contended2p<ForkChild>(
      state, placement, [raw] { raw->lock(); }, [raw] { raw->unlock(); });
}

// ---------------------------------------------------------------------------
// semaphore.handoff, event.handoff: n + 1 round trips, the first untimed.

void semaphore_handoff_racegate(benchmark::State& state, Placement placement) {
  const auto n = static_cast<std::uint64_t>(state.max_iterations) + 1;
  racegate::mp::Semaphore a(0);
  racegate::mp::Semaphore b(0);
  MpChild child(placement, [a, b, n]() mutable {
    for (std::uint64_t i = 0; i < n; ++i) {
      a.acquire();
      b.release();
    }
  });
  a.release();
  b.acquire();
  for (auto _ : state) {
    a.release();
    b.acquire();
  }
  join_or_fail(state, child, "peer");
  set_counters(state);
}

void event_handoff_racegate(benchmark::State& state, Placement placement) {
  const auto n = static_cast<std::uint64_t>(state.max_iterations) + 1;
  racegate::mp::Event e1;
  racegate::mp::Event e2;
  MpChild child(placement, [e1, e2, n]() mutable {
    for (std::uint64_t i = 0; i < n; ++i) {
      e1.wait();
      e1.clear();
      e2.set();
    }
  });
  e1.set();
  e2.wait();
  e2.clear();
  for (auto _ : state) {
    e1.set();
    e2.wait();
    e2.clear();
  }
  join_or_fail(state, child, "peer");
  set_counters(state);
}

void handoff_pipe(benchmark::State& state, Placement placement) {
  const auto n = static_cast<std::uint64_t>(state.max_iterations) + 1;
  auto [ping_r, ping_w] = make_pipe();
  auto [pong_r, pong_w] = make_pipe();
  const int child_in = ping_r.get();
  const int child_out = pong_w.get();
  ForkChild child(placement, [child_in, child_out, n] {
    char c = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
      read_full(child_in, &c, 1);
      write_full(child_out, &c, 1);
    }
  });
  ping_r.reset();
  pong_w.reset();
  const int out = ping_w.get();
  const int in = pong_r.get();
  char c = 'x';
  write_full(out, &c, 1);
  read_full(in, &c, 1);
  for (auto _ : state) {
    write_full(out, &c, 1);
    read_full(in, &c, 1);
  }
  join_or_fail(state, child, "peer");
  set_counters(state);
}

// ---------------------------------------------------------------------------
// value.increment_locked

void value_increment_racegate(benchmark::State& state) {
  racegate::mp::Value<long> v(0);
  for (auto _ : state) {
    racegate::threading::LockGuard guard(v.get_lock());
    v.set_value(v.value() + 1);
  }
  if (v.value() != static_cast<long>(state.iterations())) state.SkipWithError("lost an increment");
  set_counters(state);
}

void value_increment_pthread(benchmark::State& state) {
  Shared<RobustMutex> m;
  for (auto _ : state) {
    m->lock();
    ++m->value;
    benchmark::DoNotOptimize(m->value);
    m->unlock();
  }
  if (m->value != static_cast<long>(state.iterations())) state.SkipWithError("lost an increment");
  set_counters(state);
}

const bool registered = [] {
  add("lock.uncontended", "racegate", Placement::kNa, uncontended_racegate<racegate::mp::Lock>);
  add("lock.uncontended", "floor.pthread_robust_pshared", Placement::kNa,
      [](benchmark::State& s) { uncontended_pthread(s, false); });
  add("rlock.uncontended", "racegate", Placement::kNa, uncontended_racegate<racegate::mp::RLock>);
  add("rlock.uncontended", "floor.pthread_robust_pshared", Placement::kNa,
      [](benchmark::State& s) { uncontended_pthread(s, true); });
  add_placed("lock.contended2p", "racegate", contended_racegate);
  add_placed("lock.contended2p", "floor.pthread_robust_pshared", contended_pthread);
  add_placed("semaphore.handoff", "racegate", semaphore_handoff_racegate);
  add_placed("semaphore.handoff", "floor.pipe", handoff_pipe);
  add_placed("event.handoff", "racegate", event_handoff_racegate);
  add_placed("event.handoff", "floor.pipe", handoff_pipe);
  add("value.increment_locked", "racegate", Placement::kNa, value_increment_racegate);
  add("value.increment_locked", "floor.pthread_robust_pshared", Placement::kNa, value_increment_pthread);
  return true;
}();

}  // namespace
}  // namespace rgbench
