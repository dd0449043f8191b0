// Unit tests of racegate::threading::Thread.
#include <atomic>
#include <chrono>
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "racegate/errors.h"
#include "racegate/threading/event.h"
#include "racegate/threading/thread.h"

namespace threading = racegate::threading;
using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

namespace {

int number(const std::string& name) { return std::stoi(name.substr(name.rfind('-') + 1)); }

class Counting : public threading::Thread {
 public:
  std::atomic<int> runs{0};
  std::string seen_name;
  ~Counting() override { if (is_alive()) join(); }

 protected:
  void run() override {
    seen_name = threading::current_thread_name();
    runs.fetch_add(1);
  }
};

template <class F>
std::string runtime_error_of(F&& f) {
  try {
    f();
  } catch (const racegate::RuntimeError& e) {
    return e.what();
  }
  return "<no RuntimeError>";
}

}  // namespace

TEST(Thread, DefaultNamesCountUp) {
  threading::Thread a, b;
  Counting sub;
  EXPECT_TRUE(std::regex_match(a.name(), std::regex("Thread-[0-9]+")));
  EXPECT_EQ(number(b.name()), number(a.name()) + 1);
  EXPECT_EQ(number(sub.name()), number(a.name()) + 2);  // subclasses share the counter
  threading::Thread named([] {}, "worker");
  EXPECT_EQ(named.name(), "worker");
  EXPECT_EQ(threading::current_thread_name(), "MainThread");
}

TEST(Thread, SubclassRunOverrideRunsOnItsThread) {
  Counting t;
  EXPECT_FALSE(t.ident().has_value());
  t.start();
  t.join();
  EXPECT_EQ(t.runs.load(), 1);
  EXPECT_EQ(t.seen_name, t.name());
  EXPECT_TRUE(t.ident().has_value());
  EXPECT_TRUE(t.native_id().has_value());
  EXPECT_FALSE(t.is_alive());
}

TEST(Thread, TargetWithArguments) {
  int out = 0;
  threading::Thread t([&out](int a, int b) { out = a * b; }, 6, 7);
  t.start();
  t.join();
  EXPECT_EQ(out, 42);
}

TEST(Thread, MisuseMessages) {
  threading::Thread t;
  EXPECT_EQ(runtime_error_of([&] { t.join(); }), "cannot join thread before it is started");
  t.start();
  EXPECT_EQ(runtime_error_of([&] { t.start(); }), "threads can only be started once");
  EXPECT_EQ(runtime_error_of([&] { t.set_daemon(true); }), "cannot set daemon status of active thread");
  t.join();

  std::string self_join;
  threading::Thread* self = nullptr;
  threading::Event ready;
  threading::Thread joiner([&] {
    ready.wait();
    self_join = runtime_error_of([&] { self->join(); });
  });
  self = &joiner;
  ready.set();
  joiner.start();
  joiner.join();
  EXPECT_EQ(self_join, "cannot join current thread");
}

TEST(Thread, JoinTimeoutReturnsWhileAlive) {
  threading::Event release;
  threading::Thread t([&] { release.wait(); });
  t.start();
  auto t0 = Clock::now();
  t.join(Seconds(0.05));
  double elapsed = Seconds(Clock::now() - t0).count();
  EXPECT_GE(elapsed, 0.05);
  EXPECT_LT(elapsed, 5.05);
  EXPECT_TRUE(t.is_alive());
  release.set();
  t.join();
  EXPECT_FALSE(t.is_alive());
}

TEST(Thread, DaemonFlagBeforeStart) {
  threading::Thread t;
  EXPECT_FALSE(t.daemon());
  t.set_daemon(true);
  EXPECT_TRUE(t.daemon());
  t.start();
  t.join();
}

TEST(Thread, ExceptionEndsOnlyThatThread) {
  threading::Thread t([] { throw racegate::ValueError("bad"); });
  t.start();
  t.join();
  EXPECT_FALSE(t.is_alive());
}
