// `html` reporter: report.html, one self-contained page (no network, no
// external assets: inline CSS, a little inline JavaScript, inline SVG; a
// Content-Security-Policy that forbids loading anything).
//
//   header      run facts and verdict counts
//   Units       the verdict table, worst first, with filters by verdict,
//               variant and text
//   By area     the cases grouped by catalog area (process, daemon, ...,
//               asyncio), one row per case and implementation with its
//               verdict per variant, linked to its seed documents and to its
//               catalog entry
//   Catalog     the catalog entries of the run's cases, read from the run's
//               behavior-catalog.md at render time (left out without one)
//   Details     one article per unit that failed, has outcomes or has
//               findings: message, seed, reproduce string and replay command,
//               counterexample, outcome histogram (SVG bars coloured by grade),
//               each finding with its stacks side by side and source snippets
//               around user frames, hang stacks, captured output
//
// Everything derived from the run — case ids, messages, stack text, source
// file contents — is written through internal::MarkupWriter, which escapes it;
// only the constant CSS and script below go in unescaped. Source snippets are
// read only from files inside the source root, and silently left out when a
// file cannot be read.
#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>

#include <fmt/format.h>

#include "racegate/reports/catalog.h"
#include "racegate/reports/internal/write_common.h"
#include "racegate/reports/internal/xml_escape.h"
#include "racegate/reports/reporter.h"

namespace racegate::reports {
namespace {

namespace fs = std::filesystem;
using internal::MarkupWriter;
using Layout = MarkupWriter::Layout;

constexpr std::size_t kOutputCap = 64 * 1024;
constexpr int kSnippetContext = 2;          // lines before and after the frame's line
constexpr int kMaxSnippetsPerStack = 4;
constexpr std::size_t kMaxFindingsPerUnit = 200;  // the rest are in report.json
constexpr std::uintmax_t kMaxSourceBytes = 4 * 1024 * 1024;

constexpr std::string_view kCss = R"css(
:root { --fg: #1f2328; --muted: #656d76; --line: #d0d7de; --bg2: #f6f8fa;
  --pass: #1a7f37; --fail: #cf222e; --race: #8250df; --missed: #bc4c00;
  --timeout: #9a6700; --crash: #a40e26; --error: #57606a; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
  margin: 0 auto; max-width: 1400px; padding: 0 1.5em 3em; }
h1 { font-size: 1.6em; margin: 0.8em 0 0.3em; }
h2 { font-size: 1.3em; border-bottom: 1px solid var(--line); padding-bottom: 0.2em; margin-top: 1.6em; }
h3 { font-size: 1.1em; margin: 0 0 0.4em; }
h4 { font-size: 1em; margin: 1em 0 0.3em; }
h5 { font-size: 0.9em; margin: 0 0 0.3em; font-weight: 600; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: var(--bg2); border: 1px solid var(--line); border-radius: 4px; padding: 0.5em 0.7em;
  overflow-x: auto; white-space: pre-wrap; word-break: break-word; margin: 0.3em 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.15em 1em; margin: 0.4em 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; word-break: break-word; }
ul.counts { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.5em; }
ul.counts li { border: 1px solid var(--line); border-radius: 4px; padding: 0.2em 0.7em; }
ul.counts li.zero { opacity: 0.45; }
.verdict { display: inline-block; font-weight: 700; font-size: 0.85em; padding: 0.05em 0.5em;
  border-radius: 3px; color: #fff; background: var(--error); }
.v-PASS { background: var(--pass); } .v-FAIL { background: var(--fail); } .v-RACE { background: var(--race); }
.v-MISSED { background: var(--missed); } .v-TIMEOUT { background: var(--timeout); }
.v-CRASH { background: var(--crash); } .v-ERROR { background: var(--error); }
.warning { border-left: 4px solid var(--timeout); padding: 0.3em 0.8em; background: #fff8c5; }
.filters { display: flex; flex-wrap: wrap; gap: 1em; align-items: center; margin: 0.6em 0; }
.filters input { min-width: 18em; }
#filter-count { color: var(--muted); }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: var(--bg2); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.message, p.message { white-space: pre-wrap; word-break: break-word; }
article.unit { border: 1px solid var(--line); border-radius: 6px; padding: 0.8em 1em; margin: 1em 0; }
.variant { color: var(--muted); font-weight: 400; }
section.finding { border-top: 1px dashed var(--line); margin-top: 0.8em; padding-top: 0.4em; }
.stacks { display: grid; grid-template-columns: repeat(auto-fit, minmax(28em, 1fr)); gap: 1em; }
.stack { border: 1px solid var(--line); border-radius: 4px; padding: 0.5em; background: #fff; min-width: 0; }
.stack .role { color: var(--muted); font-size: 0.85em; }
ol.frames { margin: 0; padding-left: 0; list-style: none; }
ol.frames li { margin: 0.15em 0; }
ol.frames li.other { color: var(--muted); }
ol.frames .mono { overflow-wrap: anywhere; }
.frame-no { color: var(--muted); display: inline-block; min-width: 2.2em; }
pre.snippet { padding: 0.2em 0; }
pre.snippet .line { display: inline-block; width: 100%; padding: 0 0.5em; }
pre.snippet .hit { background: #fff8c5; }
pre.snippet .ln { display: inline-block; min-width: 3.5em; color: var(--muted); user-select: none; }
svg.histogram { max-width: 100%; height: auto; }
svg.histogram text { font: 12px ui-monospace, Menlo, Consolas, monospace; fill: var(--fg); }
.legend span { display: inline-block; margin-right: 1em; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; vertical-align: -0.1em; margin-right: 0.3em; }
table.area td .verdict { margin-right: 0.3em; }
article.entry { border-left: 3px solid var(--line); padding: 0.1em 0.8em; margin: 0.8em 0; }
article.entry p { white-space: pre-wrap; word-break: break-word; }
ul.skipped { margin: 0.3em 0; }
footer { color: var(--muted); margin-top: 2em; font-size: 0.9em; }
)css";

// Filters the verdict table and the detail articles of hidden rows, and marks
// the body data-ready="true" when it has run (the headless test checks it).
constexpr std::string_view kScript = R"js(
(function () {
  'use strict';
  var verdict = document.getElementById('filter-verdict');
  var variant = document.getElementById('filter-variant');
  var text = document.getElementById('filter-text');
  var count = document.getElementById('filter-count');
  var rows = Array.prototype.slice.call(document.querySelectorAll('#verdict-table tbody tr'));
  function apply() {
    var needle = text.value.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (row) {
      var ok = (!verdict.value || row.getAttribute('data-verdict') === verdict.value) &&
               (!variant.value || row.getAttribute('data-variant') === variant.value) &&
               (!needle || row.textContent.toLowerCase().indexOf(needle) !== -1);
      row.hidden = !ok;
      if (ok) shown++;
      var id = row.getAttribute('data-details');
      var article = id ? document.getElementById(id) : null;
      if (article) article.hidden = !ok;
    });
    count.textContent = shown + ' of ' + rows.length + ' units shown';
  }
  verdict.addEventListener('change', apply);
  variant.addEventListener('change', apply);
  text.addEventListener('input', apply);
  apply();
  document.body.setAttribute('data-ready', 'true');
})();
)js";

const char* grade_color(const std::string& grade) {
  if (grade == "acceptable") return "#1a7f37";
  if (grade == "interesting") return "#d4a72c";
  if (grade == "forbidden") return "#cf222e";
  return "#8c959f";
}

// Source files inside the root, read once per report.
class SourceFiles {
 public:
  explicit SourceFiles(fs::path root) : root_(std::move(root)) {
    std::error_code ec;
    if (!root_.empty()) canonical_root_ = fs::canonical(root_, ec);
    if (ec) canonical_root_.clear();
  }

  // The lines of `file` when it is a readable regular file inside the root.
  const std::vector<std::string>* lines(const std::string& file) {
    if (canonical_root_.empty() || !internal::is_inside_root(file, root_)) return nullptr;
    auto [it, inserted] = cache_.try_emplace(file);
    if (inserted) it->second = load(root_ / internal::display_path(file, root_));
    return it->second ? &*it->second : nullptr;
  }

 private:
  std::optional<std::vector<std::string>> load(const fs::path& path) const {
    std::error_code ec;
    fs::path real = fs::canonical(path, ec);
    if (ec || !fs::is_regular_file(real, ec) || ec) return std::nullopt;
    // A symbolic link may not lead out of the root.
    auto rel = real.lexically_relative(canonical_root_);
    if (rel.empty() || *rel.begin() == "..") return std::nullopt;
    auto size = fs::file_size(real, ec);
    if (ec || size > kMaxSourceBytes) return std::nullopt;
    std::ifstream in(real, std::ios::binary);
    if (!in) return std::nullopt;
    std::vector<std::string> out;
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      out.push_back(std::move(line));
    }
    return out;
  }

  fs::path root_;
  fs::path canonical_root_;
  std::map<std::string, std::optional<std::vector<std::string>>> cache_;
};

class HtmlRenderer {
 public:
  HtmlRenderer(const Run& run, const ReportConfig& config)
      : run_(run),
        root_(internal::source_root_of(run, config)),
        out_dir_(config.out_dir),
        sources_(root_),
        labels_(run),
        w_(MarkupWriter::Syntax::kHtml) {
    if (!run.info.catalog_path.empty()) {
      try {
        catalog_ = load_catalog(run.info.catalog_path);
      } catch (const std::exception&) {
        catalog_.reset();  // the report still groups by area, without entries
      }
    }
  }

  std::string render() &&;

 private:
  [[nodiscard]] bool has_details(const UnitResult& u) const {
    return u.verdict != Verdict::kPass || !u.outcomes.empty() || !u.findings.empty() ||
           !u.skipped_checks.empty() || !explore_of(u).empty();
  }
  // The unit's exploration (racegate run --explore), or the gate's.
  [[nodiscard]] const std::string& explore_of(const UnitResult& u) const {
    return u.explore_json.empty() && run_.info.mode == "gate" ? run_.info.explore_json : u.explore_json;
  }
  void head();
  void header();
  void table(const std::vector<const UnitResult*>& units);
  void areas(const std::vector<const UnitResult*>& units);
  void catalog_entries();
  void seed_links(const std::vector<std::string>& docs);
  [[nodiscard]] std::optional<std::string> seed_href(const std::string& doc) const;
  void details(const UnitResult& u, const std::string& id);
  void reproduce(const UnitResult& u);
  void histogram(const UnitResult& u);
  void finding(const Finding& f);
  void stack(const Stack& s);
  void snippet(const std::vector<std::string>& lines, int line);
  void fact(std::string_view name, std::string_view value);
  void fact_code(std::string_view name, std::string_view value);
  void captured(const char* name, const std::string& text, bool truncated);

  const Run& run_;
  fs::path root_;
  fs::path out_dir_;
  std::optional<Catalog> catalog_;
  SourceFiles sources_;
  internal::UnitLabels labels_;
  MarkupWriter w_;
};

void HtmlRenderer::fact(std::string_view name, std::string_view value) {
  w_.leaf("dt", name).leaf("dd", value);
}

void HtmlRenderer::fact_code(std::string_view name, std::string_view value) {
  w_.leaf("dt", name).open("dd", Layout::kInline).leaf("code", value).close();
}

void HtmlRenderer::head() {
  w_.open("head");
  w_.open("meta").attr("charset", "utf-8").close();
  w_.open("meta").attr("name", "viewport").attr("content", "width=device-width, initial-scale=1").close();
  w_.open("meta")
      .attr("http-equiv", "Content-Security-Policy")
      .attr("content",
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
            "img-src data:")
      .close();
  w_.open("meta")
      .attr("name", "generator")
      .attr("content", run_.info.tool_version.empty() ? "racegate" : "racegate " + run_.info.tool_version)
      .close();
  w_.leaf("title", fmt::format("racegate report: {}", verdict_name(run_.worst())));
  w_.open("style").trusted_raw(kCss).close();
  w_.close();
}

void HtmlRenderer::header() {
  const auto counts = internal::count_verdicts(run_);
  const Verdict worst = run_.worst();
  w_.open("header");
  w_.open("h1", Layout::kInline).text("racegate report ");
  w_.open("span").attr("class", fmt::format("verdict v-{}", verdict_name(worst)));
  w_.text(verdict_name(worst)).close().close();

  w_.open("dl").attr("class", "facts");
  if (!run_.info.tool_version.empty()) fact("racegate", run_.info.tool_version);
  if (!run_.info.started_at.empty()) fact("started", run_.info.started_at);
  fact("wall time", internal::format_seconds(run_.info.wall_seconds) + " s");
  fact("run seed", std::to_string(run_.info.run_seed));
  std::string variants;
  for (const auto& v : internal::variants_of(run_)) variants += (variants.empty() ? "" : ", ") + v;
  fact("variants", variants);
  fact("units", std::to_string(run_.units.size()));
  if (run_.info.shard_total > 1) {
    fact("shard", fmt::format("{} of {}", run_.info.shard_index + 1, run_.info.shard_total));
  }
  if (!run_.info.command_line.empty()) fact_code("command", run_.info.command_line);
  w_.close();

  w_.open("ul").attr("class", "counts");
  for (Verdict v : internal::kAllVerdicts) {
    int n = counts[static_cast<std::size_t>(v)];
    w_.open("li", Layout::kInline);
    if (n == 0) w_.attr("class", "zero");
    w_.open("span").attr("class", fmt::format("verdict v-{}", verdict_name(v))).text(verdict_name(v)).close();
    w_.text(fmt::format(" {}", n)).close();
  }
  w_.close();
  w_.close();
}

void HtmlRenderer::table(const std::vector<const UnitResult*>& units) {
  const auto counts = internal::count_verdicts(run_);
  w_.open("section").attr("id", "units");
  w_.leaf("h2", "Units");
  w_.open("div").attr("class", "filters");
  w_.open("label", Layout::kInline).text("Verdict ");
  w_.open("select").attr("id", "filter-verdict");
  w_.open("option").attr("value", "").text("all").close();
  for (Verdict v : internal::kAllVerdicts) {
    int n = counts[static_cast<std::size_t>(v)];
    if (n == 0) continue;
    w_.open("option").attr("value", verdict_name(v)).text(fmt::format("{} ({})", verdict_name(v), n)).close();
  }
  w_.close().close();
  w_.open("label", Layout::kInline).text("Variant ");
  w_.open("select").attr("id", "filter-variant");
  w_.open("option").attr("value", "").text("all").close();
  for (const auto& v : internal::variants_of(run_)) w_.open("option").attr("value", v).text(v).close();
  w_.close().close();
  w_.open("label", Layout::kInline).text("Text ");
  w_.open("input").attr("id", "filter-text").attr("type", "search").attr("placeholder", "case, message…").close();
  w_.close();
  w_.open("span").attr("id", "filter-count").close();
  w_.close();

  w_.open("table").attr("id", "verdict-table");
  w_.open("thead").open("tr");
  for (const char* h : {"Case", "Variant", "Verdict", "Time (s)", "Message"}) w_.leaf("th", h);
  w_.close().close();
  w_.open("tbody");
  for (std::size_t i = 0; i < units.size(); ++i) {
    const UnitResult& u = *units[i];
    const std::string id = fmt::format("u-{}", i + 1);
    w_.open("tr").attr("data-verdict", verdict_name(u.verdict)).attr("data-variant", u.variant);
    if (has_details(u)) w_.attr("data-details", id);
    w_.open("td", Layout::kInline);
    if (has_details(u)) {
      w_.open("a").attr("href", "#" + id).text(labels_(u)).close();
    } else {
      w_.text(labels_(u));
    }
    w_.close();
    w_.leaf("td", u.variant);
    w_.open("td", Layout::kInline);
    w_.open("span").attr("class", fmt::format("verdict v-{}", verdict_name(u.verdict)));
    w_.text(verdict_name(u.verdict)).close().close();
    w_.open("td").attr("class", "num").text(internal::format_seconds(u.wall_seconds)).close();
    w_.open("td").attr("class", "message").text(u.message).close();
    w_.close();
  }
  w_.close().close();
  w_.close();
}

void HtmlRenderer::reproduce(const UnitResult& u) {
  w_.leaf("h4", "Reproduce");
  w_.open("dl").attr("class", "facts");
  fact_code("seed", std::to_string(u.seed));
  if (!u.reproduce.empty()) fact_code("reproduce", u.reproduce);
  if (!u.replay_command.empty()) fact_code("replay", u.replay_command);
  w_.close();
}

void HtmlRenderer::histogram(const UnitResult& u) {
  constexpr int kLabelWidth = 230, kBarWidth = 320, kRow = 24, kWidth = 780;
  std::uint64_t max = 0, total = 0;
  for (const auto& o : u.outcomes) {
    max = std::max(max, o.count);
    total += o.count;
  }
  const int height = static_cast<int>(u.outcomes.size()) * kRow + 8;
  w_.leaf("h4", "Outcomes");
  w_.open("svg")
      .attr("class", "histogram")
      .attr("xmlns", "http://www.w3.org/2000/svg")
      .attr("width", kWidth)
      .attr("height", height)
      .attr("viewBox", fmt::format("0 0 {} {}", kWidth, height))
      .attr("role", "img")
      .attr("aria-label", fmt::format("Outcome histogram of {} ({})", u.case_id, u.variant));
  for (std::size_t i = 0; i < u.outcomes.size(); ++i) {
    const Outcome& o = u.outcomes[i];
    const int y = static_cast<int>(i) * kRow + 4;
    const double width = max == 0 ? 0.0 : static_cast<double>(o.count) * kBarWidth / static_cast<double>(max);
    const double pct = total == 0 ? 0.0 : static_cast<double>(o.count) * 100.0 / static_cast<double>(total);
    std::string name = internal::truncate_utf8(o.name, 40);
    if (name.size() < o.name.size()) name += "…";
    w_.open("g").attr("class", "bar " + o.grade);
    w_.open("text").attr("x", 0).attr("y", y + 14).text(name).close();
    w_.open("rect")
        .attr("x", kLabelWidth)
        .attr("y", y)
        .attr("width", fmt::format("{:.1f}", o.count > 0 ? std::max(width, 1.0) : 0.0))
        .attr("height", kRow - 6)
        .attr("fill", grade_color(o.grade));
    w_.leaf("title", fmt::format("{}: {} ({})", o.name, o.count, o.grade.empty() ? "ungraded" : o.grade));
    w_.close();
    w_.open("text")
        .attr("x", fmt::format("{:.1f}", kLabelWidth + width + 6))
        .attr("y", y + 14)
        .text(fmt::format("{} ({:.1f}%) {}", o.count, pct, o.grade))
        .close();
    w_.close();
  }
  w_.close();
  w_.open("p").attr("class", "legend");
  for (const char* grade : {"acceptable", "interesting", "forbidden"}) {
    w_.open("span", Layout::kInline);
    w_.open("span").attr("class", "swatch").attr("style", fmt::format("background:{}", grade_color(grade))).close();
    w_.text(grade).close();
  }
  w_.close();
}

void HtmlRenderer::snippet(const std::vector<std::string>& lines, int line) {
  const int first = std::max(1, line - kSnippetContext);
  const int last = std::min(static_cast<int>(lines.size()), line + kSnippetContext);
  if (line < 1 || line > static_cast<int>(lines.size())) return;
  w_.open("pre", Layout::kInline).attr("class", "snippet");
  for (int n = first; n <= last; ++n) {
    w_.open("span").attr("class", n == line ? "line hit" : "line");
    w_.open("span").attr("class", "ln").text(std::to_string(n)).close();
    w_.text(lines[static_cast<std::size_t>(n - 1)]);
    w_.close();
    if (n < last) w_.text("\n");  // one source line per line, also when copied
  }
  w_.close();
}

void HtmlRenderer::stack(const Stack& s) {
  w_.open("div").attr("class", "stack");
  w_.open("h5", Layout::kInline).text(s.title.empty() ? s.role : s.title).close();
  if (!s.role.empty()) w_.open("div").attr("class", "role").text(s.role).close();
  w_.open("ol").attr("class", "frames");
  int snippets = 0;
  // Runs of frames known only by module and offset (no function, no file)
  // are kept but folded into one item.
  auto module_only = [](const Frame& fr) { return fr.file.empty() && fr.function.empty(); };
  for (std::size_t i = 0; i < s.frames.size(); ++i) {
    const Frame& fr = s.frames[i];
    if (module_only(fr)) {
      std::size_t end = i;
      while (end < s.frames.size() && module_only(s.frames[end])) ++end;
      if (end - i > 1) {
        w_.open("li").attr("class", "other folded");
        w_.open("details").leaf("summary", fmt::format("{} frames without symbols (#{}–#{})", end - i, fr.index,
                                                        s.frames[end - 1].index));
        w_.open("ol").attr("class", "frames");
        for (std::size_t k = i; k < end; ++k) {
          const Frame& m = s.frames[k];
          w_.open("li").attr("class", "other").open("div", Layout::kInline).attr("class", "mono");
          w_.open("span").attr("class", "frame-no").text(fmt::format("#{}", m.index)).close();
          w_.text(fmt::format("<unknown> ({}+{:#x})", m.module, m.module_offset));
          w_.close().close();
        }
        w_.close().close().close();
        i = end - 1;
        continue;
      }
    }
    const bool user = internal::is_inside_root(fr.file, root_);
    w_.open("li").attr("class", user ? "user" : "other");
    w_.open("div", Layout::kInline).attr("class", "mono");
    w_.open("span").attr("class", "frame-no").text(fmt::format("#{}", fr.index)).close();
    w_.text(fr.function.empty() ? "<unknown>" : fr.function);
    if (!fr.file.empty()) {
      std::string where = internal::display_path(fr.file, root_);
      if (fr.line > 0) where += fmt::format(":{}", fr.line);
      if (fr.column > 0) where += fmt::format(":{}", fr.column);
      w_.text(" ").open("span").attr("class", "loc").text(where).close();
    } else if (!fr.module.empty()) {
      w_.text(" ").open("span").attr("class", "loc").text(fmt::format("({}+{:#x})", fr.module, fr.module_offset)).close();
    }
    w_.close();
    if (user && fr.line > 0 && snippets < kMaxSnippetsPerStack) {
      if (const auto* lines = sources_.lines(fr.file)) {
        snippet(*lines, fr.line);
        ++snippets;
      }
    }
    w_.close();
  }
  w_.close();
  w_.close();
}

void HtmlRenderer::finding(const Finding& f) {
  w_.open("section").attr("class", "finding");
  w_.leaf("h4", fmt::format("{}: {}{}", internal::tool_display_name(f.tool), internal::kind_words(f.kind),
                            f.truncated ? " (report truncated)" : ""));
  if (!f.headline.empty()) w_.open("p").attr("class", "mono").text(f.headline).close();
  w_.open("dl").attr("class", "facts");
  if (!f.location.file.empty() || !f.location.function.empty()) {
    std::string where = internal::display_path(f.location.file, root_);
    if (f.location.line > 0) where += fmt::format(":{}", f.location.line);
    if (!f.location.function.empty()) where += (where.empty() ? "" : " in ") + f.location.function;
    fact_code("location", where);
  }
  if (!f.summary.empty()) fact("summary", f.summary);
  if (!f.signature.empty()) fact_code("signature", f.signature);
  if (!f.state.empty()) {
    fact("state", f.state_reason.empty() ? f.state : f.state + ": " + f.state_reason);
    std::string pids;
    for (int p : f.pids) pids += (pids.empty() ? "" : ", ") + std::to_string(p);
    fact("reports", fmt::format("{} in {} process{}{}", f.occurrences, f.pids.size(),
                                f.pids.size() == 1 ? "" : "es", pids.empty() ? "" : " (" + pids + ")"));
  } else if (f.pid != 0) {
    fact("pid", std::to_string(f.pid));
  }
  w_.close();
  if (!f.stacks.empty()) {
    w_.open("div").attr("class", "stacks");
    for (const Stack& s : f.stacks) stack(s);
    w_.close();
  }
  if (!f.threads.empty() || !f.mutexes.empty()) {
    w_.open("ul");
    for (const auto& t : f.threads) w_.leaf("li", t);
    for (const auto& m : f.mutexes) w_.leaf("li", m);
    w_.close();
  }
  if (!f.raw.empty()) {
    w_.open("details").leaf("summary", "Raw report").leaf("pre", f.raw).close();
  }
  w_.close();
}

void HtmlRenderer::captured(const char* name, const std::string& text, bool truncated) {
  if (text.empty() && !truncated) return;
  w_.open("details");
  w_.leaf("summary", fmt::format("{} ({} bytes{})", name, text.size(), truncated ? ", truncated" : ""));
  w_.leaf("pre", internal::cap_output(text, kOutputCap, truncated));
  w_.close();
}

void HtmlRenderer::details(const UnitResult& u, const std::string& id) {
  w_.open("article")
      .attr("class", "unit")
      .attr("id", id)
      .attr("data-verdict", verdict_name(u.verdict))
      .attr("data-variant", u.variant);
  w_.open("h3", Layout::kInline);
  w_.open("span").attr("class", fmt::format("verdict v-{}", verdict_name(u.verdict))).text(verdict_name(u.verdict)).close();
  w_.text(" " + labels_(u) + " ");
  w_.open("span").attr("class", "variant").text(u.variant).close();
  w_.close();
  if (!u.title.empty()) w_.leaf("p", u.title);
  if (!u.message.empty()) w_.open("p", Layout::kInline).attr("class", "message").open("strong").text(u.message).close().close();

  w_.open("dl").attr("class", "facts");
  if (!u.expectation.empty()) fact("expectation", u.expectation);
  if (!u.race_site.empty()) fact_code("race site", u.race_site);
  if (u.trials_requested > 0 || u.trials_run > 0) {
    fact("trials", fmt::format("{} of {}", u.trials_run, u.trials_requested));
  }
  fact("time", internal::format_seconds(u.wall_seconds) + " s");
  if (u.peak_rss_kb > 0) fact("peak RSS", fmt::format("{} KiB", u.peak_rss_kb));
  if (u.exit_code) fact("exit code", std::to_string(*u.exit_code));
  if (u.signal) fact("signal", fmt::format("{} ({})", *u.signal, internal::signal_name(*u.signal)));
  if (!u.binary.empty()) fact_code("binary", internal::display_path(u.binary, root_));
  if (!u.seed_document.empty()) fact("seed document", u.seed_document);
  if (!u.tags.empty()) {
    std::string tags;
    for (const auto& t : u.tags) tags += (tags.empty() ? "" : ", ") + t;
    fact("tags", tags);
  }
  if (u.verdict == Verdict::kPass) fact_code("seed", std::to_string(u.seed));
  w_.close();

  if (!u.skipped_checks.empty()) {
    w_.leaf("h4", "Checks skipped by a declared difference");
    w_.open("ul").attr("class", "skipped");
    for (const auto& sc : u.skipped_checks) {
      w_.open("li", Layout::kInline).open("strong").text(sc.check).close().text(": " + sc.reason).close();
    }
    w_.close();
  }
  if (const auto facts = internal::explore_facts(explore_of(u)); !facts.empty()) {
    w_.leaf("h4", "Exploration");
    w_.open("dl").attr("class", "facts");
    for (const auto& [name, value] : facts) {
      if (name.find("token") != std::string::npos) {
        fact_code(name, value);
      } else {
        fact(name, value);
      }
    }
    w_.close();
  }
  if (u.verdict != Verdict::kPass) reproduce(u);
  if (!u.counterexample.empty()) w_.leaf("h4", "Counterexample").leaf("pre", u.counterexample);
  if (!u.outcomes.empty()) histogram(u);
  if (!u.findings.empty()) {
    w_.leaf("h4", fmt::format("Findings ({})", u.findings.size()));
    const std::size_t shown = std::min(u.findings.size(), kMaxFindingsPerUnit);
    for (std::size_t i = 0; i < shown; ++i) finding(u.findings[i]);
    if (shown < u.findings.size()) {
      w_.leaf("p", fmt::format("{} more findings are not shown here: every one is in report.json (and the raw "
                               "logs in logs/ for racegate gate).",
                               u.findings.size() - shown));
    }
  }
  if (run_.info.mode == "gate" && !run_.info.fixed.empty()) {
    w_.leaf("h4", fmt::format("Fixed: in the baseline, not seen in this run ({})", run_.info.fixed.size()));
    w_.open("ul").attr("class", "fixed");
    for (const auto& k : run_.info.fixed) {
      std::string where = k.location.file.empty() ? k.location.function
                                                  : fmt::format("{}:{} {}", k.location.file, k.location.line,
                                                                k.location.function);
      w_.leaf("li", fmt::format("{}/{} at {} (signature {}, in the baseline since {})", k.tool, k.kind, where,
                                k.signature, k.first_seen));
    }
    w_.close();
  }
  if (!u.hang_stacks.empty()) w_.leaf("h4", "Stacks at the timeout").leaf("pre", u.hang_stacks);
  captured("stdout", u.stdout_text, u.stdout_truncated);
  captured("stderr", u.stderr_text, u.stderr_truncated);
  w_.close();
}

std::optional<std::string> HtmlRenderer::seed_href(const std::string& doc) const {
  if (!catalog_ || doc.find('/') != std::string::npos) return std::nullopt;
  std::error_code ec;
  const fs::path seed = fs::weakly_canonical(catalog_->path.parent_path() / "seeds" / doc, ec);
  if (ec || !fs::is_regular_file(seed, ec)) return std::nullopt;
  // Relative to the report, so the link survives moving both together.
  const fs::path out = fs::weakly_canonical(out_dir_.empty() ? fs::current_path() : out_dir_, ec);
  fs::path rel = ec ? fs::path() : seed.lexically_relative(out);
  return (rel.empty() ? seed : rel).generic_string();
}

void HtmlRenderer::seed_links(const std::vector<std::string>& docs) {
  for (std::size_t i = 0; i < docs.size(); ++i) {
    if (i > 0) w_.text(", ");
    if (auto href = seed_href(docs[i])) {
      w_.open("a").attr("href", *href).text(docs[i]).close();
    } else {
      w_.text(docs[i]);
    }
  }
}

void HtmlRenderer::areas(const std::vector<const UnitResult*>& units) {
  // case id -> variant -> (worst verdict, details id)
  struct Cell {
    Verdict verdict = Verdict::kPass;
    std::string details;
  };
  std::map<std::string, std::map<std::string, Cell>> by_case;
  for (std::size_t i = 0; i < units.size(); ++i) {
    const UnitResult& u = *units[i];
    auto [it, fresh] = by_case[u.case_id].try_emplace(u.variant);
    if (fresh || u.verdict > it->second.verdict) {
      it->second.verdict = u.verdict;
      if (has_details(u)) it->second.details = fmt::format("u-{}", i + 1);
    }
  }
  std::map<std::string, const UnitResult*> unit_of;
  for (const UnitResult* u : units) unit_of.try_emplace(u->case_id, u);
  std::vector<std::string> order = report_areas();
  std::map<std::string, std::vector<std::string>> cases_of;
  for (const auto& [id, cells] : by_case) {
    std::string area = area_of(id);
    if (std::find(order.begin(), order.end(), area) == order.end()) area = "other";
    cases_of[area].push_back(id);
  }
  order.push_back("other");
  const auto variants = internal::variants_of(run_);

  w_.open("section").attr("id", "areas");
  w_.leaf("h2", "Cases by area");
  for (const auto& area : order) {
    auto found = cases_of.find(area);
    if (found == cases_of.end()) continue;
    w_.open("h3", Layout::kInline).attr("id", "area-" + area).text(fmt::format("{} ({})", area, found->second.size()));
    w_.close();
    w_.open("table").attr("class", "area");
    w_.open("thead").open("tr");
    for (const char* h : {"Case", "Implementation", "Verdicts", "Seed documents", "Catalog"}) w_.leaf("th", h);
    w_.close().close();
    w_.open("tbody");
    for (const auto& id : found->second) {
      const UnitResult& u = *unit_of.at(id);
      const std::string cat_id = catalog_id_of(id);
      w_.open("tr");
      w_.open("td", Layout::kInline).open("code").text(cat_id).close().close();
      w_.leaf("td", implementation_of(id));
      w_.open("td", Layout::kInline);
      for (const auto& v : variants) {
        auto cell = by_case[id].find(v);
        if (cell == by_case[id].end()) continue;
        const std::string label = fmt::format("{} {}", v, verdict_name(cell->second.verdict));
        if (!cell->second.details.empty()) {
          w_.open("a").attr("href", "#" + cell->second.details);
        }
        w_.open("span")
            .attr("class", fmt::format("verdict v-{}", verdict_name(cell->second.verdict)))
            .text(label)
            .close();
        if (!cell->second.details.empty()) w_.close();
      }
      w_.close();
      w_.open("td", Layout::kInline);
      const CatalogEntry* entry = catalog_ ? catalog_->find(cat_id) : nullptr;
      if (entry) {
        seed_links(entry->seed_documents);
      } else if (!u.seed_document.empty()) {
        std::vector<std::string> docs;
        std::string rest = u.seed_document;
        for (std::size_t at; (at = rest.find(", ")) != std::string::npos; rest = rest.substr(at + 2)) {
          docs.push_back(rest.substr(0, at));
        }
        docs.push_back(rest);
        seed_links(docs);
      }
      w_.close();
      w_.open("td", Layout::kInline);
      if (entry) {
        w_.open("a").attr("href", "#cat-" + cat_id).text(fmt::format("[{}] {}", entry->kind, entry->section)).close();
      } else {
        w_.text(catalog_ ? "not in the catalog" : "no catalog given");
      }
      w_.close();
      w_.close();
    }
    w_.close().close();
  }
  w_.close();
}

void HtmlRenderer::catalog_entries() {
  if (!catalog_) return;
  std::set<std::string> ids;
  for (const auto& u : run_.units) ids.insert(catalog_id_of(u.case_id));
  w_.open("section").attr("id", "catalog");
  w_.leaf("h2", "Catalog entries");
  w_.open("p", Layout::kInline).text("From ").open("code").text(internal::display_path(catalog_->path.string(), root_)).close().text(".").close();
  for (const auto& e : catalog_->entries) {
    if (!ids.contains(e.id)) continue;
    w_.open("article").attr("class", "entry").attr("id", "cat-" + e.id);
    w_.open("h4", Layout::kInline).open("code").text(e.id).close().text(fmt::format(" [{}]", e.kind)).close();
    w_.open("p", Layout::kInline).attr("class", "section").text(fmt::format("{}, line {}", e.section, e.line));
    if (!e.seed_documents.empty()) {
      w_.text(" · ");
      seed_links(e.seed_documents);
    }
    w_.close();
    w_.leaf("p", e.text);
    w_.close();
  }
  w_.close();
}

std::string HtmlRenderer::render() && {
  const auto units = internal::units_by_severity(run_);
  w_.trusted_raw("<!DOCTYPE html>\n");
  w_.open("html").attr("lang", "en");
  head();
  w_.open("body");
  header();
  if (run_.info.interrupted) {
    w_.open("p").attr("class", "warning").text("The run was interrupted: these results are partial.").close();
  }
  table(units);
  areas(units);
  w_.open("section").attr("id", "details");
  w_.leaf("h2", "Details");
  bool any = false;
  for (std::size_t i = 0; i < units.size(); ++i) {
    if (!has_details(*units[i])) continue;
    details(*units[i], fmt::format("u-{}", i + 1));
    any = true;
  }
  if (!any) w_.leaf("p", "Every unit passed; nothing more to show.");
  w_.close();
  catalog_entries();
  w_.open("footer", Layout::kInline)
      .text(fmt::format("racegate {} report, rendered from the run's results.", run_.info.tool_version))
      .close();
  w_.open("script").trusted_raw(kScript).close();
  w_.close();
  w_.close();
  return std::move(w_).finish();
}

class HtmlReporter final : public Reporter {
 public:
  static std::string description() {
    return "report.html: self-contained HTML report with filters, histograms, stacks and sources";
  }
  [[nodiscard]] std::string file_name() const override { return "report.html"; }
  [[nodiscard]] std::string render(const Run& run, const ReportConfig& config) const override {
    return HtmlRenderer(run, config).render();
  }
};

}  // namespace

RG_REGISTER_REPORTER("html", HtmlReporter);

}  // namespace racegate::reports
