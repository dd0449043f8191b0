// `md` reporter: summary.md, a short GitHub-flavoured Markdown summary for CI
// step summaries ($GITHUB_STEP_SUMMARY) and pull-request comments.
//
//   ## racegate: WORST-VERDICT
//   one line of run facts
//   | PASS | FAIL | ... |   counts per verdict
//   | Case | Variant | Verdict | Time (s) | Message |   failures first
//   ### Reproduce          one replay command per failure, in a code block
//   ### Checks skipped     the declared differences of implementations other
//                          than the reference (case, check, reason), once each
//
// Every table cell goes through md_cell(), the one Markdown escaper: it
// escapes what would end the cell or change its meaning (pipes, newlines,
// emphasis, links, code spans, HTML). Passing units are listed after the
// failures, up to kMaxPassRows, so the summary stays short on a big suite.
#include <algorithm>
#include <cctype>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "racegate/reports/internal/write_common.h"
#include "racegate/reports/internal/xml_escape.h"
#include "racegate/reports/reporter.h"

namespace racegate::reports {
namespace {

constexpr std::size_t kMaxPassRows = 50;
constexpr std::size_t kMaxMessageBytes = 300;
constexpr std::size_t kMaxFindingRows = 100;

// Valid UTF-8 with the line and paragraph separators (U+2028, U+2029), which
// some viewers break lines at, as spaces.
std::string one_line_utf8(std::string_view raw) {
  std::string text = internal::to_valid_utf8(raw);
  for (std::size_t at = text.find("\xE2\x80"); at != std::string::npos; at = text.find("\xE2\x80", at + 1)) {
    if (at + 2 < text.size() && (text[at + 2] == '\xA8' || text[at + 2] == '\xA9')) text.replace(at, 3, " ");
  }
  return text;
}

// Text as the content of one GFM table cell, rendered literally.
std::string md_cell(std::string_view raw) {
  const std::string text = one_line_utf8(raw);
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    switch (c) {
      case '|': out += "\\|"; break;
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\r': break;
      case '\n':
        if (i + 1 < text.size()) out += "<br>";
        break;
      case '_': {
        // An underscore inside a word ("dict_proxy") never starts emphasis in
        // GFM: leave it readable; escape it at word boundaries.
        auto alnum = [](char x) { return std::isalnum(static_cast<unsigned char>(x)) != 0; };
        bool inside = i > 0 && i + 1 < text.size() && alnum(text[i - 1]) && alnum(text[i + 1]);
        out += inside ? "_" : "\\_";
        break;
      }
      case '\\': case '`': case '*': case '[': case ']': case '~': case '#': case '!':
        out += '\\';
        out += c;
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          out += ' ';  // control characters: nothing useful to show in a cell
        } else {
          out += c;
        }
    }
  }
  return out;
}

// Text for a line inside a fenced code block: one line, valid UTF-8, no
// control character (a NUL or an ESC sequence would reach the terminal of
// whoever prints the file).
std::string code_line(std::string_view raw) {
  std::string s = one_line_utf8(raw);
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  }
  return s;
}

// A fence longer than every run of backticks in `content`.
std::string fence_for(std::string_view content) {
  std::size_t longest = 0, run = 0;
  for (char c : content) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return std::string(std::max<std::size_t>(3, longest + 1), '`');
}

class MarkdownReporter final : public Reporter {
 public:
  static std::string description() {
    return "summary.md: short Markdown summary for CI step summaries and PR comments";
  }
  [[nodiscard]] std::string file_name() const override { return "summary.md"; }
  [[nodiscard]] std::string render(const Run& run, const ReportConfig& config) const override;
};

// `racegate gate --explore` / `--replay-token`: the exploration's figures.
std::string explore_section(const Run& run) {
  if (run.info.explore_json.empty()) return "";
  const auto e = nlohmann::json::parse(run.info.explore_json, nullptr, false);
  if (!e.is_object()) return "";
  auto text = [&](const char* key) -> std::string {
    if (!e.contains(key) || e[key].is_null()) return "-";
    return e[key].is_string() ? e[key].get<std::string>() : e[key].dump();
  };
  std::string md = "\n### Exploration\n\n";
  if (e.contains("replay") && e["replay"].is_object()) {
    const auto& r = e["replay"];
    md += fmt::format("Replay of `{}`: recorded {}, replayed {}: **{}**", code_line(r.value("token", "")),
                      md_cell(r.value("recorded_outcome", "")), md_cell(r.value("outcome", "")),
                      r.value("same", false) ? "same outcome" : "replay diverged");
    md += fmt::format(" (trace hash {}).\n", md_cell(r.value("trace_hash_check", "")));
    return md;
  }
  md += fmt::format("| Mode | Depth | Steps k | Threads n | Runs | Failed runs | Miss bound |\n"
                    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n| {} | {} | {} | {} | {} | {} | {} |\n",
                    md_cell(text("mode")), text("depth"), text("steps"), text("threads_max"), text("runs"),
                    text("failed_runs"), text("miss_bound"));
  if (e.contains("outcomes") && e["outcomes"].is_object()) {
    std::string h;
    for (const auto& [k, v] : e["outcomes"].items()) h += fmt::format("{}{} {}", h.empty() ? "" : ", ", v.dump(), k);
    md += "\nOutcomes: " + md_cell(h) + ".\n";
  }
  if (e.contains("first_failing_token") && e["first_failing_token"].is_string()) {
    md += fmt::format("\nFirst failing run: `{}` (replay with `racegate gate --replay-token TOKEN -- COMMAND`; every "
                      "run's token is in explore-tokens.txt).\n",
                      code_line(e["first_failing_token"].get<std::string>()));
  }
  return md;
}

// `racegate gate`: its findings, most frequent first (new ones before the
// rest), and the baseline entries it no longer saw.
std::string gate_findings(const Run& run, const ReportConfig& config) {
  const auto root = internal::source_root_of(run, config);
  auto where = [&](const SourceLocation& l) {
    if (l.file.empty()) return l.function;
    return fmt::format("{}:{}{}", internal::display_path(l.file, root), l.line,
                       l.function.empty() ? "" : " " + l.function);
  };
  std::vector<const Finding*> all;
  for (const auto& u : run.units) {
    for (const auto& f : u.findings) all.push_back(&f);
  }
  std::stable_sort(all.begin(), all.end(), [](const Finding* a, const Finding* b) {
    return std::make_tuple(a->state != "new", -a->occurrences) < std::make_tuple(b->state != "new", -b->occurrences);
  });
  std::string md = explore_section(run);
  if (!all.empty()) {
    md += "\n### Findings\n\n| State | Count | Processes | Kind | Where | Signature |\n"
          "| --- | ---: | ---: | --- | --- | --- |\n";
    for (std::size_t i = 0; i < all.size() && i < kMaxFindingRows; ++i) {
      const Finding& f = *all[i];
      std::string state = f.state == "new" ? "**new**" : md_cell(f.state);
      if (!f.state_reason.empty()) state += " (" + md_cell(f.state_reason) + ")";
      md += fmt::format("| {} | {} | {} | {} | {} | `{}` |\n", state, f.occurrences, f.pids.size(),
                        md_cell(f.tool + "/" + f.kind), md_cell(where(f.location)), code_line(f.signature));
    }
    if (all.size() > kMaxFindingRows) {
      std::size_t reports = 0;
      for (std::size_t i = kMaxFindingRows; i < all.size(); ++i) reports += static_cast<std::size_t>(all[i]->occurrences);
      md += fmt::format("\n{} more findings ({} reports) are not listed: every one is in report.json, the raw "
                        "logs in logs/.\n",
                        all.size() - kMaxFindingRows, reports);
    }
  }
  if (!run.info.fixed.empty()) {
    md += "\n### Fixed (in the baseline, not seen in this run)\n\n| Kind | Where | First seen | Signature |\n"
          "| --- | --- | --- | --- |\n";
    for (const auto& k : run.info.fixed) {
      md += fmt::format("| {} | {} | {} | `{}` |\n", md_cell(k.tool + "/" + k.kind), md_cell(where(k.location)),
                        md_cell(k.first_seen), code_line(k.signature));
    }
  }
  return md;
}

std::string MarkdownReporter::render(const Run& run, const ReportConfig& config) const {
  const auto counts = internal::count_verdicts(run);
  const auto units = internal::units_by_severity(run);
  const auto variants = internal::variants_of(run);
  const internal::UnitLabels label(run);

  std::string md = fmt::format("## racegate: {}\n\n", verdict_name(run.worst()));

  std::vector<std::string> facts;
  facts.push_back(md_cell(run.info.tool_version.empty() ? "racegate"
                                                         : "racegate " + run.info.tool_version));
  facts.push_back(fmt::format("{} units", run.units.size()));
  std::string joined;
  for (const auto& v : variants) joined += (joined.empty() ? "" : ", ") + v;
  if (!joined.empty()) facts.push_back("variants " + md_cell(joined));
  if (run.info.mode != "gate") facts.push_back(fmt::format("run seed {}", run.info.run_seed));
  if (run.info.shard_total > 1) {
    facts.push_back(fmt::format("shard {}/{}", run.info.shard_index + 1, run.info.shard_total));
  }
  if (!run.info.started_at.empty()) facts.push_back("started " + md_cell(run.info.started_at));
  facts.push_back(internal::format_seconds(run.info.wall_seconds) + " s");
  for (std::size_t i = 0; i < facts.size(); ++i) md += (i ? " · " : "") + facts[i];
  md += "\n\n";
  if (run.info.interrupted) md += "**The run was interrupted: these results are partial.**\n\n";

  std::string header = "|", rule = "|", values = "|";
  for (Verdict v : internal::kAllVerdicts) {
    header += fmt::format(" {} |", verdict_name(v));
    rule += " ---: |";
    values += fmt::format(" {} |", counts[static_cast<std::size_t>(v)]);
  }
  md += header + "\n" + rule + "\n" + values + "\n\n";

  if (units.empty()) {
    md += "No units ran.\n";
    return md;
  }

  md += "| Case | Variant | Verdict | Time (s) | Message |\n";
  md += "| --- | --- | --- | ---: | --- |\n";
  std::size_t pass_rows = 0, pass_hidden = 0;
  for (const UnitResult* u : units) {
    if (u->verdict == Verdict::kPass && pass_rows++ >= kMaxPassRows) {
      ++pass_hidden;
      continue;
    }
    std::string verdict = verdict_name(u->verdict);
    if (u->verdict != Verdict::kPass) verdict = "**" + verdict + "**";
    std::string message = internal::truncate_utf8(u->message, kMaxMessageBytes);
    if (message.size() < u->message.size()) message += "…";
    md += fmt::format("| {} | {} | {} | {} | {} |\n", md_cell(label(*u)), md_cell(u->variant),
                      verdict, internal::format_seconds(u->wall_seconds), md_cell(message));
  }
  if (pass_hidden > 0) {
    md += fmt::format("\n{} more passing units are not listed (see report.html).\n", pass_hidden);
  }

  std::string replay;
  for (const UnitResult* u : units) {
    if (u->verdict == Verdict::kPass || u->replay_command.empty()) continue;
    replay += fmt::format("# {} [{}] {}\n{}\n", code_line(label(*u)), code_line(u->variant),
                          verdict_name(u->verdict), code_line(u->replay_command));
  }
  if (!replay.empty()) {
    std::string fence = fence_for(replay);
    md += "\n### Reproduce\n\n" + fence + "sh\n" + replay + fence + "\n";
  }

  if (run.info.mode == "gate") md += gate_findings(run, config);

  // racegate run --explore / replay TOKEN: each unit's exploration.
  std::string explored;
  std::size_t explored_pass = 0, explored_hidden = 0;
  for (const UnitResult* u : units) {
    const auto facts = internal::explore_facts(u->explore_json);
    if (facts.empty()) continue;
    if (u->verdict == Verdict::kPass && explored_pass++ >= kMaxPassRows) {
      ++explored_hidden;
      continue;
    }
    std::string cell;
    for (const auto& [name, value] : facts) {
      const bool token = name.find("token") != std::string::npos && value != "-";
      cell += fmt::format("{}{} {}", cell.empty() ? "" : "; ", md_cell(name),
                          token ? "`" + code_line(value) + "`" : md_cell(value));
    }
    explored += fmt::format("| {} | {} | {} | {} |\n", md_cell(label(*u)), md_cell(u->variant),
                            verdict_name(u->verdict), cell);
  }
  if (!explored.empty()) {
    md += "\n### Exploration\n\n| Case | Variant | Verdict | Exploration |\n| --- | --- | --- | --- |\n" + explored;
    if (explored_hidden > 0) {
      md += fmt::format("\n{} more passing explored units are not listed (see report.html).\n", explored_hidden);
    }
  }

  std::set<std::tuple<std::string, std::string, std::string>> skipped;
  for (const auto& u : run.units) {
    for (const auto& sc : u.skipped_checks) skipped.emplace(u.case_id, sc.check, sc.reason);
  }
  if (!skipped.empty()) {
    md += "\n### Checks skipped by a declared difference\n\n| Case | Check | Reason |\n| --- | --- | --- |\n";
    for (const auto& [id, check, reason] : skipped) {
      md += fmt::format("| {} | {} | {} |\n", md_cell(id), md_cell(check), md_cell(reason));
    }
  }
  return md;
}

}  // namespace

RG_REGISTER_REPORTER("md", MarkdownReporter);

}  // namespace racegate::reports
