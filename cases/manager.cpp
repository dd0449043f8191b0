// Catalog section 13: Manager.
//
// Every Manager and every child is started while the case's process is
// single-threaded (no Pool or thread is alive then): under ThreadSanitizer a
// child forked from a threaded process may not start threads.
#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "cases/support/pool_support.h"
#include "racegate/errors.h"
#include "racegate/harness/case.h"
#include "racegate/mp/event.h"
#include "racegate/mp/manager.h"
#include "racegate/mp/pool.h"
#include "racegate/mp/process.h"

// A free Manager lock is released on purpose (CPython's RuntimeError):
// Clang's static lock analysis would refuse it.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif

namespace mp = racegate::mp;
using racegate::test::Children;
using racegate::test::error_of;
using racegate::test::Seconds;

namespace {

constexpr Seconds kLong(60);  // every get/wait: a hang becomes a failure

// Ends a child with `code` when `ok` is false (the parent asserts exit 0).
void require(bool ok, int code) {
  if (!ok) throw mp::SystemExit(code);
}

// N of "Prefix-N", or -1 when `name` is not exactly that.
int number_after(const std::string& name, const std::string& prefix) {
  if (name.rfind(prefix + "-", 0) != 0) return -1;
  const std::string digits = name.substr(prefix.size() + 1);
  if (digits.empty() || digits.size() > 9 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return -1;
  }
  return std::stoi(digits);
}

// A Pool task: puts x into a Manager queue it received as an argument.
void put_into(mp::QueueProxy<int> q, int x) { q.put(x); }

// An identifier-like attribute name: "value" (the seed's) or letters.
rc::Gen<std::string> attribute_name() {
  const auto letter = rc::gen::inRange('a', static_cast<char>('z' + 1));
  return rc::gen::oneOf(rc::gen::just(std::string("value")),
                        rc::gen::nonEmpty(rc::gen::container<std::string>(letter)));
}

}  // namespace

// k children each set d[i] on one Manager dict: the parent sees every pair
// (in whatever order they were inserted). A child that makes a Manager of
// its own meanwhile (blog 000) still exits 0.
RG_CASE("manager.dict_shared",
        {.title = "Children's writes to a Manager dict are all seen by the parent",
         .seed_document = "000_78ac54c149ecb25e.txt",
         .tags = {"manager", "process", "D"},
         .default_trials = 10}) {
  ctx.skip_check("print(d) shows a plain dict repr",
                 "a DictProxy has no repr in the reference (docs/reference/manager.md lists none); the plain "
                 "contents (copy()) are checked instead");
  static_assert(mp::DictProxy<int, int>::type_name == "DictProxy");
  ctx.check([] {
    const int k = *rc::gen::inRange(1, 11);
    const auto values = *rc::gen::container<std::vector<int>>(static_cast<std::size_t>(k), rc::gen::arbitrary<int>());
    const bool own_manager = *rc::gen::arbitrary<bool>();
    mp::Manager mgr;
    auto d = mgr.dict<int, int>();
    std::map<int, int> expected;
    {
      Children kids;
      for (int i = 0; i < k; ++i) {
        const int v = values[static_cast<std::size_t>(i)];
        expected[i] = v;
        kids.start([d, i, v, own_manager] {
          if (own_manager) {  // blog 000: an extra Manager() inside each worker
            mp::Manager inner;
            auto x = inner.dict<int, int>();
            x.set(i, v);
            require(x.get(i) == v, 2);
          }
          d.set(i, v);
        });
      }
      for (int code : kids.join_all()) RC_ASSERT(code == 0);
    }
    RC_ASSERT(d.size() == static_cast<std::size_t>(k));
    RC_ASSERT(d.copy() == expected);
    auto items = d.items();
    std::sort(items.begin(), items.end());
    const std::vector<std::pair<int, int>> sorted_expected(expected.begin(), expected.end());
    RC_ASSERT(items == sorted_expected);
  });
}

// A new Manager list is empty; what a child appends is seen by the parent,
// in the child's order.
RG_CASE("manager.list_shared",
        {.title = "A Manager list starts empty and shows a child's appends",
         .seed_document = "004_7648374c0ccc69dc.txt",
         .tags = {"manager", "process", "D"},
         .default_trials = 20}) {
  static_assert(mp::ListProxy<std::string>::type_name == "ListProxy");
  ctx.check([] {
    auto items = *rc::gen::container<std::vector<std::string>>(rc::gen::string<std::string>());
    items.insert(items.begin(), "a");  // the seed's item
    mp::Manager mgr;
    auto l = mgr.list<std::string>();
    RC_ASSERT(l.size() == 0u);
    RC_ASSERT(l.copy().empty());
    {
      Children kids;
      kids.start([l, items] {
        for (const auto& x : items) l.append(x);
      });
      for (int code : kids.join_all()) RC_ASSERT(code == 0);
    }
    RC_ASSERT(l.copy() == items);
    RC_ASSERT(l.size() == items.size());
  });
}

// The consumer reads the attribute before the producer is even started (it
// reports its first read; only then is the producer started): it gets
// CPython's AttributeError. After the producer's event it reads the value.
RG_CASE("manager.namespace_missing_attribute",
        {.title = "Reading a Namespace attribute before it is set raises AttributeError; after the event it is there",
         .seed_document = "000_78ac54c149ecb25e.txt",
         .tags = {"manager", "process", "D"},
         .default_trials = 20}) {
  static_assert(mp::NamespaceProxy::type_name == "NamespaceProxy");
  ctx.check([] {
    const std::string name = *attribute_name();
    const auto value = *rc::gen::oneOf(rc::gen::just(std::string("this is a value")), rc::gen::string<std::string>());
    const std::string missing = "'Namespace' object has no attribute '" + name + "'";
    mp::Manager mgr;
    auto ns = mgr.Namespace();
    RC_ASSERT(error_of<racegate::AttributeError>([&] { (void)ns.get<std::string>(name); }) == missing);
    RC_ASSERT(!ns.has(name));
    mp::Event first_read, produced;
    Children kids;
    kids.start([ns, name, value, missing, first_read, produced]() mutable {
      try {
        (void)ns.get<std::string>(name);
        throw mp::SystemExit(2);  // no error: wrong
      } catch (const racegate::AttributeError& e) {
        require(e.what() == missing, 3);
      }
      first_read.set();
      require(produced.wait(kLong), 4);
      require(ns.get<std::string>(name) == value, 5);  // "After event: this is a value"
    });
    RC_ASSERT(first_read.wait(kLong));
    kids.start([ns, name, value, produced]() mutable {
      ns.set(name, value);
      produced.set();
    });
    for (int code : kids.join_all()) RC_ASSERT(code == 0);
    RC_ASSERT(ns.has(name));
    RC_ASSERT(ns.get<std::string>(name) == value);
  });
}

// Reads are copies: mutating what a Namespace, dict or list proxy returned
// changes nothing shared (in the parent or a child) until it is assigned
// back; a proxy stored in a container stays a proxy and does propagate.
RG_CASE("manager.nested_mutation_not_propagated",
        {.title = "Mutating a value read from a proxy is not propagated; assigning back or a nested proxy is",
         .seed_document = "000_78ac54c149ecb25e.txt",
         .tags = {"manager", "process", "D"},
         .default_trials = 20}) {
  ctx.check([] {
    const int a = *rc::gen::arbitrary<int>();
    const int b = *rc::gen::arbitrary<int>();
    const int c = *rc::gen::arbitrary<int>();
    const auto start = *rc::gen::container<std::vector<int>>(rc::gen::arbitrary<int>());
    mp::Manager mgr;

    auto ns = mgr.Namespace();
    ns.set("lst", start);
    ns.get<std::vector<int>>("lst").push_back(a);  // ns.lst.append(a)
    RC_ASSERT(ns.get<std::vector<int>>("lst") == start);

    auto d = mgr.dict<std::string, std::vector<int>>();
    d.set("k", start);
    d.get("k").push_back(a);  // d['k'].append(a)
    RC_ASSERT(d.get("k") == start);

    auto l = mgr.list<std::vector<int>>({{0}});
    l.get(0).push_back(a);  // l[0].append(a)
    RC_ASSERT(l.get(0) == std::vector<int>{0});

    // The same in a child.
    {
      Children kids;
      kids.start([ns, d, l, b] {
        ns.get<std::vector<int>>("lst").push_back(b);
        d.get("k").push_back(b);
        l.get(0).push_back(b);
      });
      for (int code : kids.join_all()) RC_ASSERT(code == 0);
    }
    RC_ASSERT(ns.get<std::vector<int>>("lst") == start);
    RC_ASSERT(d.get("k") == start);
    RC_ASSERT(l.get(0) == std::vector<int>{0});

    // Assigning back propagates: tmp = ns.lst; tmp.append(a); ns.lst = tmp.
    auto tmp = ns.get<std::vector<int>>("lst");
    tmp.push_back(a);
    ns.set("lst", tmp);
    RC_ASSERT(ns.get<std::vector<int>>("lst") == tmp);

    // A nested proxy propagates, from here and from a child.
    auto holder = mgr.dict<std::string, mp::ListProxy<int>>();
    holder.set("proxy", mgr.list<int>());
    holder.get("proxy").append(b);
    RC_ASSERT(holder.get("proxy").copy() == std::vector<int>{b});
    {
      Children kids;
      kids.start([holder, c] { holder.get("proxy").append(c); });
      for (int code : kids.join_all()) RC_ASSERT(code == 0);
    }
    RC_ASSERT(holder.get("proxy").copy() == (std::vector<int>{b, c}));
  });
}

// The proxy types' names; the server is the child SyncManager-N; a Manager
// Queue is exact at once, bounded (Full, qsize, full), counts task_done()
// (CPython's ValueError past the puts) and join(), and goes to Pool workers
// as an argument; after shutdown a proxy raises BrokenPipeError.
RG_CASE("manager.queue_and_lock_proxies",
        {.title = "Manager Queue, Lock and Event proxies; the Queue goes to a Pool; BrokenPipeError after shutdown",
         .seed_document = "004_7648374c0ccc69dc.txt, 003_0554b06353e542e0.txt",
         .tags = {"manager", "pool", "process", "D"},
         .default_trials = 10}) {
  static_assert(mp::QueueProxy<int>::type_name == "AutoProxy[Queue]");
  static_assert(mp::AcquirerProxy::type_name == "AcquirerProxy");
  static_assert(mp::EventProxy::type_name == "EventProxy");
  static_assert(mp::NamespaceProxy::type_name == "NamespaceProxy");
  ctx.check([] {
    const int cap = *rc::gen::inRange(1, 6);
    const auto items = *rc::gen::container<std::vector<int>>(rc::gen::arbitrary<int>());
    const int n = *rc::gen::inRange(1, 4);
    int last = 0;
    {
      mp::Process probe;
      last = number_after(probe.name(), "Process");
    }
    mp::Manager mgr;
    RC_ASSERT(mgr.name() == "SyncManager-" + std::to_string(last + 1));
    RC_ASSERT(mgr.pid().has_value());
    bool listed = false;
    for (const auto& child : mp::active_children()) listed = listed || child.pid() == mgr.pid();
    RC_ASSERT(listed);

    // Exact at once, bounded, task_done / join.
    auto q = mgr.Queue<int>(cap);
    RC_ASSERT(q.empty());
    q.put(7);
    RC_ASSERT(!q.empty());
    RC_ASSERT(q.qsize() == 1u);
    RC_ASSERT(q.get_nowait() == 7);
    for (int i = 0; i < cap; ++i) q.put(i);
    RC_ASSERT(q.full());
    RC_ASSERT(q.qsize() == static_cast<std::size_t>(cap));
    RC_ASSERT(error_of<racegate::Full>([&] { q.put_nowait(99); }) == std::string());
    RC_ASSERT(q.qsize() == static_cast<std::size_t>(cap));
    for (int i = 0; i < cap; ++i) RC_ASSERT(q.get(true, kLong) == i);
    for (int i = 0; i < cap + 1; ++i) q.task_done();  // the 7 and the cap items
    RC_ASSERT(error_of<racegate::ValueError>([&] { q.task_done(); }) == "task_done() called too many times");
    q.join();  // nothing unfinished

    // join() waits for a consumer child's task_done() calls.
    auto work = mgr.Queue<int>();
    auto consumed = mgr.Value<int>(0);
    for (int x : items) work.put(x);
    {
      Children kids;
      const auto count = items.size();
      kids.start([work, consumed, count] {
        for (std::size_t i = 0; i < count; ++i) {
          (void)work.get(true, kLong);
          consumed.set(consumed.get() + 1);
          work.task_done();
        }
      });
      work.join();
      RC_ASSERT(consumed.get() == static_cast<int>(items.size()));
      for (int code : kids.join_all()) RC_ASSERT(code == 0);
    }

    // The Lock and Event proxies work.
    auto lock = mgr.Lock();
    RC_ASSERT(lock.acquire());
    RC_ASSERT(!lock.acquire(false));
    lock.release();
    RC_ASSERT(error_of<racegate::RuntimeError>([&] { lock.release(); }) == "release unlocked lock");
    auto ev = mgr.Event();
    RC_ASSERT(!ev.is_set());
    ev.set();
    RC_ASSERT(ev.wait(kLong));

    // A Manager queue goes to Pool workers as an argument (an mp::Queue
    // cannot: lock.not_picklable_to_pool_args).
    auto to_pool = mgr.Queue<int>();
    {
      mp::Pool pool(n);
      std::vector<std::tuple<mp::QueueProxy<int>, int>> args;
      for (int x : items) args.emplace_back(to_pool, x);
      (void)pool.starmap_async(put_into, args).get(kLong);
      pool.close();
      pool.join();
    }
    RC_ASSERT(to_pool.qsize() == items.size());
    std::vector<int> got;
    for (std::size_t i = 0; i < items.size(); ++i) got.push_back(to_pool.get(true, kLong));
    std::sort(got.begin(), got.end());
    auto sorted = items;
    std::sort(sorted.begin(), sorted.end());
    RC_ASSERT(got == sorted);

    mgr.shutdown();
    try {
      (void)q.qsize();
      RC_FAIL("a proxy worked after shutdown");
    } catch (const mp::managers::BrokenPipeError& e) {
      RC_ASSERT(std::string(e.what()) == "[Errno 32] Broken pipe");
      RC_ASSERT(std::string(e.python_type()) == "BrokenPipeError");
    }
  });
}
