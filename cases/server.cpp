// Catalog section 18: the fork-per-connection server (server.*).
#include <algorithm>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cases/support/server.h"
#include "cases/support/ticket_store.h"
#include "racegate/harness/case.h"

using racegate::harness::CaseContext;
using racegate::harness::Grade;
namespace srv = racegate::cases::server;
using srv::Client;
using srv::ForkServer;
using srv::RecvLoop;

namespace {

// Checks that stopping `server` reaped every handler (each exited 0, `handlers`
// of them when given), that the server exited 0, and that its port refuses
// connections (the listening socket is closed). Inside a property: RC_ASSERTs.
void assert_stopped_cleanly(ForkServer& server, std::optional<std::size_t> handlers = std::nullopt) {
  const auto rep = server.stop();
  if (handlers) RC_ASSERT(rep.handler_exit_codes.size() == *handlers);
  for (const int code : rep.handler_exit_codes) RC_ASSERT(code == 0);
  RC_ASSERT(rep.server_exit_code == std::optional<int>(0));
  RC_ASSERT(rep.connect_after_stop == -ECONNREFUSED);
}

// The same outside a property: failures go to ctx.
void check_stopped_cleanly(CaseContext& ctx, ForkServer& server) {
  const auto rep = server.stop();
  for (const int code : rep.handler_exit_codes) {
    if (code != 0) return ctx.fail("a handler process exited with " + std::to_string(code));
  }
  if (rep.server_exit_code != std::optional<int>(0)) return ctx.fail("the server process did not exit 0");
  if (rep.connect_after_stop != -ECONNREFUSED)
    return ctx.fail("the listening socket is still open after stop");
}

std::string printable(std::size_t max_len) {
  const auto len = *rc::gen::inRange<std::size_t>(0, max_len + 1);
  return *rc::gen::container<std::string>(len, rc::gen::inRange<char>(32, 127));
}

// `n` bytes of any value.
std::string bytes(std::size_t n) {
  std::string s(n, '\0');
  std::mt19937_64 rng(*rc::gen::arbitrary<std::uint64_t>());
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// The ways a client can break the protocol.
enum class Bad { kTruncatedHeader, kHugeLength, kNotJson, kVanishes };

// One misbehaving client on its own connection: an error reply followed by
// the end of the connection, or (for a client that vanishes mid-request) no
// reply at all.
void misbehave(std::uint16_t port, Bad kind) {
  Client bad(port);
  switch (kind) {
    case Bad::kTruncatedHeader: {
      const std::string h = R"({"command": "echo hello", "data_size": 0})";
      bad.send_raw(srv::length_prefix(h.size()) + h.substr(0, h.size() / 2));
      bad.shutdown_write();
      const auto r = bad.reply();
      RC_ASSERT(r.error == "truncated request");
      RC_ASSERT(bad.at_eof());
      break;
    }
    case Bad::kHugeLength: {
      bad.send_raw(srv::length_prefix(std::size_t{1} << 31));  // 2 GiB: -2147483648 as a C int
      const auto r = bad.reply();
      RC_ASSERT(r.error == "bad header length");
      RC_ASSERT(bad.at_eof());
      break;
    }
    case Bad::kNotJson: {
      const std::string h = "this is not JSON";
      bad.send_raw(srv::frame(h, ""));
      const auto r = bad.reply();
      RC_ASSERT(r.error == "bad header");
      RC_ASSERT(bad.at_eof());
      break;
    }
    case Bad::kVanishes: {
      // Served once (so its handler exists), then gone in the middle of a request.
      RC_ASSERT(bad.call("echo here").body == "here\n");
      const std::string whole = srv::request_bytes("cat", "unfinished input");
      const auto cut = *rc::gen::inRange<std::size_t>(1, whole.size());
      bad.send_raw(whole.substr(0, cut));
      bad.close();
      break;
    }
  }
}

// "NAME PID\n" from whoami.
std::pair<std::string, long> who(Client& c) {
  const auto body = c.call("whoami").body;
  RC_ASSERT(!body.empty() && body.back() == '\n');
  const auto space = body.rfind(' ');
  RC_ASSERT(space != std::string::npos);
  return {body.substr(0, space), std::stol(body.substr(space + 1))};
}

}  // namespace

// Each connection gets its own handler process (Process-S:N, S the server
// process): k clients connect and stay idle, then are served in any order,
// each by a distinct process; misbehaving clients (truncated header, a 2 GiB
// header length, a header that is not JSON, a client that vanishes
// mid-request) get an error reply or a closed connection while every client
// connected before them is still served after them. A client that closes ends
// its handler's loop: at stop every handler has exited 0, the server too, and
// the port refuses connections.
RG_CASE("server.process_per_connection",
        {.title =
             "The accept loop serves each connection in its own process; a second client is served while the "
             "first is connected and idle",
         .seed_document = "001_41cd22346628bbc0.txt",
         .tags = {"server", "process", "D"},
         .default_trials = 25}) {
  ctx.check([] {
    const int k = *rc::gen::inRange(2, 7);
    const auto nbad = *rc::gen::inRange<std::size_t>(0, 5);
    const auto bads = *rc::gen::container<std::vector<Bad>>(
        nbad, rc::gen::element(Bad::kTruncatedHeader, Bad::kHugeLength, Bad::kNotJson, Bad::kVanishes));
    std::vector<int> order(static_cast<std::size_t>(k));
    for (int i = 0; i < k; ++i) order[static_cast<std::size_t>(i)] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937_64(*rc::gen::arbitrary<std::uint64_t>()));

    ForkServer server;
    {
      std::vector<std::unique_ptr<Client>> clients;
      for (int i = 0; i < k; ++i) clients.push_back(std::make_unique<Client>(server.port()));

      // All k are connected; whichever is served first, the others wait idle.
      std::set<std::string> names;
      std::set<long> pids;
      for (const int i : order) {
        auto& c = *clients[static_cast<std::size_t>(i)];
        const auto [name, pid] = who(c);
        names.insert(name);
        pids.insert(pid);
        RC_ASSERT(name.rfind(server.name() + ":", 0) == 0);
        const int n = std::stoi(name.substr(server.name().size() + 1));
        RC_ASSERT(n >= 1 && n <= k + static_cast<int>(bads.size()));
        const std::string token = "client " + std::to_string(i);
        RC_ASSERT(c.call("echo " + token).body == token + "\n");
        RC_ASSERT(who(c).second == pid);  // the same process serves the whole connection
      }
      RC_ASSERT(names.size() == static_cast<std::size_t>(k));
      RC_ASSERT(pids.size() == static_cast<std::size_t>(k));

      for (std::size_t b = 0; b < bads.size(); ++b) {
        misbehave(server.port(), bads[b]);
        for (const int i : order) {  // connected before the bad one, served after it
          const std::string token = "after " + std::to_string(b) + " " + std::to_string(i);
          RC_ASSERT(clients[static_cast<std::size_t>(i)]->call("echo " + token).body == token + "\n");
        }
      }
      // The clients close, in any order: each close ends its handler's loop.
    }
    assert_stopped_cleanly(server, static_cast<std::size_t>(k) + bads.size());
  });
}

// The reply's framing is the seed's, byte for byte: struct.pack('i', 16),
// b'{"data_size": 6}', b'hello\n' for `echo hello`; for any echo text the
// length prefix is the header's length and the header is json.dumps's. The
// allow-list: "rm -rf", "ls", "touch", a shell, get the "unknown command"
// error reply on a connection that stays usable, and nothing runs (a sentinel
// file is never made, a victim file is never removed); shell syntax after an
// allowed name is plain text. Framing errors (a length that is 2 GiB, <= 0 or
// over 64 KiB, a truncated length, header or body, a header that is not the
// expected JSON, a data_size over 64 MiB) get their exact error reply and the
// connection ends; a client that vanishes mid-request is dropped; a client
// connected before each of them is served after it.
RG_CASE("server.header_protocol",
        {.title = "The reply is a 4-byte native header length, json.dumps({'data_size': N}), then the body",
         .seed_document = "001_41cd22346628bbc0.txt",
         .tags = {"server", "process", "D"},
         .default_trials = 30}) {
  static_assert(std::endian::native == std::endian::little, "the catalog's bytes are x86's");
  ctx.skip_check("`echo hello` is run by /bin/sh (subprocess.Popen(shell=True))",
                 "racegate's server runs no client-chosen command: the allow-listed echo handler gives the same "
                 "b'hello\\n' (catalog: How racegate uses this catalog)");
  racegate::cases::tickets::TempDir dir;
  const std::string victim = dir.file("victim");
  const std::string sentinel = dir.file("sentinel");
  racegate::cases::tickets::TicketDb(victim).write(1);

  ForkServer server;
  {
    Client c(server.port());
    c.request("echo hello");
    const std::string raw = c.recv_exact(4 + 16 + 6);
    if (raw != std::string("\x10\x00\x00\x00", 4) + R"({"data_size": 6})" + "hello\n") {
      ctx.fail("echo hello: the reply's bytes differ from the seed's");
    }
  }

  ctx.check([&] {
    Client c(server.port());
    // echo: exact framing for any text.
    const std::string text = printable(300);
    c.request("echo " + text);
    const auto r = c.reply();
    RC_ASSERT(r.error.empty());
    RC_ASSERT(r.header == srv::reply_header(text.size() + 1));
    RC_ASSERT(r.header_length == static_cast<std::int32_t>(r.header.size()));
    RC_ASSERT(r.data_size == text.size() + 1);
    RC_ASSERT(r.body == text + "\n");
    // cat: any bytes, any size (0 and large included).
    const std::string input = bytes(*rc::gen::element<std::size_t>(0, 1, 1024, 70000, 300000));
    const auto rc_ = c.call("cat", input);
    RC_ASSERT(rc_.header == srv::reply_header(input.size()));
    RC_ASSERT(rc_.body == input);

    // Nothing but the allow-list runs.
    const std::vector<std::string> not_allowed = {"rm -rf " + victim,
                                                  "rm -rf /",
                                                  "ls",
                                                  "ls " + dir.path(),
                                                  "touch " + sentinel,
                                                  "/usr/bin/touch " + sentinel,
                                                  "sh -c 'touch " + sentinel + "'",
                                                  "bash -c 'touch " + sentinel + "'",
                                                  std::string(),
                                                  " echo x",
                                                  "cat; touch " + sentinel,
                                                  "echo;touch " + sentinel};
    for (const auto& cmd : not_allowed) {
      const auto u = c.call(cmd);
      const std::string name = cmd.substr(0, cmd.find(' '));
      RC_ASSERT(u.error == "unknown command");
      RC_ASSERT(u.body == "unknown command: " + name + "\n");
      RC_ASSERT(u.header == srv::reply_header(u.body.size(), "unknown command"));
    }
    const std::vector<std::string> tails = {"hi; touch " + sentinel, "$(touch " + sentinel + ")",
                                            "`touch " + sentinel + "`", "hi && rm -rf " + victim};
    for (const auto& tail : tails) {
      RC_ASSERT(c.call("echo " + tail).body == tail + "\n");
    }
    RC_ASSERT(!racegate::cases::tickets::file_exists(sentinel));
    RC_ASSERT(racegate::cases::tickets::file_exists(victim));

    // Framing errors, each on its own connection, with `c` (connected before) served after.
    const auto expect_end = [&](const std::string& bytes_sent, bool half_close, const std::string& code,
                                const std::string& detail) {
      Client bad(server.port());
      bad.send_raw(bytes_sent);
      if (half_close) bad.shutdown_write();
      const auto e = bad.reply();
      const std::string body = code + ": " + detail + "\n";
      RC_ASSERT(e.error == code);
      RC_ASSERT(e.body == body);
      RC_ASSERT(e.header == srv::reply_header(body.size(), code));
      RC_ASSERT(bad.at_eof());
      RC_ASSERT(c.call("echo served").body == "served\n");
    };
    const std::int32_t bad_len =
        *rc::gen::oneOf(rc::gen::element<std::int32_t>(INT32_MIN, 0, -1, srv::kMaxHeader + 1, INT32_MAX),
                        rc::gen::inRange<std::int32_t>(srv::kMaxHeader + 1, INT32_MAX),
                        rc::gen::inRange<std::int32_t>(INT32_MIN, 1));
    std::string prefix(4, '\0');
    std::memcpy(prefix.data(), &bad_len, 4);
    expect_end(prefix, false, "bad header length", std::to_string(bad_len));
    expect_end(srv::length_prefix(std::size_t{1} << 31), false, "bad header length", "-2147483648");  // 2 GiB

    const auto cut_prefix = *rc::gen::inRange<std::size_t>(1, 4);
    expect_end(srv::length_prefix(20).substr(0, cut_prefix), true, "truncated request", "inside the length");
    const std::string whole = srv::request_bytes("cat", "0123456789");
    const std::size_t header_end = whole.size() - 10;
    expect_end(whole.substr(0, *rc::gen::inRange<std::size_t>(4, header_end)), true, "truncated request",
               "inside the header");
    expect_end(whole.substr(0, *rc::gen::inRange<std::size_t>(header_end, whole.size())), true,
               "truncated request", "inside the body");

    const std::string not_json = *rc::gen::element<std::string>(
        "this is not JSON", "{", "[1, 2]", R"("echo hello")", R"({"data_size": 0})", R"({"command": "echo"})",
        R"({"command": 1, "data_size": 0})", R"({"command": "echo", "data_size": -1})",
        R"({"command": "echo", "data_size": 1.5})");
    expect_end(srv::frame(not_json, ""), false, "bad header",
               R"(expected {"command": str, "data_size": int >= 0})");
    const auto huge = *rc::gen::inRange<std::uint64_t>(srv::kMaxBody + 1, UINT64_MAX);
    expect_end(srv::frame(R"({"command": "cat", "data_size": )" + std::to_string(huge) + "}", ""), false,
               "bad data_size", std::to_string(huge));

    misbehave(server.port(), Bad::kVanishes);
    RC_ASSERT(c.call("echo served").body == "served\n");
  });
  check_stopped_cleanly(ctx, server);
}

// The body is stderr alone when the command wrote to stderr (even when it
// also wrote to stdout), else stdout; an empty output is {"data_size": 0}
// and no body at all: the next bytes on the connection are the next reply.
RG_CASE("server.stderr_precedence_and_empty",
        {.title =
             "A command's stderr, when any, is the whole body; an empty output gives data_size 0 and no body",
         .seed_document = "001_41cd22346628bbc0.txt",
         .tags = {"server", "process", "D"},
         .default_trials = 60}) {
  ctx.skip_check("`ls /nonexistent…` answers with 68 bytes of ls's stderr",
                 "racegate's server runs no client-chosen command: the allow-listed warn handler stands for a "
                 "command that writes to stderr (catalog: How racegate uses this catalog)");
  ForkServer server;
  ctx.check([&] {
    Client c(server.port());
    const std::string err = printable(200);
    const std::string out = bytes(*rc::gen::inRange<std::size_t>(0, 20000));

    const auto w = c.call("warn " + err, out);
    RC_ASSERT(w.error.empty());
    RC_ASSERT(w.body == err + "\n");
    RC_ASSERT(w.header == srv::reply_header(err.size() + 1));

    const auto k = c.call("cat", out);  // nothing on stderr: the body is stdout
    RC_ASSERT(k.body == out);
    RC_ASSERT(k.header == srv::reply_header(out.size()));

    // Empty output, by `true` or by `cat` of nothing; the next request follows at once.
    const std::string empty_cmd = *rc::gen::element<std::string>("true", "cat");
    const std::string next = printable(50);
    c.request(empty_cmd);
    c.request("echo " + next);
    const std::string empty_reply = srv::frame(R"({"data_size": 0})", "");
    const std::string next_reply = srv::frame(srv::reply_header(next.size() + 1), next + "\n");
    RC_ASSERT(c.recv_exact(empty_reply.size() + next_reply.size()) == empty_reply + next_reply);
  });
  check_stopped_cleanly(ctx, server);
}

// The seed client adds len(recv_data), the cumulative length, to recv_size,
// so it stops early: with 1024-byte chunks a 5001-byte body ends after 3072
// bytes (CPython: the same) and the rest stays in the socket, where it would
// be read as the next header. The right loop (len(chunk)) always gets the
// whole body (forbidden otherwise); the seed loop's short read is
// interesting, never required (how TCP splits the data decides). Forbidden
// too: the seed loop getting bytes that are not the body's prefix, or the
// rest not being exactly the remainder of the body.
RG_CASE(
    "server.client_recv_loop_bug",
    {.title = "The seed client's receive loop counts cumulative lengths and can stop before the whole body",
     .seed_document = "001_41cd22346628bbc0.txt",
     .tags = {"server", "process", "R"},
     .expectation = racegate::harness::Expectation::kOutcomes,
     .default_trials = 50}) {
  ForkServer server;
  ctx.check([&] {
    const auto size = *rc::gen::oneOf(rc::gen::element<std::size_t>(0, 1, 1500, 5001, std::size_t{1} << 20),
                                      rc::gen::inRange<std::size_t>(0, (std::size_t{2} << 20) + 1));
    const std::string expected = srv::large_body(size);
    const std::string command = "large " + std::to_string(size);
    Client c(server.port());

    const auto right = c.call(command);
    if (right.data_size != size || right.body != expected) {
      ctx.outcome("right loop: body incomplete or wrong", Grade::kForbidden);
      RC_FAIL("the right loop did not get the whole body");
    }

    c.request(command);
    const auto h = c.reply_header();
    RC_ASSERT(h.data_size == size);
    const std::string got = c.recv_body(h.data_size, RecvLoop::kSeed);
    if (got.size() > size || expected.compare(0, got.size(), got) != 0) {
      ctx.outcome("seed loop: bytes beyond or other than the body", Grade::kForbidden);
      RC_FAIL("the seed loop read something that is not a prefix of the body");
    }
    if (got.size() < size) {
      const std::string rest = c.recv_exact(size - got.size());
      if (rest != expected.substr(got.size())) {
        ctx.outcome("seed loop: the rest in the socket is not the body's remainder", Grade::kForbidden);
        RC_FAIL("the bytes left in the socket are not the rest of the body");
      }
      // Where whole 1024-byte chunks stop it: after k chunks with 1024 * (1 + ... + k) >= size.
      std::size_t k = 1;
      while (srv::kBuffSize * k * (k + 1) / 2 < size) ++k;
      if (got.size() == std::min(size, srv::kBuffSize * k)) {
        ctx.outcome(
            "seed loop stopped short after whole 1024-byte chunks (5001 -> 3072, as CPython); the rest "
            "stayed in the socket",
            Grade::kInteresting);
      } else {
        ctx.outcome("seed loop stopped short after split chunks; the rest stayed in the socket",
                    Grade::kInteresting);
      }
    } else {
      ctx.outcome("seed loop got the whole body", Grade::kAcceptable);
    }
    RC_ASSERT(c.call("echo in sync").body == "in sync\n");
  });
  check_stopped_cleanly(ctx, server);
}
