// bench/primitives_queue.cpp — mp::Queue beside its raw floors.
//
// What is measured (time per item moved; per round trip for roundtrip):
//  - queue.oneway.8B: a child process puts N std::uint64_t (0..N-1) into an
//    unbounded mp::Queue<std::uint64_t>; the parent gets them (and checks
//    their order). The clock runs from the child's start signal to the
//    parent's last get. Floors: boost::interprocess::message_queue (1024
//    messages of 8 bytes) and shm_spsc_ring, a minimal single-producer
//    single-consumer ring of 1024 8-byte slots in anonymous shared memory
//    (a waiting side spins 64 pauses, yields 64 times, then sleeps on a
//    futex; a full producer is woken when the ring is half drained).
//  - queue.oneway.64KiB: the same with 64 KiB std::string items (bytes are
//    counted). Floors: memcpy (one 64 KiB copy per item in one process:
//    placement na) and boost message_queue (16 messages of 64 KiB).
//  - queue.roundtrip.8B: the parent puts i into one mp::Queue, the child
//    gets it and puts it into a second queue, the parent gets it back. Floor:
//    8 bytes written and read back over an AF_UNIX socketpair.
// Placements: one_cpu (parent and child on CPU 0), two_cpus (child on CPU 1).
#include <immintrin.h>

#include <atomic>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "bench_support.h"
#include "racegate/mp/queue.h"

namespace rgbench {
namespace {

namespace bip = boost::interprocess;
using racegate::mp::Queue;

constexpr std::size_t k64KiB = 64 * 1024;

// ---------------------------------------------------------------------------
// A Boost message_queue whose name is removed as soon as it exists: the
// mapping stays valid in this process and is inherited by forked children,
// and nothing is left in /dev/shm on any path.
class UnlinkedMessageQueue {
 public:
  UnlinkedMessageQueue(std::size_t max_num_msg, std::size_t max_msg_size) {
    static std::atomic<unsigned> counter{0};
    const std::string name =
        "racegate-bench-mq-" + std::to_string(getpid()) + "-" + std::to_string(counter.fetch_add(1));
    bip::message_queue::remove(name.c_str());
    mq_ = std::make_unique<bip::message_queue>(bip::create_only, name.c_str(), max_num_msg, max_msg_size);
    bip::message_queue::remove(name.c_str());
  }
  bip::message_queue& operator*() const { return *mq_; }
  bip::message_queue* operator->() const { return mq_.get(); }

 private:
  std::unique_ptr<bip::message_queue> mq_;
};

// ---------------------------------------------------------------------------
// floor.shm_spsc_ring: the least a cross-process queue of 8-byte items needs.
// A side that cannot go on (empty for the consumer, full for the producer)
// spins a little, then yields the CPU a few times (on one CPU that lets the
// other side run a whole batch), and only then sleeps on a futex.
struct SpscRing {
  static constexpr std::uint32_t kCapacity = 1024;  // a power of two
  static constexpr int kSpins = 64;
  static constexpr int kYields = 64;

  alignas(64) std::atomic<std::uint32_t> head{0};  // next slot to read (consumer's)
  alignas(64) std::atomic<std::uint32_t> tail{0};  // next slot to write (producer's)
  alignas(64) std::atomic<std::uint32_t> consumer_sleeps{0};
  alignas(64) std::atomic<std::uint32_t> producer_sleeps{0};
  alignas(64) std::uint64_t slots[kCapacity];

  // One round of waiting; false while spinning or yielding, true when it is
  // time to sleep.
  static bool backoff(int& round) noexcept {
    if (round < kSpins) {
      _mm_pause();
    } else if (round < kSpins + kYields) {
      sched_yield();
    } else {
      return true;
    }
    ++round;
    return false;
  }

  void push(std::uint64_t v) noexcept {
    const std::uint32_t t = tail.load(std::memory_order_relaxed);
    for (int round = 0; t - head.load(std::memory_order_acquire) == kCapacity;) {
      if (!backoff(round)) continue;
      // Dekker with pop(): announce, re-check, sleep only if still full.
      producer_sleeps.store(1, std::memory_order_seq_cst);
      const std::uint32_t h = head.load(std::memory_order_seq_cst);
      if (t - h == kCapacity) futex_wait(head, h);
      producer_sleeps.store(0, std::memory_order_relaxed);
    }
    slots[t % kCapacity] = v;
    tail.store(t + 1, std::memory_order_seq_cst);
    if (consumer_sleeps.load(std::memory_order_seq_cst) != 0) futex_wake(tail, 1);
  }

  std::uint64_t pop() noexcept {
    const std::uint32_t h = head.load(std::memory_order_relaxed);
    for (int round = 0; tail.load(std::memory_order_acquire) == h;) {
      if (!backoff(round)) continue;
      consumer_sleeps.store(1, std::memory_order_seq_cst);
      if (tail.load(std::memory_order_seq_cst) == h) futex_wait(tail, h);
      consumer_sleeps.store(0, std::memory_order_relaxed);
    }
    const std::uint64_t v = slots[h % kCapacity];
    head.store(h + 1, std::memory_order_seq_cst);
    // A sleeping producer (it sleeps only on a full ring) is woken once the
    // ring is half drained, not at the first free slot: on one CPU the woken
    // producer preempts the consumer, and waking it per slot would cost two
    // context switches per item.
    if (producer_sleeps.load(std::memory_order_seq_cst) != 0 &&
        tail.load(std::memory_order_relaxed) - (h + 1) <= kCapacity / 2)
      futex_wake(head, 1);
    return v;
  }
};

// ---------------------------------------------------------------------------
// queue.oneway.8B

void queue_oneway_8b_racegate(benchmark::State& state, Placement placement) {
  Queue<std::uint64_t> q;
  oneway_batch<MpChild>(
      state, placement, 0, [q](std::uint64_t i) mutable { q.put(i); },
      [&q](std::uint64_t i) { return q.get() == i; });
}

void queue_oneway_8b_boost(benchmark::State& state, Placement placement) {
  UnlinkedMessageQueue mq(1024, sizeof(std::uint64_t));
  bip::message_queue* m = &*mq;
  oneway_batch<ForkChild>(
      state, placement, 0, [m](std::uint64_t i) { m->send(&i, sizeof i, 0); },
      [m](std::uint64_t i) {
        std::uint64_t v = 0;
        bip::message_queue::size_type got = 0;
        unsigned prio = 0;
        m->receive(&v, sizeof v, got, prio);
        return got == sizeof v && v == i;
      });
}

void queue_oneway_8b_spsc(benchmark::State& state, Placement placement) {
  Shared<SpscRing> ring;
  SpscRing* r = ring.get();
  oneway_batch<ForkChild>(
      state, placement, 0, [r](std::uint64_t i) { r->push(i); }, [r](std::uint64_t i) { return r->pop() == i; });
}

// ---------------------------------------------------------------------------
// queue.oneway.64KiB

void queue_oneway_64k_racegate(benchmark::State& state, Placement placement) {
  Queue<std::string> q;
  const std::string payload(k64KiB, 'x');
  oneway_batch<MpChild>(
      state, placement, k64KiB, [q, &payload](std::uint64_t) mutable { q.put(payload); },
      [&q](std::uint64_t) {
        std::string s = q.get();
        return s.size() == k64KiB;
      });
}

void queue_oneway_64k_boost(benchmark::State& state, Placement placement) {
  UnlinkedMessageQueue mq(16, k64KiB);
  bip::message_queue* m = &*mq;
  std::vector<char> out(k64KiB, 'x');
  std::vector<char> in(k64KiB);
  oneway_batch<ForkChild>(
      state, placement, k64KiB, [m, &out](std::uint64_t) { m->send(out.data(), out.size(), 0); },
      [m, &in](std::uint64_t) {
        bip::message_queue::size_type got = 0;
        unsigned prio = 0;
        m->receive(in.data(), in.size(), got, prio);
        return got == k64KiB;
      });
}

void queue_oneway_64k_memcpy(benchmark::State& state) {
  std::vector<char> src(k64KiB, 'x');
  std::vector<char> dst(k64KiB);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), k64KiB);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, k64KiB);
}

// ---------------------------------------------------------------------------
// queue.roundtrip.8B. One untimed round trip first, so that the clock never
// includes the child's start.

void queue_roundtrip_racegate(benchmark::State& state, Placement placement) {
  const auto n = static_cast<std::uint64_t>(state.max_iterations) + 1;
  Queue<std::uint64_t> ping;
  Queue<std::uint64_t> pong;
  MpChild child(placement, [ping, pong, n]() mutable {
    for (std::uint64_t i = 0; i < n; ++i) pong.put(ping.get());
  });
  ping.put(0);
  bool ok = pong.get() == 0;
  std::uint64_t i = 1;
  for (auto _ : state) {
    ping.put(i);
    ok &= pong.get() == i;
    ++i;
  }
  join_or_fail(state, child, "echo");
  if (!ok) state.SkipWithError("wrong item echoed");
  set_counters(state);
}


const bool registered = [] {
  add_placed("queue.oneway.8B", "racegate", queue_oneway_8b_racegate);
  add_placed("queue.oneway.8B", "floor.boost_message_queue", queue_oneway_8b_boost);
  add_placed("queue.oneway.8B", "floor.shm_spsc_ring", queue_oneway_8b_spsc);
  add_placed("queue.oneway.64KiB", "racegate", queue_oneway_64k_racegate);
  add("queue.oneway.64KiB", "floor.memcpy", Placement::kNa, queue_oneway_64k_memcpy);
  add_placed("queue.oneway.64KiB", "floor.boost_message_queue", queue_oneway_64k_boost);
  add_placed("queue.roundtrip.8B", "racegate", queue_roundtrip_racegate);
  add_placed("queue.roundtrip.8B", "floor.socketpair", roundtrip_8b_socketpair);
  return true;
}();

}  // namespace
}  // namespace rgbench
