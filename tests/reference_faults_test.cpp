// The reference under faults: a process killed at the worst moment (holding a
// semaphore unit, blocked in acquire, holding a queue's internal lock, blocked
// in put, reading a pipe) never leaves the others blocked for ever, and the
// shared memory of the process-level primitives has no name anywhere and does
// not outlive a SIGKILLed creator.
//
// Orders are forced with events and process states, never with sleeps; elapsed
// times are asserted only as a strict lower bound (a timeout was honoured) and
// a loose upper bound (nothing hangs).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

// process_guard.h first: it includes mp/event.h.
#include "cases/support/process_guard.h"
#include "racegate/errors.h"
#include "racegate/internal/data_ring.h"
#include "racegate/mp/array.h"
#include "racegate/mp/barrier.h"
#include "racegate/mp/condition.h"
#include "racegate/mp/connection.h"
#include "racegate/mp/event.h"
#include "racegate/mp/lock.h"
#include "racegate/mp/process.h"
#include "racegate/mp/queue.h"
#include "racegate/mp/rlock.h"
#include "racegate/mp/semaphore.h"
#include "racegate/mp/value.h"
#include "racegate/threading/thread.h"
#include "support/test_helpers.h"

// A child is killed while it holds a lock on purpose: Clang's static lock
// analysis, which the clang legs run, cannot follow that.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wthread-safety-analysis"
#endif

namespace mp = racegate::mp;
namespace threading = racegate::threading;
using racegate::internal::Deadline;
using racegate::internal::RingQueue;
using racegate::test::ProcessGuard;
using racegate::test::error_of;
using racegate::test::seconds_since;
using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

namespace {

constexpr double kLooseBound = 30.0;  // seconds: "does not hang", not a speed claim

// The scheduler state of process `pid` ('R', 'S', 'Z', ...), '?' when gone.
char process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return '?';
  const auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() ? '?' : line[close + 2];
}

// Waits (bounded) until `pid` sleeps: after it announced that its next step
// blocks, a sleeping process is blocked in that step.
bool wait_sleeping(pid_t pid) {
  const auto t0 = Clock::now();
  while (seconds_since(t0) < kLooseBound) {
    if (process_state(pid) == 'S') return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

// A child's target: takes the queue's internal lock, says so, and waits to
// be killed.
std::function<void()> hold_the_internal_lock(std::shared_ptr<RingQueue> ring, mp::Event holding,
                                             mp::Event never) {
  return [ring, holding, never]() mutable {
    ring->lock_and_keep_for_fault_test();
    holding.set();
    never.wait();
  };
}

std::string broken_queue_message(pid_t pid) {
  return "queue is broken: process " + std::to_string(pid) +
         " died while holding its internal lock";
}

// The names in /dev/shm, but for the segments other tests running in
// parallel create and remove meanwhile (the Boost adapters' message queues
// of the case binaries, the runner tests' misbehaving and fault cases).
std::set<std::string> dev_shm_names() {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/dev/shm", ec)) {
    std::string name = e.path().filename().string();
    bool others = false;
    for (const char* prefix : {"racegate-mq-", "racegate-misbehave-", "racegate-fault-"}) {
      others = others || name.rfind(prefix, 0) == 0;
    }
    if (!others) names.insert(name);
  }
  return names;
}

// The line of /proc/<pid>/maps whose range holds `addr`, "" when none.
std::string maps_line_of(pid_t pid, const void* addr) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
  const auto a = reinterpret_cast<std::uintptr_t>(addr);
  std::string line;
  while (std::getline(in, line)) {
    unsigned long lo = 0;
    unsigned long hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi) == 2 && lo <= a && a < hi) return line;
  }
  return "";
}

}  // namespace

// ---- Semaphore ------------------------------------------------------------------------------------
//
// A semaphore has no owner: any process may release a unit, and its whole
// state is one atomic counter changed by single compare-and-swap steps (plus
// a waiter count that only decides whether release() makes a wake-up call).
// So there is no internal critical section to die in; what a killed process
// can do is take a unit with it. A blocked acquirer then ends at its timeout,
// and whoever repairs the count releases the unit.

TEST(SemaphoreFaults, UnitTakenByAKilledProcessEndsBlockedAcquiresAtTheirTimeout) {
  mp::Semaphore sem(1);
  mp::Event holding;
  mp::Event never;
  mp::Process p([sem, holding, never]() mutable {
    (void)sem.acquire();
    holding.set();
    never.wait();
  });
  ProcessGuard guard(p);
  p.start();
  ASSERT_TRUE(holding.wait(Seconds(60)));
  EXPECT_EQ(sem.get_value(), 0);
  p.kill();
  p.join();
  EXPECT_EQ(p.exitcode(), -SIGKILL);

  // A thread blocked before the next acquire ends at its own timeout too.
  bool thread_got = true;
  double thread_waited = 0;
  threading::Thread t([&] {
    const auto t0 = Clock::now();
    thread_got = sem.acquire(true, Seconds(0.3));
    thread_waited = seconds_since(t0);
  });
  t.start();
  const auto t0 = Clock::now();
  EXPECT_FALSE(sem.acquire(true, Seconds(0.3)));
  EXPECT_GE(seconds_since(t0), 0.3);
  EXPECT_LT(seconds_since(t0), kLooseBound);
  t.join();
  EXPECT_FALSE(thread_got);
  EXPECT_GE(thread_waited, 0.3);
  EXPECT_LT(thread_waited, kLooseBound);
  EXPECT_FALSE(sem.acquire(false));

  // Recovery: the unit is released on the dead process's behalf.
  sem.release();
  EXPECT_TRUE(sem.acquire(true, Seconds(60)));
  EXPECT_EQ(sem.get_value(), 0);
  sem.release();
}

TEST(SemaphoreFaults, AcquirerKilledWhileBlockedLeavesTheSemaphoreWorking) {
  mp::BoundedSemaphore sem(1);
  ASSERT_TRUE(sem.acquire(false));  // value 0: the child will block
  mp::Event about_to_block;
  mp::Process p([sem, about_to_block]() mutable {
    about_to_block.set();
    (void)sem.acquire();  // blocks: nobody releases while it lives
    std::_Exit(3);
  });
  ProcessGuard guard(p);
  p.start();
  ASSERT_TRUE(about_to_block.wait(Seconds(60)));
  ASSERT_TRUE(wait_sleeping(*p.pid())) << "the child never blocked in acquire()";
  p.kill();  // registered as a waiter, killed inside the wait
  p.join();
  EXPECT_EQ(p.exitcode(), -SIGKILL);

  // The dead waiter took nothing and counts for nothing: the unit released
  // now goes to the next acquirer, blocked or not, and the bound still holds.
  EXPECT_EQ(sem.get_value(), 0);
  bool got = false;
  mp::Event started;
  threading::Thread t([&] {
    started.set();
    got = sem.acquire(true, Seconds(60));
  });
  t.start();
  ASSERT_TRUE(started.wait(Seconds(60)));
  sem.release();
  t.join();
  EXPECT_TRUE(got);
  EXPECT_EQ(sem.get_value(), 0);
  sem.release();
  EXPECT_EQ(sem.get_value(), 1);
  EXPECT_THROW(sem.release(), racegate::ValueError);
}

// ---- Queue's internal lock -------------------------------------------------------------------------

// A process killed while it holds the queue's internal lock (as inside a put
// or get, where the ring may be half-written): the queue is marked broken,
// the blocked getter and every later call throw OwnerDiedError naming the
// dead pid, none hangs.
TEST(QueueFaults, KilledHoldingTheInternalLockBreaksTheQueueForEveryone) {
  auto ring = RingQueue::create(0, 1 << 16);
  std::string item;
  ASSERT_TRUE(ring->put("before", Deadline::never(), false));
  ASSERT_TRUE(ring->get(item, Deadline::never()));
  EXPECT_EQ(item, "before");
  EXPECT_EQ(ring->broken_by(), 0);

  mp::Event holding;
  mp::Event never;
  mp::Process p(hold_the_internal_lock(ring, holding, never));
  ProcessGuard guard(p);

  p.start();
  ASSERT_TRUE(holding.wait(Seconds(60)));
  const pid_t pid = *p.pid();

  // A getter of this process, blocked on the lock the child holds (the
  // child is started first: no fork while this process has other threads).
  std::string getter_error;
  mp::Event getter_started;
  threading::Thread getter([&] {
    getter_started.set();
    getter_error = error_of<racegate::OwnerDiedError>([&] {
      std::string out;
      (void)ring->get(out, Deadline::never());
    });
  });
  getter.start();
  ASSERT_TRUE(getter_started.wait(Seconds(60)));
  p.kill();  // not reaped: the holder is a zombie

  const auto t0 = Clock::now();
  EXPECT_EQ(error_of<racegate::OwnerDiedError>([&] { (void)ring->put("x", Deadline::never(), false); }),
            broken_queue_message(pid));
  EXPECT_LT(seconds_since(t0), kLooseBound);
  getter.join();
  EXPECT_EQ(getter_error, broken_queue_message(pid));
  EXPECT_EQ(ring->broken_by(), pid);

  p.join();
  EXPECT_EQ(p.exitcode(), -SIGKILL);
  // Broken for good, also once the pid is gone: timed and untimed calls alike.
  EXPECT_EQ(error_of<racegate::OwnerDiedError>([&] {
              std::string out;
              (void)ring->get(out, Deadline::after(Seconds(60)));
            }),
            broken_queue_message(pid));
  EXPECT_EQ(error_of<racegate::OwnerDiedError>([&] { ring->task_done(); }), broken_queue_message(pid));
  EXPECT_EQ(error_of<racegate::OwnerDiedError>([&] { (void)ring->join(Deadline::never()); }),
            broken_queue_message(pid));
}

// The same through mp::Queue, from another process: a child blocked in put()
// on the broken queue is woken and fails with the error instead of hanging.
TEST(QueueFaults, BlockedPutInAnotherProcessFailsWhenTheQueueBreaks) {
  auto ring = RingQueue::create(1, 1 << 16);
  ASSERT_TRUE(ring->put("full", Deadline::never(), false));
  mp::Event about_to_block;
  mp::Process putter([ring, about_to_block]() mutable {
    about_to_block.set();
    try {
      (void)ring->put("more", Deadline::never(), false);
    } catch (const racegate::OwnerDiedError&) {
      std::_Exit(7);
    }
    std::_Exit(1);
  });
  ProcessGuard guard1(putter);
  putter.start();
  ASSERT_TRUE(about_to_block.wait(Seconds(60)));
  ASSERT_TRUE(wait_sleeping(*putter.pid()));

  mp::Event holding;
  mp::Event never;
  mp::Process holder(hold_the_internal_lock(ring, holding, never));
  ProcessGuard guard2(holder);
  holder.start();
  ASSERT_TRUE(holding.wait(Seconds(60)));
  holder.kill();
  holder.join();
  // Nobody else touches the queue: the blocked putter finds out by itself.
  putter.join(std::chrono::seconds(static_cast<int>(kLooseBound)));
  ASSERT_FALSE(putter.is_alive()) << "the blocked put() hung on the broken queue";
  EXPECT_EQ(putter.exitcode(), 7);
  EXPECT_EQ(ring->broken_by(), *holder.pid());
}

// A process killed while blocked in put() on a full queue (waiting, not
// holding the lock) leaves the queue working, with nothing lost or added.
TEST(QueueFaults, PutterKilledWhileBlockedOnAFullQueueLeavesItWorking) {
  mp::Queue<int> q(1);
  q.put(1);
  mp::Event about_to_block;
  mp::Process p([q, about_to_block]() mutable {
    about_to_block.set();
    q.put(2);  // blocks: the queue is full
    std::_Exit(3);
  });
  ProcessGuard guard(p);
  p.start();
  ASSERT_TRUE(about_to_block.wait(Seconds(60)));
  ASSERT_TRUE(wait_sleeping(*p.pid())) << "the child never blocked in put()";
  p.kill();
  p.join();
  EXPECT_EQ(p.exitcode(), -SIGKILL);
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_EQ(q.get(true, Seconds(60)), 1);
  EXPECT_TRUE(q.empty());
  q.put(3);
  EXPECT_EQ(q.get(true, Seconds(60)), 3);
}

// The reader of a queue killed while the writer is blocked on the full
// queue: the writer's put ends at its timeout with Full.
TEST(QueueFaults, ReaderKilledWhileTheWriterIsBlockedPutEndsAtItsTimeout) {
  mp::Queue<int> q(1);
  mp::Event reader_ready;
  mp::Event go;
  mp::Process reader([q, reader_ready, go]() mutable {
    reader_ready.set();
    go.wait();  // would read after `go`; killed first
    (void)q.get();
  });
  ProcessGuard guard(reader);
  reader.start();
  ASSERT_TRUE(reader_ready.wait(Seconds(60)));
  q.put(1);
  bool full = false;
  double waited = 0;
  mp::Event writer_started;
  threading::Thread writer([&] {
    writer_started.set();
    const auto t0 = Clock::now();
    try {
      q.put(2, true, Seconds(0.5));
    } catch (const racegate::Full&) {
      full = true;
    }
    waited = seconds_since(t0);
  });
  writer.start();
  ASSERT_TRUE(writer_started.wait(Seconds(60)));
  reader.kill();
  reader.join();
  writer.join();
  EXPECT_TRUE(full);
  EXPECT_GE(waited, 0.5);
  EXPECT_LT(waited, kLooseBound);
  EXPECT_EQ(q.qsize(), 1u);  // the queue itself is intact
}

// ---- Pipe -------------------------------------------------------------------------------------------

// The only reader of a pipe killed while the writer is blocked in send() (the
// message is larger than the channel's buffer): send() fails with
// OSError("[Errno 32] Broken pipe") instead of blocking for ever.
TEST(PipeFaults, ReaderKilledWhileTheWriterIsBlockedInSend) {
  auto r_w = mp::Pipe<std::string>(false);
  auto r = r_w.first;
  auto w = r_w.second;
  mp::Event reader_ready;
  mp::Event never;
  mp::Process reader([r, reader_ready, never]() mutable {
    reader_ready.set();
    never.wait();  // never reads
  });
  ProcessGuard guard(reader);
  reader.start();
  r.close();  // the child's copy is the only reader left
  ASSERT_TRUE(reader_ready.wait(Seconds(60)));

  std::string error;
  mp::Event writer_started;
  threading::Thread writer([&] {
    writer_started.set();
    error = error_of<racegate::OSError>([&] { w.send(std::string(8u << 20, 'x')); });
  });
  writer.start();
  ASSERT_TRUE(writer_started.wait(Seconds(60)));
  reader.kill();
  reader.join();
  const auto t0 = Clock::now();
  writer.join();
  EXPECT_LT(seconds_since(t0), kLooseBound);
  EXPECT_EQ(error, "[Errno 32] Broken pipe");
}

// The writer killed while the reader is blocked in recv(): recv() ends with
// EofError once no copy of the writing end is left.
TEST(PipeFaults, WriterKilledWhileTheReaderIsBlockedInRecv) {
  auto r_w = mp::Pipe<int>(false);
  auto r = r_w.first;
  auto w = r_w.second;
  mp::Event writer_ready;
  mp::Event never;
  mp::Process writer([w, writer_ready, never]() mutable {
    writer_ready.set();
    never.wait();
  });
  ProcessGuard guard(writer);
  writer.start();
  w.close();
  ASSERT_TRUE(writer_ready.wait(Seconds(60)));
  bool eof = false;
  mp::Event reader_started;
  threading::Thread reader([&] {
    reader_started.set();
    try {
      (void)r.recv();
    } catch (const racegate::EofError&) {
      eof = true;
    }
  });
  reader.start();
  ASSERT_TRUE(reader_started.wait(Seconds(60)));
  writer.kill();
  writer.join();
  reader.join();
  EXPECT_TRUE(eof);
}

// ---- shared memory ---------------------------------------------------------------------------------

// The process-level primitives live in anonymous shared mappings: nothing is
// named in /dev/shm (so there is no name to guess, no mode to get wrong, and
// nothing another user could open), the mapping is shared and unnamed in
// /proc/PID/maps, and a creator killed with SIGKILL leaves nothing behind.
TEST(SharedMemoryFaults, SegmentsAreUnnamedAndGoneAfterTheCreatorIsKilled) {
  const std::set<std::string> before = dev_shm_names();
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  mp::Event created;
  mp::Event never;
  mp::Process creator([fds, created, never]() mutable {
    ::close(fds[0]);
    mp::Lock lock;
    mp::RLock rlock;
    mp::Semaphore sem(2);
    mp::Condition cond;
    mp::Event event;
    mp::Barrier barrier(2);
    mp::Queue<int> q;
    mp::Value<int> v(0);
    mp::Array<double> a(8);
    auto ring = RingQueue::create(0, 1 << 16);
    q.put(1);
    lock.acquire();  // killed while holding it, and with an item in flight
    const std::string line = maps_line_of(getpid(), ring->id());
    const ssize_t n = ::write(fds[1], line.data(), line.size());
    ::close(fds[1]);
    if (n != static_cast<ssize_t>(line.size())) std::_Exit(1);
    created.set();
    never.wait();
  });
  ProcessGuard guard(creator);
  creator.start();
  ::close(fds[1]);
  std::string line;
  char buf[512];
  for (ssize_t k; (k = ::read(fds[0], buf, sizeof buf)) > 0;) line.append(buf, static_cast<std::size_t>(k));
  ::close(fds[0]);
  ASSERT_TRUE(created.wait(Seconds(60)));
  // "lo-hi rw-s offset dev inode /dev/zero (deleted)": shared, read-write,
  // and backed by no file anyone can open.
  std::istringstream fields(line);
  std::string range, perms, offset, dev, inode;
  fields >> range >> perms >> offset >> dev >> inode;
  std::string path;
  std::getline(fields >> std::ws, path);
  EXPECT_EQ(perms, "rw-s") << line;
  EXPECT_EQ(path, "/dev/zero (deleted)") << line;
  EXPECT_EQ(dev_shm_names(), before) << "a primitive created a named segment";

  creator.kill();
  creator.join();
  EXPECT_EQ(creator.exitcode(), -SIGKILL);
  EXPECT_EQ(dev_shm_names(), before);
}
