// Broken process adapters: implementations with a deliberate defect that the
// join cases of cases/adapters/process.h must catch.
#pragma once

#include <algorithm>
#include <functional>
#include <utility>

#include "cases/adapters/process.h"

namespace racegate::broken {

// A join that returns before the child exits: join() polls for a bounded
// 5 ms and gives up without waiting; join(timeout) waits at most 5 ms too.
// Everything else is the reference's mp::Process.
class EarlyJoinProcess {
 public:
  explicit EarlyJoinProcess(std::function<int()> body) : p_(std::move(body)) {}

  void start() { p_.start(); }
  void join() { p_.join(kGiveUpAfter); }
  void join(cases::Seconds timeout) { p_.join(std::min(timeout, kGiveUpAfter)); }
  [[nodiscard]] bool is_alive() const { return p_.is_alive(); }
  [[nodiscard]] std::optional<int> exitcode() const { return p_.exitcode(); }
  void kill_and_reap() noexcept { p_.kill_and_reap(); }

 private:
  static constexpr cases::Seconds kGiveUpAfter{0.005};
  cases::ReferenceProcess p_;
};

}  // namespace racegate::broken
