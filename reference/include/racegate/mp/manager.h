// racegate/mp/manager.h — multiprocessing.Manager(): shared objects served by
// a process of their own, used through proxies.
//
// A Manager starts a server process (a daemonic mp::Process named
// `SyncManager-N`, N from the same counter as every Process) that owns the
// shared objects. Proxies send each operation to it and read the answer:
//
//   racegate::mp::Manager mgr;                          // starts the server
//   auto d = mgr.dict<int, int>();
//   std::vector<std::unique_ptr<racegate::mp::Process>> ps;
//   for (int i = 0; i < 10; ++i) {
//     ps.push_back(std::make_unique<racegate::mp::Process>([d, i] { d.set(i, 2 * i); }));
//     ps.back()->start();
//   }
//   for (auto& p : ps) p->join();
//   assert(d.size() == 10);                             // every child's write
//
// What it serves (see manager_proxies.h for each proxy's members):
//   dict<K,V>() DictProxy, list<T>() ListProxy, Namespace() NamespaceProxy,
//   Queue<T>(maxsize) QueueProxy, Lock() / RLock() / Semaphore(n) /
//   BoundedSemaphore(n) AcquirerProxy, Condition() ConditionProxy,
//   Event() EventProxy, Barrier(n, timeout) BarrierProxy, Value<T>(v)
//   ValueProxy. The server-side objects are Python's threading / queue
//   types' semantics and messages (Manager().Lock() is a threading.Lock:
//   its extra release() throws RuntimeError("release unlocked lock")).
//
// Who can use a proxy: any thread of the process that created the manager,
// and any process of its family (forked from it, directly or not: mp::Process
// children, Pool workers), holding the proxy by inheritance (captured) or
// receiving it serialized (a proxy is cereal-serializable, so it can be a
// Pool argument, even for workers forked before the manager, or be stored
// in another shared container). Each process opens its own connections (a
// forked child never uses its parent's: the pid is checked on every call)
// and each thread's call uses a connection of its own.
//
// Copies, not references: every read returns a copy (catalog
// manager.nested_mutation_not_propagated). Mutating a value read from a
// proxy changes nothing shared until it is written back.
//
// Security: the server listens on a Unix-domain socket in a private
// temporary directory (mkdtemp, mode 0700, under $TMPDIR or /tmp), accepts
// only peers of the same user (SO_PEERCRED), and each connection must pass a
// mutual HMAC-SHA256 challenge-response on a key that is random per manager
// and derivable only inside the creator's process family (how, and the
// limits of the home-made HMAC: racegate/internal/manager_auth.h). A client
// with the wrong key is refused (AuthenticationError("digest sent was
// rejected")), and so is a program started with exec. A
// malformed request is answered with an error and the connection, and every
// other one, goes on being served.
//
// Server design: one thread running a poll(2) loop (see
// racegate/internal/manager_server.h). Blocking operations (Lock.acquire,
// Queue.get, Event.wait, Condition.wait, Barrier.wait, Queue.join) are
// parked in the server and answered when they complete or time out, while
// the loop keeps serving everyone else. Reason: the server is forked from
// the user's process, which may have threads; ThreadSanitizer kills a
// child forked from a multi-threaded process as soon as it starts a thread
// (die_after_fork), so a thread-per-connection server (CPython's design)
// would not run under TSan. This one starts no thread: it works whatever
// the creating process does. A parked request whose client hangs up (or is
// killed) is withdrawn, so a dead client never holds up the others (beyond
// CPython, whose server thread would go on waiting); a Barrier arrival stays
// counted, as in CPython. A client that dies holding a Lock leaves it held,
// as in CPython.
//
// Lifetime: the constructor starts the server (or Manager(Manager::deferred)
// and start()); shutdown() or the destructor stops it: the server answers
// the shutdown request, closes every connection, removes its socket and
// directory and exits, and the creator reaps it (terminating, then killing
// it if it does not exit within a few seconds; the directory is removed in
// any case). The server never outlives its creator: its parent-death signal
// is SIGTERM, which it handles by cleaning up and exiting. As for every
// mp::Process, Linux ties that signal to the creating thread: create a
// Manager from a thread that outlives its use (the main thread is always
// safe). Being daemonic, it is also stopped when the creator's main program
// ends, and it cannot be started from a daemonic process
// (AssertionError("daemonic processes are not allowed to have children")).
// Shared objects live until the manager shuts down (there is no reference
// counting of proxies across processes).
//
// After shutdown a proxy throws managers::BrokenPipeError on the connection
// it had been using and managers::FileNotFoundError on a new one (as
// CPython); creating objects throws AssertionError("server not yet started").
//
// Memory ordering: the server executes the requests one at a time, in the
// order it receives them; an operation's effect is visible to every
// operation that the server receives after it answered (for instance, what
// one process stored before releasing a Lock proxy is seen by the process
// whose acquire() returns next).
//
// Thread-safety: the object factories and every proxy member may be called
// concurrently from any thread. start() and shutdown() belong to the
// creating thread (the destructor too); they are no-ops in a forked copy of
// the Manager object.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

#include "racegate/internal/deadline.h"
#include "racegate/internal/manager_client.h"
#include "racegate/internal/manager_protocol.h"
#include "racegate/internal/serialize.h"
#include "racegate/mp/manager_errors.h"
#include "racegate/mp/manager_proxies.h"

namespace racegate::mp {

class Manager {
 public:
  struct Deferred {
    explicit Deferred() = default;
  };
  static constexpr Deferred deferred{};

  // Manager(): starts the server (CPython's multiprocessing.Manager()).
  // Throws what start() throws.
  Manager();
  // Manager(Manager::deferred): not started yet (CPython's SyncManager()).
  explicit Manager(Deferred);

  // Shuts the server down (see shutdown()); never throws.
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Manager::start()
  //
  // Creates the private directory and the listening socket, then forks the
  // server. Returns once the server process exists; requests sent from then
  // on are queued until it serves them. Throws ProcessError("Already started
  // server"), ProcessError("Manager has shut down"), AssertionError from
  // Process::start (daemonic creator), OSError.
  void start();

  // Manager::shutdown()
  //
  // Stops the server and waits for it (see the lifetime rules above). Does
  // nothing when not started, already shut down, or called in a process
  // other than the creator. Never throws.
  void shutdown() noexcept;

  // The server's pid (empty before start()).
  [[nodiscard]] std::optional<pid_t> pid() const;
  // The server process's name, `SyncManager-N` (empty before start()).
  [[nodiscard]] std::string name() const;
  // The path of the server's socket (empty before start()).
  [[nodiscard]] std::string address() const;

  // ---- shared objects (AssertionError("server not yet started") before
  // start() and after shutdown) ----

  // A new empty dict, or one with `items` (pairs) in it.
  template <class K, class V>
  DictProxy<K, V> dict() {
    return DictProxy<K, V>(client(), create(manager_detail::Kind::kDict, {}));
  }
  template <class K, class V, class Range>
  DictProxy<K, V> dict(const Range& items) {
    manager_detail::Request r;
    for (const auto& [k, v] : items) {
      r.args.push_back(racegate::internal::dumps(static_cast<const K&>(k)));
      r.args.push_back(racegate::internal::dumps(static_cast<const V&>(v)));
    }
    return DictProxy<K, V>(client(), create(manager_detail::Kind::kDict, std::move(r)));
  }

  // A new list, empty or holding `items`.
  template <class T>
  ListProxy<T> list() {
    return ListProxy<T>(client(), create(manager_detail::Kind::kList, {}));
  }
  template <class T>
  ListProxy<T> list(const std::vector<T>& items) {
    manager_detail::Request r;
    for (const auto& v : items) r.args.push_back(racegate::internal::dumps(v));
    return ListProxy<T>(client(), create(manager_detail::Kind::kList, std::move(r)));
  }

  // A new namespace with no attributes.
  NamespaceProxy Namespace() {
    return NamespaceProxy(client(), create(manager_detail::Kind::kNamespace, {}));
  }

  // A new queue.Queue; maxsize <= 0 means unbounded.
  template <class T>
  QueueProxy<T> Queue(std::int64_t maxsize = 0) {
    manager_detail::Request r;
    r.m = maxsize;
    return QueueProxy<T>(client(), create(manager_detail::Kind::kQueue, std::move(r)));
  }

  // A new threading.Lock / RLock.
  AcquirerProxy Lock() { return acquirer(manager_detail::Kind::kLock, 0); }
  AcquirerProxy RLock() { return acquirer(manager_detail::Kind::kRLock, 0); }
  // A new threading.Semaphore(value) / BoundedSemaphore(value); a negative
  // value throws ValueError("semaphore initial value must be >= 0").
  AcquirerProxy Semaphore(std::int64_t value = 1) {
    return acquirer(manager_detail::Kind::kSemaphore, value);
  }
  AcquirerProxy BoundedSemaphore(std::int64_t value = 1) {
    return acquirer(manager_detail::Kind::kBoundedSemaphore, value);
  }

  // A new threading.Condition (over an RLock).
  ConditionProxy Condition() {
    return ConditionProxy(client(), create(manager_detail::Kind::kCondition, {}));
  }

  // A new threading.Event.
  EventProxy Event() { return EventProxy(client(), create(manager_detail::Kind::kEvent, {})); }

  // A new threading.Barrier(parties, timeout): `timeout` is the default of
  // every wait().
  BarrierProxy Barrier(std::int64_t parties,
                       std::optional<manager_detail::Seconds> timeout = std::nullopt) {
    manager_detail::Request r;
    r.m = parties;
    manager_detail::set_timeout(r, timeout);
    return BarrierProxy(client(), create(manager_detail::Kind::kBarrier, std::move(r)));
  }

  // A new shared value holding `value` (CPython's Manager().Value(typecode,
  // value): the type is T).
  template <class T>
  ValueProxy<T> Value(const T& value) {
    manager_detail::Request r;
    r.args.push_back(racegate::internal::dumps(value));
    return ValueProxy<T>(client(), create(manager_detail::Kind::kValue, std::move(r)));
  }

 private:
  struct Impl;

  // The client, or AssertionError("server not yet started").
  [[nodiscard]] std::shared_ptr<racegate::internal::manager::Client> client() const;
  // Creates an object of `kind` (r.m, r.args, the timeout: its parameters);
  // returns its id.
  std::uint64_t create(manager_detail::Kind kind, manager_detail::Request r);
  AcquirerProxy acquirer(manager_detail::Kind kind, std::int64_t value) {
    manager_detail::Request r;
    r.m = value;
    return AcquirerProxy(client(), create(kind, std::move(r)), kind);
  }

  std::unique_ptr<Impl> impl_;
};

}  // namespace racegate::mp
