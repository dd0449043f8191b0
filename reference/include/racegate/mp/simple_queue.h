// racegate/mp/simple_queue.h — multiprocessing.SimpleQueue: an unbounded FIFO
// queue shared by processes, with only put, get, empty and close.
//
// Items are serialized values of T, as for racegate::mp::Queue, and travel
// through the same process-shared store (racegate/internal/data_ring.h), so a
// put() returns as soon as the item is in shared memory (CPython's SimpleQueue
// writes into a pipe and blocks once the pipe's buffer is full).
//
//   racegate::mp::SimpleQueue<std::string> q;
//   racegate::mp::Process p([q]() mutable { q.put("hello"); });
//   p.start();
//   std::string s = q.get();    // blocks until the child's put
//
// Errors, as CPython: after close() in this process, put(), get() and
// empty() raise OSError("handle is closed") (CPython closes both ends of the
// pipe in this process). A child forked afterwards starts with it open.
//
// Memory ordering: everything written before put(x) is visible to whoever
// get()s x.
//
// Lifetime and sharing: a handle; copies share the queue, forked children
// inherit it; it crosses a process boundary only by inheritance (serializing
// it is a compile-time error).
//
// Thread- and process-safety: every member may be called concurrently from
// any thread of any process sharing the queue.
#pragma once

#include <memory>
#include <string>

#include "racegate/errors.h"
#include "racegate/internal/data_ring.h"
#include "racegate/internal/data_sync.h"
#include "racegate/internal/serialize.h"

namespace racegate::mp {

template <class T>
class SimpleQueue {
 public:
  // An empty queue; throws OSError if the shared memory cannot be mapped.
  SimpleQueue() : core_(racegate::internal::RingQueue::create(0)) {}

  // SimpleQueue::put(item): appends a copy of `item`. Never waits (below the
  // 1 GiB in-flight limit of racegate::mp::Queue).
  void put(const T& item) {
    check_open();
    std::string bytes = racegate::internal::dumps(item);
    racegate::internal::data_put_point(core_->id());
    (void)core_->put(bytes, racegate::internal::Deadline::never(), false);
  }

  // SimpleQueue::get(): blocks until there is an item and returns it.
  T get() {
    check_open();
    racegate::internal::data_get_point(core_->id());
    std::string bytes;
    (void)core_->get(bytes, racegate::internal::Deadline::never());
    return racegate::internal::loads<T>(bytes);
  }

  // SimpleQueue::empty(): whether it has no item (a snapshot).
  [[nodiscard]] bool empty() const {
    check_open();
    return core_->qsize() == 0;
  }

  // SimpleQueue::close(): closes this process's handle (every copy of it in
  // this process). Closing twice is harmless.
  void close() noexcept { core_->close_here(); }

 private:
  void check_open() const {
    if (core_->closed_here()) throw OSError("handle is closed");
  }

  std::shared_ptr<racegate::internal::RingQueue> core_;
};

}  // namespace racegate::mp

namespace racegate::internal {
template <class T>
struct inherit_only<mp::SimpleQueue<T>> : std::true_type {};
}  // namespace racegate::internal
