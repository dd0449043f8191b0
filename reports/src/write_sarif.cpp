// `sarif` reporter: racegate.sarif, SARIF 2.1.0 for code-scanning services.
//
// One run; tool.driver "racegate" with one rule per finding kind
// ("tsan/data-race") and per failing verdict ("verdict/MISSED"), rules sorted
// by id. Results, in catalog order (case id, variant, repeat):
//   * one per finding, located at its innermost user frame (relative to
//     SRCROOT), with the access stacks of a race as codeFlows[0].threadFlows
//     (one threadFlow per stack, in call order), every stack as `stacks`
//     (innermost frame first, as SARIF wants), and partialFingerprints
//     {"racegateSignature/v1": signature}. Level "error"; a finding of a unit
//     that passed (a canary's expected race) is level "note" and carries an
//     accepted external suppression.
//   * one per unit with a failing verdict that its findings do not already
//     stand for (FAIL, MISSED, TIMEOUT, CRASH, ERROR; RACE only when it has no
//     finding), located at its first finding's location when it has one, else
//     at the case (a logicalLocation named by the case id).
//
// The document is built through the small value-semantic builder below
// (sarif::Log, Rule, Result, Location, ThreadFlow, Stack), never by string
// concatenation; nlohmann::ordered_json keeps the members in the order the
// builder writes them, so the file is stable. Validated against the OASIS
// SARIF 2.1.0 schema in tests/schema_check.sh.
#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "racegate/reports/internal/write_common.h"
#include "racegate/reports/reporter.h"

namespace racegate::reports {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

constexpr const char* kSarifSchema =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
constexpr const char* kSrcRoot = "SRCROOT";
constexpr const char* kSignatureFingerprint = "racegateSignature/v1";
constexpr const char* kVerdictFingerprint = "racegateVerdict/v1";

// ---------------------------------------------------------------------------
// The builder: plain values with chaining setters and a to_json() each.
namespace sarif {

ojson message(const std::string& text) { return ojson{{"text", text}}; }

class Location {
 public:
  // A file location. `uri` is relative to SRCROOT when `under_src_root`.
  static Location physical(std::string uri, bool under_src_root, int line, int column) {
    Location l;
    l.uri_ = std::move(uri);
    l.under_src_root_ = under_src_root;
    l.line_ = line;
    l.column_ = column;
    return l;
  }
  // A named place without a file: a function, a test case.
  static Location logical(std::string name) {
    Location l;
    l.logical_name_ = std::move(name);
    return l;
  }
  Location& set_message(std::string text) {
    message_ = std::move(text);
    return *this;
  }
  Location& set_logical(std::string name, std::string kind) {
    logical_name_ = std::move(name);
    logical_kind_ = std::move(kind);
    return *this;
  }
  [[nodiscard]] bool empty() const { return uri_.empty() && logical_name_.empty(); }

  [[nodiscard]] ojson to_json() const {
    ojson j = ojson::object();
    if (!uri_.empty()) {
      ojson artifact{{"uri", uri_}};
      if (under_src_root_) artifact["uriBaseId"] = kSrcRoot;
      ojson physical{{"artifactLocation", std::move(artifact)}};
      if (line_ > 0) {
        ojson region{{"startLine", line_}};
        if (column_ > 0) region["startColumn"] = column_;
        physical["region"] = std::move(region);
      }
      j["physicalLocation"] = std::move(physical);
    }
    if (!logical_name_.empty()) {
      // A function is known by its full signature only; a case by its id,
      // which is both its name and its fully qualified name.
      ojson logical = ojson::object();
      if (logical_kind_.empty()) logical["name"] = logical_name_;
      logical["fullyQualifiedName"] = logical_name_;
      if (!logical_kind_.empty()) logical["kind"] = logical_kind_;
      j["logicalLocations"] = ojson::array({std::move(logical)});
    }
    if (!message_.empty()) j["message"] = message(message_);
    return j;
  }

 private:
  std::string uri_;
  bool under_src_root_ = false;
  int line_ = 0;
  int column_ = 0;
  std::string logical_name_;
  std::string logical_kind_;
  std::string message_;
};

class ThreadFlow {
 public:
  ThreadFlow& set_message(std::string text) {
    message_ = std::move(text);
    return *this;
  }
  ThreadFlow& add_location(Location location) {
    locations_.push_back(std::move(location));
    return *this;
  }
  [[nodiscard]] bool empty() const { return locations_.empty(); }
  [[nodiscard]] ojson to_json() const {
    ojson j = ojson::object();
    if (!message_.empty()) j["message"] = message(message_);
    ojson locations = ojson::array();
    for (const auto& l : locations_) locations.push_back(ojson{{"location", l.to_json()}});
    j["locations"] = std::move(locations);
    return j;
  }

 private:
  std::string message_;
  std::vector<Location> locations_;
};

class Stack {
 public:
  Stack& set_message(std::string text) {
    message_ = std::move(text);
    return *this;
  }
  Stack& add_frame(Location location, std::string module, std::uint64_t module_offset) {
    frames_.push_back(Frame{std::move(location), std::move(module), module_offset});
    return *this;
  }
  [[nodiscard]] ojson to_json() const {
    ojson j = ojson::object();
    if (!message_.empty()) j["message"] = message(message_);
    ojson frames = ojson::array();
    for (const auto& f : frames_) {
      ojson frame = ojson::object();
      if (!f.location.empty()) frame["location"] = f.location.to_json();
      if (!f.module.empty()) frame["module"] = f.module;
      if (f.module_offset != 0) {
        frame["properties"] = ojson{{"moduleOffset", fmt::format("{:#x}", f.module_offset)}};
      }
      frames.push_back(std::move(frame));
    }
    j["frames"] = std::move(frames);
    return j;
  }

 private:
  struct Frame {
    Location location;
    std::string module;
    std::uint64_t module_offset = 0;
  };
  std::string message_;
  std::vector<Frame> frames_;
};

class Rule {
 public:
  static Rule create(std::string id) {
    Rule r;
    r.id_ = std::move(id);
    return r;
  }
  Rule& set_name(std::string name) {
    name_ = std::move(name);
    return *this;
  }
  Rule& set_short_description(std::string text) {
    short_ = std::move(text);
    return *this;
  }
  Rule& set_full_description(std::string text) {
    full_ = std::move(text);
    return *this;
  }
  Rule& set_help_uri(std::string uri) {
    help_uri_ = std::move(uri);
    return *this;
  }
  [[nodiscard]] const std::string& id() const { return id_; }
  [[nodiscard]] ojson to_json() const {
    ojson j{{"id", id_}};
    if (!name_.empty()) j["name"] = name_;
    if (!short_.empty()) j["shortDescription"] = message(short_);
    if (!full_.empty()) j["fullDescription"] = message(full_);
    if (!help_uri_.empty()) j["helpUri"] = help_uri_;
    j["defaultConfiguration"] = ojson{{"level", "error"}};
    return j;
  }

 private:
  std::string id_, name_, short_, full_, help_uri_;
};

class Result {
 public:
  static Result create(std::string rule_id) {
    Result r;
    r.rule_id_ = std::move(rule_id);
    return r;
  }
  Result& set_level(std::string level) {
    level_ = std::move(level);
    return *this;
  }
  Result& set_message(std::string text) {
    message_ = std::move(text);
    return *this;
  }
  Result& add_location(Location location) {
    locations_.push_back(std::move(location));
    return *this;
  }
  // Every thread flow goes into the result's single code flow.
  Result& add_thread_flow(ThreadFlow flow) {
    thread_flows_.push_back(std::move(flow));
    return *this;
  }
  Result& add_stack(Stack stack) {
    stacks_.push_back(std::move(stack));
    return *this;
  }
  Result& set_fingerprint(std::string key, std::string value) {
    fingerprints_.emplace_back(std::move(key), std::move(value));
    return *this;
  }
  Result& suppress(std::string justification) {
    suppression_ = std::move(justification);
    return *this;
  }
  Result& set_property(const std::string& key, ojson value) {
    properties_[key] = std::move(value);
    return *this;
  }
  // "new", "unchanged" or "absent" (a baseline entry no longer seen).
  Result& set_baseline_state(std::string state) {
    baseline_state_ = std::move(state);
    return *this;
  }
  [[nodiscard]] const std::string& rule_id() const { return rule_id_; }

  [[nodiscard]] ojson to_json(int rule_index) const {
    ojson j{{"ruleId", rule_id_}, {"ruleIndex", rule_index}, {"level", level_},
            {"message", message(message_)}};
    ojson locations = ojson::array();
    for (const auto& l : locations_) locations.push_back(l.to_json());
    j["locations"] = std::move(locations);
    if (!thread_flows_.empty()) {
      ojson flows = ojson::array();
      for (const auto& f : thread_flows_) flows.push_back(f.to_json());
      j["codeFlows"] = ojson::array({ojson{{"threadFlows", std::move(flows)}}});
    }
    if (!stacks_.empty()) {
      ojson stacks = ojson::array();
      for (const auto& s : stacks_) stacks.push_back(s.to_json());
      j["stacks"] = std::move(stacks);
    }
    if (!fingerprints_.empty()) {
      ojson fp = ojson::object();
      for (const auto& [k, v] : fingerprints_) fp[k] = v;
      j["partialFingerprints"] = std::move(fp);
    }
    if (!baseline_state_.empty()) j["baselineState"] = baseline_state_;
    if (suppression_) {
      j["suppressions"] = ojson::array(
          {ojson{{"kind", "external"}, {"status", "accepted"}, {"justification", *suppression_}}});
    }
    if (!properties_.empty()) j["properties"] = properties_;
    return j;
  }

 private:
  std::string rule_id_;
  std::string level_ = "error";
  std::string message_;
  std::vector<Location> locations_;
  std::vector<ThreadFlow> thread_flows_;
  std::vector<Stack> stacks_;
  std::vector<std::pair<std::string, std::string>> fingerprints_;
  std::optional<std::string> suppression_;
  std::string baseline_state_;
  ojson properties_ = ojson::object();
};

// The log: one run of one tool. Rules are kept sorted by id and results refer
// to them by index, resolved when the document is built.
class Log {
 public:
  Log& set_tool(std::string name, std::string version, std::string information_uri) {
    tool_name_ = std::move(name);
    tool_version_ = std::move(version);
    information_uri_ = std::move(information_uri);
    return *this;
  }
  Log& set_src_root(std::string uri) {
    src_root_uri_ = std::move(uri);
    return *this;
  }
  Log& set_invocation(bool successful, std::string command_line) {
    invocation_ = ojson{{"executionSuccessful", successful}};
    if (!command_line.empty()) (*invocation_)["commandLine"] = std::move(command_line);
    return *this;
  }
  Log& set_run_property(const std::string& key, ojson value) {
    run_properties_[key] = std::move(value);
    return *this;
  }
  // Adds `rule` unless a rule with its id is already there.
  Log& add_rule(Rule rule) {
    rules_.emplace(rule.id(), std::move(rule));
    return *this;
  }
  Log& add_result(Result result) {
    results_.push_back(std::move(result));
    return *this;
  }

  [[nodiscard]] ojson to_json() const {
    ojson driver{{"name", tool_name_}};
    if (!tool_version_.empty()) driver["version"] = tool_version_;
    if (!information_uri_.empty()) driver["informationUri"] = information_uri_;
    std::map<std::string, int> index;
    ojson rules = ojson::array();
    for (const auto& [id, rule] : rules_) {
      index.emplace(id, static_cast<int>(rules.size()));
      rules.push_back(rule.to_json());
    }
    driver["rules"] = std::move(rules);

    ojson run{{"tool", ojson{{"driver", std::move(driver)}}}};
    if (invocation_) run["invocations"] = ojson::array({*invocation_});
    if (!src_root_uri_.empty()) {
      run["originalUriBaseIds"] = ojson{{kSrcRoot, ojson{{"uri", src_root_uri_}}}};
    }
    ojson results = ojson::array();
    for (const auto& r : results_) results.push_back(r.to_json(index.at(r.rule_id())));
    run["results"] = std::move(results);
    if (!run_properties_.empty()) run["properties"] = run_properties_;

    return ojson{{"$schema", kSarifSchema}, {"version", "2.1.0"}, {"runs", ojson::array({run})}};
  }

 private:
  std::string tool_name_, tool_version_, information_uri_, src_root_uri_;
  std::optional<ojson> invocation_;
  ojson run_properties_ = ojson::object();
  std::map<std::string, Rule> rules_;
  std::vector<Result> results_;
};

}  // namespace sarif

// ---------------------------------------------------------------------------
// From the run model to the builder.

std::string help_uri_of(const std::string& tool) {
  if (tool == "tsan") return "https://clang.llvm.org/docs/ThreadSanitizer.html";
  if (tool == "asan") return "https://clang.llvm.org/docs/AddressSanitizer.html";
  if (tool == "lsan") return "https://clang.llvm.org/docs/LeakSanitizer.html";
  if (tool == "ubsan") return "https://clang.llvm.org/docs/UndefinedBehaviorSanitizer.html";
  return {};
}

const char* verdict_description(Verdict v) {
  switch (v) {
    case Verdict::kPass: return "The unit passed.";
    case Verdict::kFail: return "A property of the case was violated (shrunk counterexample and seed).";
    case Verdict::kRace: return "A sanitizer reported a finding the case did not expect.";
    case Verdict::kMissed: return "The case expects a race that the detector did not report.";
    case Verdict::kTimeout: return "The unit hung and was killed; the stacks of every thread were taken first.";
    case Verdict::kCrash: return "The unit's process was killed by a signal.";
    case Verdict::kError: return "The harness could not run the unit.";
  }
  return "";
}

std::string camel_case(std::string_view words) {
  std::string out;
  bool upper = true;
  for (char c : words) {
    if (c == '-' || c == ' ' || c == '_' || c == '/') {
      upper = true;
    } else {
      out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
      upper = false;
    }
  }
  return out;
}

class Converter {
 public:
  Converter(const Run& run, const ReportConfig& config)
      : run_(run), root_(internal::source_root_of(run, config)) {}

  sarif::Log convert() const {
    sarif::Log log;
    log.set_tool("racegate", run_.info.tool_version, "");
    if (!root_.empty() && root_.is_absolute()) log.set_src_root(internal::file_uri(root_) + "/");
    log.set_invocation(!run_.info.interrupted, run_.info.command_line);
    log.set_run_property("verdict", verdict_name(run_.worst()));
    log.set_run_property("runSeed", std::to_string(run_.info.run_seed));
    if (!run_.info.started_at.empty()) log.set_run_property("startedAt", run_.info.started_at);
    if (run_.info.interrupted) log.set_run_property("interrupted", true);
    // Schedule exploration: the gate's figures, and every explored unit's
    // (racegate run --explore), passing ones included.
    if (!run_.info.explore_json.empty()) {
      log.set_run_property("explore", ojson::parse(run_.info.explore_json, nullptr, false));
    }
    ojson explored = ojson::array();
    for (const auto& u : run_.units) {
      if (u.explore_json.empty()) continue;
      explored.push_back(ojson{{"caseId", u.case_id},
                               {"variant", u.variant},
                               {"repeat", u.repeat},
                               {"verdict", verdict_name(u.verdict)},
                               {"explore", ojson::parse(u.explore_json, nullptr, false)}});
    }
    if (!explored.empty()) log.set_run_property("exploredUnits", std::move(explored));

    for (const UnitResult* u : internal::units_by_case(run_)) {
      for (const Finding& f : u->findings) {
        log.add_rule(finding_rule(f));
        log.add_result(finding_result(*u, f));
      }
      bool stands_for_itself =
          u->verdict != Verdict::kPass && !(u->verdict == Verdict::kRace && !u->findings.empty());
      if (run_.info.mode == "gate" && u->verdict == Verdict::kRace) stands_for_itself = false;
      if (stands_for_itself) {
        log.add_rule(verdict_rule(u->verdict));
        log.add_result(verdict_result(*u));
      }
    }
    for (const KnownFinding& k : run_.info.fixed) {
      Finding f;
      f.tool = k.tool;
      f.kind = k.kind;
      log.add_rule(finding_rule(f));
      log.add_result(fixed_result(k));
    }
    return log;
  }

 private:
  static std::string rule_id(const Finding& f) {
    return fmt::format("{}/{}", f.tool.empty() ? "sanitizer" : f.tool,
                       f.kind.empty() ? "unknown" : f.kind);
  }

  static sarif::Rule finding_rule(const Finding& f) {
    auto words = internal::kind_words(f.kind.empty() ? "unknown" : f.kind);
    return sarif::Rule::create(rule_id(f))
        .set_name(camel_case(f.tool) + camel_case(words))
        .set_short_description(fmt::format("{}: {}", internal::tool_display_name(f.tool), words))
        .set_help_uri(help_uri_of(f.tool));
  }

  static sarif::Rule verdict_rule(Verdict v) {
    return sarif::Rule::create(fmt::format("verdict/{}", verdict_name(v)))
        .set_name(camel_case(fmt::format("verdict {}", verdict_name(v))))
        .set_short_description(fmt::format("racegate verdict {}", verdict_name(v)))
        .set_full_description(verdict_description(v));
  }

  // A physical location for a file and line, or an empty Location.
  [[nodiscard]] sarif::Location file_location(const std::string& file, int line, int column) const {
    if (file.empty()) return {};
    if (internal::is_inside_root(file, root_)) {
      return sarif::Location::physical(internal::relative_uri(internal::display_path(file, root_)),
                                       true, line, column);
    }
    fs::path p(file);
    if (p.is_absolute()) return sarif::Location::physical(internal::file_uri(p), false, line, column);
    return sarif::Location::physical(internal::relative_uri(p.generic_string()), false, line, column);
  }

  [[nodiscard]] sarif::Location frame_location(const Frame& fr) const {
    sarif::Location l = file_location(fr.file, fr.line, fr.column);
    std::string function = fr.function.empty() ? "<unknown>" : fr.function;
    if (!fr.function.empty()) l.set_logical(fr.function, "function");
    std::string where = fr.file.empty()
                            ? fmt::format("{}+{:#x}", fr.module, fr.module_offset)
                            : fmt::format("{}:{}", internal::display_path(fr.file, root_), fr.line);
    l.set_message(fmt::format("#{} {} {}", fr.index, function, where));
    return l;
  }

  // Where a finding is: its innermost user frame, else the first frame in the
  // source tree, else its function, else nothing.
  [[nodiscard]] sarif::Location finding_location(const Finding& f) const {
    if (!f.location.file.empty()) {
      auto l = file_location(f.location.file, f.location.line, f.location.column);
      if (!f.location.function.empty()) l.set_logical(f.location.function, "function");
      return l;
    }
    for (const auto& s : f.stacks) {
      for (const auto& fr : s.frames) {
        if (internal::is_inside_root(fr.file, root_)) {
          auto l = file_location(fr.file, fr.line, fr.column);
          if (!fr.function.empty()) l.set_logical(fr.function, "function");
          return l;
        }
      }
    }
    if (!f.location.function.empty()) {
      return sarif::Location::logical(f.location.function).set_logical(f.location.function, "function");
    }
    return {};
  }

  [[nodiscard]] std::string where(const Finding& f) const {
    const auto& l = f.location;
    std::string fn = l.function.empty() ? std::string() : " in " + l.function;
    if (l.file.empty()) return fn;
    return fmt::format("{} at {}:{}", fn, internal::display_path(l.file, root_), l.line);
  }

  static void add_unit_properties(sarif::Result& r, const UnitResult& u) {
    r.set_property("caseId", u.case_id)
        .set_property("variant", u.variant)
        .set_property("repeat", u.repeat)
        .set_property("verdict", verdict_name(u.verdict))
        .set_property("seed", std::to_string(u.seed));
    if (!u.replay_command.empty()) r.set_property("replayCommand", u.replay_command);
    if (!u.explore_json.empty()) r.set_property("explore", ojson::parse(u.explore_json, nullptr, false));
  }

  // The access stacks of a race as thread flows (in call order), and every
  // stack as a SARIF stack (innermost frame first).
  void add_flows_and_stacks(sarif::Result& r, const Finding& f) const {
    for (const Stack& s : f.stacks) {
      if (s.role != "access" && s.role != "previous-access") continue;
      sarif::ThreadFlow flow;
      flow.set_message(s.title);
      // Frames are innermost first; a thread flow is in execution order.
      for (auto it = s.frames.rbegin(); it != s.frames.rend(); ++it) flow.add_location(frame_location(*it));
      if (!flow.empty()) r.add_thread_flow(std::move(flow));
    }
    for (const Stack& s : f.stacks) {
      sarif::Stack stack;
      stack.set_message(s.title.empty() ? s.role : s.title);
      for (const Frame& fr : s.frames) stack.add_frame(frame_location(fr), fr.module, fr.module_offset);
      r.add_stack(std::move(stack));
    }
  }

  [[nodiscard]] sarif::Result finding_result(const UnitResult& u, const Finding& f) const {
    if (!f.state.empty()) return gate_finding_result(u, f);
    bool expected = u.verdict == Verdict::kPass;
    auto r = sarif::Result::create(rule_id(f))
                 .set_level(expected ? "note" : "error")
                 .set_message(fmt::format("{}: {}{} (case {}, variant {}{})",
                                          internal::tool_display_name(f.tool),
                                          internal::kind_words(f.kind), where(f), u.case_id,
                                          u.variant, expected ? ", expected" : ""));
    auto location = finding_location(f);
    if (location.empty()) location = sarif::Location::logical(u.case_id);
    r.add_location(std::move(location));
    add_flows_and_stacks(r, f);
    if (!f.signature.empty()) r.set_fingerprint(kSignatureFingerprint, f.signature);
    if (expected) {
      r.suppress(fmt::format("expected by case {} ({})", u.case_id,
                             u.expectation.empty() ? "race-expected" : u.expectation));
    }
    add_unit_properties(r, u);
    if (f.truncated) r.set_property("truncated", true);
    return r;
  }

  // A finding of `racegate gate`: new (error), known from the baseline
  // (warning, baselineState unchanged) or suppressed by the ignore list
  // (note, with the suppression's reason).
  [[nodiscard]] sarif::Result gate_finding_result(const UnitResult& u, const Finding& f) const {
    const bool is_new = f.state == "new";
    auto r = sarif::Result::create(rule_id(f))
                 .set_level(is_new ? "error" : f.state == "known" ? "warning" : "note")
                 .set_message(fmt::format("{}: {}{} ({} {} in {}; {})", internal::tool_display_name(f.tool),
                                          internal::kind_words(f.kind), where(f), f.occurrences,
                                          f.occurrences == 1 ? "report" : "reports", f.pids.size() == 1
                                              ? std::string("1 process")
                                              : fmt::format("{} processes", f.pids.size()),
                                          f.state_reason.empty() ? f.state : f.state + ": " + f.state_reason));
    auto location = finding_location(f);
    if (location.empty()) location = sarif::Location::logical(u.title);
    r.add_location(std::move(location));
    add_flows_and_stacks(r, f);
    if (!f.signature.empty()) r.set_fingerprint(kSignatureFingerprint, f.signature);
    if (f.state == "suppressed") {
      r.suppress(f.state_reason);
    } else {
      r.set_baseline_state(is_new ? "new" : "unchanged");
    }
    r.set_property("state", f.state).set_property("occurrences", f.occurrences).set_property("pids", f.pids);
    if (f.truncated) r.set_property("truncated", true);
    return r;
  }

  // A baseline entry the gate did not see again: fixed.
  [[nodiscard]] sarif::Result fixed_result(const KnownFinding& k) const {
    Finding f;
    f.tool = k.tool;
    f.kind = k.kind;
    f.location = k.location;
    if (!f.location.file.empty() && fs::path(f.location.file).is_relative()) {
      f.location.file = (root_ / f.location.file).string();
    }
    auto r = sarif::Result::create(rule_id(f))
                 .set_level("none")
                 .set_message(fmt::format("fixed: {}: {}{} (in the baseline since {})",
                                          internal::tool_display_name(f.tool), internal::kind_words(f.kind),
                                          where(f), k.first_seen.empty() ? "?" : k.first_seen));
    auto location = finding_location(f);
    if (!location.empty()) r.add_location(std::move(location));
    r.set_fingerprint(kSignatureFingerprint, k.signature).set_baseline_state("absent");
    r.set_property("state", "fixed");
    return r;
  }

  [[nodiscard]] sarif::Result verdict_result(const UnitResult& u) const {
    std::string text = fmt::format("{}: {} (case {}, variant {}, seed {})", verdict_name(u.verdict),
                                   u.message, u.case_id, u.variant, u.seed);
    if (!u.counterexample.empty()) text += "\nCounterexample: " + u.counterexample;
    if (!u.reproduce.empty()) text += "\nReproduce: " + u.reproduce;
    if (!u.replay_command.empty()) text += "\nReplay: " + u.replay_command;
    auto r = sarif::Result::create(fmt::format("verdict/{}", verdict_name(u.verdict)))
                 .set_level("error")
                 .set_message(std::move(text));
    sarif::Location location;
    for (const Finding& f : u.findings) {
      location = finding_location(f);
      if (!location.empty()) break;
    }
    if (location.empty()) location = sarif::Location::logical(u.case_id);
    r.add_location(std::move(location));
    r.set_fingerprint(kVerdictFingerprint,
                      fmt::format("{}:{}:{}", verdict_name(u.verdict), u.case_id, u.variant));
    add_unit_properties(r, u);
    return r;
  }

  const Run& run_;
  fs::path root_;
};

class SarifReporter final : public Reporter {
 public:
  static std::string description() {
    return "racegate.sarif: SARIF 2.1.0 for code scanning (findings and failing verdicts)";
  }
  [[nodiscard]] std::string file_name() const override { return "racegate.sarif"; }
  [[nodiscard]] std::string render(const Run& run, const ReportConfig& config) const override {
    return Converter(run, config).convert().to_json().dump(
               2, ' ', /*ensure_ascii=*/false, ojson::error_handler_t::replace) +
           "\n";
  }
};

}  // namespace

RG_REGISTER_REPORTER("sarif", SarifReporter);

}  // namespace racegate::reports
