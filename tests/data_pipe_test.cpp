// Unit tests of racegate::mp::Pipe and Connection, within one process and
// across forked processes. (The ends are copied out of the pair rather than
// bound with `auto [a, b]`: clang 14 cannot capture structured bindings.)
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "cases/support/process_guard.h"
#include "racegate/errors.h"
#include "racegate/mp/connection.h"
#include "racegate/mp/event.h"
#include "racegate/mp/process.h"
#include "racegate/mp/value.h"
#include "support/test_helpers.h"

using racegate::test::error_of;
using racegate::test::seconds_since;
using racegate::test::pattern;

namespace mp = racegate::mp;
using racegate::test::ProcessGuard;
using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

namespace {

constexpr Seconds kLong{60};




}  // namespace

TEST(MpPipe, DuplexByDefaultBothWays) {
  // catalog pipe.duplex_default.
  using Msg = std::map<std::string, std::vector<int>>;
  auto a_b = mp::Pipe<Msg>();
  auto a = a_b.first;
  auto b = a_b.second;
  EXPECT_TRUE(a.readable() && a.writable() && b.readable() && b.writable());
  EXPECT_FALSE(a.closed());
  a.send({{"k", {1, 2}}});
  EXPECT_TRUE(b.poll());
  EXPECT_EQ(b.recv(), (Msg{{"k", {1, 2}}}));
  b.send({{"back", {}}});
  EXPECT_EQ(a.recv(), (Msg{{"back", {}}}));
  EXPECT_FALSE(a.poll());
  EXPECT_FALSE(b.poll());
}

TEST(MpPipe, ChildEchoes) {
  using Msg = std::pair<std::string, std::vector<std::string>>;
  auto parent_end_child_end = mp::Pipe<Msg>();
  auto parent_end = parent_end_child_end.first;
  auto child_end = parent_end_child_end.second;
  mp::Process p([child_end]() mutable {
    Msg m = child_end.recv();
    child_end.send({"echo", {m.first, m.second.at(0)}});
  });
  ProcessGuard guard(p);
  p.start();
  child_end.close();  // the parent's copy; the child keeps its own
  parent_end.send({"1", {"x"}});
  EXPECT_EQ(parent_end.recv(), (Msg{"echo", {"1", "x"}}));
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  // The child exited, so no copy of its end is left open: end of stream.
  EXPECT_TRUE(parent_end.poll(kLong));
  EXPECT_THROW(parent_end.recv(), racegate::EofError);
}

TEST(MpPipe, SimplexEndsAndDirectionErrors) {
  // catalog pipe.simplex_ends.
  auto r_w = mp::Pipe<int>(false);
  auto r = r_w.first;
  auto w = r_w.second;
  EXPECT_EQ(std::make_pair(r.readable(), r.writable()), std::make_pair(true, false));
  EXPECT_EQ(std::make_pair(w.readable(), w.writable()), std::make_pair(false, true));
  EXPECT_EQ(error_of<racegate::OSError>([&] { r.send(1); }), "connection is read-only");
  EXPECT_EQ(error_of<racegate::OSError>([&] { r.send_bytes("x"); }), "connection is read-only");
  EXPECT_EQ(error_of<racegate::OSError>([&] { (void)w.recv(); }), "connection is write-only");
  EXPECT_EQ(error_of<racegate::OSError>([&] { (void)w.recv_bytes(); }), "connection is write-only");
  EXPECT_EQ(error_of<racegate::OSError>([&] { (void)w.poll(); }), "connection is write-only");
  w.send(5);
  EXPECT_EQ(r.recv(), 5);
}

TEST(MpPipe, RecvBlocksUntilTheOtherProcessSends) {
  // catalog pipe.recv_blocks: poll is the probe, never a bare recv.
  auto a_b = mp::Pipe<int>();
  auto a = a_b.first;
  auto b = a_b.second;
  auto t0 = Clock::now();
  EXPECT_FALSE(a.poll(Seconds(0.2)));
  EXPECT_GE(seconds_since(t0), 0.2);
  EXPECT_FALSE(a.poll(Seconds(-1)));  // negative behaves as zero
  mp::Event go;
  mp::Process p([b, go]() mutable {
    if (!go.wait(kLong)) throw mp::SystemExit(2);
    b.send(7);
  });
  ProcessGuard guard(p, go);
  p.start();
  EXPECT_FALSE(a.poll());  // the child waits for `go`: nothing was sent
  go.set();
  EXPECT_EQ(a.recv(), 7);  // blocks until the child sends
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(MpPipe, RecvRaisesEofOnceEveryCopyOfTheWriterIsClosedAndDrained) {
  // catalog pipe.recv_eof_after_close.
  auto r_w = mp::Pipe<int>(false);
  auto r = r_w.first;
  auto w = r_w.second;
  mp::Process writer([r, w]() mutable {
    r.close();  // the child's copy of the read end: not needed here
    w.send(1);
    w.send(2);
    w.close();
  });
  ProcessGuard guard(writer);
  writer.start();
  w.close();  // the parent's copy of the write end
  EXPECT_EQ(r.recv(), 1);
  EXPECT_EQ(r.recv(), 2);
  try {
    (void)r.recv();
    FAIL() << "no EofError";
  } catch (const racegate::EofError& e) {
    EXPECT_STREQ(e.what(), "");
    EXPECT_STREQ(e.python_type(), "EofError");
  }
  EXPECT_TRUE(r.poll());  // at end of stream, poll() is true
  EXPECT_THROW(r.recv(), racegate::EofError);
  writer.join();
  EXPECT_EQ(writer.exitcode(), 0);
}

TEST(MpPipe, NoEofWhileAnyCopyOfTheWriterIsOpen) {
  // catalog pipe.blog_example_never_eofs: the parent still holds the write
  // end, so after the child's items recv would block instead of raising.
  auto r_w = mp::Pipe<int>(false);
  auto r = r_w.first;
  auto w = r_w.second;
  mp::Process writer([w]() mutable {
    for (int i = 1; i <= 5; ++i) w.send(i);
  });
  ProcessGuard guard(writer);
  writer.start();
  std::vector<int> got;
  for (int i = 0; i < 5; ++i) got.push_back(r.recv());
  writer.join();
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3, 4, 5}));
  EXPECT_FALSE(r.poll(Seconds(0.1)));  // blocked, not at end of stream
  w.close();
  EXPECT_TRUE(r.poll());
  EXPECT_THROW(r.recv(), racegate::EofError);
}

TEST(MpPipe, ClosedHandleAndBrokenPipe) {
  // catalog pipe.closed_handle.
  auto a_b = mp::Pipe<int>();
  auto a = a_b.first;
  auto b = a_b.second;
  mp::Connection<int> a_copy = a;
  a.close();
  a.close();  // harmless
  EXPECT_TRUE(a.closed());
  EXPECT_TRUE(a_copy.closed());
  EXPECT_EQ(error_of<racegate::OSError>([&] { (void)a.recv(); }), "handle is closed");
  EXPECT_EQ(error_of<racegate::OSError>([&] { a.send(1); }), "handle is closed");
  EXPECT_EQ(error_of<racegate::OSError>([&] { a.send_bytes(""); }), "handle is closed");
  EXPECT_EQ(error_of<racegate::OSError>([&] { (void)a.recv_bytes(); }), "handle is closed");
  EXPECT_EQ(error_of<racegate::OSError>([&] { (void)a.poll(); }), "handle is closed");
  EXPECT_EQ(error_of<racegate::OSError>([&] { (void)a_copy.fileno(); }), "handle is closed");
  // The other end: nothing left to read, and writing has nobody to read it.
  EXPECT_TRUE(b.poll());
  EXPECT_THROW(b.recv(), racegate::EofError);
  EXPECT_EQ(error_of<racegate::OSError>([&] { b.send(1); }), "[Errno 32] Broken pipe");

  // Closed before being used in a simplex pipe: closed wins over direction.
  auto r_w = mp::Pipe<int>(false);
  auto r = r_w.first;
  auto w = r_w.second;
  r.close();
  EXPECT_EQ(error_of<racegate::OSError>([&] { r.send(1); }), "handle is closed");
}

TEST(MpPipe, PeerClosingWithUnreadDataStillDeliversThenEofs) {
  // b had data from a that it never read when it closed: a still reads what
  // b sent before, then sees the end of stream (not a reset error).
  auto a_b = mp::Pipe<int>();
  auto a = a_b.first;
  auto b = a_b.second;
  a.send(1);
  b.send(2);
  b.close();
  EXPECT_EQ(a.recv(), 2);
  EXPECT_THROW(a.recv(), racegate::EofError);
}

TEST(MpPipe, MessagesOfZeroBytesAndSeveralMebibytesAcrossProcesses) {
  auto parent_end_child_end = mp::Pipe<std::string>();
  auto parent_end = parent_end_child_end.first;
  auto child_end = parent_end_child_end.second;
  mp::Process p([child_end]() mutable {
    child_end.send("");
    child_end.send_bytes("");
    child_end.send(pattern(6 << 20, 5));
    child_end.send_bytes(pattern(3 << 20, 6));
    // Echo the size of what the parent sends.
    const std::string big = child_end.recv();
    child_end.send(std::to_string(big.size()) + (big == pattern(7 << 20, 8) ? " ok" : " bad"));
  });
  ProcessGuard guard(p);
  p.start();
  EXPECT_EQ(parent_end.recv(), "");
  EXPECT_EQ(parent_end.recv_bytes(), "");
  EXPECT_EQ(parent_end.recv(), pattern(6 << 20, 5));
  EXPECT_EQ(parent_end.recv_bytes(), pattern(3 << 20, 6));
  parent_end.send(pattern(7 << 20, 8));
  EXPECT_EQ(parent_end.recv(), std::to_string(7 << 20) + " ok");
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(MpPipe, SendBytesRangesAndRecvBytesMaxlength) {
  auto a_b = mp::Pipe<int>();
  auto a = a_b.first;
  auto b = a_b.second;
  a.send_bytes("abcdef", 2, 3);
  EXPECT_EQ(b.recv_bytes(), "cde");
  a.send_bytes("abcdef", 4);
  EXPECT_EQ(b.recv_bytes(10), "ef");
  EXPECT_EQ(error_of<racegate::ValueError>([&] { a.send_bytes("abc", 4); }), "buffer length < offset");
  EXPECT_EQ(error_of<racegate::ValueError>([&] { a.send_bytes("abc", 1, 3); }),
            "buffer length < offset + size");
  EXPECT_EQ(error_of<racegate::ValueError>([&] { (void)b.recv_bytes(-1); }), "negative maxlength");

  // Too long for maxlength: a duplex end stops being readable...
  a.send_bytes("hello");
  EXPECT_EQ(error_of<racegate::OSError>([&] { (void)b.recv_bytes(3); }), "bad message length");
  EXPECT_FALSE(b.readable());
  EXPECT_TRUE(b.writable());
  EXPECT_EQ(error_of<racegate::OSError>([&] { (void)b.recv(); }), "connection is write-only");
  // ...and a receive-only end is closed.
  auto r_w = mp::Pipe<int>(false);
  auto r = r_w.first;
  auto w = r_w.second;
  w.send_bytes("hello");
  EXPECT_EQ(error_of<racegate::OSError>([&] { (void)r.recv_bytes(4); }), "bad message length");
  EXPECT_TRUE(r.closed());
}

TEST(MpPipe, EachProcessClosesItsOwnCopy) {
  auto a_b = mp::Pipe<int>();
  auto a = a_b.first;
  auto b = a_b.second;
  mp::Event closed_in_child;
  mp::Process p([a, b, closed_in_child]() mutable {
    a.close();  // only the child's copy
    if (!a.closed()) throw mp::SystemExit(2);
    closed_in_child.set();
    b.send(int(b.recv() * 2));
  });
  ProcessGuard guard(p);
  p.start();
  ASSERT_TRUE(closed_in_child.wait(kLong));
  EXPECT_FALSE(a.closed());  // the parent's copy is still open
  a.send(21);
  EXPECT_EQ(a.recv(), 42);
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

TEST(MpPipe, DescriptorsAreCloseOnExecAndClosedWithTheLastHandle) {
  int fd_a = -1, fd_b = -1;
  {
    auto a_b = mp::Pipe<int>();
  auto a = a_b.first;
  auto b = a_b.second;
    fd_a = a.fileno();
    fd_b = b.fileno();
    EXPECT_NE(fcntl(fd_a, F_GETFD) & FD_CLOEXEC, 0);
    EXPECT_NE(fcntl(fd_b, F_GETFD) & FD_CLOEXEC, 0);
  }
  EXPECT_EQ(fcntl(fd_a, F_GETFD), -1);
  EXPECT_EQ(fcntl(fd_b, F_GETFD), -1);
}

TEST(MpPipe, ManyMessagesBothWaysWithAChild) {
  // A child doubles every number; the parent sends a window of messages
  // ahead so both directions carry data at once.
  auto parent_end_child_end = mp::Pipe<long>();
  auto parent_end = parent_end_child_end.first;
  auto child_end = parent_end_child_end.second;
  mp::Process p([child_end]() mutable {
    for (;;) {
      long x = child_end.recv();
      if (x < 0) break;
      child_end.send(2 * x);
    }
  });
  ProcessGuard guard(p);
  p.start();
  constexpr long kCount = 2000, kWindow = 16;
  long sent = 0;
  for (long received = 0; received < kCount; ++received) {
    while (sent < kCount && sent < received + kWindow) parent_end.send(sent++);
    ASSERT_EQ(parent_end.recv(), 2 * received);
  }
  parent_end.send(-1);
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}
