// racegate/queue/queue.h — Python's queue module: Queue, LifoQueue,
// PriorityQueue and SimpleQueue for the threads of one process.
//
// Items are stored as they are (moved in, moved out; move-only T works): a
// queue hands objects from thread to thread, it never copies them across
// processes (use racegate::mp::Queue for that).
//
//   racegate::queue::Queue<int> q(5);
//   racegate::threading::Thread consumer([&] {
//     for (;;) { int x = q.get(); use(x); q.task_done(); }
//   });
//   for (int i = 0; i < 10; ++i) q.put(i);      // blocks while 5 are waiting
//   q.join();                                   // every item processed
//
// Order: Queue is FIFO, LifoQueue LIFO (puts 0, 1, 2 give 2, 1, 0),
// PriorityQueue gives the smallest item first (by Compare, std::less by
// default; equal items come out in no particular order, as with heapq).
//
// Blocking and errors, CPython's queue.py:
//  - put(item, block, timeout) waits while the queue is full (maxsize items;
//    maxsize <= 0 means no bound) and raises racegate::Full (what() "") when
//    !block or when the timeout passes. get(block, timeout) waits while it is
//    empty and raises racegate::Empty (what() "").
//  - A negative timeout raises ValueError("'timeout' must be a non-negative
//    number") where CPython checks it: get() with block, and put() with block
//    on a bounded queue. With !block the timeout is ignored.
//  - Every put() adds an unfinished task; task_done() marks one done and
//    raises ValueError("task_done() called too many times") when there is
//    none; join() waits until no task is unfinished.
//  - qsize(), empty() and full() are snapshots ("approximate" in the docs:
//    another thread may act right after).
//
// Memory ordering: everything a thread wrote before put(x) is visible to the
// thread whose get() returns x; everything a thread wrote before task_done()
// is visible to a joiner whose join() returned because of it.
//
// Lifetime: a queue must outlive the threads that use it; it is neither
// copyable nor movable. Destroying a queue that a thread is blocked on is
// undefined behaviour.
//
// Thread-safety: every member may be called concurrently from any thread.
#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "racegate/errors.h"
#include "racegate/internal/data_sync.h"
#include "racegate/internal/deadline.h"
#include "racegate/thread_annotations.h"

namespace racegate::queue {

namespace internal {

using racegate::internal::Seconds;

// The containers: push, pop the next item, size.
template <class T>
struct Fifo {
  std::deque<T> items;
  void push(T&& x) { items.push_back(std::move(x)); }
  T pop() {
    T x = std::move(items.front());
    items.pop_front();
    return x;
  }
  [[nodiscard]] std::size_t size() const noexcept { return items.size(); }
};

template <class T>
struct Lifo {
  std::vector<T> items;
  void push(T&& x) { items.push_back(std::move(x)); }
  T pop() {
    T x = std::move(items.back());
    items.pop_back();
    return x;
  }
  [[nodiscard]] std::size_t size() const noexcept { return items.size(); }
};

template <class T, class Compare>
struct Heap {
  std::vector<T> items;
  // std::*_heap keeps the largest by its comparator on top: invert it so the
  // smallest by Compare comes out first.
  struct Inverted {
    Compare less;
    bool operator()(const T& a, const T& b) const { return less(b, a); }
  };
  void push(T&& x) {
    items.push_back(std::move(x));
    std::push_heap(items.begin(), items.end(), Inverted{});
  }
  T pop() {
    std::pop_heap(items.begin(), items.end(), Inverted{});
    T x = std::move(items.back());
    items.pop_back();
    return x;
  }
  [[nodiscard]] std::size_t size() const noexcept { return items.size(); }
};

[[noreturn]] inline void negative_timeout() {
  throw ValueError("'timeout' must be a non-negative number");
}

// The algorithm of queue.Queue over a container.
template <class T, class Container>
class BasicQueue {
 public:
  // BasicQueue(maxsize): at most maxsize items; <= 0 means no bound.
  explicit BasicQueue(long maxsize = 0) : maxsize_(maxsize) {}
  BasicQueue(const BasicQueue&) = delete;
  BasicQueue& operator=(const BasicQueue&) = delete;

  // Queue::put(item, block, timeout): see the file comment.
  void put(T item, bool block = true, std::optional<Seconds> timeout = std::nullopt) {
    racegate::internal::data_put_point(this);
    racegate::internal::DataLock lock(mu_);
    if (maxsize_ > 0) {
      if (!block) {
        if (full_locked()) throw Full("");
      } else if (!timeout) {
        while (full_locked()) mu_.wait(not_full_, racegate::internal::Deadline::never());
      } else if (timeout->count() < 0) {
        negative_timeout();
      } else {
        const auto deadline = racegate::internal::Deadline::after(*timeout);
        while (full_locked()) {
          if (deadline.expired()) throw Full("");
          mu_.wait(not_full_, deadline);
        }
      }
    }
    items_.push(std::move(item));
    ++unfinished_;
    not_empty_.notify_all(racegate::internal::Scope::kThread);
  }

  // Queue::get(block, timeout): see the file comment.
  T get(bool block = true, std::optional<Seconds> timeout = std::nullopt) {
    racegate::internal::data_get_point(this);
    racegate::internal::DataLock lock(mu_);
    if (!block) {
      if (items_.size() == 0) throw Empty("");
    } else if (!timeout) {
      while (items_.size() == 0) mu_.wait(not_empty_, racegate::internal::Deadline::never());
    } else if (timeout->count() < 0) {
      negative_timeout();
    } else {
      const auto deadline = racegate::internal::Deadline::after(*timeout);
      while (items_.size() == 0) {
        if (deadline.expired()) throw Empty("");
        mu_.wait(not_empty_, deadline);
      }
    }
    T item = items_.pop();
    not_full_.notify_all(racegate::internal::Scope::kThread);
    return item;
  }

  // put(item, false) and get(false).
  void put_nowait(T item) { put(std::move(item), false); }
  T get_nowait() { return get(false); }

  // Queue::task_done(): marks one task done, waking the joiners when it was
  // the last. Throws ValueError("task_done() called too many times") when
  // none is unfinished.
  void task_done() {
    racegate::internal::DataLock lock(mu_);
    if (unfinished_ == 0) throw ValueError("task_done() called too many times");
    if (--unfinished_ == 0) all_done_.notify_all(racegate::internal::Scope::kThread);
  }

  // Queue::join(): blocks until every item put has been marked done.
  void join() {
    racegate::internal::DataLock lock(mu_);
    while (unfinished_ != 0) mu_.wait(all_done_, racegate::internal::Deadline::never());
  }

  // Queue::join(timeout) (beyond CPython): waits at most `timeout`; returns
  // whether every task was done.
  [[nodiscard]] bool join(Seconds timeout) {
    const auto deadline = racegate::internal::Deadline::after(timeout);
    racegate::internal::DataLock lock(mu_);
    while (unfinished_ != 0) {
      if (deadline.expired()) return false;
      mu_.wait(all_done_, deadline);
    }
    return true;
  }

  // Snapshots: number of items, whether none, whether maxsize (bounded only).
  [[nodiscard]] std::size_t qsize() const {
    racegate::internal::DataLock lock(mu_);
    return items_.size();
  }
  [[nodiscard]] bool empty() const { return qsize() == 0; }
  [[nodiscard]] bool full() const {
    racegate::internal::DataLock lock(mu_);
    return full_locked();
  }

  // The bound given at construction (<= 0: none).
  [[nodiscard]] long maxsize() const noexcept { return maxsize_; }

  // Queue.unfinished_tasks: items put and not yet marked done (a snapshot).
  [[nodiscard]] std::size_t unfinished_tasks() const {
    racegate::internal::DataLock lock(mu_);
    return unfinished_;
  }

 private:
  bool full_locked() const RG_REQUIRES(mu_) {
    return maxsize_ > 0 && items_.size() >= static_cast<std::size_t>(maxsize_);
  }

  const long maxsize_;
  mutable racegate::internal::DataMutex mu_;
  racegate::internal::CondCore not_empty_;
  racegate::internal::CondCore not_full_;
  racegate::internal::CondCore all_done_;
  Container items_ RG_GUARDED_BY(mu_);
  std::size_t unfinished_ RG_GUARDED_BY(mu_) = 0;
};

}  // namespace internal

// queue.Queue: FIFO.
template <class T>
class Queue : public internal::BasicQueue<T, internal::Fifo<T>> {
 public:
  using internal::BasicQueue<T, internal::Fifo<T>>::BasicQueue;
};

// queue.LifoQueue: last in, first out.
template <class T>
class LifoQueue : public internal::BasicQueue<T, internal::Lifo<T>> {
 public:
  using internal::BasicQueue<T, internal::Lifo<T>>::BasicQueue;
};

// queue.PriorityQueue: the smallest item (by Compare, a default-constructible
// comparator such as std::less or std::greater) first. Python users put
// (priority, data) tuples: std::pair<int, std::string> does the same here.
template <class T, class Compare = std::less<T>>
class PriorityQueue : public internal::BasicQueue<T, internal::Heap<T, Compare>> {
 public:
  using internal::BasicQueue<T, internal::Heap<T, Compare>>::BasicQueue;
};

// queue.SimpleQueue: an unbounded FIFO without task tracking.
//
// put() never blocks (block and timeout are accepted and ignored, as in
// CPython); get(block, timeout) as Queue::get, including
// ValueError("'timeout' must be a non-negative number").
template <class T>
class SimpleQueue {
 public:
  SimpleQueue() = default;
  SimpleQueue(const SimpleQueue&) = delete;
  SimpleQueue& operator=(const SimpleQueue&) = delete;

  void put(T item, bool /*block*/ = true,
           std::optional<internal::Seconds> /*timeout*/ = std::nullopt) {
    q_.put(std::move(item));
  }
  void put_nowait(T item) { q_.put(std::move(item)); }
  T get(bool block = true, std::optional<internal::Seconds> timeout = std::nullopt) {
    return q_.get(block, timeout);
  }
  T get_nowait() { return q_.get(false); }
  [[nodiscard]] std::size_t qsize() const { return q_.qsize(); }
  [[nodiscard]] bool empty() const { return q_.empty(); }

 private:
  internal::BasicQueue<T, internal::Fifo<T>> q_;
};

}  // namespace racegate::queue
