// The untyped core of mp::Connection (see racegate/internal/data_connection.h).
#include "racegate/internal/data_connection.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "racegate/errors.h"
#include "racegate/internal/wire.h"
#include "racegate/schedule.h"

namespace racegate::internal {
namespace {

// OSError with Python's str() of an OSError: "[Errno 32] Broken pipe".
[[noreturn]] void raise_errno(int err) {
  throw OSError("[Errno " + std::to_string(err) + "] " + std::strerror(err));
}

// Reads up to n bytes; returns how many arrived before end of stream. A reset
// connection (the peer closed with data of ours unread) counts as end of
// stream: what the peer sent before closing has been read by then.
std::size_t read_some_exact(int fd, char* p, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = schedule::outside([&] { return ::read(fd, p + got, n - got); });
    if (r > 0) {
      got += static_cast<std::size_t>(r);
    } else if (r == 0) {
      break;
    } else if (errno == ECONNRESET) {
      break;
    } else if (errno != EINTR) {
      raise_errno(errno);
    }
  }
  return got;
}

}  // namespace

ConnectionCore::~ConnectionCore() { close(); }

int ConnectionCore::checked_fd() const {
  const int fd = fd_.load(std::memory_order_acquire);
  if (fd < 0) throw OSError("handle is closed");
  return fd;
}

int ConnectionCore::checked_readable_fd() const {
  const int fd = checked_fd();
  if (!readable()) throw OSError("connection is write-only");
  return fd;
}

int ConnectionCore::fileno() const { return checked_fd(); }

void ConnectionCore::close() noexcept {
  const int fd = fd_.exchange(-1, std::memory_order_acq_rel);
  if (fd >= 0) ::close(fd);
}

void ConnectionCore::send_bytes(std::string_view message) {
  const int fd = checked_fd();
  if (!writable_) throw OSError("connection is read-only");
  if (message.size() > 0x7fffffffu) throw ValueError("message too long");
  const auto n = static_cast<std::uint32_t>(message.size());
  char header[4] = {static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff),
                    static_cast<char>((n >> 16) & 0xff), static_cast<char>((n >> 24) & 0xff)};
  iovec iov[2] = {{header, sizeof header},
                  {const_cast<char*>(message.data()), message.size()}};
  int first = 0;
  const int count = message.empty() ? 1 : 2;
  while (first < count) {
    msghdr msg{};
    msg.msg_iov = iov + first;
    msg.msg_iovlen = static_cast<std::size_t>(count - first);
    const ssize_t sent = schedule::outside([&] { return ::sendmsg(fd, &msg, MSG_NOSIGNAL); });
    if (sent < 0) {
      if (errno == EINTR) continue;
      raise_errno(errno);
    }
    auto left = static_cast<std::size_t>(sent);
    while (first < count && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (first < count) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
}

std::string ConnectionCore::recv_bytes(std::optional<std::size_t> maxlength) {
  const int fd = checked_readable_fd();
  unsigned char header[4];
  const std::size_t got = read_some_exact(fd, reinterpret_cast<char*>(header), sizeof header);
  if (got == 0) throw EofError("");
  if (got < sizeof header) throw OSError("got end of file during message");
  const std::uint32_t n = header[0] | (header[1] << 8) | (header[2] << 16) |
                          (static_cast<std::uint32_t>(header[3]) << 24);
  if (maxlength && n > *maxlength) {
    // CPython's _bad_message_length: the stream is now out of step.
    if (writable_) {
      readable_.store(false, std::memory_order_relaxed);
    } else {
      close();
    }
    throw OSError("bad message length");
  }
  std::string out(n, '\0');
  if (read_some_exact(fd, out.data(), n) < n) throw OSError("got end of file during message");
  return out;
}

bool ConnectionCore::poll(const Deadline& deadline) {
  return wait_readable(checked_readable_fd(), deadline);
}

std::pair<std::shared_ptr<ConnectionCore>, std::shared_ptr<ConnectionCore>> make_pipe(bool duplex) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    const int err = errno;
    throw OSError(std::string("socketpair: ") + std::strerror(err));
  }
  if (!duplex) {
    ::shutdown(fds[0], SHUT_WR);
    ::shutdown(fds[1], SHUT_RD);
  }
  return {std::make_shared<ConnectionCore>(fds[0], true, duplex),
          std::make_shared<ConnectionCore>(fds[1], duplex, true)};
}

}  // namespace racegate::internal
