// The reference's blocking hooks (racegate/schedule.h): every futex wait of
// a primitive asks the installed Blocking::wait first and does what it
// decides, every futex wake calls Blocking::wake, and every kernel wait the
// scheduler cannot model is bracketed by leave()/enter(). A fake scheduler
// records the calls and decides; nothing here depends on timing except the
// lower bound of a wait the fake sends to the kernel.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>

#include "racegate/mp/connection.h"
#include "racegate/mp/event.h"
#include "racegate/schedule.h"
#include "racegate/thread_annotations.h"
#include "racegate/threading/event.h"
#include "racegate/threading/lock.h"

namespace {

namespace schedule = racegate::schedule;
using schedule::WaitOutcome;
using racegate::internal::Seconds;

std::atomic<int> g_waits{0};
std::atomic<int> g_wakes{0};
std::atomic<int> g_leaves{0};
std::atomic<int> g_enters{0};
std::atomic<const void*> g_last_word{nullptr};
std::atomic<const void*> g_last_woken{nullptr};
std::atomic<std::uint64_t> g_last_deadline{0};
std::atomic<bool> g_last_can_idle{false};
// What the fake decides: the first `g_rechecks` waits say kRecheck, then
// every wait says `g_then`.
std::atomic<int> g_rechecks{0};
std::atomic<WaitOutcome> g_then{WaitOutcome::kTimedOut};

WaitOutcome fake_wait(const std::atomic<std::uint32_t>* word, std::uint32_t /*expected*/, std::uint64_t deadline_ns,
                      bool can_idle) noexcept {
  g_last_word = word;
  g_last_deadline = deadline_ns;
  g_last_can_idle = can_idle;
  if (g_waits.fetch_add(1) < g_rechecks.load()) return WaitOutcome::kRecheck;
  return g_then.load();
}
void fake_wake(const void* word) noexcept {
  g_last_woken = word;
  g_wakes.fetch_add(1);
}
void fake_leave() noexcept { g_leaves.fetch_add(1); }
void fake_enter() noexcept { g_enters.fetch_add(1); }

constexpr schedule::Blocking kFake{fake_wait, fake_wake, fake_leave, fake_enter};

class BlockingHooks : public ::testing::Test {
 protected:
  void SetUp() override {
    g_waits = 0;
    g_wakes = 0;
    g_leaves = 0;
    g_enters = 0;
    g_rechecks = 0;
    g_then = WaitOutcome::kTimedOut;
    g_last_word = nullptr;
    g_last_woken = nullptr;
    ASSERT_EQ(schedule::set_blocking(&kFake), nullptr);
  }
  void TearDown() override { EXPECT_EQ(schedule::set_blocking(nullptr), &kFake); }
};

TEST_F(BlockingHooks, TheSchedulerDecidesATimeout) {
  racegate::threading::Event event;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(event.wait(Seconds(30.0)));  // the fake ends the wait at once
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  EXPECT_EQ(g_waits.load(), 1);
  EXPECT_NE(g_last_deadline.load(), 0u);  // a timed wait passes its deadline
  EXPECT_FALSE(g_last_can_idle.load());   // a word of this process only
  EXPECT_EQ(g_leaves.load(), 0);
}

TEST_F(BlockingHooks, ARecheckMakesThePrimitiveLookAgain) {
  g_rechecks = 3;
  racegate::threading::Event event;
  EXPECT_FALSE(event.wait(Seconds(30.0)));
  EXPECT_EQ(g_waits.load(), 4);  // three rechecks, then the timeout
}

// Acquires a held lock a second time (the analysis rightly objects).
bool acquire_again(racegate::threading::Lock& lock) RG_NO_THREAD_SAFETY_ANALYSIS {
  const bool got = lock.acquire(true);  // blocking, no timeout
  if (got) lock.release();
  return got;
}

TEST_F(BlockingHooks, AnUntimedWaitHasNoDeadline) {
  // The fake must end an untimed wait too: kTimedOut ends the lock attempt.
  racegate::threading::Lock lock;
  EXPECT_TRUE(lock.acquire());
  EXPECT_FALSE(acquire_again(lock));
  EXPECT_EQ(g_last_deadline.load(), 0u);
  EXPECT_GE(g_waits.load(), 1);
  // The failed attempt announced a waiter, so the release wakes through the
  // hook, on the same word the wait was on.
  lock.release();
  EXPECT_EQ(g_wakes.load(), 1);
  EXPECT_EQ(g_last_woken.load(), g_last_word.load());
}

TEST_F(BlockingHooks, AWordSharedWithProcessesMayIdleInTheKernel) {
  g_then = WaitOutcome::kKernel;
  racegate::mp::Event event;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(event.wait(Seconds(0.05)));  // the kernel wait runs to the real deadline
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(50));
  EXPECT_TRUE(g_last_can_idle.load());
  EXPECT_GE(g_leaves.load(), 1);
  EXPECT_EQ(g_leaves.load(), g_enters.load());
}

TEST_F(BlockingHooks, KernelWaitsOfAPipeAreOutsideTheScheduler) {
  auto [receiver, sender] = racegate::mp::Pipe<std::string>();
  sender.send("hello");
  EXPECT_EQ(receiver.recv(), "hello");
  EXPECT_GE(g_leaves.load(), 2);  // the send and the reads
  EXPECT_EQ(g_leaves.load(), g_enters.load());
  EXPECT_EQ(g_waits.load(), 0);
}

TEST(BlockingHooksOff, NothingInstalledMeansTheKernel) {
  ASSERT_EQ(schedule::blocking(), nullptr);
  racegate::threading::Event event;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(event.wait(Seconds(0.02)));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(20));
  event.set();
  EXPECT_TRUE(event.wait(Seconds(0.0)));
}

}  // namespace
