// Internal: the barrier algorithm shared by threading::Barrier and
// mp::Barrier — CPython's threading.Barrier over a Condition, written once as
// a template over the condition type. Do not use directly.
#pragma once

#include <atomic>
#include <functional>
#include <optional>

#include "racegate/errors.h"
#include "racegate/internal/deadline.h"
#include "racegate/thread_annotations.h"

namespace racegate::internal {

// Guarded by the condition's lock. Atomics only so that the lock-free
// snapshots (n_waiting, broken) are not data races; every update happens
// under the lock.
struct BarrierState {
  static constexpr int kFilling = 0;
  static constexpr int kDraining = 1;
  static constexpr int kResetting = -1;
  static constexpr int kBroken = -2;

  std::atomic<int> state{kFilling};
  std::atomic<int> count{0};  // threads inside wait()
};

template <class Cond>
class BarrierAlgorithm {
 public:
  // Barrier::wait: returns the arrival index, throws BrokenBarrierError.
  static int wait(Cond& cond, BarrierState& st, int parties, const std::function<void()>& action,
                  const std::optional<Seconds>& timeout) RG_NO_THREAD_SAFETY_ANALYSIS {
    Hold hold(cond);
    try {
      enter(cond, st);  // waits while draining or resetting; throws if broken
    } catch (const OwnerDiedError&) {
      hold.held = false;  // the lock could not be taken back
      throw;
    }
    const int index = st.count.load(std::memory_order_relaxed);
    st.count.store(index + 1, std::memory_order_relaxed);
    try {
      if (index + 1 == parties) {
        release(cond, st, action);
      } else {
        wait_released(cond, st, timeout);
      }
    } catch (const OwnerDiedError&) {
      hold.held = false;
      throw;
    } catch (...) {
      leave(cond, st);
      throw;
    }
    leave(cond, st);
    return index;
  }

  static void reset(Cond& cond, BarrierState& st) RG_NO_THREAD_SAFETY_ANALYSIS {
    Hold hold(cond);
    if (st.count.load(std::memory_order_relaxed) > 0) {
      const int s = st.state.load(std::memory_order_relaxed);
      // Filling: wake the waiters (they raise); broken: stay resetting until
      // the last one leaves.
      if (s == BarrierState::kFilling || s == BarrierState::kBroken) {
        st.state.store(BarrierState::kResetting, std::memory_order_relaxed);
      }
    } else {
      st.state.store(BarrierState::kFilling, std::memory_order_relaxed);
    }
    cond.notify_all();
  }

  static void abort(Cond& cond, BarrierState& st) RG_NO_THREAD_SAFETY_ANALYSIS {
    Hold hold(cond);
    break_barrier(cond, st);
  }

  static int n_waiting(const BarrierState& st) noexcept {
    return st.state.load(std::memory_order_relaxed) == BarrierState::kFilling
               ? st.count.load(std::memory_order_relaxed)
               : 0;
  }

  static bool broken(const BarrierState& st) noexcept {
    return st.state.load(std::memory_order_relaxed) == BarrierState::kBroken;
  }

 private:
  struct Hold {
    explicit Hold(Cond& c) RG_NO_THREAD_SAFETY_ANALYSIS : cond(c) { cond.acquire(); }
    ~Hold() RG_NO_THREAD_SAFETY_ANALYSIS {
      if (!held) return;
      try {
        cond.release();
      } catch (...) {  // never throw from a destructor
      }
    }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;
    Cond& cond;
    bool held = true;
  };

  static void enter(Cond& cond, BarrierState& st) RG_NO_THREAD_SAFETY_ANALYSIS {
    for (;;) {
      const int s = st.state.load(std::memory_order_relaxed);
      if (s != BarrierState::kResetting && s != BarrierState::kDraining) break;
      cond.wait();
    }
    if (st.state.load(std::memory_order_relaxed) < 0) throw BrokenBarrierError("");
  }

  static void release(Cond& cond, BarrierState& st, const std::function<void()>& action)
      RG_NO_THREAD_SAFETY_ANALYSIS {
    try {
      if (action) action();
      st.state.store(BarrierState::kDraining, std::memory_order_relaxed);
      cond.notify_all();
    } catch (...) {
      break_barrier(cond, st);  // an exception in the action breaks the barrier
      throw;
    }
  }

  static void wait_released(Cond& cond, BarrierState& st, const std::optional<Seconds>& timeout)
      RG_NO_THREAD_SAFETY_ANALYSIS {
    const bool released = cond.wait_for(
        [&] { return st.state.load(std::memory_order_relaxed) != BarrierState::kFilling; },
        timeout);
    if (!released) {
      break_barrier(cond, st);  // a timeout breaks the barrier for everyone
      throw BrokenBarrierError("");
    }
    if (st.state.load(std::memory_order_relaxed) < 0) throw BrokenBarrierError("");
  }

  static void leave(Cond& cond, BarrierState& st) RG_NO_THREAD_SAFETY_ANALYSIS {
    const int left = st.count.load(std::memory_order_relaxed) - 1;
    st.count.store(left, std::memory_order_relaxed);
    if (left == 0) {
      const int s = st.state.load(std::memory_order_relaxed);
      if (s == BarrierState::kResetting || s == BarrierState::kDraining) {
        st.state.store(BarrierState::kFilling, std::memory_order_relaxed);
        cond.notify_all();
      }
    }
  }

  static void break_barrier(Cond& cond, BarrierState& st) RG_NO_THREAD_SAFETY_ANALYSIS {
    st.state.store(BarrierState::kBroken, std::memory_order_relaxed);
    cond.notify_all();
  }
};

}  // namespace racegate::internal
