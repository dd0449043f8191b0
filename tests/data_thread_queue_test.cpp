// Unit tests of the thread-level queues of racegate::queue (Python's queue
// module): Queue, LifoQueue, PriorityQueue and SimpleQueue.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "racegate/errors.h"
#include "racegate/queue/queue.h"
#include "racegate/threading/event.h"
#include "racegate/threading/thread.h"
#include "support/test_helpers.h"

using racegate::test::error_of;
using racegate::test::seconds_since;

namespace rq = racegate::queue;
namespace threading = racegate::threading;
using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

namespace {

constexpr Seconds kLong{60};



template <class Q>
std::vector<int> drain(Q& q) {
  std::vector<int> out;
  while (!q.empty()) out.push_back(q.get_nowait());
  return out;
}

}  // namespace

TEST(ThreadQueue, BoundedFullEmptyAndTimeouts) {
  // catalog tqueue.bounded_full_empty.
  rq::Queue<int> q(5);
  for (int i = 0; i < 5; ++i) q.put(i);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.qsize(), 5u);
  EXPECT_FALSE(q.empty());
  auto t0 = Clock::now();
  EXPECT_EQ(error_of<racegate::Full>([&] { q.put(5, true, Seconds(0.2)); }), "");
  EXPECT_GE(seconds_since(t0), 0.2);
  EXPECT_EQ(error_of<racegate::Full>([&] { q.put_nowait(5); }), "");
  EXPECT_EQ(error_of<racegate::Full>([&] { q.put(5, false, Seconds(-1)); }), "");  // ignored
  EXPECT_EQ(drain(q), (std::vector<int>{0, 1, 2, 3, 4}));

  t0 = Clock::now();
  EXPECT_EQ(error_of<racegate::Empty>([&] { (void)q.get(true, Seconds(0.2)); }), "");
  EXPECT_GE(seconds_since(t0), 0.2);
  EXPECT_EQ(error_of<racegate::Empty>([&] { (void)q.get_nowait(); }), "");
  EXPECT_EQ(error_of<racegate::Empty>([&] { (void)q.get(false); }), "");
  EXPECT_EQ(error_of<racegate::Empty>([&] { (void)q.get(false, Seconds(-1)); }), "");  // ignored
}

TEST(ThreadQueue, NegativeTimeoutsWhereCPythonChecksThem) {
  rq::Queue<int> bounded(1);
  EXPECT_EQ(error_of<racegate::ValueError>([&] { bounded.put(1, true, Seconds(-1)); }),
            "'timeout' must be a non-negative number");
  EXPECT_TRUE(bounded.empty());
  EXPECT_EQ(error_of<racegate::ValueError>([&] { (void)bounded.get(true, Seconds(-0.5)); }),
            "'timeout' must be a non-negative number");
  rq::Queue<int> unbounded;  // put never looks at the timeout
  unbounded.put(1, true, Seconds(-1));
  EXPECT_EQ(unbounded.get(true, Seconds(0)), 1);
}

TEST(ThreadQueue, UnboundedLifoAndPriorityOrders) {
  rq::Queue<int> unbounded(0);
  for (int i = 0; i < 1000; ++i) unbounded.put_nowait(i);
  EXPECT_FALSE(unbounded.full());
  EXPECT_EQ(unbounded.maxsize(), 0);
  rq::Queue<int> negative(-1);
  negative.put(1);
  EXPECT_FALSE(negative.full());

  rq::LifoQueue<int> lifo;
  for (int i = 0; i < 3; ++i) lifo.put(i);
  EXPECT_EQ(drain(lifo), (std::vector<int>{2, 1, 0}));

  rq::PriorityQueue<int> prio;
  for (int x : {5, 1, 4, 1, 3, 9, 2}) prio.put(x);
  EXPECT_EQ(drain(prio), (std::vector<int>{1, 1, 2, 3, 4, 5, 9}));

  rq::PriorityQueue<std::pair<int, std::string>> jobs;
  jobs.put({3, "low"});
  jobs.put({1, "urgent"});
  jobs.put({2, "normal"});
  EXPECT_EQ(jobs.get().second, "urgent");
  EXPECT_EQ(jobs.get().second, "normal");
  EXPECT_EQ(jobs.get().second, "low");

  rq::PriorityQueue<int, std::greater<int>> largest_first(2);
  largest_first.put(1);
  largest_first.put(7);
  EXPECT_TRUE(largest_first.full());
  EXPECT_EQ(largest_first.get(), 7);
}

TEST(ThreadQueue, MoveOnlyItems) {
  rq::Queue<std::unique_ptr<int>> q(2);
  q.put(std::make_unique<int>(1));
  q.put_nowait(std::make_unique<int>(2));
  EXPECT_THROW(q.put_nowait(std::make_unique<int>(3)), racegate::Full);
  EXPECT_EQ(*q.get(), 1);
  EXPECT_EQ(*q.get_nowait(), 2);
}

TEST(ThreadQueue, TaskDoneJoinWithAConsumerThread) {
  // catalog tqueue.task_done_join.
  rq::Queue<int> q(5);
  std::vector<int> consumed;
  threading::Thread consumer([&] {
    for (;;) {
      int x = q.get();
      if (x < 0) {
        q.task_done();
        return;
      }
      consumed.push_back(x);
      q.task_done();
    }
  });
  consumer.set_daemon(true);
  consumer.start();
  std::vector<int> produced;
  for (int i = 0; i < 20; ++i) {
    q.put(i);  // blocks while 5 are waiting
    produced.push_back(i);
  }
  q.join();
  EXPECT_EQ(q.unfinished_tasks(), 0u);
  EXPECT_EQ(consumed, produced);  // join() orders the consumer's writes before this read
  q.put(-1);
  consumer.join();
  EXPECT_EQ(error_of<racegate::ValueError>([&] { q.task_done(); }),
            "task_done() called too many times");
  EXPECT_TRUE(q.join(Seconds(0)));
}

TEST(ThreadQueue, JoinTimesOutWhileTasksAreUnfinished) {
  rq::Queue<int> q;
  q.put(1);
  auto t0 = Clock::now();
  EXPECT_FALSE(q.join(Seconds(0.1)));
  EXPECT_GE(seconds_since(t0), 0.1);
  (void)q.get();
  EXPECT_FALSE(q.join(Seconds(0)));  // got, but not done
  q.task_done();
  EXPECT_TRUE(q.join(Seconds(0)));
}

TEST(ThreadQueue, FullQueueBlocksTheProducerUntilAGet) {
  rq::Queue<int> q(1);
  q.put(1);
  threading::Event about_to_put;
  std::atomic<bool> put_done{false};
  threading::Thread producer([&] {
    about_to_put.set();
    q.put(2, true, kLong);
    put_done = true;
  });
  producer.start();
  ASSERT_TRUE(about_to_put.wait(kLong));
  EXPECT_FALSE(put_done.load());  // full: the put cannot have completed
  EXPECT_EQ(q.get(), 1);
  producer.join();
  EXPECT_TRUE(put_done.load());
  EXPECT_EQ(q.get_nowait(), 2);
}

TEST(ThreadQueue, EmptyQueueBlocksTheConsumerUntilAPut) {
  rq::LifoQueue<std::string> q;
  threading::Event about_to_get;
  std::string got;
  threading::Thread consumer([&] {
    about_to_get.set();
    got = q.get(true, kLong);
  });
  consumer.start();
  ASSERT_TRUE(about_to_get.wait(kLong));
  q.put("hello");
  consumer.join();
  EXPECT_EQ(got, "hello");
}

TEST(ThreadQueue, ManyProducersAndConsumers) {
  constexpr int kProducers = 4, kConsumers = 3, kItems = 2000;
  rq::Queue<int> q(10);
  std::vector<long long> sums(kConsumers, 0);
  std::vector<std::unique_ptr<threading::Thread>> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.push_back(std::make_unique<threading::Thread>([&q, p] {
      for (int k = 1; k <= kItems; ++k) q.put(p * kItems + k);
    }));
  }
  for (int c = 0; c < kConsumers; ++c) {
    threads.push_back(std::make_unique<threading::Thread>([&q, &sums, c] {
      for (;;) {
        int x = q.get();
        q.task_done();
        if (x < 0) return;
        sums[c] += x;
      }
    }));
  }
  for (auto& t : threads) t->start();
  for (int p = 0; p < kProducers; ++p) threads[p]->join();
  q.join();
  for (int c = 0; c < kConsumers; ++c) q.put(-1);
  for (int c = 0; c < kConsumers; ++c) threads[kProducers + c]->join();
  long long total = 0, expected = 0;
  for (auto s : sums) total += s;
  for (int i = 1; i <= kProducers * kItems; ++i) expected += i;
  EXPECT_EQ(total, expected);
  EXPECT_TRUE(q.empty());
}

TEST(ThreadSimpleQueue, PutNeverBlocksAndGetTimesOut) {
  rq::SimpleQueue<int> q;
  EXPECT_TRUE(q.empty());
  for (int i = 0; i < 100; ++i) q.put(i, true, Seconds(-1));  // block/timeout ignored
  q.put_nowait(100);
  EXPECT_EQ(q.qsize(), 101u);
  for (int i = 0; i <= 100; ++i) ASSERT_EQ(q.get(), i);
  auto t0 = Clock::now();
  EXPECT_EQ(error_of<racegate::Empty>([&] { (void)q.get(true, Seconds(0.1)); }), "");
  EXPECT_GE(seconds_since(t0), 0.1);
  EXPECT_THROW((void)q.get_nowait(), racegate::Empty);
  EXPECT_EQ(error_of<racegate::ValueError>([&] { (void)q.get(true, Seconds(-1)); }),
            "'timeout' must be a non-negative number");
  threading::Thread producer([&] { q.put(7); });
  producer.start();
  EXPECT_EQ(q.get(true, kLong), 7);
  producer.join();
}
