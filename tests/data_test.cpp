// Unit tests of the process-level queues: racegate::mp::Queue,
// JoinableQueue and SimpleQueue, across real forked processes, and of the
// shared ring behind them (internal::RingQueue).
//
// Ordering between processes comes from events and queue handshakes, never
// from sleeps; elapsed times are checked as lower bounds only.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cases/support/process_guard.h"
#include "racegate/errors.h"
#include "racegate/internal/data_ring.h"
#include "racegate/internal/data_sync.h"
#include "racegate/mp/connection.h"
#include "racegate/mp/event.h"
#include "racegate/mp/process.h"
#include "racegate/mp/queue.h"
#include "racegate/mp/simple_queue.h"
#include "racegate/mp/value.h"
#include "racegate/queue/queue.h"
#include "racegate/schedule.h"
#include "racegate/threading/lock.h"
#include "racegate/threading/thread.h"
#include "support/test_helpers.h"

using racegate::test::error_of;
using racegate::test::seconds_since;
using racegate::test::pattern;

namespace mp = racegate::mp;
namespace threading = racegate::threading;
using racegate::test::ProcessGuard;
using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

namespace {

constexpr Seconds kLong{60};




void run_and_join(mp::Process& p) {
  ProcessGuard guard(p);
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

const std::regex kClosedQueue(
    R"(Queue <multiprocessing\.queues\.Queue object at 0x[0-9a-f]+> is closed)");
const std::regex kClosedJoinable(
    R"(Queue <multiprocessing\.queues\.JoinableQueue object at 0x[0-9a-f]+> is closed)");

}  // namespace

// ---------------------------------------------------------------- mp::Queue

TEST(MpQueue, FifoAcrossProcessesAfterProducerExits) {
  // catalog mpqueue.fifo_cross_process: a producer puts 5 ints into
  // Queue(8) and is joined; a consumer started afterwards drains it with
  // `while not q.empty(): q.get()`.
  mp::Queue<int> q(8);
  mp::Queue<std::vector<int>> results;
  mp::Process producer([q]() mutable {
    for (int i = 0; i < 5; ++i) q.put(i);
  });
  run_and_join(producer);
  mp::Process consumer([q, results]() mutable {
    std::vector<int> got;
    while (!q.empty()) got.push_back(q.get());
    results.put(got);
  });
  ProcessGuard guard(consumer);
  consumer.start();
  EXPECT_EQ(results.get(true, kLong), (std::vector<int>{0, 1, 2, 3, 4}));
  consumer.join();
  EXPECT_EQ(consumer.exitcode(), 0);
}

TEST(MpQueue, ConcurrentProducersAndConsumersKeepEachProducersOrder) {
  // Three producer processes and two consumer processes at once: every item
  // arrives exactly once, and each consumer sees each producer's items in
  // the order they were put (one FIFO across processes).
  constexpr int kProducers = 3, kItems = 300, kConsumers = 2;
  mp::Queue<std::pair<int, int>> q(16);  // bounded: producers also block
  mp::Queue<std::vector<std::pair<int, int>>> results;
  std::vector<std::unique_ptr<mp::Process>> procs;
  for (int id = 0; id < kProducers; ++id) {
    procs.push_back(std::make_unique<mp::Process>([q, id]() mutable {
      for (int k = 0; k < kItems; ++k) q.put({id, k}, true, kLong);
    }));
  }
  for (int c = 0; c < kConsumers; ++c) {
    procs.push_back(std::make_unique<mp::Process>([q, results]() mutable {
      std::vector<std::pair<int, int>> got;
      for (;;) {
        auto item = q.get(true, kLong);
        if (item.first < 0) break;  // sentinel
        got.push_back(item);
      }
      results.put(got);
    }));
  }
  std::vector<std::unique_ptr<ProcessGuard>> guards;
  for (auto& p : procs) {
    guards.push_back(std::make_unique<ProcessGuard>(*p));
    p->start();
  }
  for (int id = 0; id < kProducers; ++id) {
    procs[id]->join();
    EXPECT_EQ(procs[id]->exitcode(), 0);
  }
  for (int c = 0; c < kConsumers; ++c) q.put({-1, -1});
  std::set<std::pair<int, int>> all;
  for (int c = 0; c < kConsumers; ++c) {
    auto got = results.get(true, kLong);
    std::vector<int> last(kProducers, -1);
    for (auto [id, k] : got) {
      ASSERT_GE(id, 0);
      ASSERT_LT(id, kProducers);
      EXPECT_GT(k, last[id]) << "producer " << id << "'s items out of order";
      last[id] = k;
      EXPECT_TRUE(all.insert({id, k}).second) << "item delivered twice";
    }
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kProducers * kItems));
  for (int c = 0; c < kConsumers; ++c) {
    procs[kProducers + c]->join();
    EXPECT_EQ(procs[kProducers + c]->exitcode(), 0);
  }
}

TEST(MpQueue, BlockingGetIsReleasedByAPutInAnotherProcess) {
  mp::Queue<int> q;
  mp::Event about_to_get;
  mp::Value<int> got(-1);
  mp::Process p([q, about_to_get, got]() mutable {
    about_to_get.set();
    got.set_value(q.get(true, kLong));
  });
  ProcessGuard guard(p);
  p.start();
  ASSERT_TRUE(about_to_get.wait(kLong));
  EXPECT_EQ(got.value(), -1);  // nothing was put: the get cannot have returned
  q.put(42);
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(got.value(), 42);
}

TEST(MpQueue, BlockingPutOnAFullQueueIsReleasedByAGetInAnotherProcess) {
  mp::Queue<int> q(1);
  q.put(1);
  mp::Event about_to_put, put_done;
  mp::Process p([q, about_to_put, put_done]() mutable {
    about_to_put.set();
    q.put(2, true, kLong);
    put_done.set();
  });
  ProcessGuard guard(p);
  p.start();
  ASSERT_TRUE(about_to_put.wait(kLong));
  EXPECT_FALSE(put_done.is_set());  // the queue is full: the put cannot have completed
  EXPECT_EQ(q.get(true, kLong), 1);
  EXPECT_TRUE(put_done.wait(kLong));
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(q.get(true, kLong), 2);
}

TEST(MpQueue, MaxsizeFullAndTimeouts) {
  // catalog mpqueue.maxsize_full and mpqueue.get_empty.
  mp::Queue<int> q(8);
  EXPECT_EQ(q.maxsize(), 8);
  for (int i = 0; i < 8; ++i) q.put(i);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.qsize(), 8u);
  EXPECT_FALSE(q.empty());

  auto t0 = Clock::now();
  EXPECT_EQ(error_of<racegate::Full>([&] { q.put(8, true, Seconds(0.2)); }), "");
  EXPECT_GE(seconds_since(t0), 0.2);
  EXPECT_EQ(error_of<racegate::Full>([&] { q.put_nowait(8); }), "");
  EXPECT_EQ(error_of<racegate::Full>([&] { q.put(8, false); }), "");
  EXPECT_EQ(error_of<racegate::Full>([&] { q.put(8, true, Seconds(-1)); }), "");  // negative: zero
  EXPECT_EQ(q.qsize(), 8u);

  std::vector<int> got;
  for (int i = 0; i < 8; ++i) got.push_back(q.get());
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.full());

  t0 = Clock::now();
  EXPECT_EQ(error_of<racegate::Empty>([&] { (void)q.get(true, Seconds(0.2)); }), "");
  EXPECT_GE(seconds_since(t0), 0.2);
  EXPECT_EQ(error_of<racegate::Empty>([&] { (void)q.get_nowait(); }), "");
  EXPECT_EQ(error_of<racegate::Empty>([&] { (void)q.get(false); }), "");
  EXPECT_EQ(error_of<racegate::Empty>([&] { (void)q.get(true, Seconds(-5)); }), "");
  try {
    (void)q.get_nowait();
  } catch (const racegate::Empty& e) {
    EXPECT_STREQ(e.python_type(), "Empty");
  }
}

TEST(MpQueue, ZeroOrNegativeMaxsizeIsUnbounded) {
  for (long maxsize : {0L, -3L}) {
    mp::Queue<int> q(maxsize);
    EXPECT_EQ(q.maxsize(), 0);
    for (int i = 0; i < 2000; ++i) q.put_nowait(i);
    EXPECT_FALSE(q.full());
    EXPECT_EQ(q.qsize(), 2000u);
    for (int i = 0; i < 2000; ++i) ASSERT_EQ(q.get_nowait(), i);
  }
}

TEST(MpQueue, EmptyIsExactRightAfterPut) {
  // Contrast with CPython's feeder thread (catalog mpqueue.empty_lags_put):
  // without one, a put is in the queue when it returns.
  mp::Queue<int> q;
  for (int i = 0; i < 200; ++i) {
    q.put(i);
    ASSERT_FALSE(q.empty());
    ASSERT_EQ(q.get_nowait(), i);
  }
}

TEST(MpQueue, CloseMakesPutAndGetRaiseInThisProcessOnly) {
  // catalog mpqueue.closed_and_no_task_done.
  mp::Queue<int> q;
  EXPECT_EQ(error_of<racegate::AssertionError>([&] { q.join_thread(); }),
            "Queue " + q.repr() + " not closed");
  q.put(7);
  mp::Queue<int> copy = q;
  q.close();
  q.close();  // harmless
  EXPECT_TRUE(q.closed());
  EXPECT_TRUE(copy.closed());  // copies in this process share the handle
  const std::string put_error = error_of<racegate::ValueError>([&] { q.put(1); });
  EXPECT_TRUE(std::regex_match(put_error, kClosedQueue)) << put_error;
  EXPECT_EQ(put_error, "Queue " + q.repr() + " is closed");
  const std::string get_error = error_of<racegate::ValueError>([&] { (void)copy.get_nowait(); });
  EXPECT_TRUE(std::regex_match(get_error, kClosedQueue)) << get_error;
  q.join_thread();  // closed: returns
  q.cancel_join_thread();

  // A child forked after close() starts with the queue open (CPython's
  // Queue._after_fork) and finds the item put before close().
  mp::Value<int> seen(0);
  mp::Process child([q, seen]() mutable {
    if (q.closed()) throw mp::SystemExit(2);
    seen.set_value(q.get(true, kLong));
    q.put(8);
    if (q.get(true, kLong) != 8) throw mp::SystemExit(3);
  });
  run_and_join(child);
  EXPECT_EQ(seen.value(), 7);
}

TEST(MpQueue, ItemsOfZeroBytesAndSeveralMebibytes) {
  const std::string big = pattern(6 << 20, 3);
  // In one process: put returns before any get (no pipe to fill).
  mp::Queue<std::string> q;
  q.put("");
  q.put(big);
  q.put(std::string(1, '\0'));
  EXPECT_EQ(q.get(), "");
  EXPECT_EQ(q.get(), big);
  EXPECT_EQ(q.get(), std::string(1, '\0'));

  // From a child to the parent and back.
  mp::Queue<std::string> to_parent, to_child;
  mp::Value<int> child_ok(0);
  mp::Process p([to_parent, to_child, child_ok]() mutable {
    to_parent.put("");
    to_parent.put(pattern(6 << 20, 3));
    const std::string from_parent = to_child.get(true, kLong);
    child_ok.set_value(from_parent == pattern(5 << 20, 9) ? 1 : 2);
  });
  ProcessGuard guard(p);
  p.start();
  to_child.put(pattern(5 << 20, 9));
  EXPECT_EQ(to_parent.get(true, kLong), "");
  EXPECT_EQ(to_parent.get(true, kLong), big);
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(child_ok.value(), 1);
}

TEST(MpQueue, ManyLargeItemsReuseTheRing) {
  // Put and get 48 MiB through the queue, 4 MiB at a time: the pages behind
  // the reader are handed back and reused without corrupting items.
  mp::Queue<std::string> q;
  for (unsigned i = 0; i < 12; ++i) {
    q.put(pattern(4 << 20, i));
    if (i % 3 == 2) {
      for (unsigned k = i - 2; k <= i; ++k) ASSERT_EQ(q.get_nowait(), pattern(4 << 20, k));
    }
  }
  EXPECT_TRUE(q.empty());
}

TEST(MpQueue, ThreadsOfOneProcessShareIt) {
  constexpr int kProducers = 3, kItems = 500;
  mp::Queue<int> q(8);
  std::vector<std::unique_ptr<threading::Thread>> threads;
  for (int t = 0; t < kProducers; ++t) {
    threads.push_back(std::make_unique<threading::Thread>([&q, t] {
      for (int k = 1; k <= kItems; ++k) q.put(t * 100000 + k);
    }));
  }
  long long sums[2] = {0, 0};
  for (int c = 0; c < 2; ++c) {
    threads.push_back(std::make_unique<threading::Thread>([&q, &sums, c] {
      for (;;) {
        int x = q.get(true, kLong);
        if (x < 0) return;
        sums[c] += x;
      }
    }));
  }
  for (auto& t : threads) t->start();
  for (int t = 0; t < kProducers; ++t) threads[t]->join();
  q.put(-1);
  q.put(-1);
  threads[kProducers]->join();
  threads[kProducers + 1]->join();
  long long expected = 0;
  for (int t = 0; t < kProducers; ++t)
    for (int k = 1; k <= kItems; ++k) expected += t * 100000 + k;
  EXPECT_EQ(sums[0] + sums[1], expected);
  EXPECT_TRUE(q.empty());
}

// ------------------------------------------------------- mp::JoinableQueue

TEST(MpJoinableQueue, JoinWaitsForEveryTaskOfAConsumerProcess) {
  // catalog joinablequeue.task_done_join.
  mp::JoinableQueue<int> jq;
  mp::Value<int> done(0);
  mp::Process consumer([jq, done]() mutable {
    for (int i = 0; i < 5; ++i) {
      (void)jq.get(true, kLong);
      {
        threading::LockGuard guard(done.get_lock());
        done.get_obj() += 1;
      }
      jq.task_done();
    }
  });
  ProcessGuard guard(consumer);
  consumer.start();
  for (int i = 0; i < 5; ++i) jq.put(i);
  jq.join();
  EXPECT_EQ(done.value(), 5);
  EXPECT_EQ(jq.unfinished_tasks(), 0u);
  jq.join();  // nothing unfinished: returns at once
  consumer.join();
  EXPECT_EQ(consumer.exitcode(), 0);
  EXPECT_EQ(error_of<racegate::ValueError>([&] { jq.task_done(); }),
            "task_done() called too many times");
}

TEST(MpJoinableQueue, CountsTasksAndJoinTimesOut) {
  mp::JoinableQueue<std::string> jq(2);
  EXPECT_TRUE(jq.join(Seconds(0)));
  jq.put("a");
  jq.put("b");
  EXPECT_EQ(jq.unfinished_tasks(), 2u);
  EXPECT_THROW(jq.put_nowait("c"), racegate::Full);
  EXPECT_EQ(jq.unfinished_tasks(), 2u);  // a failed put adds no task
  auto t0 = Clock::now();
  EXPECT_FALSE(jq.join(Seconds(0.1)));
  EXPECT_GE(seconds_since(t0), 0.1);
  EXPECT_EQ(jq.get(), "a");
  jq.task_done();
  EXPECT_FALSE(jq.join(Seconds(0)));
  EXPECT_EQ(jq.get(), "b");
  jq.task_done();
  EXPECT_TRUE(jq.join(Seconds(0)));
  EXPECT_THROW(jq.task_done(), racegate::ValueError);

  // Through a Queue<T>& it still counts tasks.
  mp::Queue<std::string>& base = jq;
  base.put("c");
  EXPECT_EQ(jq.unfinished_tasks(), 1u);

  jq.close();
  const std::string err = error_of<racegate::ValueError>([&] { jq.put("d"); });
  EXPECT_TRUE(std::regex_match(err, kClosedJoinable)) << err;
}

TEST(MpJoinableQueue, TaskDoneInAChildWakesAJoiningParentThread) {
  mp::JoinableQueue<int> jq;
  jq.put(1);
  mp::Event got_it, go;
  mp::Process child([jq, got_it, go]() mutable {
    (void)jq.get(true, kLong);
    got_it.set();
    if (!go.wait(kLong)) throw mp::SystemExit(2);
    jq.task_done();
  });
  ProcessGuard guard(child, go);
  child.start();
  ASSERT_TRUE(got_it.wait(kLong));
  EXPECT_FALSE(jq.join(Seconds(0.05)));  // the task is not done yet
  go.set();
  EXPECT_TRUE(jq.join(kLong));
  child.join();
  EXPECT_EQ(child.exitcode(), 0);
}

// --------------------------------------------------------- mp::SimpleQueue

TEST(MpSimpleQueue, PutGetEmptyAcrossProcesses) {
  mp::SimpleQueue<std::string> q;
  EXPECT_TRUE(q.empty());
  mp::SimpleQueue<std::string> back;
  mp::Process p([q, back]() mutable {
    for (;;) {
      std::string s = q.get();
      if (s == "stop") break;
      back.put(s + "!");
    }
  });
  ProcessGuard guard(p);
  p.start();
  q.put("a");
  q.put("");
  q.put(pattern(3 << 20));
  EXPECT_EQ(back.get(), "a!");
  EXPECT_EQ(back.get(), "!");
  EXPECT_EQ(back.get(), pattern(3 << 20) + "!");
  q.put("stop");
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_TRUE(q.empty());
  EXPECT_TRUE(back.empty());
}

TEST(MpSimpleQueue, CloseRaisesHandleIsClosed) {
  mp::SimpleQueue<int> q;
  q.put(1);
  q.close();
  q.close();
  EXPECT_EQ(error_of<racegate::OSError>([&] { q.put(2); }), "handle is closed");
  EXPECT_EQ(error_of<racegate::OSError>([&] { (void)q.get(); }), "handle is closed");
  EXPECT_EQ(error_of<racegate::OSError>([&] { (void)q.empty(); }), "handle is closed");
  mp::Process child([q]() mutable {
    if (q.get() != 1) throw mp::SystemExit(2);  // open again in a child
  });
  run_and_join(child);
}

// ----------------------------------------------------- internal::RingQueue

using racegate::internal::Deadline;
using racegate::internal::RingQueue;

TEST(DataRing, WrapsAroundASmallRing) {
  auto ring = RingQueue::create(0, 4096);
  EXPECT_EQ(ring->capacity(), 4096u);
  std::string out;
  unsigned put_seed = 0, get_seed = 0;
  std::vector<std::size_t> sizes;
  // Fill and drain with odd sizes so that items and their length words
  // straddle the end of the ring.
  for (int round = 0; round < 200; ++round) {
    const std::size_t n = (round * 577) % 1500;
    while (!ring->put(pattern(n, put_seed), Deadline::after(Seconds(0)), false)) {
      ASSERT_TRUE(ring->get(out, Deadline::after(Seconds(0))));
      ASSERT_EQ(out, pattern(sizes.front(), get_seed++));
      sizes.erase(sizes.begin());
    }
    sizes.push_back(n);
    ++put_seed;
    EXPECT_LE(ring->bytes_used(), 4096u);
  }
  while (!sizes.empty()) {
    ASSERT_TRUE(ring->get(out, Deadline::after(Seconds(0))));
    ASSERT_EQ(out, pattern(sizes.front(), get_seed++));
    sizes.erase(sizes.begin());
  }
  EXPECT_EQ(ring->bytes_used(), 0u);
  EXPECT_FALSE(ring->get(out, Deadline::after(Seconds(0))));
}

TEST(DataRing, RejectsAnItemLargerThanTheRingAndWaitsForBytes) {
  auto ring = RingQueue::create(0, 4096);
  EXPECT_THROW((void)ring->put(std::string(4089, 'x'), Deadline::never(), false),
               racegate::ValueError);
  ASSERT_TRUE(ring->put(std::string(4088, 'x'), Deadline::never(), false));  // exactly full
  auto t0 = Clock::now();
  EXPECT_FALSE(ring->put("", Deadline::after(Seconds(0.05)), false));
  EXPECT_GE(seconds_since(t0), 0.05);
  EXPECT_FALSE(ring->full());  // full() speaks of maxsize, not bytes
}

TEST(DataRing, ObjectReprLooksLikePython) {
  EXPECT_EQ(racegate::internal::object_repr("multiprocessing.queues.Queue",
                                            reinterpret_cast<const void*>(0x7f00ab)),
            "<multiprocessing.queues.Queue object at 0x7f00ab>");
}

namespace {

// Resident shared-memory pages of this process, in KiB (RssShmem).
long rss_shmem_kib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  long value = -1;
  while (status >> key) {
    if (key == "RssShmem:") {
      status >> value;
      return value;
    }
    status.ignore(1 << 20, '\n');
  }
  return -1;
}

}  // namespace

TEST(DataRing, HandsConsumedPagesBackToTheKernel) {
  // 96 MiB flow through a queue, 1 MiB at a time, with at most 2 MiB in it:
  // the pages behind the reader are released, so what stays resident is a
  // few MiB, not the 96 MiB the ring's positions have passed over.
  auto ring = RingQueue::create(0);
  const long before = rss_shmem_kib();
  ASSERT_GE(before, 0);
  const std::string item = pattern(1 << 20, 4);
  std::string out;
  for (int i = 0; i < 96; ++i) {
    ASSERT_TRUE(ring->put(item, Deadline::never(), false));
    if (i >= 1) {
      ASSERT_TRUE(ring->get(out, Deadline::never()));
      ASSERT_EQ(out.size(), item.size());
    }
  }
  const long grown = rss_shmem_kib() - before;
  EXPECT_LT(grown, 16 * 1024) << "KiB of shared memory still resident";
  EXPECT_EQ(ring->qsize(), 1u);
}

// ------------------------------------------------------------ schedule points

namespace {

std::atomic<int> g_puts{0}, g_gets{0}, g_sends{0}, g_recvs{0};

void count_data_ops(racegate::schedule::Op op, const void*) noexcept {
  namespace ops = racegate::internal::data_ops;
  // With the fallback ops a put and a send share one op: count both.
  if (op == ops::queue_put()) g_puts.fetch_add(1);
  if (op == ops::queue_get()) g_gets.fetch_add(1);
  if (op == ops::connection_send()) g_sends.fetch_add(1);
  if (op == ops::connection_recv()) g_recvs.fetch_add(1);
}

}  // namespace

TEST(DataSchedule, PutGetSendRecvReportSchedulePoints) {
  mp::Queue<int> q;
  racegate::queue::Queue<int> tq;
  auto ends = mp::Pipe<int>();
  auto previous = racegate::schedule::set_hook(&count_data_ops);
  q.put(1);
  (void)q.get();
  tq.put(2);
  (void)tq.get();
  ends.first.send(3);
  (void)ends.second.recv();
  racegate::schedule::set_hook(previous);
  EXPECT_GE(g_puts.load(), 2);
  EXPECT_GE(g_gets.load(), 2);
  EXPECT_GE(g_sends.load(), 1);
  EXPECT_GE(g_recvs.load(), 1);
}
