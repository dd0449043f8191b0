// Internal: the untyped core of mp::Connection. Do not use directly.
//
// A connection is one end of a Unix stream socketpair (SOCK_CLOEXEC, so
// programs started with exec never inherit it). Messages are framed as in
// racegate/internal/wire.h: a 4-byte little-endian length, then the bytes.
// Sends use MSG_NOSIGNAL, so writing to a connection whose peer is gone raises
// OSError instead of killing the process with SIGPIPE. A simplex pipe is a
// socketpair whose unused directions are shut down.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "racegate/internal/deadline.h"

namespace racegate::internal {

class ConnectionCore {
 public:
  ConnectionCore(int fd, bool readable, bool writable) noexcept
      : fd_(fd), readable_(readable), writable_(writable) {}
  // Closes the descriptor if close() was not called.
  ~ConnectionCore();
  ConnectionCore(const ConnectionCore&) = delete;
  ConnectionCore& operator=(const ConnectionCore&) = delete;

  // Sends one message. Throws OSError("handle is closed"), OSError("connection
  // is read-only"), OSError("[Errno 32] Broken pipe") when no process holds
  // the other end any more, ValueError("message too long") past 2 GiB - 1.
  void send_bytes(std::string_view message);

  // Receives one message, blocking until one is there. Throws
  // OSError("handle is closed"), OSError("connection is write-only"),
  // EofError("") at end of stream, OSError("got end of file during message")
  // when the stream ends inside a message, and OSError("bad message length")
  // when the message is longer than `maxlength` (the connection is then no
  // longer readable, or closed if it was not writable either: CPython's
  // _bad_message_length).
  std::string recv_bytes(std::optional<std::size_t> maxlength = std::nullopt);

  // Whether a message (or the end of stream) is there, waiting until
  // `deadline`. Throws as recv_bytes when closed or write-only.
  bool poll(const Deadline& deadline);

  // Closes this process's descriptor; harmless when already closed.
  void close() noexcept;

  [[nodiscard]] bool closed() const noexcept { return fd_.load(std::memory_order_acquire) < 0; }
  [[nodiscard]] bool readable() const noexcept { return readable_.load(std::memory_order_relaxed); }
  [[nodiscard]] bool writable() const noexcept { return writable_; }
  // The descriptor; throws OSError("handle is closed") once closed.
  [[nodiscard]] int fileno() const;

 private:
  int checked_fd() const;
  int checked_readable_fd() const;

  std::atomic<int> fd_;
  std::atomic<bool> readable_;
  const bool writable_;
};

// Two connected ends: duplex (both read and write) or, with !duplex, first
// receive-only and second send-only. Throws OSError when the socketpair
// cannot be made.
std::pair<std::shared_ptr<ConnectionCore>, std::shared_ptr<ConnectionCore>> make_pipe(bool duplex);

}  // namespace racegate::internal
