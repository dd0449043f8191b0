#include <algorithm>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "racegate/harness/case.h"

namespace racegate::harness {

const char* expectation_name(Expectation e) {
  switch (e) {
    case Expectation::kHolds: return "holds";
    case Expectation::kRaceExpected: return "race-expected";
    case Expectation::kOutcomes: return "outcomes";
  }
  return "holds";
}

const char* grade_name(Grade g) {
  switch (g) {
    case Grade::kAcceptable: return "acceptable";
    case Grade::kInteresting: return "interesting";
    case Grade::kForbidden: return "forbidden";
  }
  return "acceptable";
}

const char* build_variant() {
#if defined(RACEGATE_SANITIZER_THREAD)
  return "tsan";
#elif defined(RACEGATE_SANITIZER_ADDRESS)
  return "asan";
#else
  return "plain";
#endif
}

namespace {
std::vector<Case>& cases() {
  static std::vector<Case> v;
  return v;
}
}  // namespace

bool register_case(Case c) {
  auto& v = cases();
  for (const auto& existing : v) {
    if (existing.id == c.id) throw std::logic_error("case registered twice: " + c.id);
  }
  auto at = std::lower_bound(v.begin(), v.end(), c.id,
                             [](const Case& a, const std::string& id) { return a.id < id; });
  v.insert(at, std::move(c));
  return true;
}

const std::vector<Case>& registered_cases() { return cases(); }

void CaseContext::outcome(const std::string& name, Grade grade) {
  auto [it, inserted] = outcomes_.try_emplace(name, Counted{grade, 0});
  ++it->second.count;
  if (grade == Grade::kForbidden && !failed_) {
    failed_ = true;
    message_ = "forbidden outcome: " + name;
  }
}

void CaseContext::fail(const std::string& message) {
  if (!failed_) message_ = message;
  failed_ = true;
}

bool CaseContext::record(const rc::detail::TestResult& result) {
  using namespace rc::detail;
  if (result.is<SuccessResult>()) {
    trials_run_ += result.get<SuccessResult>().numSuccess;
    return true;
  }
  std::ostringstream text;
  printResultMessage(result, text);
  if (result.is<FailureResult>()) {
    const auto& f = result.get<FailureResult>();
    trials_run_ += f.numSuccess + 1;
    // One line: "RC_ASSERT(x) expands to 1 == 2 (file.cpp:12)".
    std::string d = f.description;
    std::string flat;
    for (char ch : d) {
      if (ch == '\n') {
        if (!flat.empty() && flat.back() != ' ') flat += ' ';
      } else {
        flat += ch;
      }
    }
    fail("property failed after " + std::to_string(f.numSuccess + 1) + " trials: " + flat);
  } else if (result.is<GaveUpResult>()) {
    trials_run_ += result.get<GaveUpResult>().numSuccess;
    fail("gave up: " + result.get<GaveUpResult>().description);
  } else {
    fail("rapidcheck error: " + result.get<Error>().description);
  }
  if (counterexample_.empty()) counterexample_ = text.str();
  return false;
}

void CaseContext::skip_check(const std::string& check, const std::string& reason) {
  skipped_.emplace(check, reason);
}

std::string CaseContext::result_json() const {
  nlohmann::json outcomes = nlohmann::json::array();
  for (const auto& [name, c] : outcomes_) {
    outcomes.push_back({{"name", name}, {"grade", grade_name(c.grade)}, {"count", c.count}});
  }
  nlohmann::json skipped = nlohmann::json::array();
  for (const auto& [check, reason] : skipped_) skipped.push_back({{"check", check}, {"reason", reason}});
  nlohmann::json j = {{"status", "returned"},      {"failed", failed_},
                      {"message", message_},       {"trials_run", trials_run_},
                      {"counterexample", counterexample_}, {"outcomes", outcomes},
                      {"seed", seed_},             {"variant", build_variant()},
                      {"skipped_checks", skipped}};
  return j.dump();
}

}  // namespace racegate::harness
