// Case templates of catalog section 12 (multiprocessing.Pipe), over any
// PipeAdapter. cases/pipe.cpp registers them.
//
// The ends of a pair are copied out of the std::pair (not bound with
// `auto [a, b]`): clang 14 cannot capture structured bindings.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "cases/adapters/queue_pipe.h"
#include "cases/primitives/queue_mp.h"
#include "racegate/mp/connection.h"

namespace racegate::cases::queues {

// Pipe messages in one process stay well below the socket buffer (a send
// blocks while it is full and nobody reads); across processes up to 1 MiB.
inline constexpr std::size_t kInProcessMessage = 16 * 1024;
inline constexpr std::size_t kCrossProcessMessage = 1024 * 1024;

// Receives one message, waiting for it at most kLong (never a bare recv
// that could hang).
template <class C>
auto recv_within(C& c) {
  RC_ASSERT(c.poll(kLong));
  return c.recv();
}

// ------------------------------------------------------ pipe.duplex_default

inline CaseSpec duplex_default_spec() {
  return make_spec("Both ends of Pipe() send and receive; values arrive equal, both ways; a child echoes",
                   "001_41cd22346628bbc0.txt", {"pipe", "process", "D"}, 12);
}

// Both ends are readable and writable; random {str: [int]} maps (the
// catalog's {'k': [1, 2]} among them) sent on either end arrive equal on the
// other, in order; a child process echoes 0..5 messages of 0 bytes to 1 MiB
// back as ('echo', message) until the parent closes its end.
template <class P>
void duplex_default(CaseContext& ctx) {
  (void)ctx;
  ctx.check([] {
    using Msg = std::map<std::string, std::vector<int>>;
    auto maps = *rc::gen::container<std::vector<Msg>>(
        rc::gen::resize(30, rc::gen::container<Msg>(rc::gen::string<std::string>(), rc::gen::arbitrary<std::vector<int>>())));
    maps.insert(maps.begin(), Msg{{"k", {1, 2}}});
    const int echoes = *rc::gen::inRange(0, 6);
    const auto sizes = *rc::gen::container<std::vector<std::size_t>>(static_cast<std::size_t>(echoes), gen_size(kCrossProcessMessage));

    auto ab = P::template make<Msg>(true);
    auto a = ab.first;
    auto b = ab.second;
    RC_ASSERT(a.readable() && a.writable() && b.readable() && b.writable());
    RC_ASSERT(!a.closed() && !b.closed());
    for (std::size_t i = 0; i < maps.size(); ++i) {
      auto& from = i % 2 == 0 ? a : b;
      auto& to = i % 2 == 0 ? b : a;
      from.send(maps[i]);
      RC_ASSERT(recv_within(to) == maps[i]);
    }
    RC_ASSERT(!a.poll());
    RC_ASSERT(!b.poll());

    using Echo = std::pair<std::string, std::string>;
    auto pc = P::template make<Echo>(true);
    auto parent_end = pc.first;
    auto child_end = pc.second;
    mp::Process echo([parent_end, child_end]() mutable {
      parent_end.close();  // the child's copy: else its own copy keeps the end of stream away
      for (;;) {
        if (!child_end.poll(kLong)) throw mp::SystemExit(kChildCheckFailed);
        Echo m;
        try {
          m = child_end.recv();
        } catch (const EofError&) {
          return;  // the parent closed its end
        }
        child_end.send({"echo", m.second});
      }
    });
    racegate::test::ProcessGuard guard(echo);
    echo.start();
    child_end.close();  // the parent's copy
    for (int i = 0; i < echoes; ++i) {
      const std::string body = make_item(0, i, sizes[static_cast<std::size_t>(i)]);
      parent_end.send({"msg", body});
      RC_ASSERT(recv_within(parent_end) == Echo("echo", body));
    }
    parent_end.close();
    echo.join(kLong);
    RC_ASSERT(echo.exitcode() == std::optional<int>(0));
  });
}

// -------------------------------------------------------- pipe.simplex_ends

inline CaseSpec simplex_ends_spec() {
  return make_spec("Pipe(duplex=False) gives (receive-only, send-only); the wrong direction raises OSError",
                   "001_41cd22346628bbc0.txt", {"pipe", "process", "D"}, 12);
}

// (readable, writable) is (True, False) for the first end and (False, True)
// for the second; send() on the first raises OSError("connection is
// read-only"), recv() on the second OSError("connection is write-only");
// messages (0 bytes to 16 KiB here, to 1 MiB from a child) go from the second
// to the first, in order.
template <class P>
void simplex_ends(CaseContext& ctx) {
  (void)ctx;
  ctx.check([] {
    const auto local = *rc::gen::container<std::vector<std::size_t>>(gen_size(kInProcessMessage));
    const int remote = *rc::gen::inRange(0, 6);
    const auto remote_sizes = *rc::gen::container<std::vector<std::size_t>>(static_cast<std::size_t>(remote), gen_size(kCrossProcessMessage));

    auto rw = P::template make<std::string>(false);
    auto r = rw.first;
    auto w = rw.second;
    RC_ASSERT(std::make_pair(r.readable(), r.writable()) == std::make_pair(true, false));
    RC_ASSERT(std::make_pair(w.readable(), w.writable()) == std::make_pair(false, true));
    assert_raises<OSError>("connection is read-only", [&] { r.send("x"); });
    assert_raises<OSError>("connection is write-only", [&] { (void)w.recv(); });

    for (std::size_t i = 0; i < local.size(); ++i) {
      w.send(make_item(0, static_cast<int>(i), local[i]));
      RC_ASSERT(recv_within(r) == make_item(0, static_cast<int>(i), local[i]));
    }
    mp::Process writer([w, remote, remote_sizes]() mutable {
      for (int i = 0; i < remote; ++i) w.send(make_item(1, i, remote_sizes[static_cast<std::size_t>(i)]));
    });
    racegate::test::ProcessGuard guard(writer);
    writer.start();
    for (int i = 0; i < remote; ++i) RC_ASSERT(recv_within(r) == make_item(1, i, remote_sizes[static_cast<std::size_t>(i)]));
    writer.join(kLong);
    RC_ASSERT(writer.exitcode() == std::optional<int>(0));
    // The directions still hold after use.
    assert_raises<OSError>("connection is read-only", [&] { r.send(""); });
    assert_raises<OSError>("connection is write-only", [&] { (void)w.recv(); });
  });
}

// --------------------------------------------------------- pipe.recv_blocks

inline CaseSpec recv_blocks_spec() {
  return make_spec("recv() blocks while nothing was sent and poll(t) returns False after t",
                   "001_41cd22346628bbc0.txt", {"pipe", "process", "T"}, 6);
}

// poll(t) on an end nothing was sent to returns False after at least t. A
// child that called recv() has not returned from it (its `received` event is
// unset) until the parent sends; then it returns that message.
template <class P>
void recv_blocks(CaseContext& ctx) {
  (void)ctx;
  ctx.check([] {
    const Seconds t = gen_short_timeout();
    const int value = *rc::gen::arbitrary<int>();
    auto ab = P::template make<int>(true);
    auto a = ab.first;
    auto b = ab.second;

    auto t0 = Clock::now();
    RC_ASSERT(!a.poll(t));
    double elapsed = seconds_since(t0);
    RC_ASSERT(elapsed >= t.count());
    RC_ASSERT(elapsed < t.count() + 5.0);

    mp::Event receiving, received;
    mp::Process child([b, receiving, received]() mutable {
      receiving.set();
      const int x = b.recv();  // the parent always sends (the guard kills us otherwise)
      received.set();
      b.send(x);
    });
    racegate::test::ProcessGuard guard(child);
    child.start();
    RC_ASSERT(receiving.wait(kLong));
    t0 = Clock::now();
    RC_ASSERT(!a.poll(t));  // the child sent nothing back: it is still in recv()
    RC_ASSERT(seconds_since(t0) >= t.count());
    RC_ASSERT(!received.is_set());  // nothing was sent: its recv() cannot have returned
    a.send(value);
    RC_ASSERT(received.wait(kLong));
    RC_ASSERT(recv_within(a) == value);
    child.join(kLong);
    RC_ASSERT(child.exitcode() == std::optional<int>(0));
  });
}

// ------------------------------------------------ pipe.recv_eof_after_close

inline CaseSpec recv_eof_after_close_spec() {
  return make_spec("After the writer sent and closed, recv() returns every message in order, then raises EOFError",
                   "001_41cd22346628bbc0.txt", {"pipe", "process", "D"}, 12);
}

// A writer child sends 0..6 messages (the catalog's 1 and 2 among them; 0
// bytes to 1 MiB) and closes; the parent, having closed its copy of the
// write end, receives them in order, then recv() raises EOFError (str ''),
// poll() is True at end of stream, and recv() raises EOFError again. Duplex
// or simplex.
template <class P>
void recv_eof_after_close(CaseContext& ctx) {
  (void)ctx;
  ctx.check([] {
    const bool duplex = *rc::gen::arbitrary<bool>();
    auto sizes = *rc::gen::resize(6, rc::gen::container<std::vector<std::size_t>>(gen_size(kCrossProcessMessage)));
    std::vector<std::string> msgs = {"1", "2"};
    for (std::size_t i = 0; i < sizes.size(); ++i) msgs.push_back(make_item(0, static_cast<int>(i), sizes[i]));

    auto rw = P::template make<std::string>(duplex);
    auto r = rw.first;
    auto w = rw.second;
    mp::Process writer([r, w, msgs]() mutable {
      r.close();  // the child's copy of the read end
      for (const auto& m : msgs) w.send(m);
      w.close();
    });
    racegate::test::ProcessGuard guard(writer);
    writer.start();
    w.close();  // the parent's copy of the write end
    for (const auto& m : msgs) RC_ASSERT(recv_within(r) == m);
    RC_ASSERT(r.poll(kLong));  // end of stream (once the writer closed)
    assert_raises<EofError>("", [&] { (void)r.recv(); });
    RC_ASSERT(r.poll());
    assert_raises<EofError>("", [&] { (void)r.recv(); });
    writer.join(kLong);
    RC_ASSERT(writer.exitcode() == std::optional<int>(0));
  });
}

// ---------------------------------------------- pipe.blog_example_never_eofs

inline CaseSpec blog_example_never_eofs_spec() {
  return make_spec("No EOFError while any copy of the send end is open (the blog's receiver blocks after the "
                   "items); once the parent closes its copy before forking the receiver, EOFError",
                   "001_41cd22346628bbc0.txt", {"pipe", "process", "D"}, 8);
}

// The blog's receive_p loop. A sender child sends 1..n and is joined; a
// receiver child forked afterwards receives until EOFError. In the blog's
// version the parent still holds the send end when it forks the receiver, so
// the receiver holds a copy too: after the n items there is no end of stream
// (poll(t) returns False; with any copy open none can come), even when the
// parent closes its own copy after the fork: ('blocked after', [1..n]). In
// the fixed version the parent closes its copy before forking the receiver:
// ('EOFError', [1..n], '').
template <class P>
void blog_example_never_eofs(CaseContext& ctx) {
  (void)ctx;
  ctx.check([] {
    const int n = *rc::gen::inRange(0, 11);
    const Seconds probe = gen_short_timeout();
    const bool parent_closes_after_fork = *rc::gen::arbitrary<bool>();
    std::vector<int> sent(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) sent[static_cast<std::size_t>(i)] = i + 1;
    using Report = std::tuple<std::string, std::vector<int>, std::string>;

    for (const bool fixed : {false, true}) {
      auto pr = P::template make<int>(true);
      auto send_end = pr.first;
      auto recv_end = pr.second;
      mp::Queue<Report> results;
      mp::Process sender([send_end, n]() mutable {
        for (int i = 1; i <= n; ++i) send_end.send(i);
      });
      RC_ASSERT(run_child(sender) == 0);

      if (fixed) send_end.close();  // before the fork: the receiver inherits no copy
      mp::Event parent_done;
      mp::Process receiver([recv_end, results, parent_done, probe]() mutable {
        if (!parent_done.wait(kLong)) throw mp::SystemExit(kChildCheckFailed);
        std::vector<int> got;
        for (;;) {
          // Every item was sent before this process started: nothing within
          // `probe` means no message and no end of stream will ever come.
          if (!recv_end.poll(probe)) {
            results.put({"blocked after", got, ""});
            return;
          }
          try {
            got.push_back(recv_end.recv());
          } catch (const EofError& e) {
            results.put({"EOFError", got, std::string(e.what())});
            return;
          }
        }
      });
      racegate::test::ProcessGuard guard(receiver, parent_done);
      receiver.start();
      if (!fixed && parent_closes_after_fork) send_end.close();  // the receiver's copy stays open
      parent_done.set();
      const Report got = results.get(true, kLong * 2);
      if (fixed) RC_ASSERT(got == Report("EOFError", sent, ""));
      else RC_ASSERT(got == Report("blocked after", sent, ""));
      receiver.join(kLong);
      RC_ASSERT(receiver.exitcode() == std::optional<int>(0));
    }
  });
}

// ------------------------------------------------------- pipe.closed_handle

inline CaseSpec closed_handle_spec() {
  return make_spec("send/recv on your own closed end raise OSError 'handle is closed'; send after the peer "
                   "closed raises BrokenPipeError",
                   "", {"pipe", "process", "D"}, 12);
}

// Closing an end (duplex or simplex, twice is harmless) closes every copy
// of it in this process: send(), recv() and poll() raise OSError("handle is
// closed"), also where the direction would not allow the call. When the
// peer end is closed everywhere (here, or in a child that held the only
// other copy), send() raises "[Errno 32] Broken pipe" — CPython's
// BrokenPipeError; the reference raises its OSError with that text, a
// declared difference (the type check is skipped out loud).
template <class P>
void closed_handle(CaseContext& ctx) {
  // Where an adapter has the type, the what() check below is all this case
  // asks of it; the reference's lack of one is reported here.
  supported_or_skip(ctx, P::kBrokenPipeErrorType, "send() after the peer closed raises BrokenPipeError (its own type)");
  ctx.check([] {
    const bool duplex = *rc::gen::arbitrary<bool>();
    const bool close_first = *rc::gen::arbitrary<bool>();
    const std::size_t size = *gen_size(kInProcessMessage);
    const bool peer_in_child = *rc::gen::arbitrary<bool>();

    {
      auto xy = P::template make<std::string>(duplex);
      auto mine = close_first ? xy.first : xy.second;
      auto copy = mine;
      mine.close();
      mine.close();  // harmless
      RC_ASSERT(mine.closed());
      RC_ASSERT(copy.closed());
      assert_raises<OSError>("handle is closed", [&] { mine.send(make_item(0, 0, size)); });
      assert_raises<OSError>("handle is closed", [&] { (void)mine.recv(); });
      assert_raises<OSError>("handle is closed", [&] { (void)copy.poll(); });
    }

    // The peer goes away; the sender's send() finds nobody to read.
    auto xy = P::template make<std::string>(duplex);
    auto peer = xy.first;  // receive-only in a simplex pipe
    auto sender = xy.second;
    if (peer_in_child) {
      mp::Event closed;
      mp::Process child([peer, closed]() mutable {
        peer.close();
        closed.set();
      });
      racegate::test::ProcessGuard guard(child);
      child.start();
      peer.close();  // the parent's copy
      RC_ASSERT(closed.wait(kLong));
      child.join(kLong);
      RC_ASSERT(child.exitcode() == std::optional<int>(0));
    } else {
      peer.close();
    }
    assert_raises<OSError>("[Errno 32] Broken pipe", [&] { sender.send(make_item(0, 1, size)); });
  });
}

}  // namespace racegate::cases::queues
