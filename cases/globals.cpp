// Catalog section 3: globals in processes and threads.
#include <algorithm>
#include <map>
#include <vector>

#include "cases/adapters/process.h"
#include "cases/support/process_guard.h"
#include "racegate/harness/case.h"
#include "racegate/mp/async_result.h"
#include "racegate/mp/event.h"
#include "racegate/mp/manager.h"
#include "racegate/mp/pool.h"
#include "racegate/mp/process.h"
#include "racegate/threading/thread.h"

namespace mp = racegate::mp;
namespace threading = racegate::threading;
using racegate::cases::kLong;
using racegate::test::ProcessGuard;

namespace {
int g_data = 0;  // the seeds' module-level `data`
}

// The child proves it ran and saw its own change through an event and its
// exit code; the parent's global is unchanged.
RG_CASE("globals.process_isolated",
        {.title = "A global changed in a child process is unchanged in the parent",
         .seed_document = "004_7648374c0ccc69dc.txt",
         .tags = {"globals", "process", "D"},
         .default_trials = 40}) {
  ctx.check([](int initial) {
    const int changed = *rc::gen::distinctFrom(initial);
    g_data = initial;
    mp::Event ran;
    mp::Process p([&] {
      if (g_data != initial) throw mp::SystemExit(3);  // did not inherit the parent's value
      g_data = changed;
      ran.set();
      throw mp::SystemExit(g_data == changed ? 0 : 4);
    });
    ProcessGuard guard(p);
    p.start();
    p.join();
    RC_ASSERT(p.exitcode() == std::optional<int>(0));
    RC_ASSERT(ran.is_set());
    RC_ASSERT(g_data == initial);
  });
}

// The same change made by a thread is seen by the thread that joins it.
RG_CASE("globals.thread_shared",
        {.title = "A global changed in a thread is seen by the main thread after join",
         .seed_document = "004_7648374c0ccc69dc.txt, 002_b9c4f45d0419849c.txt",
         .tags = {"globals", "thread", "D"},
         .default_trials = 100}) {
  ctx.check([](int initial, int changed) {
    g_data = initial;
    threading::Thread t([changed] { g_data = changed; });
    t.start();
    t.join();
    RC_ASSERT(!t.is_alive());
    RC_ASSERT(g_data == changed);
  });
}

namespace {

// The seeds' object whose bound method the tasks run: `self.mp_lst` and
// `self.mp_dict` as plain containers. The workers inherit their copy of it
// when the Pool is constructed.
struct Holder {
  std::vector<int> lst;
  std::map<int, int> dict;
};
Holder g_self;

int append_plain(int i) {
  g_self.lst.push_back(i);
  g_self.dict[i] = 2 * i;
  return static_cast<int>(g_self.lst.size());
}

void append_shared(mp::ListProxy<int> lst, mp::DictProxy<int, int> dict, int i) {
  lst.append(i);
  dict.set(i, 2 * i);
}

}  // namespace

// n apply_async tasks append to plain containers: each worker changes its own
// copy, so the parent's stay empty. The same through a Manager's list and
// dict: the parent sees all n items (contents exact, order free).
RG_CASE("globals.plain_container_not_shared_via_pool",
        {.title = "Pool tasks appending to plain containers leave the parent's empty; Manager containers get every item",
         .seed_document = "002_b9c4f45d0419849c.txt",
         .tags = {"globals", "pool", "manager", "D"},
         .default_trials = 5}) {
  ctx.check([] {
    const int n = *rc::gen::inRange(0, 41);
    const int workers = *rc::gen::inRange(1, 4);
    g_self = Holder{};
    mp::Manager mgr;  // before the Pool: made while this process has one thread
    auto lst = mgr.list<int>();
    auto dict = mgr.dict<int, int>();
    {
      mp::Pool pool(workers);
      std::vector<mp::AsyncResult<int>> plain;
      std::vector<mp::AsyncResult<void>> shared;
      for (int i = 0; i < n; ++i) {
        plain.push_back(pool.apply_async(append_plain, i));
        shared.push_back(pool.apply_async(append_shared, lst, dict, i));
      }
      for (auto& r : plain) RC_ASSERT(r.get(kLong) >= 1);  // the worker's own copy grew
      for (auto& r : shared) r.get(kLong);
      pool.close();
      pool.join();
    }
    RC_ASSERT(g_self.lst.empty());
    RC_ASSERT(g_self.dict.empty());
    auto items = lst.copy();
    std::sort(items.begin(), items.end());
    std::vector<int> expected_items;
    std::map<int, int> expected_dict;
    for (int i = 0; i < n; ++i) {
      expected_items.push_back(i);
      expected_dict[i] = 2 * i;
    }
    RC_ASSERT(items == expected_items);
    RC_ASSERT(dict.copy() == expected_dict);
    mgr.shutdown();
  });
}
