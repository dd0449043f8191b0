// Broken queue adapters: a queue that silently loses items under contention,
// which the catalog's producer/consumer cases must catch.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cases/adapters/queue.h"

namespace racegate::broken {

namespace qa = racegate::cases::queue_adapters;

// Wraps a reference queue adapter and drops puts once more than one producer
// (thread or process) has put into it: the put that first meets a second
// producer and every third put after it return as if they had succeeded, and
// so does any put that starts while another is in flight. Everything else is
// the wrapped queue. The bookkeeping lives in an anonymous shared mapping, so
// forked producers share it.
template <class Inner>
class DroppingQueue {
 public:
  using value_type = typename Inner::value_type;
  static constexpr std::string_view kName = "broken.dropping_queue";
  static constexpr bool kProcessShared = Inner::kProcessShared;
  static constexpr bool kTaskDone = Inner::kTaskDone;
  static constexpr bool kClose = Inner::kClose;
  static constexpr std::size_t kMaxItemBytes = Inner::kMaxItemBytes;
  static constexpr qa::Support kUnbounded = Inner::kUnbounded;
  static constexpr qa::Support kLifo{false, "the dropping queue wraps only FIFO queues"};

  static DroppingQueue make(long maxsize) { return DroppingQueue(Inner::make(maxsize), make_state()); }

  void put(const value_type& x, bool block = true, std::optional<qa::Seconds> timeout = std::nullopt) {
    if (!should_drop()) inner_.put(x, block, timeout);
    state_->in_flight.fetch_sub(1);
  }
  void put_nowait(const value_type& x) { put(x, false); }
  value_type get(bool block = true, std::optional<qa::Seconds> timeout = std::nullopt) {
    return inner_.get(block, timeout);
  }
  value_type get_nowait() { return inner_.get_nowait(); }
  [[nodiscard]] std::size_t qsize() const { return inner_.qsize(); }
  [[nodiscard]] bool empty() const { return inner_.empty(); }
  [[nodiscard]] bool full() const { return inner_.full(); }

  void task_done()
    requires Inner::kTaskDone
  {
    inner_.task_done();
  }
  void join()
    requires Inner::kTaskDone
  {
    inner_.join();
  }
  [[nodiscard]] bool join(qa::Seconds timeout)
    requires Inner::kTaskDone
  {
    return inner_.join(timeout);
  }
  [[nodiscard]] std::size_t unfinished_tasks() const
    requires Inner::kTaskDone
  {
    return inner_.unfinished_tasks();
  }
  void close()
    requires Inner::kClose
  {
    inner_.close();
  }
  [[nodiscard]] std::string repr() const
    requires Inner::kClose
  {
    return inner_.repr();
  }

 private:
  struct State {
    std::atomic<std::uint64_t> first_producer{0};
    std::atomic<bool> contended{false};
    std::atomic<int> in_flight{0};
    std::atomic<std::uint64_t> contended_puts{0};
  };
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<int>::is_always_lock_free);

  static std::shared_ptr<State> make_state() {
    void* mem = ::mmap(nullptr, sizeof(State), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) throw std::bad_alloc();
    return std::shared_ptr<State>(new (mem) State, [](State* s) {
      s->~State();
      ::munmap(s, sizeof(State));
    });
  }

  // Counts this put in flight (put() takes it off again) and says whether to drop it.
  bool should_drop() {
    const std::uint64_t me = (static_cast<std::uint64_t>(::getpid()) << 32) ^ static_cast<std::uint64_t>(::syscall(SYS_gettid));
    std::uint64_t first = 0;
    if (!state_->first_producer.compare_exchange_strong(first, me) && first != me) state_->contended.store(true);
    const bool overlapping = state_->in_flight.fetch_add(1) > 0;
    if (!state_->contended.load()) return overlapping;
    return overlapping || state_->contended_puts.fetch_add(1) % 3 == 0;
  }

  DroppingQueue(Inner inner, std::shared_ptr<State> state) : inner_(std::move(inner)), state_(std::move(state)) {}

  Inner inner_;
  std::shared_ptr<State> state_;
};

template <class T>
using DroppingMpQueue = DroppingQueue<qa::RefMpQueue<T>>;
template <class T>
using DroppingThreadQueue = DroppingQueue<qa::RefThreadQueue<T>>;

static_assert(qa::QueueAdapter<DroppingMpQueue<std::string>>);
static_assert(qa::QueueAdapter<DroppingThreadQueue<std::string>>);

}  // namespace racegate::broken
