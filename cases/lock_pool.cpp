// Catalog section 5: locks handed to pools.
//
// CPython refuses at run time to pickle an mp.Lock into a Pool task; the
// reference refuses it at compile time (racegate/internal/serialize.h). These
// cases prove that rejection with static_asserts, point at the ctest that
// proves the compile error's text, and check the run-time paths that work:
// a lock inherited by the workers (a registered callable, the initializer)
// and a Manager lock proxy sent as an argument.
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "cases/support/pool_support.h"
#include "racegate/errors.h"
#include "racegate/harness/case.h"
#include "racegate/internal/serialize.h"
#include "racegate/mp/array.h"
#include "racegate/mp/barrier.h"
#include "racegate/mp/condition.h"
#include "racegate/mp/event.h"
#include "racegate/mp/lock.h"
#include "racegate/mp/manager.h"
#include "racegate/mp/pool.h"
#include "racegate/mp/queue.h"
#include "racegate/mp/rlock.h"
#include "racegate/mp/semaphore.h"
#include "racegate/mp/value.h"
#include "racegate/threading/lock.h"

// The tasks take and release locks by hand (Python locks have no owner);
// Clang's static lock analysis cannot follow a lock acquired on condition.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif

namespace mp = racegate::mp;
namespace threading = racegate::threading;
using racegate::test::Seconds;

namespace {

constexpr Seconds kLong(60);  // every get/wait: a hang becomes a failure

template <class T>
constexpr bool kInheritOnly = racegate::internal::inherit_only_v<T>;

// Every type CPython's assert_spawning refuses to pickle ("<Type> objects
// should only be shared between processes through inheritance") is one the
// reference refuses to serialize, at compile time.
static_assert(kInheritOnly<mp::Lock>);
static_assert(kInheritOnly<mp::RLock>);
static_assert(kInheritOnly<mp::Semaphore>);
static_assert(kInheritOnly<mp::BoundedSemaphore>);
static_assert(kInheritOnly<mp::Condition>);
static_assert(kInheritOnly<mp::Event>);
static_assert(kInheritOnly<mp::Barrier>);
static_assert(kInheritOnly<mp::Queue<int>>);
static_assert(kInheritOnly<mp::JoinableQueue<int>>);
static_assert(kInheritOnly<mp::Value<int>>);  // CPython's Synchronized
static_assert(kInheritOnly<mp::Array<int>>);
// A threading.Lock cannot even be serialized (CPython: TypeError: cannot
// pickle '_thread.lock' object).
static_assert(!cereal::traits::is_output_serializable<threading::Lock, cereal::PortableBinaryOutputArchive>::value);
// A Manager lock proxy can (lock.manager_lock_via_partial).
static_assert(!kInheritOnly<mp::AcquirerProxy>);
static_assert(cereal::traits::is_output_serializable<mp::AcquirerProxy, cereal::PortableBinaryOutputArchive>::value);

// ---- lock.pool_initializer_global: what the initializer leaves in each worker ----------

std::optional<mp::Lock> g_lock;         // the seed's global `lock`, set by init() in each worker
mp::Value<int>* g_counter = nullptr;    // made before the pool; inherited

void init(mp::Lock lock) { g_lock.emplace(std::move(lock)); }

// The seed's task: (data, type name of the global lock), doing a
// read-modify-write of a shared counter under the lock.
std::pair<std::string, std::string> with_global_lock(std::string data) {
  if (!g_lock) return {data, "None"};
  threading::LockGuard guard(*g_lock);
  int& raw = g_counter->get_obj();  // no lock of its own: only g_lock guards it
  const int seen = raw;
  std::this_thread::yield();
  raw = seen + 1;
  return {data, "Lock"};
}

// Whether the worker could take the global lock (then releases it).
bool try_global_lock(int) {
  if (!g_lock || !g_lock->acquire(false)) return false;
  g_lock->release();
  return true;
}

// ---- lock.manager_lock_via_partial ------------------------------------------------------

// partial(send_request, ml): a function object that carries the lock proxy
// (and the counter it guards) to the workers, as CPython pickles the partial.
struct SendRequest {
  mp::AcquirerProxy lock;
  mp::ValueProxy<int> counter;

  std::string operator()(std::string data) const {
    mp::AcquirerProxy held = lock;
    threading::LockGuard guard(held);
    const int seen = counter.get();
    std::this_thread::yield();
    counter.set(seen + 1);
    return data;
  }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(lock, counter);
  }
};

// The seed's other working form: data first, then the lock.
std::string send_request_data_first(std::string data, mp::AcquirerProxy lock) {
  threading::LockGuard guard(lock);
  return data;
}

bool try_proxy(mp::AcquirerProxy lock) {
  if (!lock.acquire(false)) return false;
  lock.release();
  return true;
}

std::vector<std::string> seed_data(int k) {
  std::vector<std::string> data;
  for (int i = 1; i <= k; ++i) data.push_back("DATA" + std::to_string(i));
  return data;
}

}  // namespace

// The refusal itself is a compile error (static_asserts above and the ctest
// data_compile_fail.serialize_lock for the message). The run-time path that
// CPython allows, the lock inherited by the workers, works: a registered
// task capturing an mp::Lock sees the parent's lock held, then free.
RG_CASE("lock.not_picklable_to_pool_args",
        {.title = "An mp.Lock cannot be a Pool argument; a lock the workers inherit is shared",
         .seed_document = "003_0554b06353e542e0.txt",
         .tags = {"lock", "pool", "process", "D"},
         .default_trials = 15}) {
  const std::string compile_time =
      "rejected at compile time, proven by the ctest data_compile_fail.serialize_lock (the static_assert a "
      "Pool's argument check uses) and by static_asserts in cases/lock_pool.cpp for RLock, Semaphore, "
      "Condition, Event, Queue, JoinableQueue, Value";
  ctx.skip_check("pool.map(partial(f, lock=mp.Lock())) and pool.apply(f, (lock, x)) raise RuntimeError: Lock "
                 "objects should only be shared between processes through inheritance",
                 compile_time);
  ctx.skip_check("apply_async(f, (lock,)) is ready at once, not successful, and get() raises that RuntimeError",
                 compile_time);
  ctx.skip_check("a threading.Lock argument raises TypeError: cannot pickle '_thread.lock' object",
                 "rejected at compile time: threading::Lock is not serializable (static_assert in "
                 "cases/lock_pool.cpp)");
  ctx.check([] {
    const int n = *rc::gen::inRange(1, 4);
    const int k = *rc::gen::inRange(1, 9);
    mp::Lock lock;
    // Registered before the pool: the workers inherit the object, lock and all.
    // Takes the lock (without blocking, or blocking at most kLong: the
    // workers contend for it too) and gives it back.
    auto take_inherited = mp::register_task([lock](int block) mutable {
      if (!(block != 0 ? lock.acquire(true, kLong) : lock.acquire(false))) return false;
      lock.release();
      return true;
    });
    mp::Pool pool(n);
    RC_ASSERT(lock.acquire());
    const auto while_held =
        pool.map_async(take_inherited, std::vector<int>(static_cast<std::size_t>(k), 0), 1).get(kLong);
    lock.release();
    for (bool took : while_held) RC_ASSERT(!took);  // the parent's lock, held
    const auto when_free =
        pool.map_async(take_inherited, std::vector<int>(static_cast<std::size_t>(k), 1), 1).get(kLong);
    for (bool took : when_free) RC_ASSERT(took);
    RC_ASSERT(!lock.locked());
    pool.close();
    pool.join();
  });
}

// Manager().Lock() is a proxy: it goes to the workers inside the C++ form of
// partial(send_request, ml) and, as an argument, in the data-first form; it
// is the same lock (held by the parent, no worker can take it) and it
// excludes: every read-modify-write under it counts.
RG_CASE("lock.manager_lock_via_partial",
        {.title = "A Manager lock proxy goes to Pool workers (in a partial or as an argument) and works",
         .seed_document = "003_0554b06353e542e0.txt",
         .tags = {"lock", "manager", "pool", "process", "D"},
         .default_trials = 15}) {
  ctx.skip_check("partial(send_request, lock=ml) with send_request(lock, data) makes pool.map raise TypeError: "
                 "send_request() got multiple values for argument 'lock'",
                 "C++ has no keyword arguments, so a bound lock cannot collide with the positional data; the "
                 "forms that work in CPython (partial(send_request, ml), and data first) are checked");
  ctx.check([] {
    const int n = *rc::gen::inRange(1, 4);
    const int k = *rc::gen::inRange(0, 9);
    const auto data = seed_data(k);
    mp::Manager mgr;  // before the pool and before any thread
    auto ml = mgr.Lock();
    auto counter = mgr.Value<int>(0);
    mp::Pool pool(n);
    RC_ASSERT(pool.map_async(SendRequest{ml, counter}, data, 1).get(kLong) == data);
    RC_ASSERT(counter.get() == k);

    std::vector<std::tuple<std::string, mp::AcquirerProxy>> args;
    for (const auto& d : data) args.emplace_back(d, ml);
    RC_ASSERT(pool.starmap_async(send_request_data_first, args, 1).get(kLong) == data);

    RC_ASSERT(ml.acquire());
    const bool while_held = pool.apply_async(try_proxy, ml).get(kLong);
    ml.release();
    RC_ASSERT(!while_held);
    RC_ASSERT(pool.apply_async(try_proxy, ml).get(kLong));
    pool.close();
    pool.join();
  });
}

// Pool(n, initializer=init, initargs=(mp.Lock(),)): init stores the lock in
// a global of each worker; every task sees it ('Lock'), it is the parent's
// lock (held there, no worker can take it), and it excludes.
RG_CASE("lock.pool_initializer_global",
        {.title = "A Pool initializer hands an mp.Lock to every worker as a global",
         .seed_document = "003_0554b06353e542e0.txt",
         .tags = {"lock", "pool", "process", "D"},
         .default_trials = 15}) {
  ctx.check([] {
    const int n = *rc::gen::inRange(1, 4);
    const int k = *rc::gen::inRange(0, 13);
    const auto data = seed_data(k);
    mp::Lock lock;
    mp::Value<int> counter(0);
    g_counter = &counter;
    mp::Pool pool(n, init, std::make_tuple(lock));
    std::vector<std::pair<std::string, std::string>> expected;
    for (const auto& d : data) expected.emplace_back(d, "Lock");
    RC_ASSERT(pool.map_async(with_global_lock, data, 1).get(kLong) == expected);
    RC_ASSERT(counter.value() == k);

    RC_ASSERT(lock.acquire());
    const auto while_held = pool.map_async(try_global_lock, std::vector<int>(static_cast<std::size_t>(n), 0), 1)
                                .get(kLong);
    lock.release();
    for (bool took : while_held) RC_ASSERT(!took);
    RC_ASSERT(pool.apply_async(try_global_lock, 0).get(kLong));
    RC_ASSERT(!lock.locked());
    pool.close();
    pool.join();
  });
}
