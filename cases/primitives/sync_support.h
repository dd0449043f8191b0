// Catalog sections 5-8: what the primitive cases share. The parties of a
// behavior (a Team: forked processes for process-shared types, threads
// otherwise), how a party's failed check reaches the case, the raised-error
// check, and elapsed time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/interprocess/exceptions.hpp>

#include "cases/adapters/sync.h"
#include "racegate/errors.h"
#include "racegate/harness/case.h"
#include "racegate/mp/event.h"
#include "racegate/mp/process.h"

namespace racegate::cases::sync_cases {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) { return Seconds(Clock::now() - t0).count(); }

// A failed check inside a party; its text reaches the case through the Team.
class PartyFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline void require(bool ok, const std::string& what) {
  if (!ok) throw PartyFailure(what);
}

// What a call raised: the type (python_type() for racegate's errors) and
// what(). Other exceptions propagate.
struct Raised {
  bool raised = false;
  std::string type;
  std::string message;
};

template <class F>
Raised raised(F&& f) {
  try {
    f();
  } catch (const racegate::Error& e) {
    return {true, e.python_type(), e.what()};
  } catch (const boost::interprocess::lock_exception& e) {
    return {true, "boost::interprocess::lock_exception", e.what()};
  }
  return {};
}

// Whether `r` is exactly the error `m` declares.
inline bool is_error(const Raised& r, const Misuse& m) {
  return r.raised && r.type == m.type && r.message == m.message;
}

inline std::string describe(const Raised& r) {
  return r.raised ? r.type + ": " + r.message : std::string("no error");
}

// The parties of one trial. Each runs a body on a thread of the case, or in
// a child process forked by mp::Process (start those only while the case is
// single-threaded: ThreadSanitizer kills a child forked with other threads
// around). A body fails by throwing (require(), a racegate error, ...); its
// message comes back through a shared mapping.
//
// Every party is waited for even when the case's property fails half-way:
// the destructor first runs the unwind hooks (set the events, notify the
// conditions the parties may be waiting on), then joins; a process still
// running after 10 s is killed and reaped.
class Team {
 public:
  static constexpr int kMaxParties = 16;

  explicit Team(bool processes) : processes_(processes), board_(SharedObject<Board>::make()) {}
  Team(const Team&) = delete;
  Team& operator=(const Team&) = delete;

  ~Team() {
    for (auto& hook : unwind_) {
      try {
        hook();
      } catch (...) {
        // A guard must not throw; the property has already failed.
      }
    }
    for (auto& p : procs_) {
      try {
        if (!p->pid()) continue;
        if (p->is_alive()) p->join(Seconds(10));
        if (p->is_alive()) p->kill();
        p->join();
      } catch (...) {
      }
    }
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  [[nodiscard]] bool processes() const { return processes_; }

  // Runs when the Team is destroyed (first thing), so that parties blocked
  // on something the case would have done can end.
  void on_unwind(std::function<void()> hook) { unwind_.push_back(std::move(hook)); }
  void release_on_unwind(mp::Event e) {
    on_unwind([e]() mutable { e.set(); });
  }

  // Starts a party running `body`.
  void spawn(std::function<void()> body) {
    const int slot = static_cast<int>(procs_.size() + threads_.size());
    if (slot >= kMaxParties) throw std::logic_error("Team: too many parties");
    SharedObject<Board> board = board_;
    auto run = [board, slot, body = std::move(body)]() {
      try {
        body();
        return true;
      } catch (const racegate::Error& e) {
        board->note(slot, std::string(e.python_type()) + ": " + e.what());
      } catch (const std::exception& e) {
        board->note(slot, e.what());
      } catch (...) {
        board->note(slot, "an exception that is not a std::exception");
      }
      return false;
    };
    if (processes_) {
      auto p = std::make_unique<mp::Process>([run]() mutable {
        if (!run()) throw mp::SystemExit(3);
      });
      p->start();
      procs_.push_back(std::move(p));
    } else {
      threads_.emplace_back([run]() mutable { (void)run(); });
    }
  }

  // Waits for every party; "" when all of them ended well, else what went
  // wrong, one "party N: ..." per failure.
  std::string join(Seconds timeout = Seconds(60)) {
    std::string errors;
    auto add = [&errors](int slot, const std::string& what) {
      if (!errors.empty()) errors += "; ";
      errors += "party " + std::to_string(slot) + ": " + what;
    };
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout);
    for (std::size_t i = 0; i < procs_.size(); ++i) {
      auto& p = *procs_[i];
      p.join(std::max(Seconds(0), Seconds(deadline - Clock::now())));
      const int slot = static_cast<int>(i);
      if (p.is_alive()) {
        add(slot, "still running after " + std::to_string(timeout.count()) + " s");
      } else if (p.exitcode() != std::optional<int>(0)) {
        std::string why = board_->message(slot);
        add(slot, why.empty() ? "exit code " + std::to_string(p.exitcode().value_or(-1000)) : why);
      }
    }
    for (std::size_t i = 0; i < threads_.size(); ++i) {
      threads_[i].join();  // parties wait with timeouts of their own
      const int slot = static_cast<int>(procs_.size() + i);
      std::string why = board_->message(slot);
      if (!why.empty()) add(slot, why);
    }
    return errors;
  }

 private:
  struct Board {
    std::atomic<int> failed[kMaxParties];
    char text[kMaxParties][256];

    void note(int slot, const std::string& what) {
      std::snprintf(text[slot], sizeof text[slot], "%s", what.empty() ? "(no message)" : what.c_str());
      failed[slot].store(1, std::memory_order_release);
    }
    std::string message(int slot) const {
      return failed[slot].load(std::memory_order_acquire) ? std::string(text[slot]) : std::string();
    }
  };

  bool processes_;
  SharedObject<Board> board_;
  std::vector<std::unique_ptr<mp::Process>> procs_;
  std::vector<std::thread> threads_;
  std::vector<std::function<void()>> unwind_;
};

// Whether the parties of implementation A's case run as processes: yes for
// a process-shared type; otherwise threads, and the case says which check
// it skips.
template <class A>
bool parties_across_processes(harness::CaseContext& ctx, std::string_view check) {
  if (!A::kProcessShared.has) ctx.skip_check(std::string(check), std::string(A::kProcessShared.why_not));
  return A::kProcessShared.has;
}

// ---- registration ---------------------------------------------------------------------------

// One behavior of the catalog as the cases declare it: its id and spec.
// The reference's case registers under the bare id with RG_CASE(id,
// (behavior().spec)); every other implementation through register_for.
struct Behavior {
  std::string id;
  harness::CaseSpec spec;
};

inline harness::CaseSpec make_spec(std::string title, std::string seed_document, std::vector<std::string> tags,
                                   int default_trials,
                                   harness::Expectation expectation = harness::Expectation::kHolds) {
  harness::CaseSpec s;
  s.title = std::move(title);
  s.seed_document = std::move(seed_document);
  s.tags = std::move(tags);
  s.expectation = expectation;
  s.default_trials = default_trials;
  return s;
}

// The behavior against implementation A, as "<id>@<A::name>": the title
// names the implementation and the tags its family (std, boost, broken).
template <class A>
bool register_for(const Behavior& b, void (*body)(harness::CaseContext&)) {
  const std::string impl(A::name);
  harness::CaseSpec spec = b.spec;
  spec.title += " [" + impl + "]";
  spec.tags.insert(spec.tags.begin() + (spec.tags.empty() ? 0 : 1), impl.substr(0, impl.find('.')));
  return harness::register_case(harness::Case{b.id + "@" + impl, std::move(spec), body});
}

}  // namespace racegate::cases::sync_cases
