// `junit` reporter: junit.xml in the Ant/Jenkins/GitLab dialect.
//
//   <testsuites name="racegate" tests= failures= errors= time=>
//     <testsuite name=VARIANT tests= failures= errors= skipped="0" time= [timestamp=]>
//       <properties> run facts </properties>
//       <testcase classname=CASE-ID-PREFIX name=CASE-ID time=>
//         <failure message= type=VERDICT> text </failure>   FAIL, RACE, MISSED
//         <error message= type=VERDICT> text </error>       TIMEOUT, CRASH, ERROR
//         <system-out> / <system-err>                        captured, capped
//
// One <testsuite> per variant (in the run's variant order), one <testcase>
// per (case, repeat) sorted by case id then repeat. The failure text carries
// everything needed to act on it without the other reports: the message, the
// counterexample, the seed, the reproduce string, the replay command, the hang
// stacks and each finding's raw sanitizer report. <skipped> is never used: a
// unit that did not pass is a failure or an error. Validated against Jenkins'
// junit-10.xsd in tests/schema_check.sh.
#include <string_view>

#include <fmt/format.h>

#include "racegate/reports/internal/write_common.h"
#include "racegate/reports/internal/xml_escape.h"
#include "racegate/reports/reporter.h"

namespace racegate::reports {
namespace {

using internal::MarkupWriter;

// Captured stdout/stderr per test case, and the raw text of one finding.
constexpr std::size_t kOutputCap = 64 * 1024;
constexpr std::size_t kRawFindingCap = 32 * 1024;

std::string classname_of(const std::string& case_id) {
  auto dot = case_id.rfind('.');
  return dot == std::string::npos || dot == 0 ? case_id : case_id.substr(0, dot);
}

std::string failure_text(const UnitResult& u) {
  std::string t = fmt::format("{}: {}\n", verdict_name(u.verdict), u.message);
  t += fmt::format("case: {}\nvariant: {}\nrepeat: {}\nseed: {}\n", u.case_id, u.variant, u.repeat,
                   u.seed);
  if (!u.expectation.empty()) t += fmt::format("expectation: {}\n", u.expectation);
  if (!u.race_site.empty()) t += fmt::format("race site: {}\n", u.race_site);
  if (u.trials_requested > 0 || u.trials_run > 0) {
    t += fmt::format("trials: {} of {}\n", u.trials_run, u.trials_requested);
  }
  if (u.exit_code) t += fmt::format("exit code: {}\n", *u.exit_code);
  if (u.signal) t += fmt::format("signal: {} ({})\n", *u.signal, internal::signal_name(*u.signal));
  // A labelled block of lines, ending in exactly one newline.
  auto block = [&t](const char* label, std::string_view text) {
    while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    t += fmt::format("{}:\n{}\n", label, text);
  };
  if (!u.counterexample.empty()) block("counterexample", u.counterexample);
  if (!u.reproduce.empty()) t += fmt::format("reproduce: {}\n", u.reproduce);
  if (!u.replay_command.empty()) t += fmt::format("replay: {}\n", u.replay_command);
  for (const auto& o : u.outcomes) {
    if (o.grade == "forbidden" && o.count > 0) {
      t += fmt::format("forbidden outcome: {} observed {} times\n", o.name, o.count);
    }
  }
  if (!u.hang_stacks.empty()) block("stacks at the timeout", u.hang_stacks);
  for (std::size_t i = 0; i < u.findings.size(); ++i) {
    const Finding& f = u.findings[i];
    t += fmt::format("finding {} of {}: {} {}{}\n", i + 1, u.findings.size(), f.tool, f.kind,
                     f.truncated ? " (truncated)" : "");
    t += internal::cap_output(f.raw, kRawFindingCap, false);
    if (!t.empty() && t.back() != '\n') t += '\n';
  }
  return t;
}

struct Totals {
  int tests = 0;
  int failures = 0;
  int errors = 0;
  double seconds = 0;
  void add(const UnitResult& u) {
    ++tests;
    if (u.verdict != Verdict::kPass) ++(internal::is_error_verdict(u.verdict) ? errors : failures);
    seconds += u.wall_seconds;
  }
};

class JunitReporter final : public Reporter {
 public:
  static std::string description() {
    return "junit.xml: JUnit XML (Ant/Jenkins/GitLab), one testsuite per variant";
  }
  [[nodiscard]] std::string file_name() const override { return "junit.xml"; }
  [[nodiscard]] std::string render(const Run& run, const ReportConfig& config) const override;
};

std::string JunitReporter::render(const Run& run, const ReportConfig& /*config*/) const {
  const auto units = internal::units_by_case(run);
  const auto variants = internal::variants_of(run);
  const internal::UnitLabels label(run);

  Totals all;
  for (const auto* u : units) all.add(*u);

  MarkupWriter w(MarkupWriter::Syntax::kXml);
  w.trusted_raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  w.open("testsuites")
      .attr("name", "racegate")
      .attr("tests", all.tests)
      .attr("failures", all.failures)
      .attr("errors", all.errors)
      .attr("time", internal::format_seconds(run.info.wall_seconds > 0 ? run.info.wall_seconds
                                                                         : all.seconds));
  for (const auto& variant : variants) {
    Totals suite;
    for (const auto* u : units) {
      if (u->variant == variant) suite.add(*u);
    }
    w.open("testsuite")
        .attr("name", variant)
        .attr("tests", suite.tests)
        .attr("failures", suite.failures)
        .attr("errors", suite.errors)
        .attr("skipped", 0)
        .attr("time", internal::format_seconds(suite.seconds));
    if (!run.info.started_at.empty()) w.attr("timestamp", run.info.started_at);

    w.open("properties");
    auto property = [&](const char* name, const std::string& value) {
      w.open("property").attr("name", name).attr("value", value).close();
    };
    property("racegate.variant", variant);
    property("racegate.tool_version", run.info.tool_version);
    property("racegate.run_seed", std::to_string(run.info.run_seed));
    property("racegate.shard", fmt::format("{}/{}", run.info.shard_index + 1, run.info.shard_total));
    if (!run.info.command_line.empty()) property("racegate.command_line", run.info.command_line);
    if (run.info.interrupted) property("racegate.interrupted", "true");
    w.close();

    for (const auto* u : units) {
      if (u->variant != variant) continue;
      w.open("testcase")
          .attr("classname", classname_of(u->case_id))
          .attr("name", label(*u))
          .attr("time", internal::format_seconds(u->wall_seconds));
      if (u->verdict != Verdict::kPass) {
        w.open(internal::is_error_verdict(u->verdict) ? "error" : "failure")
            .attr("message", u->message)
            .attr("type", verdict_name(u->verdict))
            .text(failure_text(*u))
            .close();
      }
      // Declared differences (checks skipped for this implementation) and
      // the exploration's figures lead the captured output: JUnit has no
      // place of their own for them.
      std::string skipped;
      for (const auto& sc : u->skipped_checks) {
        skipped += fmt::format("[racegate] check skipped: {}: {}\n", sc.check, sc.reason);
      }
      // The unit's exploration (racegate run --explore), or the gate's.
      const std::string& explore = u->explore_json.empty() && run.info.mode == "gate" ? run.info.explore_json
                                                                                      : u->explore_json;
      for (const auto& [name, value] : internal::explore_facts(explore)) {
        skipped += fmt::format("[racegate] exploration: {}: {}\n", name, value);
      }
      if (!skipped.empty() || !u->stdout_text.empty() || u->stdout_truncated) {
        w.leaf("system-out", skipped + internal::cap_output(u->stdout_text, kOutputCap, u->stdout_truncated));
      }
      if (!u->stderr_text.empty() || u->stderr_truncated) {
        w.leaf("system-err", internal::cap_output(u->stderr_text, kOutputCap, u->stderr_truncated));
      }
      w.close();
    }
    w.close();
  }
  return std::move(w).finish();
}

}  // namespace

RG_REGISTER_REPORTER("junit", JunitReporter);

}  // namespace racegate::reports
