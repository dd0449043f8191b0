// Internal: the process-shared byte queue behind mp::Queue, mp::JoinableQueue
// and mp::SimpleQueue. Do not use directly.
//
// Design. One anonymous shared mapping (MAP_SHARED | MAP_ANONYMOUS |
// MAP_NORESERVE, inherited at fork, never named in /dev/shm) holds a header
// page and a ring of `capacity` bytes. Items are serialized before the call
// and stored as a 8-byte length plus their bytes, wrapping around the end of
// the ring. One process-shared mutex (a RobustLockCore) guards the header and
// the ring; three process-shared condition variables (futex sequence words)
// wake blocked getters (not empty), putters (not full) and joiners (all tasks
// done). The mutex is only held while copying bytes in or out, never while
// waiting, so a process or thread blocked in get() does not stop a put().
//
// Why not a pipe with a feeder thread, as CPython: a feeder thread makes every
// process that ever put a multi-threaded process, and forking such a process
// is a ThreadSanitizer pitfall (die_after_fork); without a feeder, a put into
// a pipe blocks as soon as the pipe's 64 KiB buffer is full, so put(x);
// get() of a several-MiB item in one process would deadlock. The ring makes
// put non-blocking up to `capacity` bytes in flight (1 GiB by default, of
// virtual memory: only the pages that hold items are resident, and pages
// behind the reader are handed back to the kernel with MADV_REMOVE).
//
// Beyond CPython: qsize(), empty() and full() are exact at the moment they
// read (CPython's empty() lags behind put()); an item larger than the ring
// raises ValueError; when the ring's bytes are used up a put blocks (or raises
// Full) as it would on a full bounded queue.
//
// Owner death: the mutex holds its owner's pid (RobustLockCore). A process
// killed while it holds the mutex (inside put or get, where the ring may be
// half-written) marks the queue broken for good: the next caller to find the
// owner ended (within kOwnerCheckInterval of blocking) records the dead pid,
// wakes every waiter, and every call that takes the mutex from then on throws
// OwnerDiedError("queue is broken: process PID died while holding its internal
// lock"). Waiters on the condition variables wake at least every
// kOwnerCheckInterval to notice it. A process killed while blocked in put or
// get (not holding the mutex) leaves the queue working. CPython's docs warn
// that terminate() during queue use may corrupt the queue, and then hang.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

#include "racegate/internal/deadline.h"

namespace racegate::internal {

struct RingHeader;

class RingQueue {
 public:
  static constexpr std::size_t kDefaultCapacity = std::size_t{1} << 30;

  // A new empty queue holding at most `maxsize` items (unbounded when
  // maxsize <= 0) and at most `capacity` bytes (rounded up to whole pages;
  // each item takes 8 bytes more than its serialized size). Throws OSError
  // when the mapping cannot be made.
  static std::shared_ptr<RingQueue> create(long maxsize, std::size_t capacity = kDefaultCapacity);

  ~RingQueue();
  RingQueue(const RingQueue&) = delete;
  RingQueue& operator=(const RingQueue&) = delete;

  // Appends `item`, waiting while the queue is full until `deadline`.
  // Returns false when the deadline passed first (the caller raises Full).
  // `count_task` also counts an unfinished task (JoinableQueue). Throws
  // ValueError when the item can never fit in the ring. Every call that takes
  // the internal mutex throws OwnerDiedError once the queue is broken.
  [[nodiscard]] bool put(std::string_view item, const Deadline& deadline, bool count_task);

  // Removes the oldest item into `out`, waiting while the queue is empty
  // until `deadline`. Returns false when the deadline passed first.
  [[nodiscard]] bool get(std::string& out, const Deadline& deadline);

  // Snapshots (exact when read, stale at once when others put or get).
  [[nodiscard]] std::size_t qsize() const noexcept;
  [[nodiscard]] bool full() const noexcept;
  [[nodiscard]] long maxsize() const noexcept;
  [[nodiscard]] std::size_t capacity() const noexcept;
  // Bytes of the ring in use (items and their length words).
  [[nodiscard]] std::size_t bytes_used() const;

  // Unfinished tasks (JoinableQueue): task_done() throws
  // ValueError("task_done() called too many times") when there is none;
  // join() waits until there are none or `deadline` passes.
  void task_done();
  [[nodiscard]] bool join(const Deadline& deadline);
  [[nodiscard]] std::size_t unfinished_tasks() const noexcept;

  // The queue's identity: the shared header's address, the same in every
  // process that inherited the queue.
  [[nodiscard]] const void* id() const noexcept;

  // The pid of the process that died holding the internal mutex (the queue
  // is broken), or 0.
  [[nodiscard]] pid_t broken_by() const noexcept;

  // Fault injection for tests only: takes the internal mutex and keeps it, as
  // a process killed inside put or get would. The caller is meant to be killed.
  void lock_and_keep_for_fault_test();

  // Per-process state of the handle: the pid of the process that closed its
  // handle, or 0. A forked child starts with the queue open, as CPython's
  // Queue._after_fork resets _closed.
  [[nodiscard]] bool closed_here() const noexcept;
  void close_here() noexcept;

 private:
  RingQueue(RingHeader* header, std::size_t mapping_size) noexcept
      : header_(header), mapping_size_(mapping_size) {}
  RingHeader* header_;
  std::size_t mapping_size_;
  std::atomic<pid_t> closed_by_{0};
};

// The deadline of a call with CPython's (block, timeout) arguments: no wait
// when !block (the timeout is ignored), for ever when block and no timeout, a
// negative timeout behaves as zero.
inline Deadline blocking_deadline(bool block, const std::optional<Seconds>& timeout) noexcept {
  return block ? Deadline::from(timeout) : Deadline::after(Seconds(0));
}

// Python's default repr of an object: "<multiprocessing.queues.Queue object
// at 0x7f...>" for qualname "multiprocessing.queues.Queue".
std::string object_repr(const char* qualname, const void* id);

}  // namespace racegate::internal
