// racegate::mp::Manager: starting, reaching and stopping the server process.
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "racegate/errors.h"
#include "racegate/internal/manager_auth.h"
#include "racegate/internal/manager_server.h"
#include "racegate/mp/manager.h"
#include "racegate/mp/process.h"

namespace racegate::mp {
namespace {

using racegate::internal::manager::Client;
using racegate::internal::manager::ServerConfig;

// The server process. Its class name gives the process name: SyncManager-N.
class SyncManager final : public Process {
 public:
  explicit SyncManager(ServerConfig config) : config_(std::move(config)) {}

 protected:
  void run() override {
    int code = racegate::internal::manager::serve(config_);
    if (code != 0) throw SystemExit(code);
  }

 private:
  ServerConfig config_;
};

// A private directory for the socket: mkdtemp (mode 0700) under $TMPDIR,
// or /tmp when $TMPDIR is unset or too long for an AF_UNIX path.
std::string make_private_dir() {
  constexpr std::size_t kMaxPath = sizeof(sockaddr_un{}.sun_path) - 1;
  constexpr std::string_view kSocketName = "/listener";
  std::vector<std::string> bases;
  if (const char* t = std::getenv("TMPDIR"); t != nullptr && *t != '\0') bases.emplace_back(t);
  bases.emplace_back("/tmp");
  for (auto& base : bases) {
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    std::string templ = base + "/racegate-mgr-XXXXXX";
    if (templ.size() + kSocketName.size() > kMaxPath) continue;
    if (::mkdtemp(templ.data()) != nullptr) return templ;
  }
  throw OSError(std::string("mkdtemp: ") + std::strerror(errno));
}

int listen_at(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw OSError(std::string("socket: ") + std::strerror(errno));
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0 ||
      ::chmod(path.c_str(), 0600) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    int err = errno;
    ::close(fd);
    throw OSError(std::string("bind/listen ") + path + ": " + std::strerror(err));
  }
  return fd;
}

void remove_dir(const std::string& dir, const std::string& socket_path) noexcept {
  if (!socket_path.empty()) ::unlink(socket_path.c_str());
  if (!dir.empty()) ::rmdir(dir.c_str());
}

}  // namespace

struct Manager::Impl {
  enum class State { kInitial, kStarted, kShutdown };
  State state = State::kInitial;
  pid_t creator = ::getpid();
  std::string dir;
  std::string address;
  std::shared_ptr<Client> client;
  std::unique_ptr<SyncManager> process;
};

Manager::Manager() : impl_(std::make_unique<Impl>()) { start(); }

Manager::Manager(Deferred) : impl_(std::make_unique<Impl>()) {}

Manager::~Manager() { shutdown(); }

void Manager::start() {
  Impl& m = *impl_;
  if (m.state == Impl::State::kStarted) throw ProcessError("Already started server");
  if (m.state == Impl::State::kShutdown) throw ProcessError("Manager has shut down");

  std::string salt = racegate::internal::manager::random_bytes(16);
  std::string key = racegate::internal::manager::manager_key(salt);
  std::string dir = make_private_dir();
  std::string path = dir + "/listener";
  int listen_fd = -1;
  try {
    listen_fd = listen_at(path);
    ServerConfig config;
    config.listen_fd = listen_fd;
    config.key = key;
    config.socket_path = path;
    config.dir = dir;
    config.parent = ::getpid();
    auto process = std::make_unique<SyncManager>(std::move(config));
    process->set_daemon(true);
    process->start();
    m.process = std::move(process);
  } catch (...) {
    if (listen_fd >= 0) ::close(listen_fd);
    remove_dir(dir, path);
    throw;
  }
  ::close(listen_fd);  // the server has its own copy
  m.dir = std::move(dir);
  m.address = std::move(path);
  m.client = std::make_shared<Client>(m.address, std::move(salt));
  racegate::internal::manager::register_client(m.client);
  m.creator = ::getpid();
  m.state = Impl::State::kStarted;
  // Wait until the server answers (as CPython's start() waits for the
  // server's address): from then on its own parent-death signal (SIGTERM,
  // handled) is in place, so it cleans up even if this process dies at
  // once. A server that cannot answer is shut down and its error thrown.
  try {
    racegate::internal::manager::Request ping;
    ping.op = racegate::internal::manager::Op::kPing;
    (void)m.client->call_checked(ping);
  } catch (...) {
    shutdown();
    throw;
  }
}

void Manager::shutdown() noexcept {
  Impl& m = *impl_;
  if (m.state != Impl::State::kStarted || m.creator != ::getpid()) return;
  m.state = Impl::State::kShutdown;
  try {
    racegate::internal::manager::Request r;
    r.op = racegate::internal::manager::Op::kShutdown;
    (void)m.client->call(r);
  } catch (...) {
    // Already gone: reaped below.
  }
  try {
    m.process->join(std::chrono::seconds(5));
    if (m.process->is_alive()) {
      m.process->terminate();
      m.process->join(std::chrono::seconds(2));
    }
    if (m.process->is_alive()) m.process->kill();
    m.process->join();
  } catch (...) {
    // join() and friends throw only on misuse, which cannot happen here.
  }
  remove_dir(m.dir, m.address);  // the server did; in case it was killed
  racegate::internal::manager::unregister_client(m.address);
  // The client stays with the proxies: their idle connections now fail with
  // BrokenPipeError, and new ones with FileNotFoundError, as in CPython.
}

std::optional<pid_t> Manager::pid() const {
  if (!impl_->process) return std::nullopt;
  return impl_->process->pid();
}

std::string Manager::name() const { return impl_->process ? impl_->process->name() : std::string(); }

std::string Manager::address() const { return impl_->address; }

std::shared_ptr<racegate::internal::manager::Client> Manager::client() const {
  if (impl_->state != Impl::State::kStarted) throw AssertionError("server not yet started");
  return impl_->client;
}

std::uint64_t Manager::create(manager_detail::Kind kind, manager_detail::Request r) {
  auto c = client();
  r.op = manager_detail::Op::kCreate;
  r.id = 0;
  r.n = static_cast<std::int64_t>(kind);
  return static_cast<std::uint64_t>(c->call_checked(r).n);
}

}  // namespace racegate::mp
