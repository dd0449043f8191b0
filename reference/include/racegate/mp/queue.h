// racegate/mp/queue.h — multiprocessing.Queue and multiprocessing.JoinableQueue:
// FIFO queues shared by processes (and by the threads of each process).
//
// Items are values of T, serialized (cereal, see racegate/internal/serialize.h)
// by put() and deserialized by get(), so a get() returns a copy: T must be
// serializable. Every process started with racegate::mp::Process after the
// queue was made shares it (capture the handle in the target).
//
//   racegate::mp::Queue<int> q(8);
//   racegate::mp::Process producer([q]() mutable { for (int i = 0; i < 5; ++i) q.put(i); });
//   producer.start();
//   int first = q.get(true, std::chrono::seconds(10));   // 0
//
// Blocking and errors, as CPython:
//  - put(item, block, timeout) waits while the queue is full (maxsize items;
//    `maxsize <= 0` means no bound). With block == false, or when the timeout
//    passes, it raises racegate::Full (what() is "", as str(queue.Full())).
//  - get(block, timeout) waits while it is empty and raises racegate::Empty
//    (what() "") when block == false or the timeout passes.
//  - A timeout is any std::chrono duration; a negative timeout behaves as zero;
//    with block == false it is ignored.
//  - close() marks this process's handle closed: put() and get() then raise
//    ValueError("Queue <multiprocessing.queues.Queue object at 0x…> is closed").
//    Other processes are not affected, and a child forked afterwards starts
//    with the queue open (CPython's Queue._after_fork).
//  - A plain Queue has no task_done()/join() (CPython raises AttributeError;
//    here it does not compile): use JoinableQueue.
//
// Differences from CPython (see racegate/internal/data_ring.h): there is no
// feeder thread. put() copies the item into shared memory before it returns,
// so qsize(), empty() and full() are exact when they read (CPython's empty()
// lags a put by the feeder thread's delay, catalog mpqueue.empty_lags_put),
// and a process may exit at once after put() without losing the item. The
// queue holds at most 1 GiB of serialized items at a time (virtual memory;
// only what is in the queue is resident): past that a put waits as on a full
// queue, and a single item larger than that raises ValueError.
//
// Order: items come out in the order their put() calls completed, across all
// processes and threads (one shared lock orders them); in particular the items
// of one producer come out in its order.
//
// Memory ordering: everything a process or thread wrote before put(x) is
// visible to whoever get()s x (the queue's lock is released by put and taken
// by get). Only the serialized bytes travel: memory that is not shared stays
// per process.
//
// Lifetime and sharing: a Queue is a handle; copies refer to the same queue,
// and a forked child inherits it. The shared memory disappears with the last
// process that holds a handle; it has no name in /dev/shm. A Queue can only
// cross a process boundary by inheritance: serializing it (as an item of
// another queue or a Pipe message) is a compile-time error. A process killed
// inside put() or get() while it holds the queue's internal lock breaks the
// queue: every later call (and every blocked one, within about 0.1 s) throws
// OwnerDiedError naming the dead pid, instead of hanging (CPython's docs warn
// about terminate() during queue use; there the queue may hang).
//
// Thread- and process-safety: every member may be called concurrently from
// any thread of any process sharing the queue.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "racegate/errors.h"
#include "racegate/internal/data_ring.h"
#include "racegate/internal/data_sync.h"
#include "racegate/internal/deadline.h"
#include "racegate/internal/serialize.h"

namespace racegate::mp {

template <class T>
class Queue {
 public:
  // Queue(maxsize): at most `maxsize` items; `maxsize <= 0` (the default)
  // means no bound. Throws OSError if the shared memory cannot be mapped.
  explicit Queue(long maxsize = 0) : Queue(maxsize, "multiprocessing.queues.Queue", false) {}

  // Queue::put(item, block, timeout)
  //
  // Serializes `item` and appends it. Waits while the queue is full: for ever
  // when `block` and no timeout, at most `timeout` otherwise, not at all when
  // !block. Throws Full when it could not append, ValueError when this
  // process's handle is closed.
  void put(const T& item, bool block = true,
           std::optional<racegate::internal::Seconds> timeout = std::nullopt) {
    check_open();
    std::string bytes = racegate::internal::dumps(item);
    racegate::internal::data_put_point(core_->id());
    if (!core_->put(bytes, racegate::internal::blocking_deadline(block, timeout), joinable_)) throw Full("");
  }

  // Queue::get(block, timeout)
  //
  // Removes and returns the oldest item. Waits while the queue is empty (as
  // put waits while it is full). Throws Empty when there was nothing to take,
  // ValueError when this process's handle is closed.
  T get(bool block = true, std::optional<racegate::internal::Seconds> timeout = std::nullopt) {
    check_open();
    racegate::internal::data_get_point(core_->id());
    std::string bytes;
    if (!core_->get(bytes, racegate::internal::blocking_deadline(block, timeout))) throw Empty("");
    return racegate::internal::loads<T>(bytes);
  }

  // put(item, false) and get(false).
  void put_nowait(const T& item) { put(item, false); }
  T get_nowait() { return get(false); }

  // Number of items in the queue, whether it has none, whether it has
  // maxsize: snapshots, stale as soon as another thread or process acts.
  [[nodiscard]] std::size_t qsize() const noexcept { return core_->qsize(); }
  [[nodiscard]] bool empty() const noexcept { return core_->qsize() == 0; }
  [[nodiscard]] bool full() const noexcept { return core_->full(); }

  // The bound given at construction, 0 for none.
  [[nodiscard]] long maxsize() const noexcept { return core_->maxsize(); }

  // Queue::close()
  //
  // Marks this process's handle (and every copy of it in this process)
  // closed: put() and get() raise ValueError afterwards. Items already put
  // stay in the queue for other processes. Closing twice is harmless.
  void close() noexcept { core_->close_here(); }

  // Whether close() was called in this process (CPython's _closed).
  [[nodiscard]] bool closed() const noexcept { return core_->closed_here(); }

  // Queue::join_thread()
  //
  // CPython waits for the feeder thread to flush; there is none, so this only
  // checks, as CPython does, that the queue was closed: otherwise it throws
  // AssertionError("Queue <...> not closed").
  void join_thread() const {
    if (!closed()) throw AssertionError("Queue " + repr() + " not closed");
  }

  // Queue::cancel_join_thread(): nothing to cancel without a feeder thread.
  void cancel_join_thread() const noexcept {}

  // Python's repr: "<multiprocessing.queues.Queue object at 0x…>", the
  // address being the same in every process that shares the queue.
  [[nodiscard]] std::string repr() const { return racegate::internal::object_repr(qualname_, core_->id()); }

 protected:
  Queue(long maxsize, const char* qualname, bool joinable)
      : core_(racegate::internal::RingQueue::create(maxsize)), qualname_(qualname), joinable_(joinable) {}

  void check_open() const {
    if (core_->closed_here()) throw ValueError("Queue " + repr() + " is closed");
  }

  std::shared_ptr<racegate::internal::RingQueue> core_;
  const char* qualname_;
  bool joinable_;
};

// multiprocessing.JoinableQueue: a Queue that also counts unfinished tasks.
//
// Every put() adds an unfinished task; task_done() removes one; join() waits
// until there is none. As CPython, the count is shared by every process.
//
// Memory ordering: everything a process wrote before task_done() is visible
// to a joiner whose join() returned because that call finished the last task.
template <class T>
class JoinableQueue : public Queue<T> {
 public:
  explicit JoinableQueue(long maxsize = 0)
      : Queue<T>(maxsize, "multiprocessing.queues.JoinableQueue", true) {}

  // JoinableQueue::task_done()
  //
  // Marks one task done, waking the joiners when it was the last. Throws
  // ValueError("task_done() called too many times") when there is no
  // unfinished task (and changes nothing).
  void task_done() { this->core_->task_done(); }

  // JoinableQueue::join(): blocks until every task put so far is done;
  // returns at once when none is unfinished.
  void join() { (void)this->core_->join(racegate::internal::Deadline::never()); }

  // JoinableQueue::join(timeout) (beyond CPython): waits at most `timeout`;
  // returns whether every task was done.
  [[nodiscard]] bool join(racegate::internal::Seconds timeout) {
    return this->core_->join(racegate::internal::Deadline::after(timeout));
  }

  // Tasks put and not yet marked done (a snapshot; CPython's
  // _unfinished_tasks semaphore value).
  [[nodiscard]] std::size_t unfinished_tasks() const noexcept {
    return this->core_->unfinished_tasks();
  }
};

}  // namespace racegate::mp

namespace racegate::internal {
template <class T>
struct inherit_only<mp::Queue<T>> : std::true_type {};
template <class T>
struct inherit_only<mp::JoinableQueue<T>> : std::true_type {};
}  // namespace racegate::internal
