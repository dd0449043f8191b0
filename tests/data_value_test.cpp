// Unit tests of racegate::mp::Value and racegate::mp::Array in shared memory,
// across forked processes.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cases/support/process_guard.h"
#include "racegate/errors.h"
#include "racegate/mp/array.h"
#include "racegate/mp/event.h"
#include "racegate/mp/process.h"
#include "racegate/mp/value.h"
#include "racegate/threading/lock.h"
#include "racegate/threading/thread.h"
#include "support/test_helpers.h"

using racegate::test::error_of;

namespace mp = racegate::mp;
namespace threading = racegate::threading;
using racegate::test::ProcessGuard;
using Seconds = std::chrono::duration<double>;

// These tests take and test locks through Value/Array forwarders on purpose:
// Clang's static lock analysis (on the clang legs) cannot follow that.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif

namespace {


struct Point {
  int x;
  double y;
};

}  // namespace

TEST(MpValue, InitialValueSetAndRawObject) {
  mp::Value<int> zero;
  EXPECT_EQ(zero.value(), 0);
  mp::Value<double> d(2.5);
  EXPECT_EQ(d.value(), 2.5);
  d.set_value(-1.0);
  EXPECT_EQ(d.value(), -1.0);
  d.get_obj() = 4.0;
  EXPECT_EQ(d.value(), 4.0);
  mp::Value<double> copy = d;  // copies share the value and the lock
  copy.set_value(5.0);
  EXPECT_EQ(d.value(), 5.0);
  EXPECT_EQ(&copy.get_lock(), &d.get_lock());
  mp::Value<Point> p(Point{1, 2.0});
  p.set_value(Point{3, 4.5});
  EXPECT_EQ(p.value().x, 3);
  EXPECT_EQ(p.value().y, 4.5);
}

TEST(MpValue, LockIsAnRLockAsCPythonsDefault) {
  mp::Value<int> v(1);
  EXPECT_TRUE(v.acquire());
  EXPECT_TRUE(v.get_lock().locked());
  EXPECT_TRUE(v.acquire(false));  // re-entrant for the owner
  EXPECT_EQ(v.get_lock().count(), 2);
  v.set_value(v.value() + 1);  // `with v.get_lock(): v.value += 1`
  // Another thread does not own it: it cannot take it while we hold it.
  bool other_got_it = true;
  threading::Thread other([&] { other_got_it = v.get_lock().acquire(true, Seconds(0.01)); });
  other.start();
  other.join();
  EXPECT_FALSE(other_got_it);
  v.release();
  v.release();
  EXPECT_FALSE(v.get_lock().locked());
  EXPECT_EQ(v.value(), 2);
  EXPECT_THROW(v.release(), racegate::AssertionError);  // not owned
}

TEST(MpValue, LockedIncrementsFromSeveralProcessesAreExact) {
  constexpr int kProcesses = 4, kIncrements = 2000;
  mp::Value<long> counter(0);
  std::vector<std::unique_ptr<mp::Process>> procs;
  for (int i = 0; i < kProcesses; ++i) {
    procs.push_back(std::make_unique<mp::Process>([counter]() mutable {
      for (int k = 0; k < kIncrements; ++k) {
        threading::LockGuard guard(counter.get_lock());  // with counter.get_lock():
        counter.set_value(counter.value() + 1);           //     counter.value += 1
      }
    }));
  }
  std::vector<std::unique_ptr<ProcessGuard>> guards;
  for (auto& p : procs) {
    guards.push_back(std::make_unique<ProcessGuard>(*p));
    p->start();
  }
  for (auto& p : procs) {
    p->join();
    EXPECT_EQ(p->exitcode(), 0);
  }
  EXPECT_EQ(counter.value(), kProcesses * kIncrements);
}

TEST(MpValue, ChildWritesParentReads) {
  mp::Value<Point> v;
  mp::Process p([v]() mutable { v.set_value(Point{7, 0.5}); });
  ProcessGuard guard(p);
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_EQ(v.value().x, 7);
  EXPECT_EQ(v.value().y, 0.5);
}

TEST(MpArray, ConstructionIndexingAndMessages) {
  mp::Array<int> a(3);
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(a.to_vector(), (std::vector<int>{0, 0, 0}));
  a.set(0, 10);
  a.set(-1, 30);  // a[-1]
  EXPECT_EQ(a[0], 10);
  EXPECT_EQ(a.get(-1), 30);
  EXPECT_EQ(a.get(2), 30);
  EXPECT_EQ(a.get(-3), 10);
  EXPECT_EQ(error_of<racegate::IndexError>([&] { (void)a.get(3); }), "invalid index");
  EXPECT_EQ(error_of<racegate::IndexError>([&] { (void)a.get(-4); }), "invalid index");
  EXPECT_EQ(error_of<racegate::IndexError>([&] { a.set(3, 1); }), "invalid index");
  a.assign({1, 2, 3});
  EXPECT_EQ(a.to_vector(), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(error_of<racegate::ValueError>([&] { a.assign({1, 2}); }),
            "Can only assign sequence of same size");
  auto raw = a.get_obj();
  ASSERT_EQ(raw.size(), 3u);
  raw[1] = 20;
  EXPECT_EQ(a[1], 20);

  mp::Array<double> b(std::vector<double>{1.5, 2.5});
  EXPECT_EQ(b.to_vector(), (std::vector<double>{1.5, 2.5}));
  mp::Array<char> empty(0);
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_TRUE(empty.to_vector().empty());
  EXPECT_THROW((void)empty.get(0), racegate::IndexError);
}

TEST(MpArray, ChildrenWriteTheirSlotsParentReadsThemAll) {
  constexpr int kChildren = 4;
  mp::Array<int> slots(kChildren);
  mp::Array<long> sums(1);
  std::vector<std::unique_ptr<mp::Process>> procs;
  for (int i = 0; i < kChildren; ++i) {
    procs.push_back(std::make_unique<mp::Process>([slots, sums, i]() mutable {
      slots.set(i, (i + 1) * 11);
      for (int k = 0; k < 500; ++k) {
        threading::LockGuard guard(sums.get_lock());
        sums.get_obj()[0] += 1;
      }
    }));
  }
  std::vector<std::unique_ptr<ProcessGuard>> guards;
  for (auto& p : procs) {
    guards.push_back(std::make_unique<ProcessGuard>(*p));
    p->start();
  }
  for (auto& p : procs) {
    p->join();
    EXPECT_EQ(p->exitcode(), 0);
  }
  EXPECT_EQ(slots.to_vector(), (std::vector<int>{11, 22, 33, 44}));
  EXPECT_EQ(sums[0], kChildren * 500);
}
