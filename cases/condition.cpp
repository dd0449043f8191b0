// Catalog section 7: Condition, written once (cases/primitives/sync_condition_cases.h)
// and run against the reference, std::condition_variable and
// Boost.Interprocess's interprocess_condition.
#include <string>

#include <rapidcheck.h>

#include "cases/adapters/sync_boost.h"
#include "cases/adapters/sync_reference.h"
#include "cases/adapters/sync_std.h"
#include "cases/primitives/sync_cases.h"
#include "racegate/mp/condition.h"
#include "racegate/mp/lock.h"
#include "racegate/mp/rlock.h"
#include "racegate/threading/condition.h"
#include "racegate/threading/lock.h"
#include "racegate/threading/rlock.h"

namespace mp = racegate::mp;
namespace threading = racegate::threading;
using namespace racegate::cases::sync_cases;  // NOLINT: the case vocabulary

namespace {

// mp.Condition across processes (the seed's stage_2 / s1), threading.Condition across threads.
RG_CASE("condition.notify_all_wakes_all", (condition_notify_all_behavior().spec)) {
  condition_notify_all_over<RefMpCondition>(ctx, true);
  condition_notify_all_over<RefThreadingCondition>(ctx, false);
}

RG_CASE("condition.lost_wakeup", (condition_lost_wakeup_behavior().spec)) {
  condition_lost_wakeup_over<RefMpCondition>(ctx, true);
  condition_lost_wakeup_over<RefThreadingCondition>(ctx, false);
}

// The default conditions (over an RLock), then conditions over each lock
// kind: the errors do not depend on it.
RG_CASE("condition.wait_requires_lock", (condition_wait_requires_lock_behavior().spec)) {
  condition_wait_requires_lock<RefThreadingCondition>(ctx);
  condition_wait_requires_lock<RefMpCondition>(ctx);
  ctx.check([] {
    const bool rlock = *rc::gen::arbitrary<bool>();
    const int op = *rc::gen::inRange(0, 3);
    auto expect = [op](const Raised& r, const std::string& type, const std::string& wait_text,
                       const std::string& notify_text) {
      RC_ASSERT(r.raised);
      RC_ASSERT(r.type == type);
      RC_ASSERT(r.message == (op == 0 ? wait_text : notify_text));
    };
    auto call = [op](auto& cond) {
      return raised([&] {
        if (op == 0) {
          (void)cond.wait();
        } else if (op == 1) {
          cond.notify();
        } else {
          cond.notify_all();
        }
      });
    };
    {
      threading::Lock lock;
      threading::RLock rl;
      auto cond = rlock ? std::make_unique<threading::Condition>(rl) : std::make_unique<threading::Condition>(lock);
      expect(call(*cond), "RuntimeError", "cannot wait on un-acquired lock", "cannot notify on un-acquired lock");
    }
    {
      mp::Condition cond = rlock ? mp::Condition(mp::RLock()) : mp::Condition(mp::Lock());
      expect(call(cond), "AssertionError", "must acquire() condition before using wait()", "lock is not owned");
    }
  });
}

template <ConditionAdapter A>
bool register_condition_cases() {
  return register_for<A>(condition_notify_all_behavior(), &condition_notify_all_wakes_all<A>) &&
         register_for<A>(condition_lost_wakeup_behavior(), &condition_lost_wakeup<A>) &&
         register_for<A>(condition_wait_requires_lock_behavior(), &condition_wait_requires_lock<A>);
}

[[maybe_unused]] const bool kRegistered =
    register_condition_cases<StdConditionVariable>() && register_condition_cases<BoostCondition>();

}  // namespace
