#include "racegate/internal/wire.h"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <unistd.h>

#include "racegate/errors.h"
#include "racegate/schedule.h"

namespace racegate::internal {
namespace {

[[noreturn]] void os_error(const char* what) {
  throw OSError(std::string(what) + ": " + std::strerror(errno));
}

// Reads exactly n bytes; returns how many were read before end of stream.
std::size_t read_exact(int fd, char* p, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = schedule::outside([&] { return ::read(fd, p + got, n - got); });
    if (r > 0) {
      got += static_cast<std::size_t>(r);
    } else if (r == 0) {
      break;
    } else if (errno != EINTR) {
      os_error("read");
    }
  }
  return got;
}

}  // namespace

void write_all(int fd, std::string_view data) {
  const char* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    ssize_t n = schedule::outside([&] { return ::write(fd, p, left); });
    if (n < 0) {
      if (errno == EINTR) continue;
      os_error("write");
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

void write_frame(int fd, std::string_view payload) {
  if (payload.size() > 0x7fffffffu) throw ValueError("message too long");
  std::uint32_t n = static_cast<std::uint32_t>(payload.size());
  char header[4] = {static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff),
                    static_cast<char>((n >> 16) & 0xff), static_cast<char>((n >> 24) & 0xff)};
  std::string buf(header, 4);
  buf.append(payload);
  write_all(fd, buf);
}

bool read_frame(int fd, std::string& out) {
  unsigned char header[4];
  std::size_t got = read_exact(fd, reinterpret_cast<char*>(header), 4);
  if (got == 0) return false;
  if (got < 4) throw EofError("end of stream inside a message header");
  std::uint32_t n = header[0] | (header[1] << 8) | (header[2] << 16) | (static_cast<std::uint32_t>(header[3]) << 24);
  out.resize(n);
  if (read_exact(fd, out.data(), n) < n) throw EofError("end of stream inside a message");
  return true;
}

bool wait_readable(int fd, const Deadline& deadline) {
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int rc = schedule::outside([&] { return poll(&p, 1, deadline.remaining_ms()); });
    if (rc > 0) return true;
    if (rc == 0) {
      if (deadline.is_never()) continue;
      if (deadline.expired()) return false;
      continue;
    }
    if (errno != EINTR) os_error("poll");
  }
}

}  // namespace racegate::internal
