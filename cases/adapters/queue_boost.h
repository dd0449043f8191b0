// The queue adapter of boost::interprocess::message_queue: a bounded,
// process-shared queue of byte messages in a named shared-memory segment.
//
// Each make() creates a segment with a unique name; the handle that created
// it removes the name (message_queue::remove) when the last copy in the
// creating process goes, also while an exception unwinds, so a case leaves
// nothing in /dev/shm. Processes forked afterwards share the queue through
// the inherited mapping; their copies never remove the name.
//
// Items: std::string (the message is its bytes, up to kMaxItemBytes) or a
// trivially copyable T (its object representation). All messages have
// priority 0, so they come out FIFO. Full and Empty follow try_send /
// try_receive / timed_send / timed_receive returning false.
#pragma once

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unistd.h>

#include <boost/date_time/posix_time/posix_time_types.hpp>
#include <boost/interprocess/ipc/message_queue.hpp>

#include "cases/adapters/queue.h"

namespace racegate::cases::queue_adapters {

template <class T>
class BoostMessageQueue {
  static_assert(std::is_same_v<T, std::string> || std::is_trivially_copyable_v<T>,
                "message_queue carries bytes: std::string or a trivially copyable type");

 public:
  using value_type = T;
  static constexpr std::string_view kName = "boost.message_queue";
  static constexpr bool kProcessShared = true;
  static constexpr bool kTaskDone = false;
  static constexpr bool kClose = false;
  // The segment reserves maxsize * max_msg_size bytes up front: keep it small.
  static constexpr std::size_t kMaxItemBytes = std::is_same_v<T, std::string> ? 16 * 1024 : sizeof(T);
  static constexpr Support kUnbounded{
      false,
      "boost::interprocess::message_queue has a fixed capacity (max_num_msg, given at creation): "
      "a maxsize of 0 cannot mean 'no bound'"};
  static constexpr Support kLifo{
      false, "boost::interprocess::message_queue orders by priority, FIFO within one priority: no LIFO variant"};

  // A queue of at most maxsize messages (maxsize >= 1; see kUnbounded).
  static BoostMessageQueue make(long maxsize) {
    if (maxsize <= 0) throw std::invalid_argument("boost.message_queue needs maxsize >= 1");
    return BoostMessageQueue(std::make_shared<Segment>(static_cast<std::size_t>(maxsize)));
  }

  void put(const T& x, bool block = true, std::optional<Seconds> timeout = std::nullopt) {
    const std::string bytes = encode(x);
    auto& mq = *seg_->mq;
    if (!block) {
      if (!mq.try_send(bytes.data(), bytes.size(), 0)) throw Full("");
    } else if (!timeout) {
      mq.send(bytes.data(), bytes.size(), 0);
    } else if (!mq.timed_send(bytes.data(), bytes.size(), 0, deadline(*timeout))) {
      throw Full("");
    }
  }
  void put_nowait(const T& x) { put(x, false); }

  T get(bool block = true, std::optional<Seconds> timeout = std::nullopt) {
    auto& mq = *seg_->mq;
    std::string buf(kMaxItemBytes, '\0');
    boost::interprocess::message_queue::size_type got = 0;
    unsigned int priority = 0;
    if (!block) {
      if (!mq.try_receive(buf.data(), buf.size(), got, priority)) throw Empty("");
    } else if (!timeout) {
      mq.receive(buf.data(), buf.size(), got, priority);
    } else if (!mq.timed_receive(buf.data(), buf.size(), got, priority, deadline(*timeout))) {
      throw Empty("");
    }
    buf.resize(got);
    return decode(buf);
  }
  T get_nowait() { return get(false); }

  [[nodiscard]] std::size_t qsize() const { return seg_->mq->get_num_msg(); }
  [[nodiscard]] bool empty() const { return qsize() == 0; }
  [[nodiscard]] bool full() const { return qsize() >= seg_->mq->get_max_msg(); }

 private:
  // The named segment; removes its name when the creator's last copy goes.
  struct Segment {
    std::string name;
    pid_t creator;
    std::unique_ptr<boost::interprocess::message_queue> mq;

    explicit Segment(std::size_t maxsize) : name(unique_name()), creator(::getpid()) {
      try {
        mq = std::make_unique<boost::interprocess::message_queue>(boost::interprocess::create_only, name.c_str(),
                                                                  maxsize, kMaxItemBytes);
      } catch (...) {
        boost::interprocess::message_queue::remove(name.c_str());
        throw;
      }
    }
    Segment(const Segment&) = delete;
    Segment& operator=(const Segment&) = delete;
    ~Segment() {
      mq.reset();
      if (::getpid() == creator) boost::interprocess::message_queue::remove(name.c_str());
    }

    static std::string unique_name() {
      static std::atomic<unsigned> counter{0};
      std::random_device rd;
      return "racegate-mq-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)) + "-" +
             std::to_string(rd());
    }
  };

  explicit BoostMessageQueue(std::shared_ptr<Segment> seg) : seg_(std::move(seg)) {}

  // message_queue takes an absolute UTC time: round the timeout up so the
  // wait is never shorter than asked; a negative timeout behaves as zero.
  static boost::posix_time::ptime deadline(Seconds timeout) {
    const double us = timeout.count() > 0 ? std::ceil(timeout.count() * 1e6) + 1 : 0;
    return boost::posix_time::microsec_clock::universal_time() +
           boost::posix_time::microseconds(static_cast<long long>(us));
  }

  static std::string encode(const T& x) {
    if constexpr (std::is_same_v<T, std::string>) {
      return x;
    } else {
      std::string bytes(sizeof(T), '\0');
      std::memcpy(bytes.data(), &x, sizeof(T));
      return bytes;
    }
  }
  static T decode(const std::string& bytes) {
    if constexpr (std::is_same_v<T, std::string>) {
      return bytes;
    } else {
      if (bytes.size() != sizeof(T)) throw std::runtime_error("boost.message_queue: message of the wrong size");
      T x;
      std::memcpy(&x, bytes.data(), sizeof(T));
      return x;
    }
  }

  std::shared_ptr<Segment> seg_;
};

static_assert(QueueAdapter<BoostMessageQueue<int>>);
static_assert(QueueAdapter<BoostMessageQueue<std::string>>);

}  // namespace racegate::cases::queue_adapters
