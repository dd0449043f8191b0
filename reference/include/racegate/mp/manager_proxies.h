// racegate/mp/manager_proxies.h — the proxies a racegate::mp::Manager hands
// out (include racegate/mp/manager.h; see it for the whole contract).
//
// Every proxy is a handle to an object that lives in the manager's server
// process. Each call is one request to the server and one reply; values go
// by serialization (racegate::internal::dumps / loads, so K, V and T must be
// serializable by cereal). Consequences, as in CPython:
//
//   - Reads return copies. `auto v = d.get("k"); v.push_back(1);` changes the
//     copy only; the shared value changes when it is assigned back with
//     `d.set("k", v)` (catalog: manager.nested_mutation_not_propagated).
//   - A proxy stored inside a shared container stays a proxy: a
//     DictProxy<std::string, ListProxy<int>> value read back refers to the
//     same shared list, so appending to it is seen by everyone.
//   - Errors raised by the server come back as the racegate type of the
//     same Python name with CPython's message (KeyError with the key's
//     repr, IndexError("list index out of range"), ...).
//   - When the server is gone: managers::BrokenPipeError on the connection a
//     proxy had been using, managers::FileNotFoundError for a new one (see
//     manager_errors.h), EofError when it hangs up mid-request.
//
// Proxies are copyable and cheap to copy; a copy refers to the same object.
// A default-constructed proxy is unbound: using it throws ValueError. All
// members may be called from any thread of any process started after the
// proxy's manager (each thread's call uses a connection of its own process).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "racegate/errors.h"
#include "racegate/internal/deadline.h"
#include "racegate/internal/manager_proxy.h"
#include "racegate/internal/manager_repr.h"
#include "racegate/internal/serialize.h"
#include "racegate/schedule.h"
#include "racegate/thread_annotations.h"

namespace racegate::mp {

namespace manager_detail {
using racegate::internal::manager::Kind;
using racegate::internal::manager::Op;
using racegate::internal::manager::ProxyBase;
using racegate::internal::manager::Reply;
using racegate::internal::manager::Request;
using Seconds = racegate::internal::Seconds;

inline void set_timeout(Request& r, const std::optional<Seconds>& timeout) {
  if (timeout) {
    r.has_timeout = true;
    r.timeout = timeout->count();
  }
}
}  // namespace manager_detail

// ---- DictProxy ----------------------------------------------------------------------------------

// A shared dict (CPython's DictProxy). Keys are compared by their serialized
// bytes (equal for equal integers, strings and containers of them) and kept
// in insertion order, as a Python dict.
template <class K, class V>
class DictProxy : public manager_detail::ProxyBase {
 public:
  static constexpr std::string_view type_name = "DictProxy";

  DictProxy() noexcept : ProxyBase(manager_detail::Kind::kDict) {}

  // DictProxy::get(k): `d[k]`; KeyError(repr(k)) when k is missing.
  V get(const K& key) const {
    auto rep = keyed(manager_detail::Op::kDictGet, key);
    return racegate::internal::loads<V>(rep.values.at(0));
  }
  // DictProxy::get(k, default): `d.get(k, default)`.
  V get(const K& key, V default_value) const {
    auto r = request(manager_detail::Op::kDictFind, key);
    auto rep = call(std::move(r));
    return rep.flag ? racegate::internal::loads<V>(rep.values.at(0)) : std::move(default_value);
  }
  // DictProxy::set(k, v): `d[k] = v`.
  void set(const K& key, const V& value) const {
    auto r = request(manager_detail::Op::kDictSet, key);
    r.args.push_back(racegate::internal::dumps(value));
    call(std::move(r));
  }
  // DictProxy::setdefault(k, v): stores v when k is missing; returns d[k].
  V setdefault(const K& key, const V& value) const {
    auto r = request(manager_detail::Op::kDictSetDefault, key);
    r.args.push_back(racegate::internal::dumps(value));
    return racegate::internal::loads<V>(call(std::move(r)).values.at(0));
  }
  // DictProxy::contains(k): `k in d`.
  [[nodiscard]] bool contains(const K& key) const {
    return call(request(manager_detail::Op::kDictContains, key)).flag;
  }
  // DictProxy::erase(k): `del d[k]`; KeyError(repr(k)) when k is missing.
  void erase(const K& key) const { keyed(manager_detail::Op::kDictErase, key); }
  // DictProxy::pop(k): removes and returns d[k]; KeyError(repr(k)) when missing.
  V pop(const K& key) const {
    return racegate::internal::loads<V>(keyed(manager_detail::Op::kDictPop, key).values.at(0));
  }
  // DictProxy::size(): `len(d)`.
  [[nodiscard]] std::size_t size() const {
    return static_cast<std::size_t>(call(manager_detail::Op::kDictSize).n);
  }
  // Keys, values and items in insertion order (snapshots).
  [[nodiscard]] std::vector<K> keys() const { return load_all<K>(call(manager_detail::Op::kDictKeys)); }
  [[nodiscard]] std::vector<V> values() const { return load_all<V>(call(manager_detail::Op::kDictValues)); }
  [[nodiscard]] std::vector<std::pair<K, V>> items() const {
    auto rep = call(manager_detail::Op::kDictItems);
    std::vector<std::pair<K, V>> out;
    out.reserve(rep.values.size() / 2);
    for (std::size_t i = 0; i + 1 < rep.values.size(); i += 2) {
      out.emplace_back(racegate::internal::loads<K>(rep.values[i]), racegate::internal::loads<V>(rep.values[i + 1]));
    }
    return out;
  }
  // DictProxy::copy(): a plain copy of the contents (CPython's d.copy()).
  template <class Map = std::map<K, V>>
  [[nodiscard]] Map copy() const {
    Map out;
    for (auto& [k, v] : items()) out.emplace(std::move(k), std::move(v));
    return out;
  }
  // DictProxy::clear(): removes every item.
  void clear() const { call(manager_detail::Op::kDictClear); }
  // DictProxy::update(pairs): `d.update(pairs)`, in one request.
  template <class Range>
  void update(const Range& pairs) const {
    manager_detail::Request r;
    r.op = manager_detail::Op::kDictUpdate;
    for (const auto& [k, v] : pairs) {
      r.args.push_back(racegate::internal::dumps(static_cast<const K&>(k)));
      r.args.push_back(racegate::internal::dumps(static_cast<const V&>(v)));
    }
    call(std::move(r));
  }

  template <class Archive>
  void save(Archive& ar) const { save_handle(ar); }
  template <class Archive>
  void load(Archive& ar) { load_handle(ar, {manager_detail::Kind::kDict}); }

 private:
  friend class Manager;
  DictProxy(std::shared_ptr<racegate::internal::manager::Client> c, std::uint64_t id) noexcept
      : ProxyBase(std::move(c), id, manager_detail::Kind::kDict) {}

  static manager_detail::Request request(manager_detail::Op op, const K& key) {
    manager_detail::Request r;
    r.op = op;
    r.args.push_back(racegate::internal::dumps(key));
    return r;
  }
  manager_detail::Reply keyed(manager_detail::Op op, const K& key) const {
    try {
      return call(request(op, key));
    } catch (const KeyError&) {
      throw KeyError(racegate::internal::manager::py_repr(key));
    }
  }
  template <class T>
  static std::vector<T> load_all(const manager_detail::Reply& rep) {
    std::vector<T> out;
    out.reserve(rep.values.size());
    for (const auto& b : rep.values) out.push_back(racegate::internal::loads<T>(b));
    return out;
  }
};

// ---- ListProxy ----------------------------------------------------------------------------------

// A shared list (CPython's ListProxy). Indices follow Python: negative ones
// count from the end.
template <class T>
class ListProxy : public manager_detail::ProxyBase {
 public:
  static constexpr std::string_view type_name = "ListProxy";

  ListProxy() noexcept : ProxyBase(manager_detail::Kind::kList) {}

  // ListProxy::append(v)
  void append(const T& value) const {
    manager_detail::Request r;
    r.op = manager_detail::Op::kListAppend;
    r.args.push_back(racegate::internal::dumps(value));
    call(std::move(r));
  }
  // ListProxy::extend(range): appends every element, in one request.
  template <class Range>
  void extend(const Range& values) const {
    manager_detail::Request r;
    r.op = manager_detail::Op::kListExtend;
    for (const auto& v : values) r.args.push_back(racegate::internal::dumps(static_cast<const T&>(v)));
    call(std::move(r));
  }
  // ListProxy::get(i): `l[i]`; IndexError("list index out of range").
  T get(std::ptrdiff_t index) const {
    manager_detail::Request r;
    r.op = manager_detail::Op::kListGet;
    r.n = index;
    return racegate::internal::loads<T>(call(std::move(r)).values.at(0));
  }
  // ListProxy::set(i, v): `l[i] = v`; IndexError("list assignment index out of range").
  void set(std::ptrdiff_t index, const T& value) const {
    manager_detail::Request r;
    r.op = manager_detail::Op::kListSet;
    r.n = index;
    r.args.push_back(racegate::internal::dumps(value));
    call(std::move(r));
  }
  // ListProxy::pop(i = -1): removes and returns l[i]; IndexError("pop from
  // empty list") / IndexError("pop index out of range").
  T pop(std::ptrdiff_t index = -1) const {
    manager_detail::Request r;
    r.op = manager_detail::Op::kListPop;
    r.n = index;
    return racegate::internal::loads<T>(call(std::move(r)).values.at(0));
  }
  // ListProxy::size(): `len(l)`.
  [[nodiscard]] std::size_t size() const {
    return static_cast<std::size_t>(call(manager_detail::Op::kListSize).n);
  }
  // ListProxy::copy(): a plain copy of the contents (CPython's l[:]).
  [[nodiscard]] std::vector<T> copy() const {
    auto rep = call(manager_detail::Op::kListItems);
    std::vector<T> out;
    out.reserve(rep.values.size());
    for (const auto& b : rep.values) out.push_back(racegate::internal::loads<T>(b));
    return out;
  }
  // ListProxy::clear()
  void clear() const { call(manager_detail::Op::kListClear); }

  template <class Archive>
  void save(Archive& ar) const { save_handle(ar); }
  template <class Archive>
  void load(Archive& ar) { load_handle(ar, {manager_detail::Kind::kList}); }

 private:
  friend class Manager;
  ListProxy(std::shared_ptr<racegate::internal::manager::Client> c, std::uint64_t id) noexcept
      : ProxyBase(std::move(c), id, manager_detail::Kind::kList) {}
};

// ---- NamespaceProxy -------------------------------------------------------------------------------

// A shared namespace (CPython's NamespaceProxy): attributes by name, each of
// its own type. Reading an attribute never set throws
// AttributeError("'Namespace' object has no attribute 'NAME'").
class NamespaceProxy : public manager_detail::ProxyBase {
 public:
  static constexpr std::string_view type_name = "NamespaceProxy";

  NamespaceProxy() noexcept : ProxyBase(manager_detail::Kind::kNamespace) {}

  // NamespaceProxy::get<T>(name): `ns.name`, read back as a T (which must be
  // the type it was set with).
  template <class T>
  T get(std::string_view name) const {
    return racegate::internal::loads<T>(call(named(manager_detail::Op::kNsGet, name)).values.at(0));
  }
  // NamespaceProxy::set(name, v): `ns.name = v`.
  template <class T>
  void set(std::string_view name, const T& value) const {
    auto r = named(manager_detail::Op::kNsSet, name);
    r.args.push_back(racegate::internal::dumps(value));
    call(std::move(r));
  }
  // A string literal is stored as a std::string.
  void set(std::string_view name, const char* value) const { set(name, std::string(value)); }
  // NamespaceProxy::has(name): `hasattr(ns, name)`.
  [[nodiscard]] bool has(std::string_view name) const {
    return call(named(manager_detail::Op::kNsHas, name)).flag;
  }
  // NamespaceProxy::erase(name): `del ns.name`; AttributeError when missing.
  void erase(std::string_view name) const { call(named(manager_detail::Op::kNsDel, name)); }

  template <class Archive>
  void save(Archive& ar) const { save_handle(ar); }
  template <class Archive>
  void load(Archive& ar) { load_handle(ar, {manager_detail::Kind::kNamespace}); }

 private:
  friend class Manager;
  NamespaceProxy(std::shared_ptr<racegate::internal::manager::Client> c, std::uint64_t id) noexcept
      : ProxyBase(std::move(c), id, manager_detail::Kind::kNamespace) {}

  static manager_detail::Request named(manager_detail::Op op, std::string_view name) {
    manager_detail::Request r;
    r.op = op;
    r.args.emplace_back(name);
    return r;
  }
};

// ---- ValueProxy -----------------------------------------------------------------------------------

// A shared value (CPython's ValueProxy for Manager().Value): get and set,
// no lock (a read-modify-write is not atomic; use a Lock proxy).
template <class T>
class ValueProxy : public manager_detail::ProxyBase {
 public:
  static constexpr std::string_view type_name = "ValueProxy";

  ValueProxy() noexcept : ProxyBase(manager_detail::Kind::kValue) {}

  // ValueProxy::get() / value(): `v.value`.
  T get() const { return racegate::internal::loads<T>(call(manager_detail::Op::kValueGet).values.at(0)); }
  T value() const { return get(); }
  // ValueProxy::set(x): `v.value = x`.
  void set(const T& value) const {
    manager_detail::Request r;
    r.op = manager_detail::Op::kValueSet;
    r.args.push_back(racegate::internal::dumps(value));
    call(std::move(r));
  }

  template <class Archive>
  void save(Archive& ar) const { save_handle(ar); }
  template <class Archive>
  void load(Archive& ar) { load_handle(ar, {manager_detail::Kind::kValue}); }

 private:
  friend class Manager;
  ValueProxy(std::shared_ptr<racegate::internal::manager::Client> c, std::uint64_t id) noexcept
      : ProxyBase(std::move(c), id, manager_detail::Kind::kValue) {}
};

// ---- QueueProxy -----------------------------------------------------------------------------------

// A shared queue.Queue (CPython's AutoProxy[Queue]). Unlike mp::Queue it is
// exact: qsize(), empty() and full() describe the queue the moment the
// server answers, so `put(x)` then `get_nowait()` always finds x.
template <class T>
class QueueProxy : public manager_detail::ProxyBase {
 public:
  static constexpr std::string_view type_name = "AutoProxy[Queue]";

  QueueProxy() noexcept : ProxyBase(manager_detail::Kind::kQueue) {}

  // QueueProxy::put(x, block = true, timeout = none)
  //
  // Blocks (in the server) while the queue is full, at most `timeout` when
  // given. Throws Full when the queue stays full (at once when !block; the
  // timeout is then ignored), ValueError("'timeout' must be a non-negative
  // number") for a negative timeout with block.
  void put(const T& item, bool block = true,
           std::optional<manager_detail::Seconds> timeout = std::nullopt) const {
    manager_detail::Request r;
    r.op = manager_detail::Op::kQueuePut;
    r.block = block;
    manager_detail::set_timeout(r, timeout);
    r.args.push_back(racegate::internal::dumps(item));
    call(std::move(r));
  }
  void put_nowait(const T& item) const { put(item, false); }

  // QueueProxy::get(block = true, timeout = none)
  //
  // Removes and returns the oldest item, waiting (in the server) while the
  // queue is empty, at most `timeout`. Throws Empty when nothing came.
  T get(bool block = true, std::optional<manager_detail::Seconds> timeout = std::nullopt) const {
    manager_detail::Request r;
    r.op = manager_detail::Op::kQueueGet;
    r.block = block;
    manager_detail::set_timeout(r, timeout);
    return racegate::internal::loads<T>(call(std::move(r)).values.at(0));
  }
  T get_nowait() const { return get(false); }

  [[nodiscard]] std::size_t qsize() const {
    return static_cast<std::size_t>(call(manager_detail::Op::kQueueSize).n);
  }
  [[nodiscard]] bool empty() const { return call(manager_detail::Op::kQueueEmpty).flag; }
  [[nodiscard]] bool full() const { return call(manager_detail::Op::kQueueFull).flag; }

  // QueueProxy::task_done(): one item is processed; ValueError("task_done()
  // called too many times") past the number of puts.
  void task_done() const { call(manager_detail::Op::kQueueTaskDone); }
  // QueueProxy::join(): blocks until every item put has been task_done().
  void join() const { call(manager_detail::Op::kQueueJoin); }

  template <class Archive>
  void save(Archive& ar) const { save_handle(ar); }
  template <class Archive>
  void load(Archive& ar) { load_handle(ar, {manager_detail::Kind::kQueue}); }

 private:
  friend class Manager;
  QueueProxy(std::shared_ptr<racegate::internal::manager::Client> c, std::uint64_t id) noexcept
      : ProxyBase(std::move(c), id, manager_detail::Kind::kQueue) {}
};

// ---- AcquirerProxy ---------------------------------------------------------------------------------

// Manager().Lock(), RLock(), Semaphore(n), BoundedSemaphore(n) (CPython's
// AcquirerProxy), acquired and released in the server:
//   - Lock: a threading.Lock. No owner: any thread of any process may
//     release it. Releasing a free one throws RuntimeError("release unlocked
//     lock") (not mp::Lock's ValueError: catalog lock.release_unlocked).
//   - RLock: owned by the acquiring thread (of whichever process) and
//     recursive; a release by another thread, or of a free one, throws
//     RuntimeError("cannot release un-acquired lock").
//   - Semaphore / BoundedSemaphore: a counter; a BoundedSemaphore released
//     above its initial value throws ValueError("Semaphore released too many
//     times").
// Waiters are served first come, first served.
//
// Memory ordering: what a process wrote through other proxies before
// release() is seen by whoever acquires next (the server answers in order).
class RG_CAPABILITY("mutex") AcquirerProxy : public manager_detail::ProxyBase {
 public:
  static constexpr std::string_view type_name = "AcquirerProxy";

  AcquirerProxy() noexcept : ProxyBase(manager_detail::Kind::kLock) {}

  // AcquirerProxy::acquire(): blocks until acquired; returns true.
  bool acquire() RG_ACQUIRE() { return acquire_impl(true, std::nullopt); }

  // AcquirerProxy::acquire(block, timeout)
  //
  // Without `block`, takes it only if free. With a timeout, waits at most
  // that long. Returns whether it was acquired. Argument errors, as CPython:
  // for Lock and RLock, ValueError("can't specify a timeout for a
  // non-blocking call") and ValueError("timeout value must be positive")
  // (negative); for semaphores, ValueError("can't specify timeout for
  // non-blocking acquire") (a negative timeout behaves as zero).
  [[nodiscard]] bool acquire(bool block, std::optional<manager_detail::Seconds> timeout = std::nullopt)
      RG_TRY_ACQUIRE(true) {
    return acquire_impl(block, timeout);
  }

  // AcquirerProxy::release(): see the class comment for its errors.
  void release() RG_RELEASE() {
    schedule::point(schedule::Op::kLockRelease, this);
    call(manager_detail::Op::kRelease);
  }

  // Lockable, so that std::lock_guard and threading::LockGuard work (`with`).
  void lock() RG_ACQUIRE() { acquire(); }
  [[nodiscard]] bool try_lock() RG_TRY_ACQUIRE(true) { return acquire(false); }
  void unlock() RG_RELEASE() { release(); }

  template <class Archive>
  void save(Archive& ar) const { save_handle(ar); }
  template <class Archive>
  void load(Archive& ar) {
    using K = manager_detail::Kind;
    load_handle(ar, {K::kLock, K::kRLock, K::kSemaphore, K::kBoundedSemaphore});
  }

 protected:
  friend class Manager;
  AcquirerProxy(std::shared_ptr<racegate::internal::manager::Client> c, std::uint64_t id,
                manager_detail::Kind kind) noexcept
      : ProxyBase(std::move(c), id, kind) {}

 private:
  bool acquire_impl(bool block, const std::optional<manager_detail::Seconds>& timeout) {
    schedule::point(schedule::Op::kLockAcquire, this);
    manager_detail::Request r;
    r.op = manager_detail::Op::kAcquire;
    r.block = block;
    manager_detail::set_timeout(r, timeout);
    return call(std::move(r)).flag;
  }
};

// ---- ConditionProxy --------------------------------------------------------------------------------

// Manager().Condition() (CPython's ConditionProxy): a threading.Condition
// over an RLock, in the server. acquire/release as an RLock.
class ConditionProxy : public AcquirerProxy {
 public:
  static constexpr std::string_view type_name = "ConditionProxy";

  ConditionProxy() noexcept = default;

  // ConditionProxy::wait(timeout)
  //
  // Releases the lock (whatever its recursion level), waits for a notify or
  // the timeout, takes the lock back (same level) and returns whether it was
  // notified. RuntimeError("cannot wait on un-acquired lock") when the
  // calling thread does not hold it.
  bool wait(std::optional<manager_detail::Seconds> timeout = std::nullopt) {
    schedule::point(schedule::Op::kEventWait, this);
    manager_detail::Request r;
    r.op = manager_detail::Op::kCondWait;
    manager_detail::set_timeout(r, timeout);
    return call(std::move(r)).flag;
  }

  // ConditionProxy::wait_for(predicate, timeout): waits until `predicate()`
  // (evaluated here, with the lock held) is true or the timeout passes;
  // returns the last value of the predicate (CPython's client-side loop).
  template <class Predicate>
  bool wait_for(Predicate predicate, std::optional<manager_detail::Seconds> timeout = std::nullopt) {
    std::optional<racegate::internal::Deadline> deadline;
    if (timeout) deadline = racegate::internal::Deadline::after(*timeout);
    bool result = predicate();
    while (!result) {
      std::optional<manager_detail::Seconds> left;
      if (deadline) {
        if (deadline->expired()) break;
        left = manager_detail::Seconds(deadline->remaining_ms() / 1000.0);
      }
      wait(left);
      result = predicate();
    }
    return result;
  }

  // ConditionProxy::notify(n = 1) / notify_all(): wake up to n waiters (they
  // run once they get the lock back). RuntimeError("cannot notify on
  // un-acquired lock") when the calling thread does not hold the lock.
  void notify(int n = 1) {
    schedule::point(schedule::Op::kEventSet, this);
    manager_detail::Request r;
    r.op = manager_detail::Op::kCondNotify;
    r.n = n;
    call(std::move(r));
  }
  void notify_all() {
    schedule::point(schedule::Op::kEventSet, this);
    call(manager_detail::Op::kCondNotifyAll);
  }

  template <class Archive>
  void save(Archive& ar) const { save_handle(ar); }
  template <class Archive>
  void load(Archive& ar) { load_handle(ar, {manager_detail::Kind::kCondition}); }

 private:
  friend class Manager;
  ConditionProxy(std::shared_ptr<racegate::internal::manager::Client> c, std::uint64_t id) noexcept
      : AcquirerProxy(std::move(c), id, manager_detail::Kind::kCondition) {}
};

// ---- EventProxy ------------------------------------------------------------------------------------

// Manager().Event() (CPython's EventProxy): a threading.Event in the server.
class EventProxy : public manager_detail::ProxyBase {
 public:
  static constexpr std::string_view type_name = "EventProxy";

  EventProxy() noexcept : ProxyBase(manager_detail::Kind::kEvent) {}

  [[nodiscard]] bool is_set() const { return call(manager_detail::Op::kEventIsSet).flag; }
  // EventProxy::set(): sets the flag and wakes every waiter.
  void set() const {
    schedule::point(schedule::Op::kEventSet, this);
    call(manager_detail::Op::kEventSet);
  }
  void clear() const {
    schedule::point(schedule::Op::kEventClear, this);
    call(manager_detail::Op::kEventClear);
  }
  // EventProxy::wait(timeout): blocks until set or the timeout passes (a
  // negative timeout behaves as zero); returns the flag.
  bool wait(std::optional<manager_detail::Seconds> timeout = std::nullopt) const {
    schedule::point(schedule::Op::kEventWait, this);
    manager_detail::Request r;
    r.op = manager_detail::Op::kEventWait;
    manager_detail::set_timeout(r, timeout);
    return call(std::move(r)).flag;
  }

  template <class Archive>
  void save(Archive& ar) const { save_handle(ar); }
  template <class Archive>
  void load(Archive& ar) { load_handle(ar, {manager_detail::Kind::kEvent}); }

 private:
  friend class Manager;
  EventProxy(std::shared_ptr<racegate::internal::manager::Client> c, std::uint64_t id) noexcept
      : ProxyBase(std::move(c), id, manager_detail::Kind::kEvent) {}
};

// ---- BarrierProxy ----------------------------------------------------------------------------------

// Manager().Barrier(parties, timeout) (CPython's BarrierProxy): a
// threading.Barrier (without an action) in the server.
class BarrierProxy : public manager_detail::ProxyBase {
 public:
  static constexpr std::string_view type_name = "BarrierProxy";

  BarrierProxy() noexcept : ProxyBase(manager_detail::Kind::kBarrier) {}

  // BarrierProxy::wait(timeout)
  //
  // Blocks until `parties` callers have arrived; returns this caller's
  // arrival index (0 .. parties-1). A wait that times out (its own timeout,
  // else the barrier's) breaks the barrier: it and every other waiter throw
  // BrokenBarrierError, as does any wait on a broken barrier.
  std::int64_t wait(std::optional<manager_detail::Seconds> timeout = std::nullopt) const {
    manager_detail::Request r;
    r.op = manager_detail::Op::kBarrierWait;
    manager_detail::set_timeout(r, timeout);
    return call(std::move(r)).n;
  }
  // BarrierProxy::reset(): waiters throw BrokenBarrierError; the barrier is
  // then as new.
  void reset() const { call(manager_detail::Op::kBarrierReset); }
  // BarrierProxy::abort(): breaks the barrier.
  void abort() const { call(manager_detail::Op::kBarrierAbort); }
  [[nodiscard]] std::int64_t parties() const { return call(manager_detail::Op::kBarrierParties).n; }
  [[nodiscard]] std::int64_t n_waiting() const { return call(manager_detail::Op::kBarrierNWaiting).n; }
  [[nodiscard]] bool broken() const { return call(manager_detail::Op::kBarrierBroken).flag; }

  template <class Archive>
  void save(Archive& ar) const { save_handle(ar); }
  template <class Archive>
  void load(Archive& ar) { load_handle(ar, {manager_detail::Kind::kBarrier}); }

 private:
  friend class Manager;
  BarrierProxy(std::shared_ptr<racegate::internal::manager::Client> c, std::uint64_t id) noexcept
      : ProxyBase(std::move(c), id, manager_detail::Kind::kBarrier) {}
};

}  // namespace racegate::mp
