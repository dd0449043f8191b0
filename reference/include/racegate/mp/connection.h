// racegate/mp/connection.h — multiprocessing.Pipe and
// multiprocessing.connection.Connection: a message channel between processes.
//
// Pipe<T>(duplex) makes two connected ends. A message is one value of T,
// serialized by send() and deserialized by recv() (T must be serializable,
// see racegate/internal/serialize.h); send_bytes()/recv_bytes() carry raw
// bytes. Messages arrive whole and in order.
//
//   auto [parent_end, child_end] = racegate::mp::Pipe<std::string>();
//   racegate::mp::Process p([child_end]() mutable { child_end.send(child_end.recv() + "!"); });
//   p.start();
//   child_end.close();                  // the parent's copy of the child's end
//   parent_end.send("hi");
//   std::string echo = parent_end.recv();   // "hi!"
//
// Duplex and simplex, as CPython: Pipe() (duplex) gives two ends that both
// send and receive. Pipe(false) gives (receive-only, send-only): send() on the
// first raises OSError("connection is read-only"), recv() on the second
// OSError("connection is write-only").
//
// Blocking and end of stream: recv() blocks while nothing was sent. Once every
// copy of the other end is closed (in every process: a forked child holds
// copies of both ends until it closes them or exits) and every message has
// been read, recv() raises EofError (what() is "", as str(EOFError())). poll()
// reports a message or the end of stream without blocking (or waits at most
// its timeout). send() blocks while the channel's buffer (about 200 KiB) is
// full, until the other side reads: send a large message only to a process
// that is receiving. send() after every copy of the other end was closed
// raises OSError("[Errno 32] Broken pipe") (CPython's BrokenPipeError).
//
// Closing: close() closes this process's descriptor (for every copy of the
// handle in this process). Afterwards send(), recv(), poll() and fileno()
// raise OSError("handle is closed"); closing twice is harmless. When the last
// handle of an end in a process is destroyed, the descriptor is closed.
//
// Memory ordering: everything a thread wrote before send(m) is visible to the
// thread whose recv() returned m (in another process, only what the message
// carries travels).
//
// Lifetime and sharing: a Connection is a handle; copies share the end, and a
// child process forked by racegate::mp::Process inherits the descriptor (the
// child then closes or drops its own copy). A Connection crosses a process
// boundary only by inheritance: serializing one is a compile-time error. The
// descriptors are close-on-exec.
//
// Thread-safety: as CPython's, a Connection is not meant for concurrent use
// of one direction by several threads: guard concurrent send()s (or recv()s)
// with a lock. One thread sending while another receives on a duplex end is
// fine. Do not close() an end while another thread is blocked on it.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "racegate/errors.h"
#include "racegate/internal/data_connection.h"
#include "racegate/internal/data_sync.h"
#include "racegate/internal/deadline.h"
#include "racegate/internal/serialize.h"

namespace racegate::mp {

template <class T>
class Connection {
 public:
  // Connection::send(obj): serializes and sends one message. Throws
  // OSError("handle is closed"), OSError("connection is read-only") or
  // OSError("[Errno 32] Broken pipe").
  void send(const T& obj) {
    (void)core_->fileno();  // closed is checked before the value is serialized
    if (!core_->writable()) throw OSError("connection is read-only");
    std::string bytes = racegate::internal::dumps(obj);
    racegate::internal::data_send_point(core_.get());
    core_->send_bytes(bytes);
  }

  // Connection::recv(): blocks until a message arrives and returns it.
  // Throws EofError at end of stream, OSError("handle is closed") or
  // OSError("connection is write-only").
  T recv() {
    racegate::internal::data_recv_point(core_.get());
    return racegate::internal::loads<T>(core_->recv_bytes());
  }

  // Connection::send_bytes(buf, offset, size): sends buf[offset, offset +
  // size) (to the end when size is empty) as one message. Throws
  // ValueError("buffer length < offset") or ValueError("buffer length <
  // offset + size") when the range is outside `buf`, and as send().
  void send_bytes(std::string_view buf, std::size_t offset = 0,
                  std::optional<std::size_t> size = std::nullopt) {
    (void)core_->fileno();
    if (!core_->writable()) throw OSError("connection is read-only");
    if (buf.size() < offset) throw ValueError("buffer length < offset");
    if (size && buf.size() < offset + *size) throw ValueError("buffer length < offset + size");
    racegate::internal::data_send_point(core_.get());
    core_->send_bytes(buf.substr(offset, size.value_or(buf.size() - offset)));
  }

  // Connection::recv_bytes(maxlength): receives one message as bytes. With a
  // maxlength, a longer message raises OSError("bad message length") and
  // leaves the end unreadable (closed when it was receive-only), as CPython;
  // a negative maxlength raises ValueError("negative maxlength").
  std::string recv_bytes(std::optional<long long> maxlength = std::nullopt) {
    if (maxlength && *maxlength < 0) throw ValueError("negative maxlength");
    racegate::internal::data_recv_point(core_.get());
    if (maxlength) return core_->recv_bytes(static_cast<std::size_t>(*maxlength));
    return core_->recv_bytes();
  }

  // Connection::poll(timeout): whether there is something to receive (a
  // message, or the end of stream). Returns at once by default; waits at most
  // `timeout` (negative behaves as zero); with std::nullopt waits for ever.
  [[nodiscard]] bool poll(std::optional<racegate::internal::Seconds> timeout = racegate::internal::Seconds(0)) {
    return core_->poll(racegate::internal::Deadline::from(timeout));
  }

  // Connection::close(): closes this process's copy; harmless when closed.
  void close() noexcept { core_->close(); }

  // Connection::closed, readable, writable (CPython's properties).
  [[nodiscard]] bool closed() const noexcept { return core_->closed(); }
  [[nodiscard]] bool readable() const noexcept { return core_->readable(); }
  [[nodiscard]] bool writable() const noexcept { return core_->writable(); }

  // Connection::fileno(): the descriptor; OSError("handle is closed") once closed.
  [[nodiscard]] int fileno() const { return core_->fileno(); }

 private:
  template <class U>
  friend std::pair<Connection<U>, Connection<U>> Pipe(bool duplex);
  explicit Connection(std::shared_ptr<racegate::internal::ConnectionCore> core) : core_(std::move(core)) {}

  std::shared_ptr<racegate::internal::ConnectionCore> core_;
};

// multiprocessing.Pipe(duplex=True)
//
// Returns two connected ends. Duplex: both send and receive. Simplex
// (duplex == false): the first end only receives, the second only sends.
// Throws OSError when the system is out of descriptors.
template <class T>
std::pair<Connection<T>, Connection<T>> Pipe(bool duplex = true) {
  auto [a, b] = racegate::internal::make_pipe(duplex);
  return {Connection<T>(std::move(a)), Connection<T>(std::move(b))};
}

}  // namespace racegate::mp

namespace racegate::internal {
template <class T>
struct inherit_only<mp::Connection<T>> : std::true_type {};
}  // namespace racegate::internal
