// Catalog section 4: the counter across processes (mp.Value, Manager dict).
//
// ThreadSanitizer cannot see a race between processes, so the unlocked
// forms are outcome cases in every variant: each trial starts adders and
// subtractors released together by an event, and grades the final value.
// Lost updates are interesting (never required); a value outside the range
// the operations allow, or a wrong number of operations, is forbidden.
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cases/support/pool_support.h"
#include "racegate/harness/case.h"
#include "racegate/mp/event.h"
#include "racegate/mp/manager.h"
#include "racegate/mp/process.h"
#include "racegate/mp/value.h"
#include "racegate/threading/lock.h"

namespace mp = racegate::mp;
namespace threading = racegate::threading;
using racegate::harness::CaseContext;
using racegate::harness::Grade;
using racegate::test::Children;
using racegate::test::Seconds;

namespace {

constexpr Seconds kLong(60);  // every wait: a hang becomes a failure

struct Shape {
  int pairs = 1;  // adders, and as many subtractors
  int n = 0;      // steps per process
};

// Grades one trial: `finished` processes ran all their steps, `ops` steps
// were counted in all, and the counter ended at `final_value`.
CaseContext::Observed grade(const Shape& s, bool finished, long ops, long final_value) {
  const long bound = static_cast<long>(s.pairs) * s.n;
  if (!finished) return {"a process did not finish", Grade::kForbidden};
  if (ops != 2 * bound) return {"wrong number of operations", Grade::kForbidden};
  if (final_value < -bound || final_value > bound) return {"final value out of [-pairs*n, pairs*n]", Grade::kForbidden};
  if (final_value == 0) return {"final == 0", Grade::kAcceptable};
  return {"final != 0 (lost updates)", Grade::kInteresting};
}

// Runs 2 * s.pairs processes (adders first), all released together by an
// event; each runs `step(delta)` s.n times and adds its step count to `ops`
// (under the Value's lock, once, at its end). Returns whether every process
// exited 0.
template <class Step>
bool run_processes(const Shape& s, mp::Value<long>& ops, Step step) {
  mp::Event go;
  Children kids;
  for (int p = 0; p < 2 * s.pairs; ++p) {
    const int delta = p < s.pairs ? 1 : -1;
    kids.start([=]() mutable {
      if (!go.wait(kLong)) throw mp::SystemExit(3);
      long done = 0;
      for (int i = 0; i < s.n; ++i, ++done) step(delta);
      threading::LockGuard guard(ops.get_lock());
      ops.set_value(ops.value() + done);
    });
  }
  go.set();
  bool all_zero = true;
  for (int code : kids.join_all()) all_zero = all_zero && code == 0;
  return all_zero;
}

}  // namespace

// `v.value += delta` without get_lock(): value() and set_value() each lock,
// but the read-modify-write as a whole does not (a yield widens the window).
RG_CASE("counter.unlocked_race@mp.Value",
        {.title = "Processes add and subtract on an mp.Value without get_lock(): updates may be lost",
         .seed_document = "004_7648374c0ccc69dc.txt",
         .tags = {"counter", "process", "R"},
         .expectation = racegate::harness::Expectation::kOutcomes,
         .default_trials = 100}) {
  std::mt19937_64 rng(ctx.seed());
  for (int trial = 0; trial < ctx.trials(); ++trial) {
    Shape s;
    s.pairs = std::uniform_int_distribution<int>(1, 2)(rng);
    s.n = std::uniform_int_distribution<int>(100, 2000)(rng);
    mp::Value<int> counter(0);
    mp::Value<long> ops(0);
    const bool finished = run_processes(s, ops, [counter](int delta) mutable {
      const int seen = counter.value();
      std::this_thread::yield();
      counter.set_value(seen + delta);
    });
    const auto seen = grade(s, finished, ops.value(), counter.value());
    ctx.outcome(seen.name, seen.grade);
    ctx.count_trial();
  }
}

// d['counter'] = d['counter'] + delta on a Manager dict, without a lock:
// each get and set is one request to the server, the pair is not atomic.
RG_CASE("counter.unlocked_race@manager.dict",
        {.title = "Processes add and subtract on a Manager dict entry without a lock: updates may be lost",
         .seed_document = "004_7648374c0ccc69dc.txt",
         .tags = {"counter", "manager", "process", "R"},
         .expectation = racegate::harness::Expectation::kOutcomes,
         .default_trials = 40}) {
  std::mt19937_64 rng(ctx.seed());
  mp::Manager mgr;  // one server for every trial; made while single-threaded
  auto d = mgr.dict<std::string, int>();
  for (int trial = 0; trial < ctx.trials(); ++trial) {
    Shape s;
    s.pairs = std::uniform_int_distribution<int>(1, 2)(rng);
    s.n = std::uniform_int_distribution<int>(20, 150)(rng);
    d.set("counter", 0);
    mp::Value<long> ops(0);
    const bool finished = run_processes(s, ops, [d](int delta) {
      const int seen = d.get("counter");
      std::this_thread::yield();
      d.set("counter", seen + delta);
    });
    const auto seen = grade(s, finished, ops.value(), d.get("counter"));
    ctx.outcome(seen.name, seen.grade);
    ctx.count_trial();
  }
}

// `with v.get_lock(): v.value += delta` is exact for any number of adders
// and subtractors and steps, even with a yield inside the critical section.
RG_CASE("counter.locked_exact@mp.Value",
        {.title = "With get_lock() held, processes' increments and decrements of an mp.Value are exact",
         .seed_document = "004_7648374c0ccc69dc.txt",
         .tags = {"counter", "lock", "process", "D"},
         .default_trials = 25}) {
  ctx.check([] {
    const int adders = *rc::gen::inRange(0, 4);
    const int subtractors = *rc::gen::inRange(0, 4);
    const int n = *rc::gen::inRange(0, 1501);
    const bool yield_inside = *rc::gen::arbitrary<bool>();
    mp::Value<int> counter(0);
    mp::Event go;
    {
      Children kids;
      for (int p = 0; p < adders + subtractors; ++p) {
        const int delta = p < adders ? 1 : -1;
        kids.start([=]() mutable {
          if (!go.wait(kLong)) throw mp::SystemExit(3);
          for (int i = 0; i < n; ++i) {
            threading::LockGuard guard(counter.get_lock());
            const int seen = counter.value();  // the lock is an RLock: value() takes it again
            if (yield_inside) std::this_thread::yield();
            counter.set_value(seen + delta);
          }
        });
      }
      go.set();
      for (int code : kids.join_all()) RC_ASSERT(code == 0);
    }
    RC_ASSERT(counter.value() == (adders - subtractors) * n);
  });
}
