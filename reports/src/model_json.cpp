// JSON form of the report model (results.jsonl lines, report.json). Field
// names are the schema documented in docs/report-schema.md; optional values
// that are absent are written as null.
#include <limits>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "racegate/reports/finding.h"
#include "racegate/reports/run.h"

namespace racegate::reports {

using nlohmann::json;

namespace {

template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};

// A JSON number converted to an integer type must fit: converting a float
// out of range (1e70 to an int, -1.5 to an unsigned) is undefined behaviour,
// so it is refused as a type error instead.
template <class T>
void check_fits(const json& v, const char* key) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    if (v.is_number_float()) {
      const double d = v.get<double>();
      if (!(d >= static_cast<double>(std::numeric_limits<T>::min()) &&
            d <= static_cast<double>(std::numeric_limits<T>::max()))) {
        throw std::out_of_range(fmt::format("\"{}\": {} does not fit its type", key, v.dump()));
      }
    }
  } else if constexpr (is_vector<T>::value) {
    if (v.is_array()) {
      for (const auto& e : v) check_fits<typename T::value_type>(e, key);
    }
  }
}

template <class T>
void get_opt(const json& j, const char* key, T& out) {
  if (auto it = j.find(key); it != j.end() && !it->is_null()) {
    check_fits<T>(*it, key);
    it->get_to(out);
  }
}

template <class T>
void get_opt(const json& j, const char* key, std::optional<T>& out) {
  if (auto it = j.find(key); it != j.end() && !it->is_null()) {
    check_fits<T>(*it, key);
    out = it->get<T>();
  }
}

template <class T>
json opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

}  // namespace

void to_json(json& j, const Frame& f) {
  j = json{{"index", f.index},   {"function", f.function}, {"file", f.file},
           {"line", f.line},     {"column", f.column},     {"module", f.module},
           {"module_offset", f.module_offset}};
}
void from_json(const json& j, Frame& f) {
  get_opt(j, "index", f.index);
  get_opt(j, "function", f.function);
  get_opt(j, "file", f.file);
  get_opt(j, "line", f.line);
  get_opt(j, "column", f.column);
  get_opt(j, "module", f.module);
  get_opt(j, "module_offset", f.module_offset);
}

void to_json(json& j, const Stack& s) {
  j = json{{"role", s.role}, {"title", s.title}, {"frames", s.frames}};
}
void from_json(const json& j, Stack& s) {
  get_opt(j, "role", s.role);
  get_opt(j, "title", s.title);
  get_opt(j, "frames", s.frames);
}

void to_json(json& j, const SourceLocation& l) {
  j = json{{"file", l.file}, {"line", l.line}, {"column", l.column}, {"function", l.function}};
}
void from_json(const json& j, SourceLocation& l) {
  get_opt(j, "file", l.file);
  get_opt(j, "line", l.line);
  get_opt(j, "column", l.column);
  get_opt(j, "function", l.function);
}

void to_json(json& j, const Finding& f) {
  j = json{{"tool", f.tool},         {"kind", f.kind},         {"headline", f.headline},
           {"summary", f.summary},   {"location", f.location}, {"stacks", f.stacks},
           {"threads", f.threads},   {"mutexes", f.mutexes},   {"pid", f.pid},
           {"signature", f.signature}, {"truncated", f.truncated}, {"raw", f.raw}};
  if (!f.state.empty()) {  // gate findings only: run reports keep their schema
    j["state"] = f.state;
    j["state_reason"] = f.state_reason;
    j["occurrences"] = f.occurrences;
    j["pids"] = f.pids;
  }
}
void from_json(const json& j, Finding& f) {
  get_opt(j, "tool", f.tool);
  get_opt(j, "kind", f.kind);
  get_opt(j, "headline", f.headline);
  get_opt(j, "summary", f.summary);
  get_opt(j, "location", f.location);
  get_opt(j, "stacks", f.stacks);
  get_opt(j, "threads", f.threads);
  get_opt(j, "mutexes", f.mutexes);
  get_opt(j, "pid", f.pid);
  get_opt(j, "signature", f.signature);
  get_opt(j, "truncated", f.truncated);
  get_opt(j, "raw", f.raw);
  get_opt(j, "state", f.state);
  get_opt(j, "state_reason", f.state_reason);
  get_opt(j, "occurrences", f.occurrences);
  get_opt(j, "pids", f.pids);
}

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kPass: return "PASS";
    case Verdict::kFail: return "FAIL";
    case Verdict::kRace: return "RACE";
    case Verdict::kMissed: return "MISSED";
    case Verdict::kTimeout: return "TIMEOUT";
    case Verdict::kCrash: return "CRASH";
    case Verdict::kError: return "ERROR";
  }
  return "ERROR";
}

std::optional<Verdict> parse_verdict(const std::string& name) {
  for (Verdict v : {Verdict::kPass, Verdict::kFail, Verdict::kRace, Verdict::kMissed,
                    Verdict::kTimeout, Verdict::kCrash, Verdict::kError}) {
    if (name == verdict_name(v)) return v;
  }
  return std::nullopt;
}

Verdict Run::worst() const {
  Verdict w = Verdict::kPass;
  for (const auto& u : units) w = std::max(w, u.verdict);
  return w;
}

void to_json(json& j, const Outcome& o) {
  j = json{{"name", o.name}, {"grade", o.grade}, {"count", o.count}};
}
void from_json(const json& j, Outcome& o) {
  get_opt(j, "name", o.name);
  get_opt(j, "grade", o.grade);
  get_opt(j, "count", o.count);
}

void to_json(json& j, const SkippedCheck& s) { j = json{{"check", s.check}, {"reason", s.reason}}; }
void from_json(const json& j, SkippedCheck& s) {
  get_opt(j, "check", s.check);
  get_opt(j, "reason", s.reason);
}

void to_json(json& j, const UnitResult& u) {
  j = json{{"case_id", u.case_id},
           {"title", u.title},
           {"seed_document", u.seed_document},
           {"tags", u.tags},
           {"expectation", u.expectation},
           {"race_site", u.race_site},
           {"binary", u.binary},
           {"variant", u.variant},
           {"repeat", u.repeat},
           {"seed", u.seed},
           {"trials_requested", u.trials_requested},
           {"trials_run", u.trials_run},
           {"verdict", verdict_name(u.verdict)},
           {"message", u.message},
           {"outcomes", u.outcomes},
           {"skipped_checks", u.skipped_checks},
           {"counterexample", u.counterexample},
           {"reproduce", u.reproduce},
           {"replay_command", u.replay_command},
           {"exit_code", opt(u.exit_code)},
           {"signal", opt(u.signal)},
           {"wall_seconds", u.wall_seconds},
           {"peak_rss_kb", u.peak_rss_kb},
           {"stdout", u.stdout_text},
           {"stderr", u.stderr_text},
           {"stdout_truncated", u.stdout_truncated},
           {"stderr_truncated", u.stderr_truncated},
           {"hang_stacks", u.hang_stacks},
           {"findings", u.findings}};
  // racegate run --explore only: absent otherwise, so that other reports keep their schema.
  if (!u.explore_json.empty()) j["explore"] = json::parse(u.explore_json);
}
void from_json(const json& j, UnitResult& u) {
  get_opt(j, "case_id", u.case_id);
  get_opt(j, "title", u.title);
  get_opt(j, "seed_document", u.seed_document);
  get_opt(j, "tags", u.tags);
  get_opt(j, "expectation", u.expectation);
  get_opt(j, "race_site", u.race_site);
  get_opt(j, "binary", u.binary);
  get_opt(j, "variant", u.variant);
  get_opt(j, "repeat", u.repeat);
  get_opt(j, "seed", u.seed);
  get_opt(j, "trials_requested", u.trials_requested);
  get_opt(j, "trials_run", u.trials_run);
  std::string v;
  get_opt(j, "verdict", v);
  u.verdict = parse_verdict(v).value_or(Verdict::kError);
  get_opt(j, "message", u.message);
  get_opt(j, "outcomes", u.outcomes);
  get_opt(j, "skipped_checks", u.skipped_checks);
  get_opt(j, "counterexample", u.counterexample);
  get_opt(j, "reproduce", u.reproduce);
  get_opt(j, "replay_command", u.replay_command);
  get_opt(j, "exit_code", u.exit_code);
  get_opt(j, "signal", u.signal);
  get_opt(j, "wall_seconds", u.wall_seconds);
  get_opt(j, "peak_rss_kb", u.peak_rss_kb);
  get_opt(j, "stdout", u.stdout_text);
  get_opt(j, "stderr", u.stderr_text);
  get_opt(j, "stdout_truncated", u.stdout_truncated);
  get_opt(j, "stderr_truncated", u.stderr_truncated);
  get_opt(j, "hang_stacks", u.hang_stacks);
  get_opt(j, "findings", u.findings);
  if (j.contains("explore") && j["explore"].is_object()) u.explore_json = j["explore"].dump();
}

void to_json(json& j, const KnownFinding& f) {
  j = json{{"signature", f.signature}, {"tool", f.tool},       {"kind", f.kind},
           {"location", f.location},   {"first_seen", f.first_seen}, {"reason", f.reason}};
}
void from_json(const json& j, KnownFinding& f) {
  get_opt(j, "signature", f.signature);
  get_opt(j, "tool", f.tool);
  get_opt(j, "kind", f.kind);
  get_opt(j, "location", f.location);
  get_opt(j, "first_seen", f.first_seen);
  get_opt(j, "reason", f.reason);
}

void to_json(json& j, const RunInfo& r) {
  j = json{{"tool_version", r.tool_version}, {"run_seed", r.run_seed},
           {"started_at", r.started_at},     {"wall_seconds", r.wall_seconds},
           {"variants", r.variants},         {"command_line", r.command_line},
           {"shard_index", r.shard_index},   {"shard_total", r.shard_total},
           {"interrupted", r.interrupted},   {"source_root", r.source_root},
           {"catalog_path", r.catalog_path}};
  if (r.mode == "gate") {  // gate runs only: run reports keep their schema
    j["mode"] = r.mode;
    j["baseline_path"] = r.baseline_path;
    j["fixed"] = r.fixed;
    if (!r.explore_json.empty()) j["explore"] = json::parse(r.explore_json);
  }
}
void from_json(const json& j, RunInfo& r) {
  get_opt(j, "tool_version", r.tool_version);
  get_opt(j, "run_seed", r.run_seed);
  get_opt(j, "started_at", r.started_at);
  get_opt(j, "wall_seconds", r.wall_seconds);
  get_opt(j, "variants", r.variants);
  get_opt(j, "command_line", r.command_line);
  get_opt(j, "catalog_path", r.catalog_path);
  get_opt(j, "shard_index", r.shard_index);
  get_opt(j, "shard_total", r.shard_total);
  get_opt(j, "interrupted", r.interrupted);
  get_opt(j, "source_root", r.source_root);
  get_opt(j, "mode", r.mode);
  get_opt(j, "baseline_path", r.baseline_path);
  get_opt(j, "fixed", r.fixed);
  if (j.contains("explore") && j["explore"].is_object()) r.explore_json = j["explore"].dump();
}

void to_json(json& j, const Run& r) {
  j = json{{"schema", "racegate-run/1"}, {"run", r.info}, {"units", r.units},
           {"verdict", verdict_name(r.worst())}};
}
void from_json(const json& j, Run& r) {
  get_opt(j, "run", r.info);
  get_opt(j, "units", r.units);
}

}  // namespace racegate::reports
