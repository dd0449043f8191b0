// Case support for the server.* cases: the fork-per-connection server of
// 001_41cd22346628bbc0.txt, on loopback, with a fixed allow-list of handlers
// where the seed runs any shell command a client sends.
//
// Design, as the seed's: a server process listens on 127.0.0.1 (port 0: any
// free port) and its accept loop starts one mp::Process per connection; that
// handler serves the connection's requests one after another until the client
// closes it. The server itself is a child of the case (an mp::Process), so
// the handlers are named `Process-S:N` after it.
//
// Nothing a client sends is ever executed: there is no shell and no exec. A
// request names a handler of the allow-list below; any other name gets the
// "unknown command" error reply, so "rm -rf /", "ls" or "touch FILE" do
// nothing, and shell syntax after an allowed name ("echo hi; touch FILE") is
// plain text.
//
// Protocol. A reply is the seed's: struct.pack('i', len(header)) (4 bytes,
// native order), then the header as Python's json.dumps writes it, in UTF-8:
// exactly `{"data_size": N}` (a space after the colon), then the N bytes of
// the body. The body is what the handler wrote to stderr if it wrote anything
// there, else what it wrote to stdout (the seed's `if error:`); an empty
// output is `{"data_size": 0}` and no body. An error reply carries one more
// key, `{"data_size": N, "error": "CODE"}`, and a one-line body "CODE: detail\n".
// A request is framed the same way: 4-byte native length, a JSON header
// {"command": "NAME ARGS", "data_size": M} (M >= 0), then M bytes of input.
//
// Handlers (the whole allow-list; ARGS is the text after the first space):
//   echo ARGS  stdout ARGS "\n" (verbatim: no word splitting)
//   cat        stdout the request's input
//   warn ARGS  stderr ARGS "\n" and stdout the input: the body is the stderr
//   true       nothing: data_size 0, no body
//   large N    stdout N bytes of large_body_byte(i), 0 <= N <= 64 MiB
//   whoami     stdout "PROCESS-NAME PID\n" of the handler process
//
// Errors (CODE): "unknown command" and "bad argument" keep the connection; the
// framing errors end it: "bad header length" (the length is <= 0 or more than
// 64 KiB, e.g. 2 GiB), "bad header" (not JSON, not an object, no string
// "command", no non-negative integer "data_size"), "bad data_size" (more than
// 64 MiB), "truncated request" (the client closed or half-closed inside a
// request). Ending a connection, the handler shuts down its sending side and
// reads what the client still sends until it closes, so the client reads the
// error reply rather than a reset. A client that closes between requests ends
// its handler's loop without a reply (the seed's `if not msg: break`). A
// handler ends with exit code 0 in every one of these cases.
//
// Stopping: ForkServer::stop() sets the server's stop event (its accept loop
// polls at most 100 ms), closes the listening socket in the server, joins every
// handler (killing one still alive after 30 s) and reports their exit codes;
// then the server exits and is joined. Every socket operation of a client has a
// 30 s timeout, of a handler 60 s, so a hang becomes a failure.
#pragma once

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cases/support/process_guard.h"
#include "racegate/mp/connection.h"
#include "racegate/mp/event.h"
#include "racegate/mp/process.h"

namespace racegate::cases::server {

inline constexpr std::int32_t kMaxHeader = 64 * 1024;
inline constexpr std::size_t kMaxBody = std::size_t{64} << 20;
inline constexpr std::size_t kBuffSize = 1024;  // the seed's BUFF_SIZE

// Byte i of the body of `large N`: not periodic at 1024, so a misplaced chunk shows.
inline char large_body_byte(std::size_t i) {
  return static_cast<char>(((i % 251) ^ ((i / 251) % 256)) & 0xff);
}
inline std::string large_body(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = large_body_byte(i);
  return s;
}

// The reply header as Python's json.dumps writes it.
inline std::string reply_header(std::size_t data_size, std::string_view error = {}) {
  std::string h = "{\"data_size\": " + std::to_string(data_size);
  if (!error.empty()) h += ", \"error\": " + nlohmann::json(std::string(error)).dump();
  return h + "}";
}

inline std::string length_prefix(std::size_t n) {
  const auto len = static_cast<std::int32_t>(n);
  std::string p(4, '\0');
  std::memcpy(p.data(), &len, 4);
  return p;
}

// A whole framed message: 4-byte native length, header, body.
inline std::string frame(const std::string& header, std::string_view body) {
  return length_prefix(header.size()) + header + std::string(body);
}

// A request as clients send it.
inline std::string request_bytes(const std::string& command, std::string_view input = {}) {
  const nlohmann::json h = {{"command", command}, {"data_size", input.size()}};
  return frame(h.dump(), input);
}

// ------------------------------------------------------------------ sockets

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  [[nodiscard]] int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }

 private:
  int fd_ = -1;
};

inline void set_timeouts(int fd, int seconds) {
  timeval tv{};
  tv.tv_sec = seconds;
  (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// Sends every byte (no SIGPIPE); false when the peer is gone or on timeout.
inline bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

enum class ReadStatus { kOk, kEof, kPartial, kError };

// Reads exactly n bytes into `out`: kEof when the peer closed before the
// first byte, kPartial when it closed after some, kError on a timeout or error.
inline ReadStatus read_exact(int fd, std::size_t n, std::string& out) {
  out.assign(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::recv(fd, out.data() + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ReadStatus::kError;
    if (r == 0) {
      out.resize(got);
      return got == 0 ? ReadStatus::kEof : ReadStatus::kPartial;
    }
    got += static_cast<std::size_t>(r);
  }
  return ReadStatus::kOk;
}

inline sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// Connects to 127.0.0.1:port; the socket, or -errno.
inline int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  set_timeouts(fd, 30);
  const sockaddr_in a = loopback(port);
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    const int err = errno;
    ::close(fd);
    return -err;
  }
  return fd;
}

// ------------------------------------------------------------------ handlers

struct Output {
  std::string out;
  std::string err;
};

// Runs allow-listed handler `name`; empty for a name not on the list. Throws
// std::invalid_argument for a bad argument of an allowed handler.
inline std::optional<Output> run_allowed(std::string_view name, std::string_view args,
                                         std::string_view input) {
  if (name == "echo") return Output{std::string(args) + "\n", {}};
  if (name == "cat") return Output{std::string(input), {}};
  if (name == "warn") return Output{std::string(input), std::string(args) + "\n"};
  if (name == "true") return Output{};
  if (name == "large") {
    std::size_t n = 0;
    const auto [end, ec] = std::from_chars(args.data(), args.data() + args.size(), n);
    if (ec != std::errc() || end != args.data() + args.size() || n > kMaxBody) {
      throw std::invalid_argument("large takes a size from 0 to 67108864, got '" + std::string(args) + "'");
    }
    return Output{large_body(n), {}};
  }
  if (name == "whoami") {
    return Output{mp::current_process().name() + " " + std::to_string(::getpid()) + "\n", {}};
  }
  return std::nullopt;
}

inline bool send_reply(int fd, std::string_view body, std::string_view error = {}) {
  return send_all(fd, frame(reply_header(body.size(), error), body));
}

// Sends the error reply, then ends the connection gracefully (see the file comment).
inline void end_with_error(int fd, std::string_view code, const std::string& detail) {
  (void)send_reply(fd, std::string(code) + ": " + detail + "\n", code);
  (void)::shutdown(fd, SHUT_WR);
  char buf[4096];
  for (;;) {
    const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
  }
}

// The handler process's loop over one connection's requests.
inline void serve_connection(int fd) {
  set_timeouts(fd, 60);
  for (;;) {
    std::string prefix;
    ReadStatus st = read_exact(fd, 4, prefix);
    if (st == ReadStatus::kEof) return;  // the client closed: the loop ends
    if (st != ReadStatus::kOk) return end_with_error(fd, "truncated request", "inside the length");
    std::int32_t len = 0;
    std::memcpy(&len, prefix.data(), 4);
    if (len <= 0 || len > kMaxHeader) {
      return end_with_error(fd, "bad header length", std::to_string(len));
    }
    std::string header;
    if (read_exact(fd, static_cast<std::size_t>(len), header) != ReadStatus::kOk) {
      return end_with_error(fd, "truncated request", "inside the header");
    }
    const auto j = nlohmann::json::parse(header, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("command") || !j["command"].is_string() ||
        !j.contains("data_size") || !j["data_size"].is_number_unsigned()) {
      return end_with_error(fd, "bad header", "expected {\"command\": str, \"data_size\": int >= 0}");
    }
    const auto size = j["data_size"].get<std::uint64_t>();
    if (size > kMaxBody) return end_with_error(fd, "bad data_size", std::to_string(size));
    std::string input;
    if (read_exact(fd, static_cast<std::size_t>(size), input) != ReadStatus::kOk) {
      return end_with_error(fd, "truncated request", "inside the body");
    }
    const auto command = j["command"].get<std::string>();
    const auto space = command.find(' ');
    const std::string name = command.substr(0, space);
    const std::string args = space == std::string::npos ? std::string() : command.substr(space + 1);
    std::optional<Output> out;
    try {
      out = run_allowed(name, args, input);
    } catch (const std::invalid_argument& e) {
      if (!send_reply(fd, std::string("bad argument: ") + e.what() + "\n", "bad argument")) return;
      continue;
    }
    if (!out) {
      if (!send_reply(fd, "unknown command: " + name + "\n", "unknown command")) return;
      continue;
    }
    if (!send_reply(fd, out->err.empty() ? out->out : out->err)) return;
  }
}

// The server process: listen, report the port, accept and start a handler
// process per connection until `stop` is set, then report the handlers' exit
// codes. `report` carries {port} (or {-errno}) first, then the exit codes.
inline void serve_forever(mp::Connection<std::vector<int>> report, mp::Event stop) {
  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int one = 1;
  (void)::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = loopback(0);
  socklen_t alen = sizeof a;
  if (listener.get() < 0 || ::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listener.get(), 64) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &alen) != 0) {
    report.send({-errno});
    return;
  }
  report.send({ntohs(a.sin_port)});

  std::vector<std::unique_ptr<mp::Process>> handlers;
  while (!stop.is_set()) {
    pollfd p{listener.get(), POLLIN, 0};
    const int r = ::poll(&p, 1, 100);
    if (r <= 0) continue;
    const int conn = ::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    if (stop.is_set()) {  // the wake-up connection of stop()
      ::close(conn);
      break;
    }
    const int lfd = listener.get();
    auto h = std::make_unique<mp::Process>([lfd, conn] {
      ::close(lfd);  // the handler has no use for the listening socket
      serve_connection(conn);
      ::close(conn);
    });
    h->start();
    ::close(conn);  // the handler has its own copy
    handlers.push_back(std::move(h));
  }
  listener.reset();

  std::vector<int> codes;
  for (auto& h : handlers) {
    h->join(std::chrono::seconds(30));
    if (h->is_alive()) {
      h->kill();
      h->join();
    }
    codes.push_back(h->exitcode().value_or(-1000));
  }
  report.send(codes);
}

// What stop() found.
struct StopReport {
  std::vector<int> handler_exit_codes;  // in accept order
  std::optional<int> server_exit_code;
  int connect_after_stop = 0;  // -errno of a connect to the old port: -ECONNREFUSED once closed
};

// The server process, seen from the case (which must be single-threaded when
// it constructs one: the constructor forks).
class ForkServer {
 public:
  ForkServer() : pipe_(mp::Pipe<std::vector<int>>(false)) {
    auto tx = pipe_.second;
    mp::Event stop = stop_;
    process_ = std::make_unique<mp::Process>([tx, stop]() mutable { serve_forever(tx, stop); });
    guard_ = std::make_unique<racegate::test::ProcessGuard>(*process_, stop_);
    process_->start();
    tx.close();  // the parent's copy: an EOF on the receiving end now means the server is gone
    const auto first = receive();
    if (first.size() != 1 || first[0] <= 0) throw std::runtime_error("the server could not listen");
    port_ = static_cast<std::uint16_t>(first[0]);
  }
  ForkServer(const ForkServer&) = delete;
  ForkServer& operator=(const ForkServer&) = delete;
  ~ForkServer() = default;  // the guard stops, kills if need be, and reaps the server

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] const std::string& name() const { return process_->name(); }

  // Stops the server (see the file comment); call it after every client closed.
  StopReport stop() {
    StopReport r;
    stop_.set();
    const int wake = connect_loopback(port_);
    if (wake >= 0) ::close(wake);
    r.handler_exit_codes = receive();
    process_->join(std::chrono::seconds(30));
    r.server_exit_code = process_->exitcode();
    const int after = connect_loopback(port_);
    if (after >= 0) ::close(after);
    r.connect_after_stop = after >= 0 ? 0 : after;
    return r;
  }

 private:
  std::vector<int> receive() {
    if (!pipe_.first.poll(std::chrono::seconds(60)))
      throw std::runtime_error("the server did not report in 60 s");
    return pipe_.first.recv();
  }

  mp::Event stop_;
  std::pair<mp::Connection<std::vector<int>>, mp::Connection<std::vector<int>>> pipe_;  // (receive, send)
  std::unique_ptr<mp::Process> process_;
  std::unique_ptr<racegate::test::ProcessGuard> guard_;
  std::uint16_t port_ = 0;
};

// ------------------------------------------------------------------ clients

// A parsed reply.
struct Reply {
  std::int32_t header_length = 0;
  std::string header;  // the raw header text
  std::size_t data_size = 0;
  std::string error;  // empty for a normal reply
  std::string body;
};

// How a client reads a body of data_size bytes in BUFF_SIZE chunks.
enum class RecvLoop {
  kRight,  // recv_size += len(chunk)
  kSeed,   // the seed's recv_size += len(recv_data): adds the cumulative length
};

// A client connection to the server.
class Client {
 public:
  explicit Client(std::uint16_t port) {
    const int fd = connect_loopback(port);
    if (fd < 0) throw std::runtime_error(std::string("connect: ") + std::strerror(-fd));
    fd_ = Fd(fd);
  }

  [[nodiscard]] int fd() const { return fd_.get(); }

  void send_raw(std::string_view bytes) {
    if (!send_all(fd(), bytes)) throw std::runtime_error("send failed");
  }
  void request(const std::string& command, std::string_view input = {}) {
    send_raw(request_bytes(command, input));
  }
  void shutdown_write() { (void)::shutdown(fd(), SHUT_WR); }
  void close() { fd_.reset(); }

  // Reads exactly n bytes; throws on an end of stream or a timeout.
  std::string recv_exact(std::size_t n) {
    std::string s;
    if (read_exact(fd(), n, s) != ReadStatus::kOk) {
      throw std::runtime_error("connection ended or timed out after " + std::to_string(s.size()) + " of " +
                               std::to_string(n) + " bytes");
    }
    return s;
  }

  // Whether the server closed the connection (the next recv gives 0 bytes).
  bool at_eof() {
    char c;
    ssize_t r;
    do {
      r = ::recv(fd(), &c, 1, 0);
    } while (r < 0 && errno == EINTR);
    return r == 0;
  }

  // Reads the length and the header of a reply; leaves the body in the socket.
  Reply reply_header() {
    Reply r;
    const std::string prefix = recv_exact(4);
    std::memcpy(&r.header_length, prefix.data(), 4);
    if (r.header_length <= 0 || r.header_length > kMaxHeader) {
      throw std::runtime_error("reply header length out of range: " + std::to_string(r.header_length));
    }
    r.header = recv_exact(static_cast<std::size_t>(r.header_length));
    const auto j = nlohmann::json::parse(r.header, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("data_size") ||
        !j["data_size"].is_number_unsigned()) {
      throw std::runtime_error("reply header is not {\"data_size\": N}: " + r.header);
    }
    r.data_size = j["data_size"].get<std::size_t>();
    if (j.contains("error")) r.error = j["error"].get<std::string>();
    return r;
  }

  // Reads a body of `data_size` bytes with `loop`, in BUFF_SIZE chunks.
  std::string recv_body(std::size_t data_size, RecvLoop loop) {
    std::string data;
    std::size_t recv_size = 0;
    char buf[kBuffSize];
    while (recv_size < data_size) {
      ssize_t n;
      // The right loop asks for no more than is left; the seed's asks for BUFF_SIZE.
      const std::size_t ask =
          loop == RecvLoop::kRight ? std::min(sizeof buf, data_size - recv_size) : sizeof buf;
      do {
        n = ::recv(fd(), buf, ask, 0);
      } while (n < 0 && errno == EINTR);
      if (n <= 0) throw std::runtime_error("connection ended or timed out inside a body");
      data.append(buf, static_cast<std::size_t>(n));
      recv_size += loop == RecvLoop::kRight ? static_cast<std::size_t>(n) : data.size();
    }
    return data;
  }

  // A whole reply, its body read with the right loop.
  Reply reply() {
    Reply r = reply_header();
    r.body = recv_body(r.data_size, RecvLoop::kRight);
    return r;
  }

  // request + reply.
  Reply call(const std::string& command, std::string_view input = {}) {
    request(command, input);
    return reply();
  }

 private:
  Fd fd_;
};

}  // namespace racegate::cases::server
