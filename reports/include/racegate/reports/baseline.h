// racegate/reports/baseline.h — the files `racegate gate` judges findings by.
//
// * The baseline (JSON, `racegate-baseline/1`): findings already known, each
//   with its signature, what and where it is, since when it is known and why
//   it is accepted. A gate fails only on findings that are not in it; its
//   entries that a run no longer sees are reported as fixed.
//
//     {"schema": "racegate-baseline/1",
//      "findings": [{"signature": "5f0c…", "tool": "tsan", "kind": "data-race",
//                    "location": {"file": "src/cache.cpp", "line": 42, "column": 0,
//                                 "function": "Cache::put"},
//                    "first_seen": "2026-12-06T10:00:00Z",
//                    "reason": "known, tracked in #12"}]}
//
// * The ignore list (text): findings never to report as new, by signature,
//   each with the reason it is ignored (required):
//
//     # comment
//     5f0c0e1d2a3b4c5d   the logger's race, fixed upstream in 2.3
//
// * A ThreadSanitizer suppressions file (`race:pattern`, `thread:`, `mutex:`,
//   `signal:`, `deadlock:`, `called_from_lib:`, `race_top:`; `#` comments):
//   checked here so that a broken file is a clear error before anything runs
//   (TSan itself would exit 66 and report nothing), then passed to TSan.
//
// Every loader throws InputError naming the file and line of the problem.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "racegate/reports/run.h"

namespace racegate::reports {

// Bad input in a file: the message is "FILE:LINE: what is wrong".
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Baseline {
  std::vector<KnownFinding> findings;
  // The entry with this signature, or nullptr.
  [[nodiscard]] const KnownFinding* find(const std::string& signature) const;
};

Baseline load_baseline(const std::filesystem::path& file);
// The same from the file's text; `name` is the file named in messages.
Baseline parse_baseline(std::string_view text, const std::string& name);
// The baseline as its file's text (entries sorted by signature, stable).
std::string baseline_text(const Baseline& baseline);

struct IgnoreEntry {
  std::string signature;
  std::string reason;
  int line = 0;
};

std::vector<IgnoreEntry> load_ignore_list(const std::filesystem::path& file);
std::vector<IgnoreEntry> parse_ignore_list(std::string_view text, const std::string& name);

struct SuppressionRule {
  std::string type;     // "race", "thread", ...
  std::string pattern;  // glob-like, as TSan reads it
  int line = 0;
};

std::vector<SuppressionRule> load_tsan_suppressions(const std::filesystem::path& file);
std::vector<SuppressionRule> parse_tsan_suppressions(std::string_view text, const std::string& name);

// Whether a TSan suppression rule matches a finding, as TSan reads it: the
// pattern (substring match; '*' matches any run, '^' and '$' anchor) against
// the function, file and module of the frames of the report's stacks (only
// the innermost frame of each for race_top); the rule's type names the
// report kinds it applies to (race: data races, thread: thread leaks, mutex:
// mutex misuse, signal: signal-unsafe calls and errno, deadlock: lock-order
// inversions; called_from_lib: any TSan report with a frame in that module).
// The gate passes the file to TSan, which drops what matches; this is the
// same judgement for reports that reach the logs anyway.
bool suppression_matches(const SuppressionRule& rule, const Finding& finding);

}  // namespace racegate::reports
