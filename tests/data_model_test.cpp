// Model-based stateful tests (rapidcheck rc::state) of the data area:
// mp::Queue and mp::JoinableQueue (with commands run in the parent or in a
// forked child that shares the queue), mp::Pipe (duplex and simplex, with
// closing), the shared ring with a tiny capacity (wrap-around, byte limit),
// and the thread-level queue::Queue / LifoQueue / PriorityQueue, each against
// a sequential model (std::deque and friends).
//
// Each property runs at most kTrials trials (fewer under the sanitizers,
// where every command costs more); RC_PARAMS="max_success=N seed=S" narrows
// or replays a run as usual.
#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/state.h>

#include "racegate/errors.h"
#include "racegate/internal/data_ring.h"
#include "racegate/mp/connection.h"
#include "racegate/mp/process.h"
#include "racegate/mp/queue.h"
#include "racegate/queue/queue.h"
#include "support/catalog_test.h"
#include "support/sanitizer.h"

namespace mp = racegate::mp;
using Seconds = std::chrono::duration<double>;

namespace {

constexpr Seconds kLong{60};
constexpr int kTrials =
    racegate::test::kThreadSanitizer || racegate::test::kAddressSanitizer ? 40 : 100;

// Items: mostly short strings, sometimes empty, sometimes 64 KiB.
rc::Gen<std::string> gen_item() {
  return rc::gen::weightedOneOf<std::string>({
      {8, rc::gen::container<std::string>(rc::gen::inRange<char>('a', 'z' + 1))},
      {1, rc::gen::just(std::string())},
      {1, rc::gen::map(rc::gen::inRange<int>(0, 256),
                       [](int c) { return std::string(64 << 10, static_cast<char>(c)); })},
  });
}

std::string brief(const std::string& s) {
  if (s.size() <= 12) return "\"" + s + "\"";
  return "<" + std::to_string(s.size()) + " bytes>";
}

// ------------------------------------------------- mp::Queue / JoinableQueue

enum class Op : int { kPut, kGet, kTaskDone, kSizes, kStop };

// What a queue operation did: "ok", "Full", "Empty" or "ValueError: ...",
// and a payload (the item got, or the sizes).
using Reply = std::pair<std::string, std::string>;

template <class Q>
Reply execute(Q& q, Op op, const std::string& item) {
  try {
    switch (op) {
      case Op::kPut:
        q.put_nowait(item);
        return {"ok", ""};
      case Op::kGet:
        return {"ok", q.get_nowait()};
      case Op::kTaskDone:
        if constexpr (requires { q.task_done(); }) {
          q.task_done();
          return {"ok", ""};
        }
        return {"unsupported", ""};
      case Op::kSizes: {
        std::ostringstream s;
        s << q.qsize() << ' ' << q.empty() << ' ' << q.full();
        if constexpr (requires { q.unfinished_tasks(); }) s << ' ' << q.unfinished_tasks();
        return {"ok", s.str()};
      }
      case Op::kStop:
        break;
    }
  } catch (const racegate::Full&) {
    return {"Full", ""};
  } catch (const racegate::Empty&) {
    return {"Empty", ""};
  } catch (const racegate::ValueError& e) {
    return {"ValueError", e.what()};
  }
  return {"bad op", ""};
}

// The system under test: a queue, and a forked child that shares it and runs
// operations on it on request (over a Pipe), so that the model checks that
// what one process does is what the other sees.
template <class Q>
struct QueueSut {
  Q q;
  std::pair<mp::Connection<std::pair<int, std::string>>, mp::Connection<std::pair<int, std::string>>>
      requests = mp::Pipe<std::pair<int, std::string>>();
  std::pair<mp::Connection<Reply>, mp::Connection<Reply>> replies = mp::Pipe<Reply>();
  mp::Process child;

  explicit QueueSut(long maxsize)
      : q(maxsize),
        child([q = q, in = requests.second, out = replies.second]() mutable {
          for (;;) {
            auto [op, item] = in.recv();
            if (static_cast<Op>(op) == Op::kStop) return;
            out.send(execute(q, static_cast<Op>(op), item));
          }
        }) {
    child.start();
  }

  ~QueueSut() {
    try {
      requests.first.send({static_cast<int>(Op::kStop), ""});
      child.join(kLong);
    } catch (...) {
    }
    if (child.is_alive()) child.kill();
    child.join();
  }

  Reply run(Op op, const std::string& item, bool remote) {
    if (!remote) return execute(q, op, item);
    requests.first.send({static_cast<int>(op), item});
    return replies.first.recv();
  }
};

struct QueueModel {
  std::deque<std::string> items;
  long maxsize = 0;
  std::size_t unfinished = 0;
  bool joinable = false;

  [[nodiscard]] bool full() const {
    return maxsize > 0 && items.size() >= static_cast<std::size_t>(maxsize);
  }
};

template <class Q>
struct QueueCommands {
  using Cmd = rc::state::Command<QueueModel, QueueSut<Q>>;

  struct Put : Cmd {
    std::string item = *gen_item();
    bool remote = *rc::gen::arbitrary<bool>();
    void apply(QueueModel& m) const override {
      if (m.full()) return;
      m.items.push_back(item);
      if (m.joinable) ++m.unfinished;
    }
    void run(const QueueModel& m, QueueSut<Q>& sut) const override {
      const Reply r = sut.run(Op::kPut, item, remote);
      RC_ASSERT(r.first == (m.full() ? "Full" : "ok"));
    }
    void show(std::ostream& os) const override {
      os << (remote ? "child: " : "parent: ") << "put_nowait(" << brief(item) << ")";
    }
  };

  struct Get : Cmd {
    bool remote = *rc::gen::arbitrary<bool>();
    void apply(QueueModel& m) const override {
      if (!m.items.empty()) m.items.pop_front();
    }
    void run(const QueueModel& m, QueueSut<Q>& sut) const override {
      const Reply r = sut.run(Op::kGet, "", remote);
      if (m.items.empty()) {
        RC_ASSERT(r.first == "Empty");
      } else {
        RC_ASSERT(r.first == "ok");
        RC_ASSERT(r.second == m.items.front());
      }
    }
    void show(std::ostream& os) const override {
      os << (remote ? "child: " : "parent: ") << "get_nowait()";
    }
  };

  struct TaskDone : Cmd {
    bool remote = *rc::gen::arbitrary<bool>();
    void checkPreconditions(const QueueModel& m) const override { RC_PRE(m.joinable); }
    void apply(QueueModel& m) const override {
      if (m.unfinished > 0) --m.unfinished;
    }
    void run(const QueueModel& m, QueueSut<Q>& sut) const override {
      const Reply r = sut.run(Op::kTaskDone, "", remote);
      if (m.unfinished == 0) {
        RC_ASSERT(r == Reply("ValueError", "task_done() called too many times"));
      } else {
        RC_ASSERT(r.first == "ok");
      }
    }
    void show(std::ostream& os) const override {
      os << (remote ? "child: " : "parent: ") << "task_done()";
    }
  };

  struct Sizes : Cmd {
    bool remote = *rc::gen::arbitrary<bool>();
    void run(const QueueModel& m, QueueSut<Q>& sut) const override {
      std::ostringstream s;
      s << m.items.size() << ' ' << m.items.empty() << ' ' << m.full();
      if (m.joinable) s << ' ' << m.unfinished;
      const Reply r = sut.run(Op::kSizes, "", remote);
      RC_ASSERT(r.second == s.str());
    }
    void show(std::ostream& os) const override {
      os << (remote ? "child: " : "parent: ") << "qsize() empty() full()";
    }
  };

  // join(0) in the parent: returns at once exactly when nothing is unfinished.
  struct JoinNow : Cmd {
    void checkPreconditions(const QueueModel& m) const override { RC_PRE(m.joinable); }
    void run(const QueueModel& m, QueueSut<Q>& sut) const override {
      if constexpr (requires { sut.q.join(Seconds(0)); }) {
        RC_ASSERT(sut.q.join(Seconds(0)) == (m.unfinished == 0));
      }
    }
    void show(std::ostream& os) const override { os << "parent: join(timeout=0)"; }
  };
};

template <class Q>
void check_queue_model(bool joinable) {
  const long maxsize = *rc::gen::inRange<long>(-1, 6);
  QueueModel model;
  model.maxsize = maxsize;
  model.joinable = joinable;
  QueueSut<Q> sut(maxsize);
  using C = QueueCommands<Q>;
  rc::state::check(model, sut,
                   rc::state::gen::execOneOfWithArgs<typename C::Put, typename C::Put, typename C::Get,
                                                     typename C::TaskDone, typename C::Sizes,
                                                     typename C::JoinNow>());
}

// ---------------------------------------------------------------- mp::Pipe

struct PipeModel {
  bool duplex = true;
  std::deque<std::string> a_to_b, b_to_a;
  bool a_closed = false, b_closed = false;
};

struct PipeSut {
  std::pair<mp::Connection<std::string>, mp::Connection<std::string>> ends;
};

using PipeCmd = rc::state::Command<PipeModel, PipeSut>;

std::string what_of_send(mp::Connection<std::string>& c, const std::string& item) {
  try {
    c.send(item);
    return "ok";
  } catch (const racegate::OSError& e) {
    return e.what();
  }
}

// Receives one message, or says why not; never blocks (polls first).
std::pair<std::string, std::string> what_of_recv(mp::Connection<std::string>& c) {
  try {
    if (!c.poll()) return {"nothing", ""};
    return {"ok", c.recv()};
  } catch (const racegate::EofError&) {
    return {"EOF", ""};
  } catch (const racegate::OSError& e) {
    return {e.what(), ""};
  }
}

struct Send : PipeCmd {
  bool from_a = *rc::gen::arbitrary<bool>();
  std::string item = *rc::gen::container<std::string>(rc::gen::arbitrary<char>());
  bool allowed(const PipeModel& m) const {
    const bool self_closed = from_a ? m.a_closed : m.b_closed;
    const bool peer_closed = from_a ? m.b_closed : m.a_closed;
    const bool writable = m.duplex || !from_a;  // simplex: a receives, b sends
    return !self_closed && writable && !peer_closed;
  }
  void apply(PipeModel& m) const override {
    if (allowed(m)) (from_a ? m.a_to_b : m.b_to_a).push_back(item);
  }
  void run(const PipeModel& m, PipeSut& sut) const override {
    const std::string got = what_of_send(from_a ? sut.ends.first : sut.ends.second, item);
    const bool self_closed = from_a ? m.a_closed : m.b_closed;
    const bool writable = m.duplex || !from_a;
    if (self_closed) {
      RC_ASSERT(got == "handle is closed");
    } else if (!writable) {
      RC_ASSERT(got == "connection is read-only");
    } else if (from_a ? m.b_closed : m.a_closed) {
      RC_ASSERT(got == "[Errno 32] Broken pipe");
    } else {
      RC_ASSERT(got == "ok");
    }
  }
  void show(std::ostream& os) const override {
    os << (from_a ? "a" : "b") << ".send(" << brief(item) << ")";
  }
};

struct Recv : PipeCmd {
  bool at_a = *rc::gen::arbitrary<bool>();
  void apply(PipeModel& m) const override {
    auto& incoming = at_a ? m.b_to_a : m.a_to_b;
    const bool self_closed = at_a ? m.a_closed : m.b_closed;
    const bool readable = m.duplex || at_a;
    if (!self_closed && readable && !incoming.empty()) incoming.pop_front();
  }
  void run(const PipeModel& m, PipeSut& sut) const override {
    const auto got = what_of_recv(at_a ? sut.ends.first : sut.ends.second);
    const auto& incoming = at_a ? m.b_to_a : m.a_to_b;
    const bool self_closed = at_a ? m.a_closed : m.b_closed;
    const bool peer_closed = at_a ? m.b_closed : m.a_closed;
    const bool readable = m.duplex || at_a;
    if (self_closed) {
      RC_ASSERT(got.first == "handle is closed");
    } else if (!readable) {
      RC_ASSERT(got.first == "connection is write-only");
    } else if (!incoming.empty()) {
      RC_ASSERT(got == std::make_pair(std::string("ok"), incoming.front()));
    } else if (peer_closed) {
      RC_ASSERT(got.first == "EOF");
    } else {
      RC_ASSERT(got.first == "nothing");
    }
  }
  void show(std::ostream& os) const override { os << (at_a ? "a" : "b") << ".recv()"; }
};

struct Close : PipeCmd {
  bool at_a = *rc::gen::arbitrary<bool>();
  void apply(PipeModel& m) const override { (at_a ? m.a_closed : m.b_closed) = true; }
  void run(const PipeModel&, PipeSut& sut) const override {
    auto& c = at_a ? sut.ends.first : sut.ends.second;
    c.close();
    RC_ASSERT(c.closed());
  }
  void show(std::ostream& os) const override { os << (at_a ? "a" : "b") << ".close()"; }
};

// ------------------------------------------------- internal::RingQueue (tiny)

struct RingModel {
  std::deque<std::string> items;
  std::size_t bytes = 0;  // 8-byte length words included
  long maxsize = 0;
  std::size_t capacity = 0;
};

struct RingSut {
  std::shared_ptr<racegate::internal::RingQueue> ring;
};

using RingCmd = rc::state::Command<RingModel, RingSut>;

struct RingPut : RingCmd {
  std::size_t size = *rc::gen::inRange<std::size_t>(0, 3000);
  char fill = *rc::gen::arbitrary<char>();
  bool fits(const RingModel& m) const {
    return (m.maxsize <= 0 || m.items.size() < static_cast<std::size_t>(m.maxsize)) &&
           m.bytes + 8 + size <= m.capacity;
  }
  void apply(RingModel& m) const override {
    if (!fits(m)) return;
    m.items.push_back(std::string(size, fill));
    m.bytes += 8 + size;
  }
  void run(const RingModel& m, RingSut& sut) const override {
    const bool ok = sut.ring->put(std::string(size, fill),
                                  racegate::internal::Deadline::after(Seconds(0)), false);
    RC_ASSERT(ok == fits(m));
  }
  void show(std::ostream& os) const override { os << "put(" << size << " bytes)"; }
};

struct RingGet : RingCmd {
  void apply(RingModel& m) const override {
    if (m.items.empty()) return;
    m.bytes -= 8 + m.items.front().size();
    m.items.pop_front();
  }
  void run(const RingModel& m, RingSut& sut) const override {
    std::string out;
    const bool ok = sut.ring->get(out, racegate::internal::Deadline::after(Seconds(0)));
    RC_ASSERT(ok == !m.items.empty());
    if (ok) RC_ASSERT(out == m.items.front());
  }
  void show(std::ostream& os) const override { os << "get()"; }
};

struct RingSizes : RingCmd {
  void run(const RingModel& m, RingSut& sut) const override {
    RC_ASSERT(sut.ring->qsize() == m.items.size());
    RC_ASSERT(sut.ring->bytes_used() == m.bytes);
    RC_ASSERT(sut.ring->full() ==
              (m.maxsize > 0 && m.items.size() >= static_cast<std::size_t>(m.maxsize)));
  }
  void show(std::ostream& os) const override { os << "sizes"; }
};

// --------------------------------------------- racegate::queue (thread level)

struct TqModel {
  int kind = 0;  // 0 FIFO, 1 LIFO, 2 priority
  long maxsize = 0;
  std::vector<int> items;  // in insertion order
  std::size_t unfinished = 0;

  [[nodiscard]] bool full() const {
    return maxsize > 0 && items.size() >= static_cast<std::size_t>(maxsize);
  }
  // Index of the item the queue gives next.
  [[nodiscard]] std::size_t next() const {
    if (kind == 0) return 0;
    if (kind == 1) return items.size() - 1;
    return static_cast<std::size_t>(std::min_element(items.begin(), items.end()) - items.begin());
  }
};

struct TqSut {
  std::unique_ptr<racegate::queue::Queue<int>> fifo;
  std::unique_ptr<racegate::queue::LifoQueue<int>> lifo;
  std::unique_ptr<racegate::queue::PriorityQueue<int>> prio;

  template <class F>
  auto with(F&& f) {
    if (fifo) return f(*fifo);
    if (lifo) return f(*lifo);
    return f(*prio);
  }
};

using TqCmd = rc::state::Command<TqModel, TqSut>;

struct TqPut : TqCmd {
  int item = *rc::gen::inRange(-50, 50);
  void apply(TqModel& m) const override {
    if (m.full()) return;
    m.items.push_back(item);
    ++m.unfinished;
  }
  void run(const TqModel& m, TqSut& sut) const override {
    const bool full = sut.with([&](auto& q) {
      try {
        q.put_nowait(item);
        return false;
      } catch (const racegate::Full&) {
        return true;
      }
    });
    RC_ASSERT(full == m.full());
  }
  void show(std::ostream& os) const override { os << "put_nowait(" << item << ")"; }
};

struct TqGet : TqCmd {
  void apply(TqModel& m) const override {
    if (!m.items.empty()) m.items.erase(m.items.begin() + static_cast<long>(m.next()));
  }
  void run(const TqModel& m, TqSut& sut) const override {
    const std::optional<int> got = sut.with([](auto& q) -> std::optional<int> {
      try {
        return q.get_nowait();
      } catch (const racegate::Empty&) {
        return std::nullopt;
      }
    });
    if (m.items.empty()) {
      RC_ASSERT(!got.has_value());
    } else {
      RC_ASSERT(got == std::optional<int>(m.items[m.next()]));
    }
  }
  void show(std::ostream& os) const override { os << "get_nowait()"; }
};

struct TqTaskDone : TqCmd {
  void apply(TqModel& m) const override {
    if (m.unfinished > 0) --m.unfinished;
  }
  void run(const TqModel& m, TqSut& sut) const override {
    const bool too_many = sut.with([](auto& q) {
      try {
        q.task_done();
        return false;
      } catch (const racegate::ValueError&) {
        return true;
      }
    });
    RC_ASSERT(too_many == (m.unfinished == 0));
    RC_ASSERT(sut.with([](auto& q) { return q.join(Seconds(0)); }) == (m.unfinished <= 1));
  }
  void show(std::ostream& os) const override { os << "task_done()"; }
};

struct TqSizes : TqCmd {
  void run(const TqModel& m, TqSut& sut) const override {
    RC_ASSERT(sut.with([](auto& q) { return q.qsize(); }) == m.items.size());
    RC_ASSERT(sut.with([](auto& q) { return q.empty(); }) == m.items.empty());
    RC_ASSERT(sut.with([](auto& q) { return q.full(); }) == m.full());
    RC_ASSERT(sut.with([](auto& q) { return q.unfinished_tasks(); }) == m.unfinished);
  }
  void show(std::ostream& os) const override { os << "sizes"; }
};

}  // namespace

TEST(DataModel, MpQueueSharedWithAChildBehavesAsADeque) {
  racegate::test::check_property(
      [] {
        check_queue_model<mp::Queue<std::string>>(false);
      },
      kTrials);
}

TEST(DataModel, MpJoinableQueueSharedWithAChildCountsTasks) {
  racegate::test::check_property(
      [] {
        check_queue_model<mp::JoinableQueue<std::string>>(true);
      },
      kTrials);
}

TEST(DataModel, MpPipeBehavesAsTwoDeques) {
  racegate::test::check_property(
      [] {
        PipeModel model;
        model.duplex = *rc::gen::arbitrary<bool>();
        PipeSut sut{mp::Pipe<std::string>(model.duplex)};
        rc::state::check(model, sut, rc::state::gen::execOneOfWithArgs<Send, Send, Send, Recv, Recv, Recv, Close>());
      },
      kTrials);
}

TEST(DataModel, TinyRingWrapsAroundAndCountsBytes) {
  racegate::test::check_property(
      [] {
        RingModel model;
        model.maxsize = *rc::gen::inRange<long>(0, 8);
        model.capacity = 4096;
        RingSut sut{racegate::internal::RingQueue::create(model.maxsize, model.capacity)};
        rc::state::check(model, sut, rc::state::gen::execOneOfWithArgs<RingPut, RingPut, RingGet, RingSizes>());
      },
      kTrials);
}

TEST(DataModel, ThreadQueuesBehaveAsTheirContainers) {
  racegate::test::check_property(
      [] {
        TqModel model;
        model.kind = *rc::gen::inRange(0, 3);
        model.maxsize = *rc::gen::inRange<long>(-1, 6);
        TqSut sut;
        if (model.kind == 0) sut.fifo = std::make_unique<racegate::queue::Queue<int>>(model.maxsize);
        if (model.kind == 1) sut.lifo = std::make_unique<racegate::queue::LifoQueue<int>>(model.maxsize);
        if (model.kind == 2) sut.prio = std::make_unique<racegate::queue::PriorityQueue<int>>(model.maxsize);
        rc::state::check(model, sut,
                         rc::state::gen::execOneOfWithArgs<TqPut, TqPut, TqGet, TqTaskDone, TqSizes>());
      },
      kTrials);
}
