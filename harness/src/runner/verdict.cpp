// The verdict engine: from what was observed of a unit to its verdict.
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <cstring>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runner.h"

namespace racegate::runner {

namespace {

using reports::Verdict;

std::string where(const reports::Finding& f) {
  if (!f.location.file.empty()) {
    auto file = f.location.file.substr(f.location.file.rfind('/') + 1);
    std::string at = f.location.line > 0 ? fmt::format("{}:{}", file, f.location.line) : file;
    return f.location.function.empty() ? at : at + " in " + f.location.function;
  }
  return f.location.function.empty() ? "unknown location" : f.location.function;
}

void raise_to(reports::UnitResult& u, Verdict v, const std::string& message) {
  if (v > u.verdict) {
    u.verdict = v;
    u.message = message;
  }
}

// A sanitizer's report of a deadly signal: the process crashed (the sanitizer
// caught the signal, printed the report and exited instead of dying of it).
bool is_crash_kind(const std::string& kind) {
  static const char* const kCrash[] = {"segv", "bus", "fpe", "ill", "abrt", "deadly-signal",
                                       "stack-overflow", "trap"};
  for (const char* k : kCrash) {
    if (kind == k) return true;
  }
  return false;
}

// A number of the result that must fit T (a float out of range converted
// to an integer is undefined behaviour): throws std::out_of_range when it
// does not, nlohmann's type_error when it is not a number; 0 when absent.
template <class T>
T number_field(const nlohmann::json& j, const char* key) {
  const T none{};
  if (!j.is_object()) return j.value(key, none);  // throws the type error
  auto it = j.find(key);
  if (it == j.end()) return none;
  if (it->is_number_float()) {
    const double d = it->get<double>();
    if (!(d >= static_cast<double>(std::numeric_limits<T>::min()) &&
          d <= static_cast<double>(std::numeric_limits<T>::max()))) {
      throw std::out_of_range(fmt::format("\"{}\": {} is out of range", key, d));
    }
  }
  return it->get<T>();
}

}  // namespace

void judge(const Unit& unit, const Observation& obs, reports::UnitResult& u) {
  u.verdict = Verdict::kPass;
  u.message.clear();
  if (!obs.spawn_error.empty()) {
    raise_to(u, Verdict::kError, obs.spawn_error);
    return;
  }
  if (!obs.loader_error.empty() && obs.result_text.empty()) {
    // Nothing of the case ran: the set-up is broken, not the case.
    raise_to(u, Verdict::kError, "the case binary could not be loaded: " + obs.loader_error);
    return;
  }
  // A limit of the runner's that the unit ran into: said first, so that the
  // kill or the failed allocation it caused is explained by it.
  if (obs.process_limit > 0) {
    raise_to(u, Verdict::kCrash,
             fmt::format("over the process limit: {} processes in the unit's process group, more than "
                         "--max-procs {}; the group was killed",
                         obs.processes_seen, obs.process_limit));
  }
  if (obs.timed_out) {
    raise_to(u, Verdict::kTimeout,
             fmt::format("no result after {:g} s: the unit was stopped, its stacks taken, and killed",
                         unit.timeout_seconds));
  } else if (obs.signal) {
    raise_to(u, Verdict::kCrash,
             fmt::format("killed by signal {} ({})", *obs.signal, strsignal(*obs.signal)));
  }

  // The case's own result.
  nlohmann::json result;
  bool have_result = false;
  if (!obs.result_text.empty()) {
    result = nlohmann::json::parse(obs.result_text, nullptr, false);
    if (result.is_discarded() || !result.is_object() || !result.contains("status")) {
      raise_to(u, Verdict::kError, "the case wrote a malformed result");
    } else {
      have_result = true;
    }
  }
  if (have_result) {
    // A field of the wrong type is a malformed result too, never an
    // exception out of the runner.
    try {
      u.trials_run = number_field<int>(result, "trials_run");
      u.counterexample = result.value("counterexample", "");
      if (auto it = result.find("outcomes"); it != result.end() && it->is_array()) {
        for (const auto& o : *it) {
          u.outcomes.push_back({o.value("name", ""), o.value("grade", ""), number_field<std::uint64_t>(o, "count")});
        }
      }
      if (auto it = result.find("skipped_checks"); it != result.end() && it->is_array()) {
        for (const auto& sc : *it) {
          if (sc.is_object()) u.skipped_checks.push_back({sc.value("check", ""), sc.value("reason", "")});
        }
      }
      if (result.value("failed", false)) raise_to(u, Verdict::kFail, result.value("message", "failed"));
    } catch (const std::exception& e) {  // json::exception, or a number that does not fit
      have_result = false;
      u.trials_run = 0;
      u.outcomes.clear();
      u.skipped_checks.clear();
      raise_to(u, Verdict::kError, fmt::format("the case wrote a malformed result: {}", e.what()));
    }
  }

  // Sanitizer findings against the expectation.
  const bool canary = unit.c.expectation == "race-expected" && unit.c.variant == "tsan";
  int expected_seen = 0;
  std::vector<const reports::Finding*> unexpected;
  for (const auto& f : obs.findings) {
    if (is_crash_kind(f.kind)) {
      raise_to(u, Verdict::kCrash, fmt::format("crashed: {} reported {} at {}", f.tool, f.kind, where(f)));
      continue;
    }
    if (canary && f.kind == "data-race" &&
        (unit.c.race_site.empty() || f.raw.find(unit.c.race_site) != std::string::npos)) {
      ++expected_seen;
    } else {
      unexpected.push_back(&f);
    }
  }
  if (!unexpected.empty()) {
    const auto& f = *unexpected.front();
    raise_to(u, Verdict::kRace,
             fmt::format("{} unexpected sanitizer finding{}: {} {} at {}", unexpected.size(),
                         unexpected.size() == 1 ? "" : "s", f.tool, f.kind, where(f)));
  }
  if (canary && expected_seen == 0 && !obs.timed_out && !obs.signal) {
    raise_to(u, Verdict::kMissed,
             fmt::format("expected a ThreadSanitizer data race on '{}', none was reported",
                         unit.c.race_site));
  }

  // How the process ended.
  if (!obs.timed_out && !obs.signal && !have_result) {
    if (!obs.findings.empty()) {
      // The sanitizer ended it; the finding says why (already judged above).
    } else if (obs.exit_code == 0) {
      raise_to(u, Verdict::kError, "the case exited 0 without writing a result");
    } else if (!obs.result_text.empty()) {
      // malformed, judged above
    } else {
      raise_to(u, Verdict::kCrash,
               fmt::format("the case exited with code {} without a result", obs.exit_code.value_or(-1)));
    }
  }
  if (have_result && obs.exit_code && *obs.exit_code != 0 && obs.findings.empty()) {
    raise_to(u, Verdict::kError,
             fmt::format("the case reported a result but exited with code {}", *obs.exit_code));
  }
  if (obs.stray_processes > 0) {
    raise_to(u, Verdict::kFail,
             fmt::format("the case left {} process{} running after it exited (killed)",
                         obs.stray_processes, obs.stray_processes == 1 ? "" : "es"));
  }
  if (!obs.leaked_shm.empty()) {
    raise_to(u, Verdict::kFail,
             fmt::format("the case left shared-memory segment {} behind (removed)", obs.leaked_shm.front()));
  }
  if (obs.memory_limit_mib > 0 && u.verdict != Verdict::kPass) {
    // It failed, and said an allocation was refused: the limit is why.
    u.verdict = std::max(u.verdict, Verdict::kCrash);
    u.message = fmt::format("out of memory (limit {} MiB of address space, --max-memory): {}",
                            obs.memory_limit_mib, u.message);
  }
  if (u.verdict == Verdict::kPass) {
    std::string trials = fmt::format("{} trial{}", u.trials_run, u.trials_run == 1 ? "" : "s");
    u.message = canary ? trials + "; ThreadSanitizer reported the expected race" : trials;
  }
}

std::string loader_error_line(const std::string& text) {
  static const char* const kLoaderSays[] = {"error while loading shared libraries", "symbol lookup error"};
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + start, end - start);
    for (const char* says : kLoaderSays) {
      if (line.find(says) != std::string_view::npos) return std::string(line.substr(0, 500));
    }
    start = end + 1;
  }
  return {};
}

bool unsymbolized(const reports::Finding& f) {
  bool any_frame = false;
  for (const auto& s : f.stacks) {
    for (const auto& fr : s.frames) {
      if (!fr.function.empty() || !fr.file.empty()) return false;
      any_frame = true;
    }
  }
  return any_frame;
}

std::string unsymbolized_warning(std::size_t findings) {
  return fmt::format(
      "warning: {} finding{} ha{} unsymbolized stacks (module+offset, no function or file:line): "
      "the sanitizer could not symbolize them. Install llvm-symbolizer (Debian: llvm-14) or point "
      "ASAN_SYMBOLIZER_PATH / TSAN_OPTIONS=external_symbolizer_path at it, and do not set symbolize=0",
      findings, findings == 1 ? "" : "s", findings == 1 ? "s" : "ve");
}

std::uint64_t derive_seed(std::uint64_t run_seed, const std::string& case_id, int repeat) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a of the id
  for (unsigned char ch : case_id) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  std::uint64_t z = run_seed ^ h ^ (static_cast<std::uint64_t>(repeat) * 0x9E3779B97F4A7C15ull);
  // splitmix64 finalizer
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace racegate::runner
