#include "racegate/internal/manager_proxy.h"

#include <algorithm>

#include "racegate/errors.h"

namespace racegate::internal::manager {

Reply ProxyBase::call(Request r) const {
  if (!client_) throw ValueError("proxy is not bound to a shared object");
  r.id = id_;
  r.owner = owner_token();
  return client_->call_checked(r);
}

void ProxyBase::bind(const std::string& address, const std::string& salt, std::uint64_t id,
                     Kind kind, std::initializer_list<Kind> accepted) {
  if (address.empty()) {  // an unbound proxy was serialized: read it back unbound
    client_.reset();
    id_ = 0;
    return;
  }
  if (std::find(accepted.begin(), accepted.end(), kind) == accepted.end()) {
    throw TypeError(std::string("a proxy of a ") + kind_name(kind) +
                    " cannot be read back as a proxy of a " + kind_name(kind_));
  }
  client_ = find_or_make_client(address, salt);
  id_ = id;
  kind_ = kind;
}

}  // namespace racegate::internal::manager
