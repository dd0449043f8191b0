// Queue adapters: the queue cases (cases/primitives/queue_*.h) are written once
// over the QueueAdapter concept and instantiated for every implementation that
// fits. This header holds the concept, the declared-difference type and the
// adapters of the reference's queues; queue_boost.h adapts
// boost::interprocess::message_queue.
//
// An adapter is a class template over the item type T (a copyable handle:
// copies refer to the same queue, and a forked child inherits it when the
// queue is process-shared). It mirrors CPython's queue API:
//
//   static Q make(long maxsize);                      // Queue(maxsize)
//   put(item, block = true, timeout = none); put_nowait(item);
//   get(block = true, timeout = none) -> T;  get_nowait() -> T;
//   qsize(), empty(), full();
//
// raising racegate::Full / racegate::Empty as CPython raises queue.Full /
// queue.Empty, and declares what it can do as constexpr data:
//
//   kName            "reference.mp.Queue", "boost.message_queue", ...; a name
//                    starting with "reference." registers under the bare
//                    catalog id, any other under "<catalog id>@<kName>";
//   kProcessShared   whether processes started after make() share the queue;
//   kTaskDone        task_done(), join(), join(timeout), unfinished_tasks();
//   kClose           close(), repr() (CPython's multiprocessing close());
//   kMaxItemBytes    the largest item it can carry, 0 for no limit;
//   kUnbounded       Support: whether maxsize <= 0 means "no bound";
//   kLifo            Support: whether a LIFO companion (queue.LifoQueue)
//                    exists; if so Q::lifo_type adapts it.
//
// Where an implementation differs from CPython by design, the Support member
// carries the reason and the case calls ctx.skip_check(check, reason).
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "racegate/errors.h"
#include "racegate/mp/queue.h"
#include "racegate/queue/queue.h"

namespace racegate::cases::queue_adapters {

using Seconds = std::chrono::duration<double>;

// Whether an implementation has a behavior of CPython's, and if not, why.
struct Support {
  bool supported = true;
  std::string_view why_not;
};
inline constexpr Support kSupported{true, {}};

template <class Q>
concept QueueAdapter =
    requires(Q q, const Q cq, const typename Q::value_type& item, bool block, std::optional<Seconds> timeout) {
      typename Q::value_type;
      { Q::kName } -> std::convertible_to<std::string_view>;
      { Q::kProcessShared } -> std::convertible_to<bool>;
      { Q::kTaskDone } -> std::convertible_to<bool>;
      { Q::kClose } -> std::convertible_to<bool>;
      { Q::kMaxItemBytes } -> std::convertible_to<std::size_t>;
      { Q::kUnbounded } -> std::convertible_to<Support>;
      { Q::kLifo } -> std::convertible_to<Support>;
      { Q::make(long{}) } -> std::same_as<Q>;
      q.put(item, block, timeout);
      q.put(item);
      q.put_nowait(item);
      { q.get(block, timeout) } -> std::same_as<typename Q::value_type>;
      { q.get() } -> std::same_as<typename Q::value_type>;
      { q.get_nowait() } -> std::same_as<typename Q::value_type>;
      { cq.qsize() } -> std::convertible_to<std::size_t>;
      { cq.empty() } -> std::same_as<bool>;
      { cq.full() } -> std::same_as<bool>;
    } &&
    std::copy_constructible<Q> &&
    (!Q::kTaskDone || requires(Q q, const Q cq, Seconds t) {
      q.task_done();
      q.join();
      { q.join(t) } -> std::same_as<bool>;
      { cq.unfinished_tasks() } -> std::convertible_to<std::size_t>;
    }) &&
    (!Q::kClose || requires(Q q, const Q cq) {
      q.close();
      { cq.repr() } -> std::convertible_to<std::string>;
    }) &&
    (!Q::kLifo.supported || requires { typename Q::lifo_type; });

// Whether an adapter is one of the reference's own types (bare catalog id).
template <class Q>
constexpr bool is_reference() {
  return std::string_view(Q::kName).starts_with("reference.");
}

// The id a case over Q registers under.
template <class Q>
std::string case_id(std::string_view catalog_id) {
  std::string id(catalog_id);
  if constexpr (!is_reference<Q>()) {
    id += "@";
    id += Q::kName;
  }
  return id;
}

// ---------------------------------------------------------------- reference

// multiprocessing.Queue -> racegate::mp::Queue (a handle already).
template <class T>
class RefMpQueue {
 public:
  using value_type = T;
  static constexpr std::string_view kName = "reference.mp.Queue";
  static constexpr bool kProcessShared = true;
  static constexpr bool kTaskDone = false;
  static constexpr bool kClose = true;
  static constexpr std::size_t kMaxItemBytes = 0;
  static constexpr Support kUnbounded = kSupported;
  static constexpr Support kLifo{false, "multiprocessing has no LIFO queue"};

  static RefMpQueue make(long maxsize) { return RefMpQueue(mp::Queue<T>(maxsize)); }

  void put(const T& x, bool block = true, std::optional<Seconds> timeout = std::nullopt) { q_.put(x, block, timeout); }
  void put_nowait(const T& x) { q_.put_nowait(x); }
  T get(bool block = true, std::optional<Seconds> timeout = std::nullopt) { return q_.get(block, timeout); }
  T get_nowait() { return q_.get_nowait(); }
  [[nodiscard]] std::size_t qsize() const { return q_.qsize(); }
  [[nodiscard]] bool empty() const { return q_.empty(); }
  [[nodiscard]] bool full() const { return q_.full(); }
  void close() { q_.close(); }
  [[nodiscard]] std::string repr() const { return q_.repr(); }

  // The reference type itself, for checks beyond the concept.
  mp::Queue<T>& native() { return q_; }

 private:
  explicit RefMpQueue(mp::Queue<T> q) : q_(std::move(q)) {}
  mp::Queue<T> q_;
};

// multiprocessing.JoinableQueue -> racegate::mp::JoinableQueue.
template <class T>
class RefMpJoinableQueue {
 public:
  using value_type = T;
  static constexpr std::string_view kName = "reference.mp.JoinableQueue";
  static constexpr bool kProcessShared = true;
  static constexpr bool kTaskDone = true;
  static constexpr bool kClose = true;
  static constexpr std::size_t kMaxItemBytes = 0;
  static constexpr Support kUnbounded = kSupported;
  static constexpr Support kLifo{false, "multiprocessing has no LIFO queue"};

  static RefMpJoinableQueue make(long maxsize) { return RefMpJoinableQueue(mp::JoinableQueue<T>(maxsize)); }

  void put(const T& x, bool block = true, std::optional<Seconds> timeout = std::nullopt) { q_.put(x, block, timeout); }
  void put_nowait(const T& x) { q_.put_nowait(x); }
  T get(bool block = true, std::optional<Seconds> timeout = std::nullopt) { return q_.get(block, timeout); }
  T get_nowait() { return q_.get_nowait(); }
  [[nodiscard]] std::size_t qsize() const { return q_.qsize(); }
  [[nodiscard]] bool empty() const { return q_.empty(); }
  [[nodiscard]] bool full() const { return q_.full(); }
  void task_done() { q_.task_done(); }
  void join() { q_.join(); }
  [[nodiscard]] bool join(Seconds timeout) { return q_.join(timeout); }
  [[nodiscard]] std::size_t unfinished_tasks() const { return q_.unfinished_tasks(); }
  void close() { q_.close(); }
  [[nodiscard]] std::string repr() const { return q_.repr(); }

  mp::JoinableQueue<T>& native() { return q_; }

 private:
  explicit RefMpJoinableQueue(mp::JoinableQueue<T> q) : q_(std::move(q)) {}
  mp::JoinableQueue<T> q_;
};

inline constexpr char kRefThreadQueueName[] = "reference.queue.Queue";
inline constexpr char kRefThreadLifoQueueName[] = "reference.queue.LifoQueue";

// queue.Queue / queue.LifoQueue -> racegate::queue::Queue / LifoQueue (held
// by a shared pointer: the reference's thread queues are neither copyable
// nor movable).
template <class T, class Native, const char* Name>
class RefThreadQueueOf {
 public:
  using value_type = T;
  using lifo_type = RefThreadQueueOf<T, racegate::queue::LifoQueue<T>, kRefThreadLifoQueueName>;
  static constexpr std::string_view kName = Name;
  static constexpr bool kProcessShared = false;
  static constexpr bool kTaskDone = true;
  static constexpr bool kClose = false;
  static constexpr std::size_t kMaxItemBytes = 0;
  static constexpr Support kUnbounded = kSupported;
  static constexpr Support kLifo = kSupported;

  static RefThreadQueueOf make(long maxsize) { return RefThreadQueueOf(std::make_shared<Native>(maxsize)); }

  void put(const T& x, bool block = true, std::optional<Seconds> timeout = std::nullopt) { q_->put(x, block, timeout); }
  void put_nowait(const T& x) { q_->put_nowait(x); }
  T get(bool block = true, std::optional<Seconds> timeout = std::nullopt) { return q_->get(block, timeout); }
  T get_nowait() { return q_->get_nowait(); }
  [[nodiscard]] std::size_t qsize() const { return q_->qsize(); }
  [[nodiscard]] bool empty() const { return q_->empty(); }
  [[nodiscard]] bool full() const { return q_->full(); }
  void task_done() { q_->task_done(); }
  void join() { q_->join(); }
  [[nodiscard]] bool join(Seconds timeout) { return q_->join(timeout); }
  [[nodiscard]] std::size_t unfinished_tasks() const { return q_->unfinished_tasks(); }

  Native& native() { return *q_; }

 private:
  explicit RefThreadQueueOf(std::shared_ptr<Native> q) : q_(std::move(q)) {}
  std::shared_ptr<Native> q_;
};

template <class T>
using RefThreadQueue = RefThreadQueueOf<T, racegate::queue::Queue<T>, kRefThreadQueueName>;
template <class T>
using RefThreadLifoQueue = RefThreadQueueOf<T, racegate::queue::LifoQueue<T>, kRefThreadLifoQueueName>;

static_assert(QueueAdapter<RefMpQueue<int>>);
static_assert(QueueAdapter<RefMpJoinableQueue<std::string>>);
static_assert(QueueAdapter<RefThreadQueue<std::string>>);
static_assert(QueueAdapter<RefThreadLifoQueue<int>>);

}  // namespace racegate::cases::queue_adapters
