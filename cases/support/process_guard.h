// Test support: a scope guard that leaves no child behind when a property
// fails half-way (RC_ASSERT throws): it releases the child's event, gives it
// a moment to end, then kills it and reaps it.
#pragma once

#include <chrono>
#include <optional>

#include "racegate/mp/event.h"
#include "racegate/mp/process.h"

namespace racegate::test {

class ProcessGuard {
 public:
  explicit ProcessGuard(mp::Process& p) : p_(p) {}
  ProcessGuard(mp::Process& p, mp::Event release) : p_(p), release_(std::move(release)) {}
  ProcessGuard(const ProcessGuard&) = delete;
  ProcessGuard& operator=(const ProcessGuard&) = delete;

  ~ProcessGuard() {
    try {
      if (!p_.pid()) return;  // never started
      if (release_) release_->set();
      if (p_.is_alive()) p_.join(std::chrono::seconds(5));
      if (p_.is_alive()) p_.kill();
      p_.join();
    } catch (...) {
      // A guard must not throw; the property has already failed.
    }
  }

 private:
  mp::Process& p_;
  std::optional<mp::Event> release_;
};

}  // namespace racegate::test
