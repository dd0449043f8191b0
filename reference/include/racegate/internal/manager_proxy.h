// Internal: what every Manager proxy has in common. Do not use directly.
//
// A proxy is a handle: the client of its manager (shared by every proxy of
// that manager in this process), the object's id on the server and its kind.
// Copies refer to the same shared object. A proxy serializes (cereal) as
// its manager's address, key salt, the object id and the kind, never the
// key: a process of the creator's family (forked from it, before or after
// the manager started) derives the key from the salt; any other process is
// refused by the server (see manager_auth.h).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>

#include "racegate/internal/manager_client.h"
#include "racegate/internal/manager_protocol.h"

namespace racegate::mp {
class Manager;
}

namespace racegate::internal::manager {

class ProxyBase {
 public:
  // Whether the proxy refers to a shared object (a default-constructed proxy,
  // or one moved from, does not; using it throws ValueError).
  explicit operator bool() const noexcept { return client_ != nullptr; }

  // The object's id on its server (0 when unbound).
  [[nodiscard]] std::uint64_t id() const noexcept { return id_; }

  // The type of the server-side object ("dict", "Lock", ...).
  [[nodiscard]] Kind kind() const noexcept { return kind_; }

  // Two proxies are equal when they refer to the same shared object.
  friend bool operator==(const ProxyBase& a, const ProxyBase& b) noexcept {
    return a.client_ == b.client_ && a.id_ == b.id_;
  }

 protected:
  explicit ProxyBase(Kind kind) noexcept : kind_(kind) {}
  ProxyBase(std::shared_ptr<Client> client, std::uint64_t id, Kind kind) noexcept
      : client_(std::move(client)), id_(id), kind_(kind) {}

  // Sends `r` for this object (fills in the id and the caller's owner token)
  // and returns the successful reply; throws the server's error otherwise.
  Reply call(Request r) const;
  Reply call(Op op) const {
    Request r;
    r.op = op;
    return call(std::move(r));
  }

  // Serialization helpers for the derived proxies' save() and load().
  template <class Archive>
  void save_handle(Archive& ar) const {
    ar(client_ ? client_->address() : std::string(), client_ ? client_->salt() : std::string(), id_,
       static_cast<std::uint8_t>(kind_));
  }
  template <class Archive>
  void load_handle(Archive& ar, std::initializer_list<Kind> accepted) {
    std::string address, salt;
    std::uint64_t id = 0;
    std::uint8_t kind = 0;
    ar(address, salt, id, kind);
    bind(address, salt, id, static_cast<Kind>(kind), accepted);
  }

 private:
  void bind(const std::string& address, const std::string& salt, std::uint64_t id, Kind kind,
            std::initializer_list<Kind> accepted);

  std::shared_ptr<Client> client_;
  std::uint64_t id_ = 0;
  Kind kind_;
};

}  // namespace racegate::internal::manager
