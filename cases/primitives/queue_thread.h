// Case templates of catalog sections 10 and 11 (queue.Queue and
// multiprocessing.JoinableQueue), over QueueAdapters of std::string items.
// cases/tqueue.cpp registers them for each implementation.
#pragma once

#include <algorithm>
#include <atomic>
#include <barrier>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cases/primitives/queue_mp.h"
#include "racegate/mp/value.h"
#include "racegate/threading/lock.h"

namespace racegate::cases::queues {

// Threads that are always joined, also when an RC_ASSERT throws: the
// destructor raises `stop` and joins every thread. A thread body must not
// throw; it reports through its own state.
class ThreadGroup {
 public:
  explicit ThreadGroup(std::atomic<bool>& stop) : stop_(stop) {}
  ThreadGroup(const ThreadGroup&) = delete;
  ThreadGroup& operator=(const ThreadGroup&) = delete;
  ~ThreadGroup() { join_all(); }

  void spawn(std::function<void()> body) { threads_.emplace_back(std::move(body)); }
  void join_all() {
    stop_.store(true);
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  std::atomic<bool>& stop_;
  std::vector<std::thread> threads_;
};

// ------------------------------------------------- tqueue.bounded_full_empty

inline CaseSpec bounded_full_empty_spec() {
  return make_spec("A full Queue(maxsize) has full() and qsize maxsize and raises Full; an empty one raises "
                   "Empty; FIFO, LifoQueue LIFO, Queue(0) unbounded",
                   "004_7648374c0ccc69dc.txt", {"tqueue", "thread", "D", "T"}, 8);
}

// Queue(maxsize) (1..32) after maxsize puts: full(), qsize() == maxsize,
// not empty(); put(x, timeout) raises Full (str '') after at least the
// timeout, put_nowait() and put(x, False) at once; the items come out FIFO;
// then on the empty queue get(timeout) raises Empty after the timeout,
// get_nowait() and get(False) at once. A random sequence of non-blocking
// puts and gets matches a model queue. Queue(maxsize <= 0) takes 0..3000
// items without Full; the LIFO variant returns puts 0..n-1 as n-1..0
// (the catalog's [2,1,0]).
template <template <class> class A>
void bounded_full_empty(CaseContext& ctx) {
  using Q = A<std::string>;
  const bool unbounded = supported_or_skip(ctx, Q::kUnbounded, "Queue(0) has no bound");
  supported_or_skip(ctx, Q::kLifo, "LifoQueue returns [2,1,0]");  // run below when supported
  ctx.check([unbounded] {
    const long maxsize = *rc::gen::inRange(1, 33);
    const std::size_t limit = payload_limit(item_limit<Q>(64 * 1024));
    const auto sizes = *rc::gen::container<std::vector<std::size_t>>(static_cast<std::size_t>(maxsize), gen_size(limit));
    const Seconds t_put = gen_short_timeout();
    const Seconds t_get = gen_short_timeout();
    const auto ops = *gen_ops(limit);

    Q q = Q::make(maxsize);
    std::vector<std::string> items;
    for (long i = 0; i < maxsize; ++i) {
      items.push_back(make_item(0, static_cast<int>(i), sizes[static_cast<std::size_t>(i)]));
      q.put(items.back(), true, kLong);
    }
    RC_ASSERT(q.full());
    RC_ASSERT(q.qsize() == static_cast<std::size_t>(maxsize));
    RC_ASSERT(!q.empty());
    const std::string extra = make_item(1, 0, 0);
    assert_raises_after<Full>("", t_put, [&] { q.put(extra, true, t_put); });
    assert_raises_after<Full>("", Seconds(0), [&] { q.put_nowait(extra); });
    assert_raises_after<Full>("", Seconds(0), [&] { q.put(extra, false); });
    for (const auto& item : items) RC_ASSERT(q.get_nowait() == item);
    RC_ASSERT(q.empty());
    RC_ASSERT(!q.full());
    assert_raises_after<Empty>("", t_get, [&] { (void)q.get(true, t_get); });
    assert_raises_after<Empty>("", Seconds(0), [&] { (void)q.get_nowait(); });
    assert_raises_after<Empty>("", Seconds(0), [&] { (void)q.get(false); });
    run_model_ops(q, maxsize, ops);

    if (unbounded) {
      const long none = *rc::gen::inRange(-3, 1);
      const int n = *rc::gen::inRange(0, 3001);
      Q u = Q::make(none);
      for (int i = 0; i < n; ++i) u.put_nowait(make_item(0, i, 0));
      RC_ASSERT(!u.full());
      RC_ASSERT(u.qsize() == static_cast<std::size_t>(n));
      for (int i = 0; i < n; ++i) RC_ASSERT(u.get_nowait() == make_item(0, i, 0));
    }
    if constexpr (Q::kLifo.supported) {
      using L = typename Q::lifo_type;
      L three = L::make(0);  // the catalog's program: puts 0, 1, 2 give [2, 1, 0]
      for (int i = 0; i < 3; ++i) three.put(std::to_string(i));
      std::vector<std::string> out;
      while (!three.empty()) out.push_back(three.get_nowait());
      RC_ASSERT(out == (std::vector<std::string>{"2", "1", "0"}));
      const int n = *rc::gen::inRange(0, 40);
      L l = L::make(*rc::gen::inRange(0, 2) == 0 ? 0 : std::max(1, n));
      for (int i = 0; i < n; ++i) l.put(make_item(0, i, 1), true, kLong);
      for (int i = n - 1; i >= 0; --i) RC_ASSERT(l.get_nowait() == make_item(0, i, 1));
      assert_raises<Empty>("", [&] { (void)l.get_nowait(); });
    }
  });
}

// ----------------------------------------------------- tqueue.task_done_join

inline CaseSpec task_done_join_spec() {
  return make_spec("join() returns once task_done() was called for every item put; consumed == produced; one "
                   "task_done() too many raises ValueError",
                   "004_7648374c0ccc69dc.txt", {"tqueue", "thread", "D"}, 20);
}

// The catalog's producer/consumer on a thread queue, with 1-3 producer and
// 1-3 consumer threads, 0..300 items per producer and maxsize 0..8:
//  - a full bounded queue blocks the producer: while nobody gets, the put
//    after the maxsize-th has not returned;
//  - after the producers ended, join() returns, and by then every item was
//    processed: consumed == produced as multisets (with one consumer, each
//    producer's items in order), unfinished_tasks == 0;
//  - join() on a queue with nothing unfinished returns at once;
//  - one task_done() more than there were puts raises ValueError("task_done()
//    called too many times") and changes nothing.
template <template <class> class A>
void task_done_join(CaseContext& ctx) {
  using Q = A<std::string>;
  static_assert(Q::kTaskDone);
  if (!Q::kUnbounded.supported) ctx.skip_check("Queue(0) has no bound", std::string(Q::kUnbounded.why_not));
  ctx.check([] {
    const int producers = *rc::gen::inRange(1, 4);
    const int consumers = *rc::gen::inRange(1, 4);
    const int per = *rc::gen::inRange(0, 301);
    const long maxsize = *rc::gen::inRange(Q::kUnbounded.supported ? 0 : 1, 9);
    Q q = Q::make(maxsize);

    if (maxsize > 0) {
      // A full bounded queue blocks the producer.
      std::atomic<bool> stop{false};
      std::atomic<long> returned{0};
      std::atomic<bool> failed{false};
      ThreadGroup group(stop);
      group.spawn([&] {
        try {
          for (long i = 0; i <= maxsize; ++i) {
            q.put(make_item(9, static_cast<int>(i), 0), true, kLong);
            returned.fetch_add(1);
          }
        } catch (...) {
          failed.store(true);
        }
      });
      const auto t0 = Clock::now();
      while (!q.full() && seconds_since(t0) < kLong.count()) std::this_thread::yield();
      RC_ASSERT(q.full());
      RC_ASSERT(returned.load() <= maxsize);  // the (maxsize+1)-th put waits: nobody got anything
      for (long i = 0; i <= maxsize; ++i) {
        RC_ASSERT(q.get(true, kLong) == make_item(9, static_cast<int>(i), 0));
        q.task_done();
      }
      group.join_all();
      RC_ASSERT(!failed.load());
      RC_ASSERT(returned.load() == maxsize + 1);
      RC_ASSERT(q.join(Seconds(0)));
    }

    std::atomic<bool> stop{false};
    std::atomic<long> processed{0};
    std::atomic<bool> failed{false};
    std::vector<std::vector<std::string>> consumed(static_cast<std::size_t>(consumers));
    std::barrier start(producers);
    ThreadGroup consumer_group(stop);
    for (int c = 0; c < consumers; ++c) {
      consumer_group.spawn([&, c] {
        while (!stop.load()) {
          std::string item;
          try {
            item = q.get(true, Seconds(0.02));
          } catch (const Empty&) {
            continue;
          } catch (...) {
            failed.store(true);
            return;
          }
          consumed[static_cast<std::size_t>(c)].push_back(std::move(item));
          processed.fetch_add(1);
          try {
            q.task_done();
          } catch (...) {
            failed.store(true);
          }
        }
      });
    }
    {
      std::atomic<bool> unused{false};
      ThreadGroup producer_group(unused);
      for (int p = 0; p < producers; ++p) {
        producer_group.spawn([&, p] {
          start.arrive_and_wait();
          try {
            for (int k = 0; k < per; ++k) q.put(make_item(p, k, static_cast<std::size_t>(k % 5)), true, kLong);
          } catch (...) {
            failed.store(true);
          }
        });
      }
    }
    RC_ASSERT(q.join(kLong));
    const long total = static_cast<long>(producers) * per;
    RC_ASSERT(processed.load() == total);  // join() returned only after every task_done()
    RC_ASSERT(q.unfinished_tasks() == 0u);
    consumer_group.join_all();
    RC_ASSERT(!failed.load());

    std::map<std::pair<int, int>, int> seen;
    for (const auto& mine : consumed) {
      std::vector<int> next(static_cast<std::size_t>(producers), 0);
      for (const auto& item : mine) {
        const auto pk = parse_item(item);
        RC_ASSERT(pk.has_value());
        RC_ASSERT(pk->first >= 0 && pk->first < producers);
        RC_ASSERT(pk->second >= next[static_cast<std::size_t>(pk->first)]);  // one consumer sees each producer in order
        next[static_cast<std::size_t>(pk->first)] = pk->second + 1;
        RC_ASSERT(++seen[*pk] == 1);
      }
    }
    RC_ASSERT(seen.size() == static_cast<std::size_t>(total));  // consumed == produced

    RC_ASSERT(q.join(Seconds(0)));  // nothing unfinished: join() has nothing to wait for
    assert_raises<ValueError>("task_done() called too many times", [&] { q.task_done(); });
    RC_ASSERT(q.unfinished_tasks() == 0u);
    RC_ASSERT(q.join(Seconds(0)));
  });
}

// ------------------------------------------- joinablequeue.task_done_join

inline CaseSpec joinable_task_done_join_spec() {
  return make_spec("JoinableQueue.join() returns only when consumer processes called task_done() for every item; "
                   "an extra task_done() raises ValueError",
                   "", {"joinablequeue", "process", "D"}, 10);
}

// 1-3 consumer processes and 0..60 items on JoinableQueue(maxsize 0..5).
// Each consumer counts an item in a shared Value, then calls task_done();
// the consumer that takes the last item waits for the parent's `hold` event
// first, so join(t) returns False after at least t while that task is open.
// Once released, join() returns with done == n and no task unfinished, and
// again at once. An extra task_done() raises ValueError("task_done() called
// too many times"), in the parent and in a child (the count is shared).
template <template <class> class A>
void joinable_task_done_join(CaseContext& ctx) {
  using Q = A<std::string>;
  static_assert(Q::kProcessShared && Q::kTaskDone);
  (void)ctx;
  ctx.check([] {
    const int consumers = *rc::gen::inRange(1, 4);
    const int n = *rc::gen::inRange(0, 61);
    const long maxsize = *rc::gen::inRange(Q::kUnbounded.supported ? 0 : 1, 6);
    const Seconds t = gen_short_timeout();
    const std::string stop_item = "stop";

    Q q = Q::make(maxsize);
    mp::Value<int> done(0);
    mp::Event hold;
    std::vector<std::unique_ptr<mp::Process>> procs;
    for (int c = 0; c < consumers; ++c) {
      procs.push_back(std::make_unique<mp::Process>([q, done, hold, n, stop_item]() mutable {
        for (;;) {
          const std::string item = q.get(true, kLong);
          if (item == stop_item) {
            q.task_done();
            return;
          }
          const auto pk = parse_item(item);
          if (!pk) throw mp::SystemExit(kChildCheckFailed);
          {
            racegate::threading::LockGuard guard(done.get_lock());
            done.set_value(done.value() + 1);
          }
          if (pk->second == n - 1 && !hold.wait(kLong)) throw mp::SystemExit(kChildCheckFailed);
          q.task_done();
        }
      }));
    }
    std::vector<std::unique_ptr<racegate::test::ProcessGuard>> guards;
    for (auto& p : procs) {
      guards.push_back(std::make_unique<racegate::test::ProcessGuard>(*p, hold));
      p->start();
    }
    for (int i = 0; i < n; ++i) q.put(make_item(0, i, static_cast<std::size_t>(i % 3)), true, kLong);
    if (n > 0) {
      // The last item's task is held open: join(t) must time out.
      const auto t0 = Clock::now();
      RC_ASSERT(!q.join(t));
      RC_ASSERT(seconds_since(t0) >= t.count());
      RC_ASSERT(q.unfinished_tasks() >= 1u);
    }
    hold.set();
    RC_ASSERT(q.join(kLong));
    RC_ASSERT(done.value() == n);  // join() returned only after every item was processed
    RC_ASSERT(q.unfinished_tasks() == 0u);
    RC_ASSERT(q.join(Seconds(0)));  // nothing unfinished: join() has nothing to wait for
    assert_raises<ValueError>("task_done() called too many times", [&] { q.task_done(); });

    for (int c = 0; c < consumers; ++c) q.put(stop_item, true, kLong);
    RC_ASSERT(q.join(kLong));
    for (auto& p : procs) {
      p->join(kLong);
      RC_ASSERT(p->exitcode() == std::optional<int>(0));
    }

    mp::Process extra([q]() mutable {
      try {
        q.task_done();
      } catch (const ValueError& e) {
        if (std::string(e.what()) == "task_done() called too many times") return;
      }
      throw mp::SystemExit(kChildCheckFailed);
    });
    RC_ASSERT(run_child(extra) == 0);
    RC_ASSERT(q.unfinished_tasks() == 0u);
  });
}

}  // namespace racegate::cases::queues
