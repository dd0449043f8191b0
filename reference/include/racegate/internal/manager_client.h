// Internal: the client side of a Manager connection. Do not use directly.
//
// A Client knows a server's address and key and keeps, per process, a small
// pool of authenticated connections to it. Each call checks a connection out
// (or opens and authenticates a new one), sends one request, reads the one
// reply and checks the connection back in. So:
//   - threads of one process never share a connection while a call is in
//     flight (a blocking Lock.acquire in one thread does not hold up another);
//   - a process never uses a connection it inherited at fork: the pool is
//     tagged with the pid that made it, and a process that finds another pid
//     there starts a pool of its own (it closes the inherited copies when it
//     can, and never writes to them).
// Transport errors: BrokenPipeError when a request cannot be sent,
// EofError when the server hangs up before replying, FileNotFoundError /
// ConnectionRefusedError when nothing listens, AuthenticationError when the
// handshake fails (see racegate/mp/manager_errors.h).
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "racegate/internal/manager_protocol.h"

namespace racegate::internal::manager {

class Client {
 public:
  // The client of the manager at `address` whose key salt is `salt` (the
  // key is derived: see manager_auth.h).
  Client(std::string address, std::string salt);
  // With an explicit key (tests: a client with the wrong key).
  Client(std::string address, std::string salt, std::string key);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  [[nodiscard]] const std::string& address() const noexcept { return address_; }
  [[nodiscard]] const std::string& salt() const noexcept { return salt_; }

  // Sends `req` and returns the server's reply, which may report an error.
  Reply call(const Request& req);

  // call(), then throws the server's error as a racegate exception (see
  // raise_error); returns only successful replies.
  Reply call_checked(const Request& req);

  // Closes this process's idle connections (the next call opens a new one).
  void drop_idle_connections() noexcept;

  // A new authenticated connection, owned by the caller (who closes it):
  // for tests that speak the protocol by hand.
  int connect();

 private:
  struct Pool;
  Pool* pool();
  int checkout();
  void checkin(int fd) noexcept;

  std::string address_;
  std::string salt_;
  std::string key_;
  std::atomic<Pool*> pool_;
};

// Throws the exception a failed reply stands for: the racegate type of the
// same Python name (KeyError, IndexError, AttributeError, ValueError,
// RuntimeError, TypeError, AssertionError, Full, Empty, BrokenBarrierError,
// TimeoutError, EOFError, ProcessError, AuthenticationError), else
// RemoteError(type, message).
[[noreturn]] void raise_error(const Reply& reply);

// The calling thread's owner token for recursive locks: pid << 32 | tid.
std::uint64_t owner_token() noexcept;

// Low-level pieces, public for the tests.
// A connected (not yet authenticated) socket to `address` (close-on-exec).
int connect_socket(const std::string& address);
// The client's half of the handshake (see manager_auth.h): answers the
// server's challenge, then challenges the server. Throws AuthenticationError
// ("digest sent was rejected" / "digest received was wrong").
void client_handshake(int fd, std::string_view key);
// One frame, without SIGPIPE; BrokenPipeError when the peer is gone.
void send_frame(int fd, std::string_view payload);
// One frame; EofError when the peer hung up.
std::string recv_frame(int fd);

// The process-wide table of live clients by address, inherited by forked
// children: proxies read back with internal::loads share one client (and its
// connections) per manager and process.
void register_client(const std::shared_ptr<Client>& client);
void unregister_client(const std::string& address) noexcept;
// The live client for `address`, or nullptr.
std::shared_ptr<Client> find_client(const std::string& address);
// The live client for `address`, or a new one (registered) for the manager
// with that address and key salt.
std::shared_ptr<Client> find_or_make_client(const std::string& address, const std::string& salt);

}  // namespace racegate::internal::manager
