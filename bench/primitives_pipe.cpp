// bench/primitives_pipe.cpp — mp::Pipe / Connection beside raw descriptors.
//
// What is measured (time per message; per round trip for roundtrip):
//  - pipe.oneway.8B: a child sends N std::uint64_t with Connection::send on
//    the write end of Pipe<std::uint64_t>(false); the parent recv()s them
//    (and checks their order). Clock: from the child's start signal to the
//    parent's last recv. Floors: 8-byte write()/read() on an AF_UNIX
//    SOCK_STREAM socketpair, and on a pipe(2).
//  - pipe.oneway.64KiB: the same with 64 KiB std::string messages
//    (Pipe<std::string>(false), send/recv: serialized like CPython's
//    conn.send(bytes)); bytes are counted. Floor: 64 KiB written and read in
//    full over a socketpair.
//  - pipe.roundtrip.8B: the parent send()s i on one end of a duplex
//    Pipe<std::uint64_t>(), the child recv()s and sends it back. One untimed
//    round trip first. Floor: 8 bytes each way over a socketpair.
// Placements: one_cpu (parent and child on CPU 0), two_cpus (child on CPU 1).
#include <cstdint>
#include <string>
#include <vector>

#include "bench_support.h"
#include "racegate/mp/connection.h"

namespace rgbench {
namespace {

using racegate::mp::Pipe;

constexpr std::size_t k64KiB = 64 * 1024;

// ---------------------------------------------------------------------------
// pipe.oneway.8B

void pipe_oneway_8b_racegate(benchmark::State& state, Placement placement) {
  auto [reader, writer] = Pipe<std::uint64_t>(false);
  oneway_batch<MpChild>(
      state, placement, 0, [w = writer](std::uint64_t i) mutable { w.send(i); },
      [&r = reader](std::uint64_t i) { return r.recv() == i; });
}

// The raw floors: `pair` gives {parent's end, child's end} of a descriptor pair.
void raw_oneway(benchmark::State& state, Placement placement, std::pair<Fd, Fd> pair, std::size_t size) {
  const int rd = pair.first.get();
  const int wr = pair.second.get();
  std::vector<char> out(size, 'x');
  std::vector<char> in(size);
  oneway_batch<ForkChild>(
      state, placement, size == sizeof(std::uint64_t) ? 0 : size,
      [wr, &out, size](std::uint64_t i) {
        if (size == sizeof i) std::memcpy(out.data(), &i, sizeof i);
        write_full(wr, out.data(), size);
      },
      [rd, &in, size](std::uint64_t i) {
        read_full(rd, in.data(), size);
        if (size != sizeof i) return true;
        std::uint64_t v = 0;
        std::memcpy(&v, in.data(), sizeof v);
        return v == i;
      });
}

void pipe_oneway_8b_socketpair(benchmark::State& state, Placement placement) {
  raw_oneway(state, placement, make_socketpair(), sizeof(std::uint64_t));
}

void pipe_oneway_8b_pipe(benchmark::State& state, Placement placement) {
  raw_oneway(state, placement, make_pipe(), sizeof(std::uint64_t));
}

// ---------------------------------------------------------------------------
// pipe.oneway.64KiB

void pipe_oneway_64k_racegate(benchmark::State& state, Placement placement) {
  auto [reader, writer] = Pipe<std::string>(false);
  const std::string payload(k64KiB, 'x');
  oneway_batch<MpChild>(
      state, placement, k64KiB, [w = writer, &payload](std::uint64_t) mutable { w.send(payload); },
      [&r = reader](std::uint64_t) { return r.recv().size() == k64KiB; });
}

void pipe_oneway_64k_socketpair(benchmark::State& state, Placement placement) {
  raw_oneway(state, placement, make_socketpair(), k64KiB);
}

// ---------------------------------------------------------------------------
// pipe.roundtrip.8B

void pipe_roundtrip_racegate(benchmark::State& state, Placement placement) {
  const auto n = static_cast<std::uint64_t>(state.max_iterations) + 1;
  auto [mine, theirs] = Pipe<std::uint64_t>();
  MpChild child(placement, [c = theirs, n]() mutable {
    for (std::uint64_t i = 0; i < n; ++i) c.send(c.recv());
  });
  theirs.close();
  mine.send(0);
  bool ok = mine.recv() == 0;
  std::uint64_t i = 1;
  for (auto _ : state) {
    mine.send(i);
    ok &= mine.recv() == i;
    ++i;
  }
  join_or_fail(state, child, "echo");
  if (!ok) state.SkipWithError("wrong message echoed");
  set_counters(state);
}

}  // namespace

// The round-trip floor of both queue.roundtrip.8B and pipe.roundtrip.8B.
void roundtrip_8b_socketpair(benchmark::State& state, Placement placement) {
  const auto n = static_cast<std::uint64_t>(state.max_iterations) + 1;
  auto [mine, theirs] = make_socketpair();
  const int peer = theirs.get();
  ForkChild child(placement, [peer, n] {
    for (std::uint64_t i = 0; i < n; ++i) {
      std::uint64_t v = 0;
      read_full(peer, &v, sizeof v);
      write_full(peer, &v, sizeof v);
    }
  });
  theirs.reset();
  const int fd = mine.get();
  std::uint64_t v0 = 0;  // the untimed first round trip
  write_full(fd, &v0, sizeof v0);
  read_full(fd, &v0, sizeof v0);
  bool ok = v0 == 0;
  std::uint64_t i = 1;
  for (auto _ : state) {
    std::uint64_t v = i;
    write_full(fd, &v, sizeof v);
    read_full(fd, &v, sizeof v);
    ok &= v == i;
    ++i;
  }
  join_or_fail(state, child, "echo");
  if (!ok) state.SkipWithError("wrong message echoed");
  set_counters(state);
}

namespace {

const bool registered = [] {
  add_placed("pipe.oneway.8B", "racegate", pipe_oneway_8b_racegate);
  add_placed("pipe.oneway.8B", "floor.socketpair", pipe_oneway_8b_socketpair);
  add_placed("pipe.oneway.8B", "floor.pipe", pipe_oneway_8b_pipe);
  add_placed("pipe.oneway.64KiB", "racegate", pipe_oneway_64k_racegate);
  add_placed("pipe.oneway.64KiB", "floor.socketpair", pipe_oneway_64k_socketpair);
  add_placed("pipe.roundtrip.8B", "racegate", pipe_roundtrip_racegate);
  add_placed("pipe.roundtrip.8B", "floor.socketpair", roundtrip_8b_socketpair);
  return true;
}();

}  // namespace
}  // namespace rgbench
