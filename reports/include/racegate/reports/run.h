// racegate/reports/run.h — the results of a run, as data.
//
// A Run is what `racegate run` (or `racegate gate`) produced: one UnitResult
// per (case, variant, repeat), in the order they finished, plus facts about
// the run. results.jsonl holds one UnitResult per line as JSON (see to_json);
// every report is rendered from a Run, so `racegate report` can re-render
// offline.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "racegate/reports/finding.h"

namespace racegate::reports {

// The verdict of one unit, in increasing severity.
enum class Verdict { kPass, kFail, kRace, kMissed, kTimeout, kCrash, kError };

// "PASS", "FAIL", "RACE", "MISSED", "TIMEOUT", "CRASH", "ERROR".
const char* verdict_name(Verdict v);
std::optional<Verdict> parse_verdict(const std::string& name);

// One observed outcome of an outcomes case, with its grade.
struct Outcome {
  std::string name;    // e.g. "final=-3" or "oversold"
  std::string grade;   // "acceptable", "interesting", "forbidden"
  std::uint64_t count = 0;
};

// A check of the behavior the case did not make for the implementation under
// test, with the difference its adapter declares (e.g. "a std::mutex released
// by a non-owner is undefined behavior").
struct SkippedCheck {
  std::string check;
  std::string reason;
};

struct UnitResult {
  // The case.
  std::string case_id;          // catalog id, e.g. "counter.unlocked_race"
  std::string title;
  std::string seed_document;    // e.g. "004_7648374c0ccc69dc.txt"
  std::vector<std::string> tags;
  std::string expectation;      // "holds", "race-expected", "outcomes"
  std::string race_site;        // for race-expected: the named place (e.g. a global)
  std::string binary;           // the case binary that ran it
  // The unit.
  std::string variant;          // "plain", "tsan", "asan"
  int repeat = 0;               // 0-based repeat index
  std::uint64_t seed = 0;
  int trials_requested = 0;
  int trials_run = 0;
  // The verdict.
  Verdict verdict = Verdict::kError;
  std::string message;          // one line: why this verdict
  std::vector<Outcome> outcomes;
  std::vector<SkippedCheck> skipped_checks;  // declared differences, never silent
  std::string counterexample;   // shrunk counterexample of a failed property
  std::string reproduce;        // rapidcheck's reproduce string, when any
  std::string replay_command;   // `racegate replay ...` that reruns this unit exactly
  // The process.
  std::optional<int> exit_code;
  std::optional<int> signal;
  double wall_seconds = 0;
  long peak_rss_kb = 0;
  std::string stdout_text;
  std::string stderr_text;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  std::string hang_stacks;      // for TIMEOUT: stacks of every thread before the kill
  std::vector<Finding> findings;
  // racegate run --explore: the unit's exploration (docs/report-schema.md,
  // "unit explore") as a JSON object's text; empty otherwise.
  std::string explore_json;
};

// A finding known from a gate's baseline (signature, what and where, since
// when and why it is accepted); in RunInfo::fixed, one the run did not see again.
struct KnownFinding {
  std::string signature;
  std::string tool;
  std::string kind;
  SourceLocation location;
  std::string first_seen;
  std::string reason;
};

struct RunInfo {
  std::string tool_version;
  std::uint64_t run_seed = 0;
  std::string started_at;       // ISO 8601 UTC
  double wall_seconds = 0;
  std::vector<std::string> variants;
  std::string command_line;
  int shard_index = 0;
  int shard_total = 1;
  bool interrupted = false;
  std::string source_root;      // absolute; report paths are made relative to it
  std::string catalog_path;     // absolute path of behavior-catalog.md, when the run had one
  // "run" (cases) or "gate" (one user command judged by its new findings).
  std::string mode = "run";
  std::string baseline_path;    // gate: the baseline file, when one was given
  std::vector<KnownFinding> fixed;  // gate: baseline entries not seen in this run (fixed)
  // gate --explore / --replay-token: the exploration's figures as a JSON
  // object's text (docs/report-schema.md, "explore"); empty otherwise.
  std::string explore_json;
};

struct Run {
  RunInfo info;
  std::vector<UnitResult> units;
  // The worst verdict of all units (kPass when there are none).
  [[nodiscard]] Verdict worst() const;
};

void to_json(nlohmann::json& j, const Outcome& o);
void from_json(const nlohmann::json& j, Outcome& o);
void to_json(nlohmann::json& j, const SkippedCheck& s);
void from_json(const nlohmann::json& j, SkippedCheck& s);
void to_json(nlohmann::json& j, const UnitResult& u);
void from_json(const nlohmann::json& j, UnitResult& u);
void to_json(nlohmann::json& j, const KnownFinding& f);
void from_json(const nlohmann::json& j, KnownFinding& f);
void to_json(nlohmann::json& j, const RunInfo& r);
void from_json(const nlohmann::json& j, RunInfo& r);
void to_json(nlohmann::json& j, const Run& r);
void from_json(const nlohmann::json& j, Run& r);

}  // namespace racegate::reports
