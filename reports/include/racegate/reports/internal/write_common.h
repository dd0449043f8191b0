// racegate/reports/internal/write_common.h — what several report writers
// share: unit ordering, verdict counts, path display, output capping.
// Internal to racegate::reports: do not depend on it from outside.
//
// Everything here is a pure function of its arguments, so that reports are a
// pure function of the Run (STYLE: stable output, no wall clock).
#pragma once

#include <array>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "racegate/reports/reporter.h"
#include "racegate/reports/run.h"

namespace racegate::reports::internal {

inline constexpr std::array<Verdict, 7> kAllVerdicts = {
    Verdict::kPass,    Verdict::kFail,  Verdict::kRace, Verdict::kMissed,
    Verdict::kTimeout, Verdict::kCrash, Verdict::kError};

// Number of units per verdict, indexed by static_cast<int>(Verdict).
using VerdictCounts = std::array<int, kAllVerdicts.size()>;
[[nodiscard]] VerdictCounts count_verdicts(const Run& run);

// JUnit's and CI systems' split: FAIL, RACE and MISSED are failures of the
// code under test; TIMEOUT, CRASH and ERROR are errors (the unit did not
// finish normally).
[[nodiscard]] inline bool is_error_verdict(Verdict v) {
  return v == Verdict::kTimeout || v == Verdict::kCrash || v == Verdict::kError;
}

// The variants of a run: run.info.variants in their order, then any variant
// a unit names that is not listed there, sorted.
[[nodiscard]] std::vector<std::string> variants_of(const Run& run);

// Units in catalog order: case id, then variant (in variants_of order), then
// repeat. Ties keep the order of the run.
[[nodiscard]] std::vector<const UnitResult*> units_by_case(const Run& run);
// Units worst first: verdict severity descending, then catalog order.
[[nodiscard]] std::vector<const UnitResult*> units_by_severity(const Run& run);

// The root that report paths are relative to: config.source_root, or
// run.info.source_root when the config leaves it empty. Lexically normal,
// without a trailing separator; empty when neither is set.
[[nodiscard]] std::filesystem::path source_root_of(const Run& run, const ReportConfig& config);

// `file` relative to `root` ('/'-separated) when it is inside it; relative
// paths are taken as relative to the root already and kept (normalised);
// anything else is returned unchanged.
[[nodiscard]] std::string display_path(std::string_view file, const std::filesystem::path& root);
// Whether `file` names a file inside `root` (a relative path always does,
// when root is set). The file need not exist.
[[nodiscard]] bool is_inside_root(std::string_view file, const std::filesystem::path& root);

// "file:///abs/path" with every byte outside RFC 3986's unreserved set and
// '/' percent-encoded; `path` must be absolute.
[[nodiscard]] std::string file_uri(const std::filesystem::path& path);
// A relative path as a relative URI reference (percent-encoded, '/'-separated).
[[nodiscard]] std::string relative_uri(std::string_view relative_path);

// Seconds with three decimals ("0.250"), as every report prints durations.
[[nodiscard]] std::string format_seconds(double seconds);

// "SIGSEGV" for 11, ..., "signal 42" for numbers without a usual name.
[[nodiscard]] std::string signal_name(int signal);

// "ThreadSanitizer" for "tsan", "AddressSanitizer", "LeakSanitizer",
// "UndefinedBehaviorSanitizer"; the tool string itself otherwise.
[[nodiscard]] std::string tool_display_name(std::string_view tool);
// "data race" for "data-race".
[[nodiscard]] std::string kind_words(std::string_view kind);

// At most `max_bytes` of `text`, cut at a UTF-8 character boundary.
[[nodiscard]] std::string truncate_utf8(std::string_view text, std::size_t max_bytes);

// Captured output capped to about `max_bytes`: when longer, the first quarter
// and the last three quarters of the budget with a marker line between them
// that says how many bytes were left out. `already_truncated` (the runner's
// own cap) adds a closing marker line.
[[nodiscard]] std::string cap_output(std::string_view text, std::size_t max_bytes,
                                     bool already_truncated);

// Names units for people: "case_id", or "case_id [repeat 2]" when the case
// ran more than once in the unit's variant (some unit of the same case and
// variant has repeat > 0).
class UnitLabels {
 public:
  explicit UnitLabels(const Run& run);
  [[nodiscard]] std::string operator()(const UnitResult& unit) const;

 private:
  std::vector<std::pair<std::string, std::string>> repeated_;  // (case, variant), sorted
};

// A schedule exploration's figures (run.info.explore_json of a gate, or a
// unit's explore_json of `racegate run --explore`), as (name, value) pairs
// in a fixed order, for people: mode, runs, failed runs, outcomes, first
// failing token and outcome, threads, steps, depth, miss bound, time-slice
// preemptions; a replay's comparison instead for `replay`. Empty when
// `explore_json` is empty or not an object. Values are raw text: escape them.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> explore_facts(const std::string& explore_json);

}  // namespace racegate::reports::internal
