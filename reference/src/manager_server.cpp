// The Manager's server: one thread, one poll(2) loop (see manager_server.h).
#include "racegate/internal/manager_server.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <dirent.h>
#include <fcntl.h>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <unordered_map>
#include <vector>

#include "racegate/errors.h"
#include "racegate/internal/manager_auth.h"
#include "racegate/internal/manager_protocol.h"

namespace racegate::internal::manager {
namespace {

using Clock = std::chrono::steady_clock;
using WaiterId = std::uint64_t;
using Deadline = std::optional<Clock::time_point>;

// ---- helpers ------------------------------------------------------------------------------

[[noreturn]] void protocol_error(const std::string& message) {
  throw RemoteError("ProtocolError", message);
}

void need_args(const Request& r, std::size_t n) {
  if (r.args.size() != n) {
    protocol_error("operation " + std::to_string(static_cast<int>(r.op)) + " takes " +
                   std::to_string(n) + " argument(s), not " + std::to_string(r.args.size()));
  }
}

// The deadline of a timed wait: none without a timeout; a negative timeout
// behaves as zero; timeouts beyond ~30 years are forever.
Deadline deadline_of(const Request& r) {
  if (!r.has_timeout) return std::nullopt;
  double t = r.timeout > 0.0 ? r.timeout : 0.0;
  if (t > 1.0e9) return std::nullopt;
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(t));
}

// Whether a blocking request may wait at all (a zero or negative timeout
// gives up at once).
bool may_wait(const Request& r) { return r.block && !(r.has_timeout && r.timeout <= 0.0); }

Reply flag_reply(bool flag) {
  Reply r;
  r.flag = flag;
  return r;
}

Reply n_reply(std::int64_t n) {
  Reply r;
  r.n = n;
  return r;
}

Reply values_reply(std::vector<std::string> values) {
  Reply r;
  r.values = std::move(values);
  return r;
}

template <class C, class Pred>
bool remove_first(C& c, Pred pred) {
  auto it = std::find_if(c.begin(), c.end(), pred);
  if (it == c.end()) return false;
  c.erase(it);
  return true;
}

class Server;

// ---- shared objects -----------------------------------------------------------------------

class Object {
 public:
  virtual ~Object() = default;
  [[nodiscard]] virtual Kind kind() const = 0;
  // Answers request `w` (server.reply) or parks it (server.park).
  virtual void handle(Server& s, WaiterId w, const Request& r) = 0;
  // A parked request's deadline passed: answer it (or park it again).
  virtual void timeout(Server& s, WaiterId w) { (void)s; (void)w; }
  // A parked request's connection hung up: forget the request.
  virtual void cancel(Server& s, WaiterId w) { (void)s; (void)w; }

 protected:
  [[noreturn]] void unsupported(const Request& r) const {
    protocol_error("operation " + std::to_string(static_cast<int>(r.op)) +
                   " is not supported by a " + kind_name(kind()));
  }
};

// ---- the server ------------------------------------------------------------------------------

enum class ConnState { kAwaitAnswer, kAwaitChallenge, kReady };

struct Conn {
  int fd = -1;
  ConnState state = ConnState::kAwaitAnswer;
  std::string nonce;
  std::string in;
  std::string out;
  std::optional<WaiterId> busy;  // the request in progress (parked)
  bool peer_closed = false;
  bool failed = false;            // I/O error: drop at the next sweep
  bool close_after_flush = false;
};

struct Waiter {
  std::uint64_t conn = 0;
  std::uint64_t object = 0;
  Request req;
  bool parked = false;
  bool timed = false;
  std::multimap<Clock::time_point, WaiterId>::iterator timer;
};

volatile sig_atomic_t g_signal_fd = -1;

extern "C" void on_stop_signal(int) {
  int saved = errno;
  if (g_signal_fd >= 0) {
    char c = 's';
    [[maybe_unused]] ssize_t n = ::write(g_signal_fd, &c, 1);
  }
  errno = saved;
}

class Server {
 public:
  explicit Server(const ServerConfig& config) : config_(config) {}
  int run();

  // For objects: answer request `w` (a no-op if its client hung up).
  void reply(WaiterId w, const Reply& r);
  // For objects: leave request `w` unanswered until later (deadline: when
  // its timeout() runs).
  void park(WaiterId w, Deadline deadline);
  // For objects: the parked request `w` no longer times out.
  void untime(WaiterId w);
  // The request of a parked waiter.
  const Request& request(WaiterId w) { return waiters_.at(w).req; }

 private:
  void setup_signals();
  void accept_all();
  void read_from(Conn& c);
  void flush(Conn& c);
  void queue_frame(Conn& c, std::string_view payload);
  void process(std::uint64_t id, Conn& c);
  void handle_frame(std::uint64_t id, Conn& c, std::string frame);
  void dispatch(std::uint64_t conn_id, Request req);
  void handle_manager_op(WaiterId w, const Request& r);
  void fire_timers();
  void sweep();
  void drop(std::uint64_t id);
  int poll_timeout_ms() const;
  void cleanup();

  ServerConfig config_;
  int sig_pipe_[2] = {-1, -1};
  bool stopping_ = false;
  std::uint64_t next_conn_ = 1;
  WaiterId next_waiter_ = 1;
  std::uint64_t next_object_ = 1;
  std::unordered_map<std::uint64_t, Conn> conns_;
  std::unordered_map<WaiterId, Waiter> waiters_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Object>> objects_;
  std::multimap<Clock::time_point, WaiterId> timers_;
};

// ---- containers ---------------------------------------------------------------------------------

class DictObj final : public Object {
 public:
  [[nodiscard]] Kind kind() const override { return Kind::kDict; }

  void set(const std::string& k, const std::string& v) {
    if (auto it = index_.find(k); it != index_.end()) {
      it->second->second = v;
    } else {
      entries_.emplace_back(k, v);
      index_.emplace(k, std::prev(entries_.end()));
    }
  }

  void handle(Server& s, WaiterId w, const Request& r) override {
    switch (r.op) {
      case Op::kDictGet: {
        need_args(r, 1);
        auto it = index_.find(r.args[0]);
        if (it == index_.end()) throw KeyError("");
        s.reply(w, values_reply({it->second->second}));
        return;
      }
      case Op::kDictFind: {
        need_args(r, 1);
        auto it = index_.find(r.args[0]);
        Reply rep;
        rep.flag = it != index_.end();
        if (rep.flag) rep.values.push_back(it->second->second);
        s.reply(w, rep);
        return;
      }
      case Op::kDictSet:
        need_args(r, 2);
        set(r.args[0], r.args[1]);
        s.reply(w, ok_reply());
        return;
      case Op::kDictSetDefault: {
        need_args(r, 2);
        auto it = index_.find(r.args[0]);
        if (it == index_.end()) {
          set(r.args[0], r.args[1]);
          s.reply(w, values_reply({r.args[1]}));
        } else {
          s.reply(w, values_reply({it->second->second}));
        }
        return;
      }
      case Op::kDictContains:
        need_args(r, 1);
        s.reply(w, flag_reply(index_.count(r.args[0]) != 0));
        return;
      case Op::kDictErase:
      case Op::kDictPop: {
        need_args(r, 1);
        auto it = index_.find(r.args[0]);
        if (it == index_.end()) throw KeyError("");
        std::string value = std::move(it->second->second);
        entries_.erase(it->second);
        index_.erase(it);
        s.reply(w, r.op == Op::kDictPop ? values_reply({std::move(value)}) : ok_reply());
        return;
      }
      case Op::kDictSize:
        s.reply(w, n_reply(static_cast<std::int64_t>(entries_.size())));
        return;
      case Op::kDictKeys:
      case Op::kDictValues:
      case Op::kDictItems: {
        std::vector<std::string> out;
        out.reserve(entries_.size() * (r.op == Op::kDictItems ? 2 : 1));
        for (const auto& [k, v] : entries_) {
          if (r.op != Op::kDictValues) out.push_back(k);
          if (r.op != Op::kDictKeys) out.push_back(v);
        }
        s.reply(w, values_reply(std::move(out)));
        return;
      }
      case Op::kDictClear:
        entries_.clear();
        index_.clear();
        s.reply(w, ok_reply());
        return;
      case Op::kDictUpdate:
        if (r.args.size() % 2 != 0) protocol_error("update takes key/value pairs");
        for (std::size_t i = 0; i < r.args.size(); i += 2) set(r.args[i], r.args[i + 1]);
        s.reply(w, ok_reply());
        return;
      default:
        unsupported(r);
    }
  }

 private:
  // Insertion order, as a Python dict; keys compare by their bytes.
  std::list<std::pair<std::string, std::string>> entries_;
  std::unordered_map<std::string, std::list<std::pair<std::string, std::string>>::iterator> index_;
};

class ListObj final : public Object {
 public:
  explicit ListObj(std::vector<std::string> items) : items_(std::move(items)) {}
  [[nodiscard]] Kind kind() const override { return Kind::kList; }

  void handle(Server& s, WaiterId w, const Request& r) override {
    switch (r.op) {
      case Op::kListAppend:
        need_args(r, 1);
        items_.push_back(r.args[0]);
        s.reply(w, ok_reply());
        return;
      case Op::kListExtend:
        items_.insert(items_.end(), r.args.begin(), r.args.end());
        s.reply(w, ok_reply());
        return;
      case Op::kListGet: {
        auto i = normalize(r.n);
        if (!i) throw IndexError("list index out of range");
        s.reply(w, values_reply({items_[*i]}));
        return;
      }
      case Op::kListSet: {
        need_args(r, 1);
        auto i = normalize(r.n);
        if (!i) throw IndexError("list assignment index out of range");
        items_[*i] = r.args[0];
        s.reply(w, ok_reply());
        return;
      }
      case Op::kListPop: {
        if (items_.empty()) throw IndexError("pop from empty list");
        auto i = normalize(r.n);
        if (!i) throw IndexError("pop index out of range");
        std::string value = std::move(items_[*i]);
        items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(*i));
        s.reply(w, values_reply({std::move(value)}));
        return;
      }
      case Op::kListSize:
        s.reply(w, n_reply(static_cast<std::int64_t>(items_.size())));
        return;
      case Op::kListItems:
        s.reply(w, values_reply(items_));
        return;
      case Op::kListClear:
        items_.clear();
        s.reply(w, ok_reply());
        return;
      default:
        unsupported(r);
    }
  }

 private:
  // Python's index rules: negative counts from the end.
  std::optional<std::size_t> normalize(std::int64_t i) const {
    const auto size = static_cast<std::int64_t>(items_.size());
    if (i < 0) i += size;
    if (i < 0 || i >= size) return std::nullopt;
    return static_cast<std::size_t>(i);
  }
  std::vector<std::string> items_;
};

class NamespaceObj final : public Object {
 public:
  [[nodiscard]] Kind kind() const override { return Kind::kNamespace; }

  void handle(Server& s, WaiterId w, const Request& r) override {
    switch (r.op) {
      case Op::kNsGet: {
        need_args(r, 1);
        auto it = attrs_.find(r.args[0]);
        if (it == attrs_.end()) missing(r.args[0]);
        s.reply(w, values_reply({it->second}));
        return;
      }
      case Op::kNsSet:
        need_args(r, 2);
        attrs_[r.args[0]] = r.args[1];
        s.reply(w, ok_reply());
        return;
      case Op::kNsHas:
        need_args(r, 1);
        s.reply(w, flag_reply(attrs_.count(r.args[0]) != 0));
        return;
      case Op::kNsDel:
        need_args(r, 1);
        if (attrs_.erase(r.args[0]) == 0) missing(r.args[0]);
        s.reply(w, ok_reply());
        return;
      default:
        unsupported(r);
    }
  }

 private:
  [[noreturn]] static void missing(const std::string& name) {
    throw AttributeError("'Namespace' object has no attribute '" + name + "'");
  }
  std::map<std::string, std::string> attrs_;
};

class ValueObj final : public Object {
 public:
  explicit ValueObj(std::string v) : value_(std::move(v)) {}
  [[nodiscard]] Kind kind() const override { return Kind::kValue; }

  void handle(Server& s, WaiterId w, const Request& r) override {
    switch (r.op) {
      case Op::kValueGet:
        s.reply(w, values_reply({value_}));
        return;
      case Op::kValueSet:
        need_args(r, 1);
        value_ = r.args[0];
        s.reply(w, ok_reply());
        return;
      default:
        unsupported(r);
    }
  }

 private:
  std::string value_;
};

// ---- synchronization objects --------------------------------------------------------------------

// threading.Lock: no owner; release of a free lock is a RuntimeError.
class LockObj final : public Object {
 public:
  [[nodiscard]] Kind kind() const override { return Kind::kLock; }

  void handle(Server& s, WaiterId w, const Request& r) override {
    switch (r.op) {
      case Op::kAcquire:
        check_lock_acquire_args(r);
        if (!locked_) {
          locked_ = true;
          s.reply(w, flag_reply(true));
        } else if (!may_wait(r)) {
          s.reply(w, flag_reply(false));
        } else {
          waiters_.push_back(w);
          s.park(w, deadline_of(r));
        }
        return;
      case Op::kRelease:
        if (!locked_) throw RuntimeError("release unlocked lock");
        if (!waiters_.empty()) {
          WaiterId next = waiters_.front();  // hand the lock over, still locked
          waiters_.pop_front();
          s.reply(next, flag_reply(true));
        } else {
          locked_ = false;
        }
        s.reply(w, ok_reply());
        return;
      default:
        unsupported(r);
    }
  }

  void timeout(Server& s, WaiterId w) override {
    if (remove_first(waiters_, [w](WaiterId x) { return x == w; })) s.reply(w, flag_reply(false));
  }
  void cancel(Server&, WaiterId w) override {
    remove_first(waiters_, [w](WaiterId x) { return x == w; });
  }

  // _thread.lock.acquire's argument checks.
  static void check_lock_acquire_args(const Request& r) {
    if (!r.block && r.has_timeout) throw ValueError("can't specify a timeout for a non-blocking call");
    if (r.has_timeout && r.timeout < 0) throw ValueError("timeout value must be positive");
  }

 private:
  bool locked_ = false;
  std::deque<WaiterId> waiters_;
};

// threading.RLock: owned by a thread (the owner token), recursive.
class RLockObj : public Object {
 public:
  [[nodiscard]] Kind kind() const override { return Kind::kRLock; }

  void handle(Server& s, WaiterId w, const Request& r) override {
    switch (r.op) {
      case Op::kAcquire:
        LockObj::check_lock_acquire_args(r);
        if (count_ == 0) {
          owner_ = r.owner;
          count_ = 1;
          s.reply(w, flag_reply(true));
        } else if (owner_ == r.owner) {
          ++count_;
          s.reply(w, flag_reply(true));
        } else if (!may_wait(r)) {
          s.reply(w, flag_reply(false));
        } else {
          lock_waiters_.push_back({w, r.owner, 1, true});
          s.park(w, deadline_of(r));
        }
        return;
      case Op::kRelease:
        if (count_ == 0 || owner_ != r.owner) throw RuntimeError("cannot release un-acquired lock");
        if (--count_ == 0) {
          owner_ = 0;
          grant_next(s);
        }
        s.reply(w, ok_reply());
        return;
      default:
        unsupported(r);
    }
  }

  void timeout(Server& s, WaiterId w) override {
    if (remove_first(lock_waiters_, [w](const LockWaiter& x) { return x.w == w; })) {
      s.reply(w, flag_reply(false));
    }
  }
  void cancel(Server&, WaiterId w) override {
    remove_first(lock_waiters_, [w](const LockWaiter& x) { return x.w == w; });
  }

 protected:
  struct LockWaiter {
    WaiterId w;
    std::uint64_t owner;
    std::int64_t count;  // recursion level to take (a Condition waiter restores its own)
    bool result;         // the reply once granted (false: a Condition wait that timed out)
  };

  [[nodiscard]] bool owned_by(std::uint64_t owner) const { return count_ > 0 && owner_ == owner; }

  // When the lock is free, gives it to the first waiter.
  void grant_next(Server& s) {
    if (count_ != 0 || lock_waiters_.empty()) return;
    LockWaiter next = lock_waiters_.front();
    lock_waiters_.pop_front();
    owner_ = next.owner;
    count_ = next.count;
    s.reply(next.w, flag_reply(next.result));
  }

  std::uint64_t owner_ = 0;
  std::int64_t count_ = 0;
  std::deque<LockWaiter> lock_waiters_;
};

// threading.Condition() (over an RLock).
class ConditionObj final : public RLockObj {
 public:
  [[nodiscard]] Kind kind() const override { return Kind::kCondition; }

  void handle(Server& s, WaiterId w, const Request& r) override {
    switch (r.op) {
      case Op::kCondWait: {
        if (!owned_by(r.owner)) throw RuntimeError("cannot wait on un-acquired lock");
        cond_waiters_.push_back({w, r.owner, count_});
        count_ = 0;
        owner_ = 0;
        s.park(w, deadline_of(r));
        grant_next(s);
        return;
      }
      case Op::kCondNotify:
      case Op::kCondNotifyAll: {
        if (!owned_by(r.owner)) throw RuntimeError("cannot notify on un-acquired lock");
        std::int64_t n = r.op == Op::kCondNotifyAll ? static_cast<std::int64_t>(cond_waiters_.size()) : r.n;
        while (n-- > 0 && !cond_waiters_.empty()) {
          CondWaiter cw = cond_waiters_.front();
          cond_waiters_.pop_front();
          s.untime(cw.w);
          lock_waiters_.push_back({cw.w, cw.owner, cw.saved, true});
        }
        s.reply(w, ok_reply());
        return;
      }
      default:
        RLockObj::handle(s, w, r);
    }
  }

  void timeout(Server& s, WaiterId w) override {
    auto it = std::find_if(cond_waiters_.begin(), cond_waiters_.end(),
                           [w](const CondWaiter& x) { return x.w == w; });
    if (it == cond_waiters_.end()) {
      RLockObj::timeout(s, w);
      return;
    }
    // Timed out: take the lock back before answering false.
    CondWaiter cw = *it;
    cond_waiters_.erase(it);
    lock_waiters_.push_back({cw.w, cw.owner, cw.saved, false});
    grant_next(s);
  }

  void cancel(Server& s, WaiterId w) override {
    remove_first(cond_waiters_, [w](const CondWaiter& x) { return x.w == w; });
    RLockObj::cancel(s, w);
  }

 private:
  struct CondWaiter {
    WaiterId w;
    std::uint64_t owner;
    std::int64_t saved;
  };
  std::deque<CondWaiter> cond_waiters_;
};

// threading.Semaphore / BoundedSemaphore.
class SemaphoreObj final : public Object {
 public:
  SemaphoreObj(std::int64_t value, bool bounded) : value_(value), initial_(value), bounded_(bounded) {}
  [[nodiscard]] Kind kind() const override { return bounded_ ? Kind::kBoundedSemaphore : Kind::kSemaphore; }

  void handle(Server& s, WaiterId w, const Request& r) override {
    switch (r.op) {
      case Op::kAcquire:
        if (!r.block && r.has_timeout) throw ValueError("can't specify timeout for non-blocking acquire");
        if (value_ > 0) {
          --value_;
          s.reply(w, flag_reply(true));
        } else if (!may_wait(r)) {
          s.reply(w, flag_reply(false));
        } else {
          waiters_.push_back(w);
          s.park(w, deadline_of(r));
        }
        return;
      case Op::kRelease:
        if (bounded_ && value_ + 1 > initial_) throw ValueError("Semaphore released too many times");
        if (!waiters_.empty()) {
          WaiterId next = waiters_.front();
          waiters_.pop_front();
          s.reply(next, flag_reply(true));
        } else {
          ++value_;
        }
        s.reply(w, ok_reply());
        return;
      default:
        unsupported(r);
    }
  }

  void timeout(Server& s, WaiterId w) override {
    if (remove_first(waiters_, [w](WaiterId x) { return x == w; })) s.reply(w, flag_reply(false));
  }
  void cancel(Server&, WaiterId w) override {
    remove_first(waiters_, [w](WaiterId x) { return x == w; });
  }

 private:
  std::int64_t value_;
  std::int64_t initial_;
  bool bounded_;
  std::deque<WaiterId> waiters_;
};

// threading.Event.
class EventObj final : public Object {
 public:
  [[nodiscard]] Kind kind() const override { return Kind::kEvent; }

  void handle(Server& s, WaiterId w, const Request& r) override {
    switch (r.op) {
      case Op::kEventSet: {
        flag_ = true;
        std::deque<WaiterId> woken;
        woken.swap(waiters_);
        for (WaiterId x : woken) s.reply(x, flag_reply(true));
        s.reply(w, ok_reply());
        return;
      }
      case Op::kEventClear:
        flag_ = false;
        s.reply(w, ok_reply());
        return;
      case Op::kEventIsSet:
        s.reply(w, flag_reply(flag_));
        return;
      case Op::kEventWait:
        if (flag_) {
          s.reply(w, flag_reply(true));
        } else if (!may_wait(r)) {
          s.reply(w, flag_reply(false));
        } else {
          waiters_.push_back(w);
          s.park(w, deadline_of(r));
        }
        return;
      default:
        unsupported(r);
    }
  }

  void timeout(Server& s, WaiterId w) override {
    if (remove_first(waiters_, [w](WaiterId x) { return x == w; })) s.reply(w, flag_reply(flag_));
  }
  void cancel(Server&, WaiterId w) override {
    remove_first(waiters_, [w](WaiterId x) { return x == w; });
  }

 private:
  bool flag_ = false;
  std::deque<WaiterId> waiters_;
};

// threading.Barrier(parties, timeout=None) without an action.
class BarrierObj final : public Object {
 public:
  BarrierObj(std::int64_t parties, std::optional<double> timeout) : parties_(parties), timeout_(timeout) {}
  [[nodiscard]] Kind kind() const override { return Kind::kBarrier; }

  void handle(Server& s, WaiterId w, const Request& r) override {
    switch (r.op) {
      case Op::kBarrierWait: {
        if (broken_) throw BrokenBarrierError("");
        const std::int64_t index = count_++;
        if (count_ == parties_) {
          std::deque<std::pair<WaiterId, std::int64_t>> released;
          released.swap(waiting_);
          count_ = 0;
          for (const auto& [x, i] : released) s.reply(x, n_reply(i));
          s.reply(w, n_reply(index));
        } else {
          waiting_.emplace_back(w, index);
          Request timed = r;
          if (!timed.has_timeout && timeout_) {
            timed.has_timeout = true;
            timed.timeout = *timeout_;
          }
          s.park(w, deadline_of(timed));
        }
        return;
      }
      case Op::kBarrierReset:
        fail_waiters(s);
        broken_ = false;
        s.reply(w, ok_reply());
        return;
      case Op::kBarrierAbort:
        broken_ = true;
        fail_waiters(s);
        s.reply(w, ok_reply());
        return;
      case Op::kBarrierParties:
        s.reply(w, n_reply(parties_));
        return;
      case Op::kBarrierNWaiting:
        s.reply(w, n_reply(broken_ ? 0 : count_));
        return;
      case Op::kBarrierBroken:
        s.reply(w, flag_reply(broken_));
        return;
      default:
        unsupported(r);
    }
  }

  // A waiter that times out breaks the barrier for everyone.
  void timeout(Server& s, WaiterId) override {
    broken_ = true;
    fail_waiters(s);
  }

  // A waiter whose client hung up stays counted as arrived (as in CPython,
  // where the server thread keeps waiting for it); its answer goes nowhere.
  void cancel(Server&, WaiterId) override {}

 private:
  void fail_waiters(Server& s) {
    std::deque<std::pair<WaiterId, std::int64_t>> failed;
    failed.swap(waiting_);
    count_ = 0;
    for (const auto& fw : failed) s.reply(fw.first, error_reply("BrokenBarrierError", ""));
  }

  std::int64_t parties_;
  std::optional<double> timeout_;
  bool broken_ = false;
  std::int64_t count_ = 0;
  std::deque<std::pair<WaiterId, std::int64_t>> waiting_;
};

// queue.Queue(maxsize).
class QueueObj final : public Object {
 public:
  explicit QueueObj(std::int64_t maxsize) : maxsize_(maxsize) {}
  [[nodiscard]] Kind kind() const override { return Kind::kQueue; }

  void handle(Server& s, WaiterId w, const Request& r) override {
    switch (r.op) {
      case Op::kQueuePut:
        need_args(r, 1);
        check_timeout(r);
        if (!full()) {
          items_.push_back(r.args[0]);
          ++unfinished_;
          s.reply(w, ok_reply());
          settle(s);
        } else if (!may_wait(r)) {
          throw Full("");
        } else {
          putters_.push_back(w);
          s.park(w, deadline_of(r));
        }
        return;
      case Op::kQueueGet:
        check_timeout(r);
        if (!items_.empty()) {
          std::string item = std::move(items_.front());
          items_.pop_front();
          s.reply(w, values_reply({std::move(item)}));
          settle(s);
        } else if (!may_wait(r)) {
          throw Empty("");
        } else {
          getters_.push_back(w);
          s.park(w, deadline_of(r));
        }
        return;
      case Op::kQueueSize:
        s.reply(w, n_reply(static_cast<std::int64_t>(items_.size())));
        return;
      case Op::kQueueEmpty:
        s.reply(w, flag_reply(items_.empty()));
        return;
      case Op::kQueueFull:
        s.reply(w, flag_reply(full()));
        return;
      case Op::kQueueTaskDone:
        if (unfinished_ <= 0) throw ValueError("task_done() called too many times");
        if (--unfinished_ == 0) {
          std::vector<WaiterId> joined;
          joined.swap(joiners_);
          for (WaiterId x : joined) s.reply(x, ok_reply());
        }
        s.reply(w, ok_reply());
        return;
      case Op::kQueueJoin:
        if (unfinished_ == 0) {
          s.reply(w, ok_reply());
        } else {
          joiners_.push_back(w);
          s.park(w, std::nullopt);
        }
        return;
      default:
        unsupported(r);
    }
  }

  void timeout(Server& s, WaiterId w) override {
    if (remove_first(getters_, [w](WaiterId x) { return x == w; })) {
      s.reply(w, error_reply("Empty", ""));
    } else if (remove_first(putters_, [w](WaiterId x) { return x == w; })) {
      s.reply(w, error_reply("Full", ""));
    }
  }

  void cancel(Server&, WaiterId w) override {
    auto same = [w](WaiterId x) { return x == w; };
    if (!remove_first(getters_, same) && !remove_first(putters_, same)) remove_first(joiners_, same);
  }

 private:
  [[nodiscard]] bool full() const {
    return maxsize_ > 0 && static_cast<std::int64_t>(items_.size()) >= maxsize_;
  }

  static void check_timeout(const Request& r) {
    if (r.block && r.has_timeout && r.timeout < 0) {
      throw ValueError("'timeout' must be a non-negative number");
    }
  }

  // Moves items from parked putters to parked getters until neither can move.
  void settle(Server& s) {
    for (bool moved = true; moved;) {
      moved = false;
      while (!getters_.empty() && !items_.empty()) {
        WaiterId g = getters_.front();
        getters_.pop_front();
        std::string item = std::move(items_.front());
        items_.pop_front();
        s.reply(g, values_reply({std::move(item)}));
        moved = true;
      }
      while (!putters_.empty() && !full()) {
        WaiterId p = putters_.front();
        putters_.pop_front();
        items_.push_back(s.request(p).args.at(0));
        ++unfinished_;
        s.reply(p, ok_reply());
        moved = true;
      }
    }
  }

  std::int64_t maxsize_;
  std::deque<std::string> items_;
  std::int64_t unfinished_ = 0;
  std::deque<WaiterId> getters_;
  std::deque<WaiterId> putters_;  // their items are in their requests
  std::vector<WaiterId> joiners_;
};

// ---- Server ---------------------------------------------------------------------------------------

void Server::reply(WaiterId w, const Reply& r) {
  auto it = waiters_.find(w);
  if (it == waiters_.end()) return;
  if (it->second.timed) timers_.erase(it->second.timer);
  const std::uint64_t conn_id = it->second.conn;
  waiters_.erase(it);
  auto c = conns_.find(conn_id);
  if (c == conns_.end()) return;
  c->second.busy.reset();
  queue_frame(c->second, encode(r));
}

void Server::park(WaiterId w, Deadline deadline) {
  Waiter& wt = waiters_.at(w);
  wt.parked = true;
  if (deadline) {
    wt.timer = timers_.emplace(*deadline, w);
    wt.timed = true;
  }
}

void Server::untime(WaiterId w) {
  auto it = waiters_.find(w);
  if (it == waiters_.end() || !it->second.timed) return;
  timers_.erase(it->second.timer);
  it->second.timed = false;
}

void Server::queue_frame(Conn& c, std::string_view payload) {
  const auto n = static_cast<std::uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) c.out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  c.out.append(payload);
  flush(c);
}

void Server::flush(Conn& c) {
  while (!c.out.empty() && !c.failed) {
    ssize_t k = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (k > 0) {
      c.out.erase(0, static_cast<std::size_t>(k));
    } else if (k < 0 && errno == EINTR) {
      continue;
    } else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    } else {
      c.failed = true;  // the client is gone
    }
  }
}

void Server::read_from(Conn& c) {
  char buf[65536];
  for (;;) {
    ssize_t k = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
    if (k > 0) {
      c.in.append(buf, static_cast<std::size_t>(k));
      // A client never has more than one request in flight: anything far
      // beyond one maximal frame is abuse.
      if (c.in.size() > kMaxFrame + 4 + sizeof buf) {
        c.failed = true;
        return;
      }
      continue;
    }
    if (k == 0) {
      c.peer_closed = true;
      return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) c.failed = true;
    return;
  }
}

void Server::accept_all() {
  for (;;) {
    int fd = ::accept4(config_.listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // EAGAIN, or out of descriptors: try again at the next wake-up
    }
    // Only processes of this user (the directory is 0700 as well).
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || cred.uid != ::geteuid()) {
      ::close(fd);
      continue;
    }
    const std::uint64_t id = next_conn_++;
    Conn& c = conns_[id];
    c.fd = fd;
    try {
      c.nonce = random_bytes(kNonceSize);
    } catch (const Error&) {
      c.failed = true;
      continue;
    }
    queue_frame(c, std::string(kChallenge) + c.nonce);
  }
}

void Server::process(std::uint64_t id, Conn& c) {
  while (!c.failed && !c.busy && !c.close_after_flush && c.in.size() >= 4) {
    const std::uint32_t n = static_cast<std::uint8_t>(c.in[0]) |
                            (static_cast<std::uint32_t>(static_cast<std::uint8_t>(c.in[1])) << 8) |
                            (static_cast<std::uint32_t>(static_cast<std::uint8_t>(c.in[2])) << 16) |
                            (static_cast<std::uint32_t>(static_cast<std::uint8_t>(c.in[3])) << 24);
    const std::size_t limit = c.state == ConnState::kReady ? kMaxFrame : kMaxHandshakeFrame;
    if (n > limit) {
      if (c.state == ConnState::kReady) {
        queue_frame(c, encode(error_reply("ValueError", "malformed request: frame of " +
                                                            std::to_string(n) + " bytes is too long")));
        c.close_after_flush = true;  // the stream cannot be resynchronized
      } else {
        c.failed = true;
      }
      return;
    }
    if (c.in.size() < 4 + static_cast<std::size_t>(n)) return;
    std::string frame = c.in.substr(4, n);
    c.in.erase(0, 4 + static_cast<std::size_t>(n));
    handle_frame(id, c, std::move(frame));
  }
}

void Server::handle_frame(std::uint64_t id, Conn& c, std::string frame) {
  switch (c.state) {
    case ConnState::kAwaitAnswer:
      if (constant_time_equal(frame, client_digest(config_.key, c.nonce))) {
        queue_frame(c, kWelcome);
        c.state = ConnState::kAwaitChallenge;
      } else {
        queue_frame(c, kFailure);
        c.close_after_flush = true;
      }
      return;
    case ConnState::kAwaitChallenge:
      if (frame.size() > kChallenge.size() && frame.compare(0, kChallenge.size(), kChallenge) == 0) {
        queue_frame(c, server_digest(config_.key, std::string_view(frame).substr(kChallenge.size())));
        c.state = ConnState::kReady;
      } else {
        c.failed = true;
      }
      return;
    case ConnState::kReady: {
      Request req;
      try {
        req = decode_request(frame);
      } catch (const Error& e) {
        queue_frame(c, encode(error_reply(e.python_type(), e.what())));
        return;
      }
      dispatch(id, std::move(req));
      return;
    }
  }
}

void Server::dispatch(std::uint64_t conn_id, Request req) {
  const WaiterId w = next_waiter_++;
  Waiter& wt = waiters_[w];
  wt.conn = conn_id;
  wt.object = req.id;
  wt.req = std::move(req);
  conns_.at(conn_id).busy = w;
  const Request& r = wt.req;  // valid until w is answered
  try {
    if (r.id == 0) {
      handle_manager_op(w, r);
    } else {
      auto it = objects_.find(r.id);
      if (it == objects_.end()) protocol_error("no shared object with id " + std::to_string(r.id));
      it->second->handle(*this, w, r);
    }
  } catch (const Error& e) {
    reply(w, error_reply(e.python_type(), e.what()));
  } catch (const std::bad_alloc&) {
    reply(w, error_reply("MemoryError", ""));
  } catch (const std::exception& e) {
    reply(w, error_reply("Exception", e.what()));
  }
  auto it = waiters_.find(w);
  if (it != waiters_.end() && !it->second.parked) {
    reply(w, error_reply("RuntimeError", "internal error: request left unanswered"));
  }
}

void Server::handle_manager_op(WaiterId w, const Request& r) {
  switch (r.op) {
    case Op::kPing:
      reply(w, ok_reply());
      return;
    case Op::kStats: {
      std::int64_t parked = 0;
      for (const auto& [id, wt] : waiters_) parked += (wt.parked && id != w) ? 1 : 0;
      Reply rep = n_reply(parked);
      rep.values.push_back(std::to_string(conns_.size()));
      reply(w, rep);
      return;
    }
    case Op::kShutdown:
      reply(w, ok_reply());
      stopping_ = true;
      return;
    case Op::kCreate: {
      std::unique_ptr<Object> obj;
      switch (static_cast<Kind>(r.n)) {
        case Kind::kDict: {
          if (r.args.size() % 2 != 0) protocol_error("dict contents are key/value pairs");
          auto d = std::make_unique<DictObj>();
          for (std::size_t i = 0; i < r.args.size(); i += 2) d->set(r.args[i], r.args[i + 1]);
          obj = std::move(d);
          break;
        }
        case Kind::kList: obj = std::make_unique<ListObj>(r.args); break;
        case Kind::kNamespace: obj = std::make_unique<NamespaceObj>(); break;
        case Kind::kQueue: obj = std::make_unique<QueueObj>(r.m); break;
        case Kind::kLock: obj = std::make_unique<LockObj>(); break;
        case Kind::kRLock: obj = std::make_unique<RLockObj>(); break;
        case Kind::kSemaphore:
        case Kind::kBoundedSemaphore:
          if (r.m < 0) throw ValueError("semaphore initial value must be >= 0");
          obj = std::make_unique<SemaphoreObj>(r.m, static_cast<Kind>(r.n) == Kind::kBoundedSemaphore);
          break;
        case Kind::kCondition: obj = std::make_unique<ConditionObj>(); break;
        case Kind::kEvent: obj = std::make_unique<EventObj>(); break;
        case Kind::kBarrier:
          obj = std::make_unique<BarrierObj>(r.m, r.has_timeout ? std::optional<double>(r.timeout)
                                                                 : std::nullopt);
          break;
        case Kind::kValue:
          need_args(r, 1);
          obj = std::make_unique<ValueObj>(r.args[0]);
          break;
        default:
          protocol_error("unknown object type " + std::to_string(r.n));
      }
      const std::uint64_t id = next_object_++;
      objects_.emplace(id, std::move(obj));
      reply(w, n_reply(static_cast<std::int64_t>(id)));
      return;
    }
    default:
      protocol_error("unknown manager operation " + std::to_string(static_cast<int>(r.op)));
  }
}

void Server::fire_timers() {
  const auto now = Clock::now();
  while (!timers_.empty() && timers_.begin()->first <= now) {
    const WaiterId w = timers_.begin()->second;
    timers_.erase(timers_.begin());
    auto it = waiters_.find(w);
    if (it == waiters_.end()) continue;
    it->second.timed = false;
    auto obj = objects_.find(it->second.object);
    if (obj != objects_.end()) obj->second->timeout(*this, w);
  }
}

void Server::drop(std::uint64_t id) {
  auto c = conns_.find(id);
  if (c == conns_.end()) return;
  if (c->second.busy) {
    const WaiterId w = *c->second.busy;
    auto it = waiters_.find(w);
    if (it != waiters_.end()) {
      auto obj = objects_.find(it->second.object);
      if (obj != objects_.end()) obj->second->cancel(*this, w);
      it = waiters_.find(w);  // cancel() may not answer, but be safe
      if (it != waiters_.end()) {
        if (it->second.timed) timers_.erase(it->second.timer);
        waiters_.erase(it);
      }
    }
  }
  ::close(c->second.fd);
  conns_.erase(c);
}

void Server::sweep() {
  std::vector<std::uint64_t> dead;
  for (auto& [id, c] : conns_) {
    if (c.failed || c.peer_closed || (c.close_after_flush && c.out.empty())) dead.push_back(id);
  }
  for (std::uint64_t id : dead) drop(id);
}

int Server::poll_timeout_ms() const {
  int ms = 1000;  // wake up now and then to check on the creator
  if (!timers_.empty()) {
    auto left = timers_.begin()->first - Clock::now();
    auto left_ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    ms = static_cast<int>(std::clamp<long long>(left_ms, 0, ms));
  }
  return ms;
}

void Server::setup_signals() {
  if (::pipe2(sig_pipe_, O_NONBLOCK | O_CLOEXEC) != 0) {
    throw OSError(std::string("pipe2: ") + std::strerror(errno));
  }
  g_signal_fd = sig_pipe_[1];
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGINT, SIG_IGN);   // as CPython's server: Ctrl-C is for the parent
  signal(SIGPIPE, SIG_IGN);  // every send uses MSG_NOSIGNAL; belt and braces
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  // The parent-death signal, now that SIGTERM is handled: leave (cleanly)
  // with the creator.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != config_.parent) stopping_ = true;
}

// The server is a fork of the user's process: it holds copies of every
// descriptor the user had open (pipes, sockets, other managers'
// connections). Keeping them would hold those open for the server's whole
// life (a pipe would never see end of file), so it closes all of them but
// stdin, stdout, stderr (sanitizer reports) and its own.
void close_inherited_descriptors(int keep, int keep2, int keep3) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return;
  std::vector<int> fds;
  const int own = ::dirfd(dir);
  while (dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0') continue;
    if (fd > 2 && fd != keep && fd != keep2 && fd != keep3 && fd != own) {
      fds.push_back(static_cast<int>(fd));
    }
  }
  ::closedir(dir);
  for (int fd : fds) ::close(fd);
}

void Server::cleanup() {
  for (auto& [id, c] : conns_) ::close(c.fd);
  conns_.clear();
  waiters_.clear();
  timers_.clear();
  objects_.clear();
  ::close(config_.listen_fd);
  ::unlink(config_.socket_path.c_str());
  ::rmdir(config_.dir.c_str());
  g_signal_fd = -1;
  ::close(sig_pipe_[0]);
  ::close(sig_pipe_[1]);
}

int Server::run() {
  setup_signals();
  close_inherited_descriptors(config_.listen_fd, sig_pipe_[0], sig_pipe_[1]);
  // accept_all() takes every pending connection until EAGAIN.
  ::fcntl(config_.listen_fd, F_SETFL, ::fcntl(config_.listen_fd, F_GETFL) | O_NONBLOCK);
  std::vector<pollfd> fds;
  std::vector<std::uint64_t> ids;
  while (!stopping_) {
    fds.clear();
    ids.clear();
    fds.push_back({sig_pipe_[0], POLLIN, 0});
    fds.push_back({config_.listen_fd, POLLIN, 0});
    for (auto& [id, c] : conns_) {
      short events = POLLIN;
      if (!c.out.empty()) events |= POLLOUT;
      fds.push_back({c.fd, events, 0});
      ids.push_back(id);
    }
    int rc = ::poll(fds.data(), fds.size(), poll_timeout_ms());
    if (rc < 0 && errno != EINTR) break;
    if (fds[0].revents & POLLIN) break;  // SIGTERM (or the parent-death signal)
    if (::getppid() != config_.parent) break;
    if (rc > 0) {
      if (fds[1].revents & POLLIN) accept_all();
      for (std::size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        auto it = conns_.find(ids[i - 2]);
        if (it == conns_.end()) continue;
        if (fds[i].revents & POLLOUT) flush(it->second);
        if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) read_from(it->second);
      }
    }
    fire_timers();
    // Serve every connection that has a complete request and nothing in
    // progress (a request answered just now may unblock several).
    for (bool again = true; again && !stopping_;) {
      again = false;
      for (auto& [id, c] : conns_) {
        const std::size_t before = c.in.size();
        process(id, c);
        if (c.in.size() != before) again = true;
      }
    }
    sweep();
  }
  // Give the replies already queued (the shutdown's above all) a moment to
  // leave before closing.
  const auto until = Clock::now() + std::chrono::seconds(1);
  for (;;) {
    fds.clear();
    for (auto& [id, c] : conns_) {
      flush(c);
      if (!c.out.empty() && !c.failed) fds.push_back({c.fd, POLLOUT, 0});
    }
    if (fds.empty() || Clock::now() >= until) break;
    ::poll(fds.data(), fds.size(), 50);
  }
  cleanup();
  return 0;
}

}  // namespace

int serve(const ServerConfig& config) {
  Server server(config);
  return server.run();
}

}  // namespace racegate::internal::manager
