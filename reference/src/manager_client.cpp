#include "racegate/internal/manager_client.h"

#include <cerrno>
#include <cstring>
#include <mutex>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <unordered_map>
#include <vector>

#include "racegate/errors.h"
#include "racegate/internal/manager_auth.h"
#include "racegate/internal/wire.h"
#include "racegate/mp/manager_errors.h"
#include "racegate/schedule.h"

namespace racegate::internal::manager {

// ---- framing ------------------------------------------------------------------

void send_frame(int fd, std::string_view payload) {
  if (payload.size() > 0x7fffffffu) throw ValueError("message too long");
  const auto n = static_cast<std::uint32_t>(payload.size());
  std::string buf;
  buf.reserve(4 + payload.size());
  for (int i = 0; i < 4; ++i) buf.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  buf.append(payload);
  // The same frame as internal::write_frame, sent with MSG_NOSIGNAL: a server
  // that has gone away must not kill the client with SIGPIPE.
  const char* p = buf.data();
  std::size_t left = buf.size();
  while (left > 0) {
    ssize_t k = schedule::outside([&] { return ::send(fd, p, left, MSG_NOSIGNAL); });
    if (k < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) {
        throw racegate::mp::managers::BrokenPipeError();
      }
      throw OSError(std::string("send: ") + std::strerror(errno));
    }
    p += k;
    left -= static_cast<std::size_t>(k);
  }
}

std::string recv_frame(int fd) {
  std::string out;
  bool got = false;
  try {
    got = read_frame(fd, out);
  } catch (const EofError&) {
    throw EofError("");
  } catch (const OSError& e) {
    // A peer that closed with our request unread resets the connection.
    if (std::strstr(e.what(), std::strerror(ECONNRESET)) != nullptr) throw EofError("");
    throw;
  }
  if (!got) throw EofError("");
  return out;
}

// ---- connecting -----------------------------------------------------------------

int connect_socket(const std::string& address) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (address.size() >= sizeof sa.sun_path) throw OSError("AF_UNIX path too long");
  std::memcpy(sa.sun_path, address.c_str(), address.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw OSError(std::string("socket: ") + std::strerror(errno));
  for (;;) {
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0) return fd;
    int err = errno;
    if (err == EINTR) continue;
    ::close(fd);
    if (err == ENOENT) throw racegate::mp::managers::FileNotFoundError();
    if (err == ECONNREFUSED) throw racegate::mp::managers::ConnectionRefusedError();
    throw OSError(std::string("connect: ") + std::strerror(err));
  }
}

void client_handshake(int fd, std::string_view key) {
  // Answer the server's challenge.
  std::string challenge = recv_frame(fd);
  if (challenge.size() > kMaxHandshakeFrame ||
      challenge.compare(0, kChallenge.size(), kChallenge) != 0) {
    throw AuthenticationError("message = " + to_hex(challenge.substr(0, 32)));
  }
  send_frame(fd, client_digest(key, std::string_view(challenge).substr(kChallenge.size())));
  std::string verdict = recv_frame(fd);
  if (verdict != kWelcome) throw AuthenticationError("digest sent was rejected");
  // Challenge the server in turn.
  std::string nonce = random_bytes(kNonceSize);
  send_frame(fd, std::string(kChallenge) + nonce);
  std::string answer = recv_frame(fd);
  if (!constant_time_equal(answer, server_digest(key, nonce))) {
    throw AuthenticationError("digest received was wrong");
  }
}

// ---- the client ---------------------------------------------------------------------

struct Client::Pool {
  explicit Pool(pid_t p) : pid(p) {}
  const pid_t pid;
  std::mutex mu;
  std::vector<int> idle;  // guarded by mu
};

namespace {
constexpr std::size_t kMaxIdle = 8;

void close_all(std::vector<int>& fds) noexcept {
  for (int fd : fds) ::close(fd);
  fds.clear();
}
}  // namespace

Client::Client(std::string address, std::string salt)
    : address_(std::move(address)),
      salt_(std::move(salt)),
      key_(manager_key(salt_)),
      pool_(new Pool(getpid())) {}

Client::Client(std::string address, std::string salt, std::string key)
    : address_(std::move(address)),
      salt_(std::move(salt)),
      key_(std::move(key)),
      pool_(new Pool(getpid())) {}

Client::~Client() {
  Pool* p = pool_.load(std::memory_order_acquire);
  if (p->pid != getpid()) return;  // the parent's pool: its lock may be held for ever
  {
    std::lock_guard lk(p->mu);
    close_all(p->idle);
  }
  delete p;
}

Client::Pool* Client::pool() {
  Pool* p = pool_.load(std::memory_order_acquire);
  const pid_t me = getpid();
  if (p->pid == me) return p;
  // Forked: the pool and its connections are the parent's. Never write to
  // them (the parent's conversation would interleave with ours).
  auto* fresh = new Pool(me);
  if (pool_.compare_exchange_strong(p, fresh, std::memory_order_acq_rel)) {
    // Close our copies of the parent's idle connections, unless a thread of
    // the parent held the pool at fork (then its lock is held for ever here:
    // leave it, a few descriptors at most).
    if (p->mu.try_lock()) {
      close_all(p->idle);
      p->mu.unlock();
    }
    return fresh;  // `p` is leaked on purpose: it may be locked for ever
  }
  delete fresh;
  return p;  // another thread of this process installed one first
}

int Client::checkout() {
  Pool* p = pool();
  {
    std::lock_guard lk(p->mu);
    if (!p->idle.empty()) {
      int fd = p->idle.back();
      p->idle.pop_back();
      return fd;
    }
  }
  return connect();
}

int Client::connect() {
  int fd = connect_socket(address_);
  try {
    client_handshake(fd, key_);
  } catch (...) {
    ::close(fd);
    throw;
  }
  return fd;
}

void Client::checkin(int fd) noexcept {
  Pool* p = pool();
  {
    std::lock_guard lk(p->mu);
    if (p->pid == getpid() && p->idle.size() < kMaxIdle) {
      p->idle.push_back(fd);
      return;
    }
  }
  ::close(fd);
}

void Client::drop_idle_connections() noexcept {
  Pool* p = pool_.load(std::memory_order_acquire);
  if (p->pid != getpid()) return;
  std::lock_guard lk(p->mu);
  close_all(p->idle);
}

Reply Client::call(const Request& req) {
  const std::string payload = encode(req);
  int fd = checkout();
  std::string bytes;
  try {
    send_frame(fd, payload);
    bytes = recv_frame(fd);
  } catch (...) {
    ::close(fd);
    throw;
  }
  Reply reply;
  try {
    reply = decode_reply(bytes);
  } catch (...) {
    ::close(fd);
    throw;
  }
  checkin(fd);
  return reply;
}

Reply Client::call_checked(const Request& req) {
  Reply r = call(req);
  if (!r.ok) raise_error(r);
  return r;
}

// ---- errors ----------------------------------------------------------------------------

void raise_error(const Reply& r) {
  const std::string& t = r.error_type;
  const std::string& m = r.error_message;
  if (t == "KeyError") throw KeyError(m);
  if (t == "IndexError") throw IndexError(m);
  if (t == "AttributeError") throw AttributeError(m);
  if (t == "ValueError") throw ValueError(m);
  if (t == "BrokenBarrierError") throw BrokenBarrierError(m);
  if (t == "RuntimeError") throw RuntimeError(m);
  if (t == "TypeError") throw TypeError(m);
  if (t == "AssertionError") throw AssertionError(m);
  if (t == "Full") throw Full(m);
  if (t == "Empty") throw Empty(m);
  if (t == "TimeoutError") throw TimeoutError(m);
  if (t == "EOFError") throw EofError(m);
  if (t == "AuthenticationError") throw AuthenticationError(m);
  if (t == "ProcessError") throw ProcessError(m);
  throw RemoteError(t, m);
}

std::uint64_t owner_token() noexcept {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(getpid())) << 32) |
         static_cast<std::uint32_t>(gettid());
}

// ---- the registry ------------------------------------------------------------------------

namespace {

struct Registry {
  std::mutex mu;
  std::unordered_map<std::string, std::weak_ptr<Client>> clients;  // guarded by mu
};

Registry& registry() {
  // Leaked on purpose: proxies may be read back during static destruction.
  static Registry* r = [] {
    auto* reg = new Registry();
    // Keep the table consistent across fork: no other thread can be inside
    // it when the child's copy is taken.
    pthread_atfork([] { registry().mu.lock(); }, [] { registry().mu.unlock(); },
                   [] { registry().mu.unlock(); });
    return reg;
  }();
  return *r;
}

}  // namespace

void register_client(const std::shared_ptr<Client>& client) {
  Registry& r = registry();
  std::lock_guard lk(r.mu);
  r.clients[client->address()] = client;
}

void unregister_client(const std::string& address) noexcept {
  Registry& r = registry();
  std::lock_guard lk(r.mu);
  r.clients.erase(address);
}

std::shared_ptr<Client> find_or_make_client(const std::string& address, const std::string& salt) {
  Registry& r = registry();
  std::lock_guard lk(r.mu);
  auto& slot = r.clients[address];
  if (auto c = slot.lock(); c && c->salt() == salt) return c;
  auto c = std::make_shared<Client>(address, salt);
  slot = c;
  return c;
}

std::shared_ptr<Client> find_client(const std::string& address) {
  Registry& r = registry();
  std::lock_guard lk(r.mu);
  auto it = r.clients.find(address);
  if (it == r.clients.end()) return nullptr;
  auto c = it->second.lock();
  if (!c) r.clients.erase(it);
  return c;
}

}  // namespace racegate::internal::manager
