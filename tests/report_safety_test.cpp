// Reports are safe to open: findings and results whose symbol names, file
// paths, messages and output carry markup, quotes, "]]>", control characters
// (NUL, ESC, DEL), U+2028/U+2029 and bytes that are not UTF-8 go through
// every writer, and each output is checked with a real parser:
//   * report.json and racegate.sarif: nlohmann::json's strict parser (which
//     rejects invalid UTF-8), and the payload reads back as text;
//   * junit.xml: xmllint (XML 1.0 forbids most control characters even as
//     character references), and the payload is text, not markup;
//   * summary.md: every table row keeps its column count, no raw markup or
//     control character;
//   * report.html: only the report's own <script>, no payload markup, no
//     control character; tests/report_safety_html.sh renders it in headless
//     Chromium (the binary doubles as `report_safety_test
//     --racegate-child=write_hostile_reports DIR`).
// Also: results.jsonl lines of such a unit are valid JSON and read back.
#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "racegate/reports/reporter.h"
#include "racegate/reports/results_file.h"
#include "racegate/reports/run.h"
#include "support/child_program.h"

namespace rr = racegate::reports;
namespace fs = std::filesystem;

namespace {

// Markup that would run if it reached the page as markup: each sets an
// attribute that the browser check looks for.
const std::string kScript = "<script>document.documentElement.setAttribute('data-pwned','script')</script>";
const std::string kImg = "<img src=x onerror=\"document.documentElement.setAttribute('data-pwned','img')\">";
const std::string kBreakouts = "\"' ]]> </textarea></pre></code></script>--><!-- &amp; ${x} {{x}}";
const std::string kControls = std::string("nul[") + '\0' + "] esc[\x1b[31m] bel[\x07] del[\x7f] vt[\x0b] "
                              "ls[\xe2\x80\xa8] ps[\xe2\x80\xa9] bom[\xef\xbb\xbf]";
const std::string kBadUtf8 = "latin1[r\xe9pertoire] lone[\x80] cut[\xc3] ff[\xff\xfe] overlong[\xc0\xaf]";

// Every payload at once: what a hostile program under test can put in a
// symbol name, a path or a message.
std::string payload(const std::string& tag) { return tag + " " + kScript + kImg + kBreakouts + kControls + kBadUtf8; }

rr::Finding hostile_finding(const std::string& tag) {
  rr::Finding f;
  f.tool = "tsan";
  f.kind = "data-race";
  f.headline = "WARNING: ThreadSanitizer: data race " + payload(tag + "-headline");
  f.summary = "SUMMARY: " + payload(tag + "-summary");
  f.location = {"/src/" + payload(tag + "-file") + ".cpp", 7, 3, payload(tag + "-function")};
  rr::Stack s;
  s.role = "access";
  s.title = payload(tag + "-stack-title");
  s.frames = {rr::Frame{0, payload(tag + "-frame-fn"), "/src/" + payload(tag + "-frame-file"), 7, 3,
                        payload(tag + "-module"), 0x10},
              rr::Frame{1, "main", "/src/main.cpp", 3, 1, "app", 0x20}};
  f.stacks = {s, s};
  f.stacks[1].role = "previous-access";
  f.threads = {payload(tag + "-thread")};
  f.mutexes = {payload(tag + "-mutex")};
  f.pid = 42;
  f.signature = "0123456789abcdef";
  f.raw = payload(tag + "-raw");
  return f;
}

rr::Run hostile_run() {
  rr::Run run;
  run.info.tool_version = "0.1.0";
  run.info.started_at = "2026-12-06T00:00:00Z";
  run.info.command_line = "racegate run " + payload("command-line");
  run.info.variants = {"plain", "tsan"};
  run.info.source_root = "/nonexistent-root";
  const rr::Verdict verdicts[] = {rr::Verdict::kRace, rr::Verdict::kFail, rr::Verdict::kCrash, rr::Verdict::kPass};
  int i = 0;
  for (rr::Verdict v : verdicts) {
    rr::UnitResult u;
    const std::string tag = "u" + std::to_string(i++);
    u.case_id = "area.case_" + tag + payload(tag + "-id");
    u.title = payload(tag + "-title");
    u.tags = {payload(tag + "-tag")};
    u.expectation = "holds";
    u.binary = "/bin/" + payload(tag + "-binary");
    u.variant = v == rr::Verdict::kRace ? "tsan" : "plain";
    u.seed = 7;
    u.trials_requested = u.trials_run = 3;
    u.verdict = v;
    u.message = payload(tag + "-message");
    u.outcomes = {{payload(tag + "-outcome"), "forbidden", 2}, {"ok", "acceptable", 1}};
    u.skipped_checks = {{payload(tag + "-check"), payload(tag + "-reason")}};
    u.counterexample = payload(tag + "-counterexample");
    u.reproduce = payload(tag + "-reproduce");
    u.replay_command = "racegate replay " + payload(tag + "-replay");
    u.exit_code = v == rr::Verdict::kCrash ? std::optional<int>() : std::optional<int>(1);
    if (v == rr::Verdict::kCrash) u.signal = 11;
    u.stdout_text = payload(tag + "-stdout");
    u.stderr_text = payload(tag + "-stderr");
    u.hang_stacks = payload(tag + "-hang");
    if (v == rr::Verdict::kRace) u.findings = {hostile_finding(tag)};
    run.units.push_back(std::move(u));
  }
  return run;
}

std::string render(const std::string& name, const rr::Run& run) {
  auto r = rr::make_reporter(name);
  EXPECT_TRUE(r) << name;
  return r ? r->render(run, rr::ReportConfig{fs::temp_directory_path(), "/nonexistent-root"}) : "";
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Control characters other than tab, newline and carriage return.
std::size_t control_chars(const std::string& text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\n' && c != '\t' && c != '\r') || u == 0x7f;
  }));
}

// Whether `text` is valid UTF-8 (nlohmann's parser is the judge: a JSON
// string holding it parses only if it is).
bool valid_utf8(const std::string& text) {
  std::string quoted = "\"";
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (u < 0x20) {
      quoted += ' ';
    } else {
      quoted += c;
    }
  }
  return nlohmann::json::accept(quoted + "\"");
}

// Every string value anywhere in a JSON document.
void strings_of(const nlohmann::json& j, std::vector<std::string>& out) {
  if (j.is_string()) out.push_back(j.get<std::string>());
  if (j.is_structured()) {
    for (const auto& e : j) strings_of(e, out);
  }
}

class TempDir {
 public:
  TempDir() {
    std::string t = (fs::temp_directory_path() / "racegate-safety-XXXXXX").string();
    path_ = mkdtemp(t.data()) ? fs::path(t) : fs::path();
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

TEST(ReportSafety, PayloadIsWhatTheTestsSayItIs) {
  // The checks below mean something only if the payload really is hostile.
  const std::string p = payload("x");
  EXPECT_FALSE(valid_utf8(p));
  EXPECT_NE(p.find('\0'), std::string::npos);
  EXPECT_NE(p.find('\x1b'), std::string::npos);
  EXPECT_NE(p.find("]]>"), std::string::npos);
  EXPECT_NE(p.find("\xe2\x80\xa8"), std::string::npos);
  EXPECT_GE(control_chars(p), 5u);
}

TEST(ReportSafety, JsonIsValidAndKeepsTheText) {
  const std::string text = render("json", hostile_run());
  ASSERT_TRUE(valid_utf8(text));
  nlohmann::json doc;
  ASSERT_NO_THROW(doc = nlohmann::json::parse(text));
  EXPECT_EQ(doc["schema"], "racegate-run/1");
  ASSERT_EQ(doc["units"].size(), 4u);
  // What was valid UTF-8 comes back byte for byte (NUL and ESC included);
  // the invalid bytes are U+FFFD.
  const std::string message = doc["units"][0]["message"].get<std::string>();
  EXPECT_NE(message.find(kScript), std::string::npos);
  EXPECT_NE(message.find(kImg), std::string::npos);
  EXPECT_NE(message.find(kBreakouts), std::string::npos);
  EXPECT_NE(message.find(kControls), std::string::npos);
  EXPECT_NE(message.find("r\xef\xbf\xbdpertoire"), std::string::npos);
  const auto& frame = doc["units"][0]["findings"][0]["stacks"][0]["frames"][0];
  EXPECT_NE(frame["function"].get<std::string>().find(kScript), std::string::npos);
  // Read back as a report.json by `racegate report`.
  std::vector<std::string> warnings;
  rr::Run back = rr::parse_results_text(text, "report.json", warnings);
  ASSERT_EQ(back.units.size(), 4u);
  EXPECT_EQ(back.units[0].verdict, rr::Verdict::kRace);
  EXPECT_EQ(back.units[0].findings.at(0).stacks.at(0).frames.at(0).function,
            frame["function"].get<std::string>());
}

TEST(ReportSafety, SarifIsValidAndKeepsTheText) {
  const std::string text = render("sarif", hostile_run());
  ASSERT_TRUE(valid_utf8(text));
  nlohmann::json doc;
  ASSERT_NO_THROW(doc = nlohmann::json::parse(text));
  EXPECT_EQ(doc["version"], "2.1.0");
  std::vector<std::string> strings;
  strings_of(doc, strings);
  auto any_has = [&](const std::string& needle) {
    return std::any_of(strings.begin(), strings.end(),
                       [&](const std::string& s) { return s.find(needle) != std::string::npos; });
  };
  EXPECT_TRUE(any_has("u1-message " + kScript)) << "a failed unit's message is in a result";
  EXPECT_TRUE(any_has("u0-function " + kScript)) << "the finding's function is in its result";
  EXPECT_TRUE(any_has("u0-frame-fn " + kScript)) << "the frame's function is in a thread flow";
  EXPECT_TRUE(any_has(kControls)) << "control characters are kept as JSON escapes";
  // Every artifact URI is a URI: no space, markup, quote or control byte.
  std::vector<std::string> uris;
  std::function<void(const nlohmann::json&)> find_uris = [&](const nlohmann::json& j) {
    if (j.is_object()) {
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (it.key() == "uri" && it->is_string()) uris.push_back(it->get<std::string>());
        find_uris(*it);
      }
    } else if (j.is_array()) {
      for (const auto& e : j) find_uris(e);
    }
  };
  find_uris(doc);
  ASSERT_FALSE(uris.empty());
  for (const auto& u : uris) {
    EXPECT_EQ(u.find_first_of(std::string(" <>\"'\x7f", 6) + std::string(1, '\0')), std::string::npos) << u;
    EXPECT_EQ(control_chars(u), 0u) << u;
  }
}

TEST(ReportSafety, JunitIsWellFormedXml) {
  const std::string text = render("junit", hostile_run());
  ASSERT_TRUE(valid_utf8(text));
  EXPECT_EQ(control_chars(text), 0u);
  EXPECT_EQ(text.find("<script"), std::string::npos);
  EXPECT_EQ(text.find("<img"), std::string::npos);
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const fs::path file = dir.path() / "junit.xml";
  std::ofstream(file, std::ios::binary) << text;
  auto r = racegate::test::run_command({"/usr/bin/xmllint", "--noout", file.string()}, 60);
  EXPECT_EQ(r.exit_code, 0) << "xmllint rejects junit.xml:\n" << r.stderr_text;
  // The payload is text: xmllint's own reading of the file gives it back.
  auto x = racegate::test::run_command(
      {"/usr/bin/xmllint", "--xpath", "string(//failure[contains(@message, 'u1-message')]/@message)",
       file.string()},
      60);
  EXPECT_EQ(x.exit_code, 0) << x.stderr_text;
  EXPECT_NE(x.stdout_text.find("u1-message <script>document"), std::string::npos) << x.stdout_text;
}

TEST(ReportSafety, MarkdownKeepsItsTableAndShowsNoMarkup) {
  const std::string text = render("md", hostile_run());
  ASSERT_TRUE(valid_utf8(text));
  EXPECT_EQ(control_chars(text), 0u) << "a NUL or ESC would reach the terminal of whoever prints the file";
  EXPECT_EQ(text.find("\xe2\x80\xa8"), std::string::npos) << "U+2028 would break the line in some viewers";
  // Outside fenced code blocks (where GFM shows text literally) no markup of
  // the payload remains; every table row has as many unescaped pipes as its
  // header row.
  std::istringstream in(text);
  std::size_t header_pipes = 0;
  std::string line, fence;
  int rows = 0, code_lines = 0;
  while (std::getline(in, line)) {
    if (line.rfind("```", 0) == 0) {
      const std::string run = line.substr(0, line.find_first_not_of('`'));
      if (fence.empty()) {
        fence = run;
      } else if (run.size() >= fence.size() && line.find_first_not_of('`') == std::string::npos) {
        fence.clear();
      }
      continue;
    }
    if (!fence.empty()) {
      ++code_lines;
      continue;
    }
    EXPECT_EQ(line.find("<script"), std::string::npos) << line;
    EXPECT_EQ(line.find("<img"), std::string::npos) << line;
    if (line.empty() || line[0] != '|') {
      header_pipes = 0;
      continue;
    }
    std::size_t pipes = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line[i] == '\\') {
        ++i;
      } else if (line[i] == '|') {
        ++pipes;
      }
    }
    if (header_pipes == 0) {
      header_pipes = pipes;
    } else {
      EXPECT_EQ(pipes, header_pipes) << line;
      ++rows;
    }
  }
  EXPECT_GE(rows, 4);
  EXPECT_GE(code_lines, 1) << "the reproduce block was seen";
  EXPECT_TRUE(fence.empty()) << "a code block was left open";
}

TEST(ReportSafety, HtmlHasOnlyItsOwnScript) {
  const std::string text = render("html", hostile_run());
  ASSERT_TRUE(valid_utf8(text));
  EXPECT_EQ(control_chars(text), 0u);
  EXPECT_EQ(count(text, "<script"), 1u);  // the report's own
  EXPECT_EQ(count(text, "</script>"), 1u);
  EXPECT_EQ(text.find("<img"), std::string::npos);
  EXPECT_EQ(text.find("setAttribute('data-pwned'"), std::string::npos);
  EXPECT_NE(text.find("&lt;script&gt;document.documentElement.setAttribute("), std::string::npos);
  // Inside the report's own script nothing of the run appears unescaped.
  const auto script = text.substr(text.find("<script"));
  EXPECT_EQ(script.find("u0-"), std::string::npos);
}

TEST(ReportSafety, ResultsLinesAreValidJsonAndReadBack) {
  const rr::Run run = hostile_run();
  std::string text = rr::results_header_line(run.info);
  for (const auto& u : run.units) text += rr::results_unit_line(u);
  ASSERT_TRUE(valid_utf8(text));
  std::istringstream in(text);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    EXPECT_TRUE(nlohmann::json::accept(line)) << "line " << lines + 1;
    ++lines;
  }
  EXPECT_EQ(lines, 5);
  std::vector<std::string> warnings;
  rr::Run back = rr::parse_results_text(text, "results.jsonl", warnings);
  ASSERT_EQ(back.units.size(), run.units.size());
  for (std::size_t i = 0; i < run.units.size(); ++i) EXPECT_EQ(back.units[i].verdict, run.units[i].verdict);
  EXPECT_NE(back.units[0].message.find(kControls), std::string::npos);
  EXPECT_TRUE(warnings.empty());
}

}  // namespace

// Writes the hostile run's reports into argv[0] (an existing directory), for
// tests/report_safety_html.sh.
RG_CHILD_PROGRAM(write_hostile_reports) {
  if (argc < 1) {
    std::cerr << "usage: report_safety_test --racegate-child=write_hostile_reports DIR\n";
    return 2;
  }
  const rr::Run run = hostile_run();
  for (const auto& info : rr::reporters()) {
    std::cout << info.make()->write(run, rr::ReportConfig{argv[0], "/nonexistent-root"}).string() << "\n";
  }
  return 0;
}
