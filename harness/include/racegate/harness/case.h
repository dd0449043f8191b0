// racegate/harness/case.h — conformance cases and how they register.
//
// A case encodes one behavior of the catalog (../shared/behavior-catalog.md)
// under its catalog id. It declares what is expected of it as data:
//
//  - holds:          every trial passes and no sanitizer reports anything;
//  - race-expected:  a canary; under ThreadSanitizer a data race must be
//                    reported at `race_site` (a substring of the report, e.g.
//                    the racing global's name), or the verdict is MISSED;
//                    other variants only check the case's own assertions;
//  - outcomes:       each trial records an observed outcome graded
//                    acceptable / interesting / forbidden; a forbidden one fails.
//                    CaseContext::actors() runs such a case as actors plus an
//                    arbiter.
//
// A case body runs inside a case binary (its main comes from the harness,
// racegate::harness_case_main) in a fresh process started by the runner. The
// body never sees sanitizer output; the runner judges that.
//
//   RG_CASE("globals.process_isolated",
//           {.title = "A global changed in a child process is unchanged in the parent",
//            .seed_document = "004_7648374c0ccc69dc.txt", .tags = {"process", "D"},
//            .default_trials = 40}) {
//     ctx.check([](int initial, int changed) { ... RC_ASSERT(...); });
//   }
#pragma once

#include <cstdint>
#include <functional>
#include <barrier>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <rapidcheck.h>

namespace racegate::harness {

enum class Expectation { kHolds, kRaceExpected, kOutcomes };
enum class Grade { kAcceptable, kInteresting, kForbidden };

const char* expectation_name(Expectation e);  // "holds", "race-expected", "outcomes"
const char* grade_name(Grade g);              // "acceptable", "interesting", "forbidden"

// What a case declares about itself.
struct CaseSpec {
  std::string title;
  std::string seed_document;
  std::vector<std::string> tags;
  Expectation expectation = Expectation::kHolds;
  std::string race_site;      // race-expected: substring the TSan report must contain
  int default_trials = 100;
  double timeout_seconds = 120;
};

class CaseContext;

struct Case {
  std::string id;
  CaseSpec spec;
  void (*body)(CaseContext&) = nullptr;
};

// The variant this binary was built as: "plain", "tsan" or "asan".
const char* build_variant();

// Everything a case body gets: the seed and trial count chosen by the runner,
// property checking, and outcome recording. Not thread-safe: call it from the
// body's own thread.
class CaseContext {
 public:
  CaseContext(std::uint64_t seed, int trials) : seed_(seed), trials_(trials) {}

  [[nodiscard]] std::uint64_t seed() const { return seed_; }
  [[nodiscard]] int trials() const { return trials_; }
  [[nodiscard]] const char* variant() const { return build_variant(); }

  // Checks a rapidcheck property with this unit's seed and at most trials()
  // successful trials. A failure is recorded (with the shrunk counterexample)
  // and ends the case as FAIL; check() then returns false.
  template <class Testable>
  bool check(Testable&& testable) {
    rc::detail::TestMetadata metadata;
    metadata.id = "racegate";
    auto params = rc::detail::configuration().testParams;
    params.seed = seed_;
    params.maxSuccess = trials_;
    return record(rc::detail::checkTestable(std::forward<Testable>(testable), metadata, params));
  }

  // Records one observed outcome of an outcomes case (a trial is counted by
  // check() or count_trial(), not here).
  void outcome(const std::string& name, Grade grade);

  // An outcomes case as actors plus an arbiter (jcstress's model). Runs
  // trials() rounds; each round builds a fresh State with `make` (given a
  // random generator seeded from seed(), so inputs are reproducible), runs
  // every actor on its own thread, all released together by a barrier so
  // that they really overlap, joins them, and records the outcome the
  // arbiter names for the final state.
  //
  //   ctx.actors<Counter>(
  //       [](std::mt19937_64& rng) { return Counter{...}; },
  //       {[](Counter& c) { ... }, [](Counter& c) { ... }},
  //       [](const Counter& c) { return c.value == 0 ? Verdict{"0", Grade::kAcceptable} : ...; });
  struct Observed {
    std::string name;
    Grade grade;
  };
  template <class State>
  void actors(const std::function<State(std::mt19937_64&)>& make,
              const std::vector<std::function<void(State&)>>& actor_bodies,
              const std::function<Observed(const State&)>& arbiter) {
    std::mt19937_64 rng(seed_);
    for (int trial = 0; trial < trials_; ++trial) {
      State state = make(rng);
      const auto parties = static_cast<std::ptrdiff_t>(actor_bodies.size());
      std::barrier start(parties);
      std::vector<std::thread> threads;
      threads.reserve(actor_bodies.size());
      for (const auto& body : actor_bodies) {
        threads.emplace_back([&start, &body, &state] {
          start.arrive_and_wait();
          body(state);
        });
      }
      for (auto& t : threads) t.join();
      Observed seen = arbiter(state);
      outcome(seen.name, seen.grade);
      count_trial();
    }
  }

  // Records a trial that ran (for cases that loop themselves).
  void count_trial() { ++trials_run_; }

  // Marks the case failed with a message (an assertion outside rapidcheck).
  void fail(const std::string& message);

  // Records that one check of the behavior was not made for the
  // implementation under test, and why: a third-party type that differs from
  // CPython by design declares the difference in its adapter, and the case
  // skips that check out loud. Shown per case in every report; calling it
  // again for the same check (say, once per trial) records it once.
  //
  //   if (!A::kReleaseUnlockedRaises) ctx.skip_check("release of an unlocked lock raises", A::kWhyNoRaise);
  void skip_check(const std::string& check, const std::string& reason);

  // The result, as the runner reads it (JSON object).
  [[nodiscard]] std::string result_json() const;

 private:
  bool record(const rc::detail::TestResult& result);

  std::uint64_t seed_;
  int trials_;
  int trials_run_ = 0;
  bool failed_ = false;
  std::string message_;
  std::string counterexample_;
  struct Counted {
    Grade grade;
    std::uint64_t count;
  };
  std::map<std::string, Counted> outcomes_;
  std::map<std::string, std::string> skipped_;  // check -> reason
};

// Registers a case; used by RG_CASE. Returns true.
bool register_case(Case c);
// Every case registered in this binary, sorted by id.
const std::vector<Case>& registered_cases();

// The main() of a case binary (see case_main.cpp for its command line).
int harness_case_main(int argc, char** argv);

}  // namespace racegate::harness

#define RG_CASE_CONCAT_(a, b) a##b
#define RG_CASE_NAME_(prefix, line) RG_CASE_CONCAT_(prefix, line)

// RG_CASE("catalog.id", {spec...}) { body using `ctx` }
// (Designated initializers leave the other CaseSpec members at their defaults,
// which gcc's -Wmissing-field-initializers would flag.)
#define RG_CASE(Id, ...)                                                                  \
  static void RG_CASE_NAME_(rg_case_body_, __LINE__)(::racegate::harness::CaseContext&); \
  _Pragma("GCC diagnostic push")                                                          \
  _Pragma("GCC diagnostic ignored \"-Wmissing-field-initializers\"")                      \
  [[maybe_unused]] static const bool RG_CASE_NAME_(rg_case_registered_, __LINE__) =      \
      ::racegate::harness::register_case(::racegate::harness::Case{                       \
          Id, ::racegate::harness::CaseSpec __VA_ARGS__, &RG_CASE_NAME_(rg_case_body_, __LINE__)}); \
  _Pragma("GCC diagnostic pop")                                                           \
  static void RG_CASE_NAME_(rg_case_body_, __LINE__)([[maybe_unused]] ::racegate::harness::CaseContext & ctx)
