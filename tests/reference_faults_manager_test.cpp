// The Manager under faults and hostile peers: its socket is private, only a
// peer that proves it has the key is served, a seeded stream of garbage (from
// unauthenticated peers) and of malformed requests (from an authenticated one)
// neither crashes nor wedges it, and a server killed mid-request ends the
// blocked call with an error.
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <random>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>

#include "cases/support/process_guard.h"
#include "racegate/errors.h"
#include "racegate/internal/manager_auth.h"
#include "racegate/internal/manager_client.h"
#include "racegate/internal/manager_protocol.h"
#include "racegate/internal/serialize.h"
#include "racegate/mp/manager.h"
#include "racegate/threading/thread.h"
#include "support/test_helpers.h"

namespace mp = racegate::mp;
namespace threading = racegate::threading;
namespace wire = racegate::internal::manager;
using racegate::test::seconds_since;
using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

namespace {

constexpr double kLooseBound = 30.0;

std::string dir_of(const std::string& address) { return address.substr(0, address.rfind('/')); }

// The seed of the randomized tests: RACEGATE_FAULT_SEED when set (to replay
// a failure), else a fixed one; printed either way.
std::uint64_t fault_seed() {
  const char* s = std::getenv("RACEGATE_FAULT_SEED");
  const std::uint64_t seed = s != nullptr ? std::strtoull(s, nullptr, 10) : 20261206u;
  std::printf("[racegate] fault seed %llu (RACEGATE_FAULT_SEED=%llu replays it)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  return seed;
}

std::string random_bytes(std::mt19937_64& rng, std::size_t max_len) {
  std::string s(std::uniform_int_distribution<std::size_t>(0, max_len)(rng), '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// A receive timeout, so that a server that stops answering fails the test
// instead of hanging it.
void set_receive_timeout(int fd, int seconds) {
  timeval tv{};
  tv.tv_sec = seconds;
  ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
}

// Everything the peer sends until it closes (or the receive timeout).
std::string read_to_end(int fd) {
  std::string all;
  char buf[4096];
  for (;;) {
    const ssize_t k = ::recv(fd, buf, sizeof buf, 0);
    if (k > 0) {
      all.append(buf, static_cast<std::size_t>(k));
      continue;
    }
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) all += "<recv error: " + std::to_string(errno) + ">";
    return all;
  }
}

// A frame as the wire carries it: 4-byte little-endian length, then payload.
std::string frame(std::string_view payload) {
  std::string out(4, '\0');
  auto n = static_cast<std::uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
  out.append(payload);
  return out;
}

bool is_request_that_may_block_or_stop(const wire::Request& r) {
  if (r.op == wire::Op::kShutdown) return true;
  return r.block && !(r.has_timeout && r.timeout <= 0.0);
}

// A random request: half the time an op the server knows, else any number
// (shutdown aside); mostly the live ids (`ids`, 0 for the manager); never blocking; random small
// integers and arguments.
wire::Request random_request(std::mt19937_64& rng, const std::vector<std::uint64_t>& ids) {
  static constexpr int kKnownOps[] = {1, 3, 4, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
                                      32, 40, 41, 42, 43, 44, 45, 46, 47, 60, 61, 62, 63, 70, 71,
                                      80, 81, 90, 91, 92, 100, 101, 102, 103, 110, 111, 112, 113,
                                      114, 115, 120, 121, 122, 123, 124, 125, 126};
  wire::Request r;
  r.op = static_cast<wire::Op>(
      rng() % 2 ? kKnownOps[rng() % std::size(kKnownOps)]
                : std::uniform_int_distribution<int>(0, 65535)(rng));
  if (r.op == wire::Op::kShutdown) r.op = wire::Op::kPing;
  r.id = rng() % 4 == 0 ? rng() % 16 : ids[rng() % ids.size()];
  r.owner = rng();
  r.n = std::uniform_int_distribution<std::int64_t>(-3, 15)(rng);
  r.m = std::uniform_int_distribution<std::int64_t>(-3, 15)(rng);
  r.block = false;
  r.has_timeout = true;
  r.timeout = 0.0;
  const auto nargs = std::uniform_int_distribution<int>(0, 3)(rng);
  for (int i = 0; i < nargs; ++i) {
    r.args.push_back(rng() % 2 ? racegate::internal::dumps(static_cast<int>(rng() % 100))
                               : random_bytes(rng, 16));
  }
  return r;
}

}  // namespace

TEST(ManagerFaults, ListeningSocketIsPrivate) {
  mp::Manager mgr;
  const std::string dir = dir_of(mgr.address());
  struct stat st {};
  ASSERT_EQ(::lstat(dir.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(st.st_uid, ::getuid());
  ASSERT_EQ(::lstat(mgr.address().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, ::getuid());
  // The directory's name is random (mkdtemp), not derived from a pid: two
  // managers of one process get different ones, neither naming a pid.
  mp::Manager other;
  const std::string dir2 = dir_of(other.address());
  EXPECT_NE(dir, dir2);
  // (A pid of under 4 digits could turn up in 6 random characters by chance:
  // those are not looked for.)
  for (const std::string& d : {dir, dir2}) {
    const std::string base = d.substr(d.rfind('/') + 1);
    for (const pid_t pid : {::getpid(), *mgr.pid(), *other.pid()}) {
      const std::string digits = std::to_string(pid);
      if (digits.size() >= 4) {
        EXPECT_EQ(base.find(digits), std::string::npos) << base;
      }
    }
  }
}

// The digest comparison: equal only for equal strings, whichever byte
// differs (it scans every byte, with no early exit; see manager_auth.cpp).
TEST(ManagerFaults, DigestCompareFindsADifferenceAnywhere) {
  const std::string a(32, '\x5a');
  EXPECT_TRUE(wire::constant_time_equal(a, a));
  for (std::size_t i = 0; i < a.size(); ++i) {
    for (unsigned bit = 0; bit < 8; ++bit) {
      std::string b = a;
      b[i] = static_cast<char>(b[i] ^ (1u << bit));
      EXPECT_FALSE(wire::constant_time_equal(a, b)) << i << ":" << bit;
    }
  }
  EXPECT_FALSE(wire::constant_time_equal(a, a.substr(1)));
  EXPECT_FALSE(wire::constant_time_equal(a, a + "x"));
  EXPECT_TRUE(wire::constant_time_equal("", ""));
}

// A peer that skips the handshake (sends a well-formed request where the
// digest belongs, or sends nothing and closes) gets nothing but the
// challenge and the refusal; a peer with a wrong key the same.
TEST(ManagerFaults, APeerWithoutTheKeyGetsNothingButTheChallenge) {
  mp::Manager mgr;
  auto d = mgr.dict<int, int>();
  d.set(7, 70);
  wire::Request get;
  get.op = wire::Op::kDictGet;
  get.id = d.id();
  get.args = {racegate::internal::dumps(7)};
  const std::string value = racegate::internal::dumps(70);

  // Request instead of digest.
  int fd = wire::connect_socket(mgr.address());
  set_receive_timeout(fd, 60);
  ASSERT_EQ(::send(fd, frame(wire::encode(get)).data(), frame(wire::encode(get)).size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(frame(wire::encode(get)).size()));
  ::shutdown(fd, SHUT_WR);
  std::string got = read_to_end(fd);
  ::close(fd);
  ASSERT_GE(got.size(), 4u + 11u + 32u);
  EXPECT_EQ(got.substr(4, 11), "#CHALLENGE#");
  EXPECT_EQ(got.substr(4 + 11 + 32), frame("#FAILURE#"));

  // Wrong key: the real handshake, then the refusal.
  wire::Client bad(mgr.address(), "", "not the key");
  wire::Request ping;
  ping.op = wire::Op::kPing;
  EXPECT_THROW((void)bad.call(ping), racegate::AuthenticationError);

  // Nothing at all: the challenge, then the end of stream when it closes.
  fd = wire::connect_socket(mgr.address());
  set_receive_timeout(fd, 60);
  ::shutdown(fd, SHUT_WR);
  got = read_to_end(fd);
  ::close(fd);
  EXPECT_EQ(got.size(), 4u + 11u + 32u);
  EXPECT_EQ(got.find("#WELCOME#"), std::string::npos);

  EXPECT_EQ(d.get(7), 70);
}

// N seeded streams of random bytes, each from a fresh unauthenticated
// connection: never welcomed, never a reply, and the server serves a valid
// client afterwards.
TEST(ManagerFaults, SurvivesGarbageFromUnauthenticatedPeers) {
  mp::Manager mgr;
  auto d = mgr.dict<int, int>();
  d.set(1, 1);
  std::mt19937_64 rng(fault_seed());
  constexpr int kStreams = 150;
  int refused = 0;
  const auto t0 = Clock::now();
  for (int i = 0; i < kStreams && seconds_since(t0) < 60; ++i) {
    int fd = wire::connect_socket(mgr.address());
    set_receive_timeout(fd, 60);
    std::string garbage = random_bytes(rng, 300);
    if (i % 3 == 0) garbage = frame(random_bytes(rng, 64)) + garbage;  // framed, wrong digest
    if (i % 5 == 0) garbage = frame(std::string(32, '\0'));           // digest-sized zeros
    (void)::send(fd, garbage.data(), garbage.size(), MSG_NOSIGNAL);
    ::shutdown(fd, SHUT_WR);
    const std::string got = read_to_end(fd);
    ::close(fd);
    ASSERT_GE(got.size(), 4u + 11u + 32u) << "stream " << i;
    EXPECT_EQ(got.substr(4, 11), "#CHALLENGE#") << "stream " << i;
    const std::string rest = got.substr(4 + 11 + 32);
    EXPECT_TRUE(rest.empty() || rest == frame("#FAILURE#")) << "stream " << i;
    EXPECT_EQ(got.find("#WELCOME#"), std::string::npos) << "stream " << i;
    if (!rest.empty()) ++refused;
  }
  std::printf("[racegate] %d garbage streams, %d explicitly refused\n", kStreams, refused);
  EXPECT_GT(refused, 0);
  d.set(2, 2);
  EXPECT_EQ(d.get(1), 1);
  EXPECT_EQ(d.get(2), 2);
}

// N seeded malformed requests on one authenticated connection: random bytes,
// valid requests with random fields, and valid requests cut short or with
// bytes flipped. Each gets a well-formed reply (success or error) on the same
// connection, and ordinary clients are served afterwards.
TEST(ManagerFaults, SurvivesMalformedRequestsFromAnAuthenticatedClient) {
  mp::Manager mgr;
  auto d = mgr.dict<int, int>();
  d.set(1, 10);
  auto l = mgr.list<int>();
  auto q = mgr.Queue<int>();
  auto lock = mgr.Lock();
  const std::vector<std::uint64_t> ids = {0, d.id(), l.id(), q.id(), lock.id()};
  int fd = wire::find_client(mgr.address())->connect();
  set_receive_timeout(fd, 60);
  std::mt19937_64 rng(fault_seed());
  constexpr int kMessages = 600;
  int errors = 0;
  int oks = 0;
  const auto t0 = Clock::now();
  for (int i = 0; i < kMessages && seconds_since(t0) < 60; ++i) {
    std::string msg;
    switch (i % 4) {
      case 0:
        msg = random_bytes(rng, 200);
        break;
      case 1:
        msg = wire::encode(random_request(rng, ids));
        break;
      case 2: {
        msg = wire::encode(random_request(rng, ids));
        msg.resize(std::uniform_int_distribution<std::size_t>(0, msg.size())(rng));
        break;
      }
      default: {
        msg = wire::encode(random_request(rng, ids));
        const int flips = std::uniform_int_distribution<int>(1, 4)(rng);
        for (int k = 0; k < flips && !msg.empty(); ++k) {
          msg[rng() % msg.size()] = static_cast<char>(rng() & 0xff);
        }
      }
    }
    // Keep the stream answerable: a message that happens to decode as a
    // blocking call or a shutdown is made non-blocking / a ping.
    try {
      wire::Request decoded = wire::decode_request(msg);
      if (is_request_that_may_block_or_stop(decoded)) {
        if (decoded.op == wire::Op::kShutdown) decoded.op = wire::Op::kPing;
        decoded.block = false;
        decoded.has_timeout = true;
        decoded.timeout = 0.0;
        msg = wire::encode(decoded);
      }
    } catch (const racegate::ValueError&) {
      // malformed: sent as it is
    }
    wire::send_frame(fd, msg);
    wire::Reply rep;
    ASSERT_NO_THROW(rep = wire::decode_reply(wire::recv_frame(fd))) << "message " << i;
    if (rep.ok) {
      ++oks;
    } else {
      ++errors;
      EXPECT_FALSE(rep.error_type.empty()) << "message " << i;
    }
  }
  ::close(fd);
  std::printf("[racegate] %d malformed requests: %d error replies, %d accepted\n", oks + errors,
              errors, oks);
  EXPECT_GT(errors, 0);
  // Still serving: every shared object answers. The fuzz may have changed
  // their contents (a random request can be a valid one), so fresh values.
  d.set(1, 11);
  EXPECT_EQ(d.get(1), 11);
  l.clear();
  l.append(5);
  EXPECT_EQ(l.copy(), std::vector<int>{5});
  q.put(9);
  while (q.qsize() > 1) (void)q.get();
  EXPECT_EQ(q.get(), 9);
  auto fresh = mgr.dict<int, int>();
  fresh.set(3, 30);
  EXPECT_EQ(fresh.get(3), 30);
}

// The server killed while a client is blocked in a request parked in it:
// the call ends with an error, long before its own timeout.
TEST(ManagerFaults, ServerKilledMidRequestEndsTheBlockedCall) {
  mp::Manager mgr;
  auto q = mgr.Queue<int>();
  const pid_t server = *mgr.pid();
  std::string error;
  double waited = 0;
  mp::Event started;
  threading::Thread getter([&] {
    started.set();
    const auto t0 = Clock::now();
    try {
      (void)q.get(true, Seconds(600));
      error = "<no error>";
    } catch (const racegate::Empty&) {
      error = "<timed out>";
    } catch (const racegate::Error& e) {
      error = std::string(e.python_type()) + ": " + e.what();
    }
    waited = seconds_since(t0);
  });
  getter.start();
  ASSERT_TRUE(started.wait(Seconds(60)));
  // Parked in the server: its stats say so (bounded wait).
  auto client = wire::find_client(mgr.address());
  wire::Request stats;
  stats.op = wire::Op::kStats;
  const auto t0 = Clock::now();
  while (client->call_checked(stats).n < 1 && seconds_since(t0) < kLooseBound) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(client->call_checked(stats).n, 1);
  ASSERT_EQ(::kill(server, SIGKILL), 0);
  getter.join();
  EXPECT_NE(error, "<no error>");
  EXPECT_NE(error, "<timed out>");
  EXPECT_LT(waited, kLooseBound) << error;
  std::printf("[racegate] blocked get() after the server was killed: %s\n", error.c_str());
  mgr.shutdown();  // reaps the server, removes its directory
}
