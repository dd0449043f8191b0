// Report writers: approval (golden) tests of every format, and targeted checks
// of what the formats promise (escaping, totals, one SARIF result per finding,
// stable output).
//
// The golden files are tests/golden/<file>.approved. The one normalisation is
// the source root (the checkout's absolute path), written as ${SOURCE_ROOT}.
// To accept new output after reviewing it:
//
//   RACEGATE_UPDATE_GOLDEN=1 build/<dir>/tests/writers_test --gtest_filter='Golden*'
//
// A mismatch leaves the received file in <build>/tests/golden-received/.
//
// The binary doubles as `writers_test --racegate-child=write_sample_reports
// DIR`, which writes the sample run's five reports into DIR for
// tests/schema_check.sh and tests/html_render_test.sh.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "racegate/reports/internal/write_common.h"
#include "racegate/reports/internal/xml_escape.h"
#include "racegate/reports/reporter.h"
#include "racegate/reports/run.h"
#include "support/child_program.h"

namespace rr = racegate::reports;
namespace ri = racegate::reports::internal;
namespace fs = std::filesystem;

namespace {

const fs::path kSourceRoot = RACEGATE_SOURCE_DIR;
const fs::path kGoldenDir = kSourceRoot / "tests" / "golden";
const fs::path kReceivedDir = fs::path(RACEGATE_TEST_BINARY_DIR) / "golden-received";
constexpr const char* kFixture = "tests/golden/source/racy_counter.cpp";
constexpr const char* kInjection = "<script>alert(\"pwned\")</script>";

std::string fixture_path() { return (kSourceRoot / kFixture).string(); }

rr::Frame frame(int index, std::string function, std::string file, int line, int column,
                std::string module, std::uint64_t offset) {
  return rr::Frame{index, std::move(function), std::move(file), line, column, std::move(module), offset};
}

// The race of tests/golden/source/racy_counter.cpp as TSan (gcc 12) reports it.
rr::Finding data_race_finding() {
  const std::string src = fixture_path();
  rr::Finding f;
  f.tool = "tsan";
  f.kind = "data-race";
  f.headline = "WARNING: ThreadSanitizer: data race (pid=4242)";
  f.summary = "SUMMARY: ThreadSanitizer: data race " + src +
              ":14 in increment(std::vector<int, std::allocator<int> >&)";
  f.location = {src, 14, 13, "increment(std::vector<int, std::allocator<int> >&)"};
  const std::string inc = "increment(std::vector<int, std::allocator<int> >&)";
  const std::string invoke = "void std::__invoke_impl<void, void (*)(int), int>(std::__invoke_other, void (*&&)(int), int&&)";
  f.stacks = {
      {"access",
       "Write of size 4 at 0x55d0c0a3e154 by thread T2:",
       {frame(0, inc, src, 14, 13, "racy_counter", 0x1a2b),
        frame(1, "worker(int)", src, 20, 37, "racy_counter", 0x1b40),
        frame(2, invoke, "/usr/include/c++/12/bits/invoke.h", 61, 36, "racy_counter", 0x1c00),
        frame(3, "", "", 0, 0, "libstdc++.so.6", 0xd44a3)}},
      {"previous-access",
       "Previous read of size 4 at 0x55d0c0a3e154 by thread T1:",
       {frame(0, inc, src, 13, 17, "racy_counter", 0x1a10),
        frame(1, "worker(int)", src, 20, 37, "racy_counter", 0x1b40),
        frame(2, invoke, "/usr/include/c++/12/bits/invoke.h", 61, 36, "racy_counter", 0x1c00)}},
      {"thread-creation",
       "Thread T2 (tid=4244, running) created by main thread at:",
       {frame(0, "pthread_create", "../../../../src/libsanitizer/tsan/tsan_interceptors_posix.cpp",
              1001, 0, "libtsan.so.2", 0x5f4b8),
        // Inside the source root but missing: its snippet is left out silently.
        frame(1, "std::thread::_M_start_thread(std::unique_ptr<std::thread::_State>, void (*)())",
              (kSourceRoot / "tests/golden/source/missing.cpp").string(), 5, 0, "libstdc++.so.6", 0xd4789),
        frame(2, "main", src, 28, 15, "racy_counter", 0x1d20)}}};
  f.threads = {"Thread T2 (tid=4244, running) created by main thread at:",
               "Thread T1 (tid=4243, finished) created by main thread at:"};
  f.pid = 4242;
  f.signature = "7c1e0b9a3f5d2e48";
  f.raw = "==================\n"
          "WARNING: ThreadSanitizer: data race (pid=4242)\n"
          "  Write of size 4 at 0x55d0c0a3e154 by thread T2:\n"
          "    #0 " + inc + " " + src + ":14 (racy_counter+0x1a2b)\n"
          "    #1 worker(int) " + src + ":20 (racy_counter+0x1b40)\n"
          "\n"
          "  Previous read of size 4 at 0x55d0c0a3e154 by thread T1:\n"
          "    #0 " + inc + " " + src + ":13 (racy_counter+0x1a10)\n"
          "    #1 worker(int) " + src + ":20 (racy_counter+0x1b40)\n"
          "\n" + f.summary + "\n==================\n";
  return f;
}

// A run with every verdict, repeats, an outcomes case, captured output with
// control characters and invalid UTF-8, and strings that need escaping in
// every syntax (<script>, &, quotes, |, newlines).
rr::Run sample_run() {
  rr::Run run;
  run.info.tool_version = "0.1.0";
  run.info.run_seed = 42;
  run.info.started_at = "2024-05-01T12:00:00Z";
  run.info.wall_seconds = 4.5;
  run.info.variants = {"plain", "tsan", "asan"};
  run.info.command_line = "racegate run --repeat 2 --filter 'counter.*|queue.*' --out out";
  run.info.source_root = kSourceRoot.string();

  auto unit = [&](std::string case_id, std::string variant, rr::Verdict v, double seconds) {
    rr::UnitResult u;
    u.case_id = std::move(case_id);
    u.variant = std::move(variant);
    u.verdict = v;
    u.wall_seconds = seconds;
    u.seed = 1000 + run.units.size();
    u.binary = (kSourceRoot / "build/default/cases/racegate-cases").string();
    u.expectation = "holds";
    u.trials_requested = 100;
    u.trials_run = 100;
    u.exit_code = 0;
    u.replay_command = "racegate replay --case " + u.case_id + " --variant " + u.variant +
                       " --seed " + std::to_string(u.seed);
    return u;
  };

  {  // ERROR, listed first so that sorting is visible.
    auto u = unit("manager.dict_proxy", "plain", rr::Verdict::kError, 0.002);
    u.message = "cannot start racegate-cases: No such file or directory";
    u.exit_code = 127;
    u.trials_run = 0;
    u.stderr_text = "\x1b[31merror\x1b[0m: exec failed; bad byte \xff here\r\n";
    run.units.push_back(u);
  }
  {  // PASS
    auto u = unit("lock.mutual_exclusion", "plain", rr::Verdict::kPass, 0.12);
    u.title = "Lock excludes other holders";
    u.message = "property held in 100 trials";
    u.stdout_text = "OK, passed 100 tests\n";
    run.units.push_back(u);
  }
  {  // FAIL with counterexample and reproduce string, and an injection everywhere.
    auto u = unit("queue.fifo_order", "plain", rr::Verdict::kFail, 0.31);
    u.title = std::string("Queue is FIFO ") + kInjection;
    u.message = std::string("expected 1 & got 2 | \"quoted\" 'single' ") + kInjection +
                "\nsecond line";
    u.counterexample = "[put(1), put(2), get() -> 2]\nqueue: <1, 2> & \"more\"";
    u.reproduce = "RC_PARAMS=\"reproduce=BAhxdWV1ZS5maWZvX29yZGVy\"";
    u.exit_code = 1;
    u.trials_run = 17;
    u.stdout_text = std::string("Falsifiable after 17 tests ") + kInjection + "\n";
    run.units.push_back(u);
  }
  {  // RACE with a two-stack data race.
    auto u = unit("counter.locked", "tsan", rr::Verdict::kRace, 0.84);
    u.title = "Counter under a Lock loses no update";
    u.message = "unexpected ThreadSanitizer data race in increment()";
    u.exit_code = 66;
    u.findings = {data_race_finding()};
    // Not the raw report: its paths contain the checkout's location, and the
    // golden files must not depend on where the repository is cloned.
    u.stderr_text = "WARNING: ThreadSanitizer: data race (pid=4242)\nSUMMARY: ThreadSanitizer: data race\n";
    run.units.push_back(u);
  }
  {  // MISSED canary (repeat 0) and the same canary seeing its race (repeat 1).
    auto u = unit("counter.unlocked_race", "tsan", rr::Verdict::kMissed, 0.91);
    u.expectation = "race-expected";
    u.race_site = "g_counter";
    u.message = "expected a data race on g_counter; ThreadSanitizer reported none in 8 trials";
    u.trials_requested = 8;
    u.trials_run = 8;
    run.units.push_back(u);
    auto seen = unit("counter.unlocked_race", "tsan", rr::Verdict::kPass, 0.95);
    seen.repeat = 1;
    seen.expectation = "race-expected";
    seen.race_site = "g_counter";
    seen.message = "expected race on g_counter seen";
    seen.trials_requested = 8;
    seen.trials_run = 3;
    seen.exit_code = 66;
    rr::Finding f = data_race_finding();
    f.stacks.resize(2);
    f.stacks[0].frames.resize(2);
    f.stacks[1].frames.resize(2);
    f.signature = "0d4f6a2b9c8e1f37";
    f.headline = "WARNING: ThreadSanitizer: data race (pid=4250)";
    f.pid = 4250;
    f.threads.clear();
    seen.findings = {f};
    run.units.push_back(seen);
  }
  {  // TIMEOUT with the stacks of every thread.
    auto u = unit("pool.worker_dies", "plain", rr::Verdict::kTimeout, 30.004);
    u.message = "no result after 30 s; killed";
    u.exit_code.reset();
    u.signal = 9;
    u.trials_run = 0;
    u.hang_stacks =
        "Thread 2 (LWP 5102):\n#0  futex_wait (private=0, expected=2, futex_word=0x7f...) at "
        "../sysdeps/nptl/futex-internal.h:146\n#1  racegate::mp::Pool::join() at reference/src/pool.cpp:212\n"
        "Thread 1 (LWP 5101):\n#0  0x00007f... in __GI___wait4 ()\n";
    run.units.push_back(u);
  }
  {  // CRASH by signal.
    auto u = unit("process.exitcode_signal", "asan", rr::Verdict::kCrash, 0.05);
    u.message = "killed by SIGSEGV";
    u.exit_code.reset();
    u.signal = 11;
    u.stderr_text = "AddressSanitizer:DEADLYSIGNAL\n";
    u.stderr_truncated = true;
    run.units.push_back(u);
  }
  {  // An outcomes case with its histogram.
    auto u = unit("value.lost_update", "plain", rr::Verdict::kPass, 1.5);
    u.expectation = "outcomes";
    u.message = "no forbidden outcome in 10000 trials";
    u.trials_requested = 10000;
    u.trials_run = 10000;
    u.outcomes = {{"final=2", "acceptable", 9000},
                  {"final=1 (lost update)", "interesting", 1000},
                  {"final<1 & \"impossible\"", "forbidden", 0}};
    run.units.push_back(u);
  }
  {  // The same passing case in another variant.
    auto u = unit("lock.mutual_exclusion", "tsan", rr::Verdict::kPass, 0.4);
    u.message = "property held in 100 trials";
    run.units.push_back(u);
  }
  {  // Another implementation, with a check skipped by a declared difference.
    auto u = unit("lock.release_unlocked@std.mutex", "plain", rr::Verdict::kPass, 0.1);
    u.message = "property held in 10 trials";
    u.skipped_checks = {{"release of an unlocked lock raises <RuntimeError>",
                         "std::mutex::unlock() without a lock is undefined behavior | not an error"}};
    run.units.push_back(u);
  }
  run.info.catalog_path = (kGoldenDir / "catalog" / "behavior-catalog.md").string();
  return run;
}

rr::ReportConfig config_for(const fs::path& out_dir) {
  rr::ReportConfig c;
  c.out_dir = out_dir;
  c.source_root = kSourceRoot;
  return c;
}

std::string render(const std::string& name, const rr::Run& run) {
  auto reporter = rr::make_reporter(name);
  if (!reporter) throw std::runtime_error("no reporter " + name);
  return reporter->render(run, config_for(fs::temp_directory_path()));
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (std::size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) {
    s.replace(pos, from.size(), to);
  }
}

// The only thing that differs between checkouts: where the checkout is.
std::string normalize(std::string text) {
  replace_all(text, ri::file_uri(kSourceRoot), "file://${SOURCE_ROOT}");
  replace_all(text, kSourceRoot.string(), "${SOURCE_ROOT}");
  return text;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t pos = 0; (pos = haystack.find(needle, pos)) != std::string::npos; pos += needle.size()) ++n;
  return n;
}

// ---------------------------------------------------------------------------
// Approval tests.

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, MatchesApprovedFile) {
  auto reporter = rr::make_reporter(GetParam());
  ASSERT_NE(reporter, nullptr) << GetParam();
  const std::string received = normalize(reporter->render(sample_run(), config_for(kReceivedDir)));
  const fs::path approved = kGoldenDir / (reporter->file_name() + ".approved");
  const char* update = std::getenv("RACEGATE_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    rr::write_file_atomically(approved, received);
    std::cout << "updated " << approved << "\n";
    return;
  }
  ASSERT_TRUE(fs::exists(approved)) << approved << " is missing; run with RACEGATE_UPDATE_GOLDEN=1";
  const std::string expected = read_file(approved);
  if (received == expected) return;
  fs::create_directories(kReceivedDir);
  const fs::path got = kReceivedDir / (reporter->file_name() + ".received");
  rr::write_file_atomically(got, received);
  // Point at the first difference.
  std::istringstream a(expected), b(received);
  std::string la, lb;
  int line = 0;
  while (true) {
    ++line;
    bool ha = static_cast<bool>(std::getline(a, la)), hb = static_cast<bool>(std::getline(b, lb));
    if (!ha && !hb) break;
    if (ha != hb || la != lb) break;
  }
  FAIL() << reporter->file_name() << " differs from " << approved << " at line " << line
         << "\n  approved: " << la << "\n  received: " << lb << "\nreceived file: " << got
         << "\ndiff -u " << approved << " " << got
         << "\nIf the change is intended, review it and rerun with RACEGATE_UPDATE_GOLDEN=1.";
}

INSTANTIATE_TEST_SUITE_P(Writers, Golden, ::testing::Values("json", "junit", "sarif", "md", "html"),
                         [](const auto& info) { return info.param; });

// ---------------------------------------------------------------------------
// The registry.

TEST(Writers, AllFormatsAreRegistered) {
  std::map<std::string, std::string> expected = {{"html", "report.html"},
                                                 {"json", "report.json"},
                                                 {"junit", "junit.xml"},
                                                 {"md", "summary.md"},
                                                 {"sarif", "racegate.sarif"}};
  std::set<std::string> names;
  for (const auto& info : rr::reporters()) {
    names.insert(info.name);
    EXPECT_FALSE(info.description.empty()) << info.name;
  }
  for (const auto& [name, file] : expected) {
    EXPECT_TRUE(names.count(name)) << name;
    auto r = rr::make_reporter(name);
    ASSERT_NE(r, nullptr) << name;
    EXPECT_EQ(r->file_name(), file);
  }
}

TEST(Writers, WriteLandsInOutDir) {
  auto dir = fs::temp_directory_path() / ("racegate-writers-" + std::to_string(getpid()));
  fs::create_directories(dir);
  auto path = rr::make_reporter("md")->write(sample_run(), config_for(dir));
  EXPECT_EQ(path, dir / "summary.md");
  EXPECT_EQ(read_file(path), render("md", sample_run()));
  fs::remove_all(dir);
}

// Reports sort what has no meaningful order, so the order in which units
// finished does not show (report.json keeps the run's order: it is the data).
TEST(Writers, OutputDoesNotDependOnFinishingOrder) {
  rr::Run run = sample_run();
  rr::Run reversed = run;
  std::reverse(reversed.units.begin(), reversed.units.end());
  for (const char* name : {"junit", "sarif", "md", "html"}) {
    EXPECT_EQ(render(name, run), render(name, reversed)) << name;
    EXPECT_EQ(render(name, run), render(name, run)) << name;
  }
}

TEST(Writers, EmptyRunRenders) {
  rr::Run run;
  for (const auto& info : rr::reporters()) {
    std::string out;
    EXPECT_NO_THROW(out = info.make()->render(run, rr::ReportConfig{}));
    EXPECT_FALSE(out.empty()) << info.name;
  }
}

// ---------------------------------------------------------------------------
// JSON

TEST(JsonReport, IsTheRunAndRoundTrips) {
  const rr::Run run = sample_run();
  auto j = nlohmann::json::parse(render("json", run));
  EXPECT_EQ(j.at("schema"), "racegate-run/1");
  EXPECT_EQ(j.at("verdict"), "ERROR");
  EXPECT_EQ(j.at("units").size(), run.units.size());
  // Invalid UTF-8 in captured output became U+FFFD instead of failing.
  EXPECT_NE(j.at("units").at(0).at("stderr").get<std::string>().find("\xEF\xBF\xBD"), std::string::npos);
  rr::Run back = j.get<rr::Run>();
  EXPECT_EQ(back.units.size(), run.units.size());
  EXPECT_EQ(back.units.at(3).findings.at(0).signature, "7c1e0b9a3f5d2e48");
}

// ---------------------------------------------------------------------------
// JUnit

int attr_int(const std::string& tag, const std::string& name) {
  std::smatch m;
  std::regex re(" " + name + "=\"([0-9]+)\"");
  if (!std::regex_search(tag, m, re)) return -1;
  return std::stoi(m[1]);
}

TEST(JunitReport, FailureCountsEqualNonPassUnits) {
  const rr::Run run = sample_run();
  const std::string xml = render("junit", run);
  const int non_pass = static_cast<int>(std::count_if(run.units.begin(), run.units.end(),
                                                      [](const auto& u) { return u.verdict != rr::Verdict::kPass; }));
  ASSERT_EQ(non_pass, 6);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(xml, m, std::regex("<testsuites[^>]*>")));
  const std::string root = m.str();
  EXPECT_EQ(attr_int(root, "tests"), static_cast<int>(run.units.size()));
  EXPECT_EQ(attr_int(root, "failures") + attr_int(root, "errors"), non_pass);
  EXPECT_EQ(attr_int(root, "failures"), 3);  // FAIL, RACE, MISSED
  EXPECT_EQ(attr_int(root, "errors"), 3);    // TIMEOUT, CRASH, ERROR
  EXPECT_EQ(static_cast<int>(count(xml, "<failure ") + count(xml, "<error ")), non_pass);
  EXPECT_EQ(count(xml, "<testcase "), run.units.size());
  EXPECT_EQ(count(xml, "<skipped"), 0u);

  // Suite totals add up to the root's.
  int tests = 0, failures = 0, errors = 0, suites = 0;
  const std::regex suite_re("<testsuite [^>]*>");
  for (auto it = std::sregex_iterator(xml.begin(), xml.end(), suite_re); it != std::sregex_iterator(); ++it) {
    ++suites;
    tests += attr_int(it->str(), "tests");
    failures += attr_int(it->str(), "failures");
    errors += attr_int(it->str(), "errors");
  }
  EXPECT_EQ(suites, 3);  // plain, tsan, asan
  EXPECT_EQ(tests, static_cast<int>(run.units.size()));
  EXPECT_EQ(failures + errors, non_pass);
}

TEST(JunitReport, FailureTextCarriesWhatIsNeededToReproduce) {
  const std::string xml = render("junit", sample_run());
  EXPECT_NE(xml.find("type=\"FAIL\""), std::string::npos);
  EXPECT_NE(xml.find("counterexample:\n[put(1), put(2), get() -&gt; 2]"), std::string::npos);
  EXPECT_NE(xml.find("reproduce: RC_PARAMS=&quot;reproduce=BAhxdWV1ZS5maWZvX29yZGVy&quot;"), std::string::npos);
  EXPECT_NE(xml.find("replay: racegate replay --case queue.fifo_order"), std::string::npos);
  EXPECT_NE(xml.find("WARNING: ThreadSanitizer: data race (pid=4242)"), std::string::npos);
  // The message attribute keeps its newline as a reference.
  EXPECT_NE(xml.find("&lt;/script&gt;&#10;second line\" type=\"FAIL\""), std::string::npos);
  EXPECT_EQ(xml.find(kInjection), std::string::npos);
  // ESC and an invalid byte from captured stderr are made visible and valid.
  EXPECT_NE(xml.find("\\x1b[31merror\\x1b[0m: exec failed; bad byte \xEF\xBF\xBD here&#13;"), std::string::npos);
  EXPECT_EQ(xml.find('\x1b'), std::string::npos);
}

// ---------------------------------------------------------------------------
// SARIF

TEST(SarifReport, OneResultPerFindingOrFailingVerdict) {
  const rr::Run run = sample_run();
  const auto sarif = nlohmann::json::parse(render("sarif", run));
  EXPECT_EQ(sarif.at("version"), "2.1.0");
  ASSERT_EQ(sarif.at("runs").size(), 1u);
  const auto& srun = sarif.at("runs").at(0);
  EXPECT_EQ(srun.at("tool").at("driver").at("name"), "racegate");

  std::multiset<std::string> signatures;
  std::size_t expected_results = 0;
  for (const auto& u : run.units) {
    for (const auto& f : u.findings) signatures.insert(f.signature);
    expected_results += u.findings.size();
    if (u.verdict != rr::Verdict::kPass && !(u.verdict == rr::Verdict::kRace && !u.findings.empty())) {
      ++expected_results;
    }
  }
  const auto& results = srun.at("results");
  EXPECT_EQ(results.size(), expected_results);
  EXPECT_EQ(results.size(), 7u);  // 2 findings + FAIL, MISSED, TIMEOUT, CRASH, ERROR

  const auto& rules = srun.at("tool").at("driver").at("rules");
  std::vector<std::string> rule_ids;
  for (const auto& r : rules) rule_ids.push_back(r.at("id"));
  EXPECT_TRUE(std::is_sorted(rule_ids.begin(), rule_ids.end()));
  EXPECT_EQ(std::set<std::string>(rule_ids.begin(), rule_ids.end()).size(), rule_ids.size());
  EXPECT_EQ(rule_ids, (std::vector<std::string>{"tsan/data-race", "verdict/CRASH", "verdict/ERROR",
                                                "verdict/FAIL", "verdict/MISSED", "verdict/TIMEOUT"}));

  std::multiset<std::string> fingerprints;
  for (const auto& r : results) {
    EXPECT_EQ(rules.at(r.at("ruleIndex").get<std::size_t>()).at("id"), r.at("ruleId"));
    EXPECT_EQ(r.at("locations").size(), 1u);
    if (r.at("ruleId") == "tsan/data-race") {
      fingerprints.insert(r.at("partialFingerprints").at("racegateSignature/v1").get<std::string>());
    }
  }
  EXPECT_EQ(fingerprints, signatures);
}

TEST(SarifReport, RaceIsLocatedAtTheUserFrameWithBothStacksAsThreadFlows) {
  const auto sarif = nlohmann::json::parse(render("sarif", sample_run()));
  const auto& srun = sarif.at("runs").at(0);
  EXPECT_EQ(srun.at("originalUriBaseIds").at("SRCROOT").at("uri"), ri::file_uri(kSourceRoot) + "/");
  const nlohmann::json* race = nullptr;
  const nlohmann::json* expected = nullptr;
  for (const auto& r : srun.at("results")) {
    if (r.at("ruleId") != "tsan/data-race") continue;
    (r.at("level") == "error" ? race : expected) = &r;
  }
  ASSERT_NE(race, nullptr);
  ASSERT_NE(expected, nullptr);
  const auto& phys = race->at("locations").at(0).at("physicalLocation");
  EXPECT_EQ(phys.at("artifactLocation").at("uri"), kFixture);
  EXPECT_EQ(phys.at("artifactLocation").at("uriBaseId"), "SRCROOT");
  EXPECT_EQ(phys.at("region").at("startLine"), 14);
  EXPECT_EQ(phys.at("region").at("startColumn"), 13);
  const auto& flows = race->at("codeFlows").at(0).at("threadFlows");
  ASSERT_EQ(flows.size(), 2u);
  EXPECT_EQ(flows.at(0).at("message").at("text"), "Write of size 4 at 0x55d0c0a3e154 by thread T2:");
  EXPECT_EQ(flows.at(1).at("message").at("text"), "Previous read of size 4 at 0x55d0c0a3e154 by thread T1:");
  // Execution order: the innermost frame (the access) comes last.
  EXPECT_EQ(flows.at(0).at("locations").back().at("location").at("physicalLocation").at("region").at("startLine"), 14);
  EXPECT_EQ(race->at("stacks").size(), 3u);
  EXPECT_EQ(race->at("stacks").at(0).at("frames").at(0).at("location").at("physicalLocation").at("region").at("startLine"), 14);
  // A frame outside the source root keeps an absolute file URI.
  EXPECT_EQ(race->at("stacks").at(0).at("frames").at(2).at("location").at("physicalLocation").at("artifactLocation").at("uri"),
            "file:///usr/include/c%2B%2B/12/bits/invoke.h");
  // The canary's expected race is a suppressed note, not an error.
  EXPECT_EQ(expected->at("level"), "note");
  EXPECT_EQ(expected->at("suppressions").at(0).at("status"), "accepted");
}

TEST(SarifReport, VerdictWithoutLocationIsAtTheCase) {
  const auto sarif = nlohmann::json::parse(render("sarif", sample_run()));
  int missed = 0;
  for (const auto& r : sarif.at("runs").at(0).at("results")) {
    if (r.at("ruleId") != "verdict/MISSED") continue;
    ++missed;
    const auto& loc = r.at("locations").at(0);
    EXPECT_FALSE(loc.contains("physicalLocation"));
    EXPECT_EQ(loc.at("logicalLocations").at(0).at("fullyQualifiedName"), "counter.unlocked_race");
    EXPECT_EQ(r.at("level"), "error");
  }
  EXPECT_EQ(missed, 1);
}

// ---------------------------------------------------------------------------
// Markdown

// Cells of a table row, split at pipes that are not escaped.
std::vector<std::string> md_cells(const std::string& row) {
  std::vector<std::string> cells;
  std::string cell;
  for (std::size_t i = 0; i < row.size(); ++i) {
    if (row[i] == '\\' && i + 1 < row.size()) {
      cell += row.substr(i, 2);
      ++i;
    } else if (row[i] == '|') {
      cells.push_back(cell);
      cell.clear();
    } else {
      cell += row[i];
    }
  }
  cells.push_back(cell);
  return cells;
}

TEST(MarkdownReport, FailuresFirstAndCellsEscaped) {
  const std::string md = render("md", sample_run());
  std::istringstream in(md);
  std::string line;
  std::vector<std::string> rows;
  bool in_units = false;
  while (std::getline(in, line)) {
    if (line.rfind("| Case |", 0) == 0) in_units = true;
    else if (in_units && line.rfind("|", 0) == 0) rows.push_back(line);
    else if (in_units) break;
  }
  ASSERT_EQ(rows.size(), 1 + sample_run().units.size());  // the |---| rule and one row per unit
  std::vector<std::string> verdicts;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    auto cells = md_cells(rows[i]);
    ASSERT_EQ(cells.size(), 7u) << rows[i];  // 5 cells between 6 pipes
    verdicts.push_back(cells[3]);
  }
  EXPECT_EQ(verdicts.front(), " **ERROR** ");
  EXPECT_EQ(verdicts.back(), " PASS ");
  EXPECT_NE(md.find("expected 1 &amp; got 2 \\| \"quoted\" 'single' &lt;script&gt;alert(\"pwned\")&lt;/script&gt;<br>second line"),
            std::string::npos);
  EXPECT_EQ(md.find(kInjection), std::string::npos);
  EXPECT_NE(md.find("| 5 | 1 | 1 | 1 | 1 | 1 | 1 |"), std::string::npos);  // counts per verdict
}

TEST(MarkdownReport, ListsSkippedChecksOnce) {
  const std::string md = render("md", sample_run());
  EXPECT_NE(md.find("### Checks skipped by a declared difference"), std::string::npos);
  EXPECT_NE(md.find("| lock.release_unlocked@std.mutex | release of an unlocked lock raises &lt;RuntimeError&gt; | "
                    "std::mutex::unlock() without a lock is undefined behavior \\| not an error |"),
            std::string::npos)
      << md;
}

// ---------------------------------------------------------------------------
// HTML

TEST(HtmlReport, GroupsCasesByAreaAndLinksTheCatalog) {
  const rr::Run run = sample_run();
  const std::string html = render("html", run);
  // Areas in the catalog's order, each a heading with its case count.
  const auto lock = html.find("id=\"area-lock\"");
  const auto other = html.find("id=\"area-other\"");
  ASSERT_NE(lock, std::string::npos);
  ASSERT_NE(other, std::string::npos);  // the sample's queue.* and value.* ids are in no report area
  EXPECT_LT(lock, other);
  // Every case of the run is linked to its catalog entry, embedded in the page.
  EXPECT_NE(html.find("href=\"#cat-lock.release_unlocked\""), std::string::npos);
  EXPECT_NE(html.find("id=\"cat-lock.release_unlocked\""), std::string::npos);
  EXPECT_NE(html.find("id=\"cat-lock.mutual_exclusion\""), std::string::npos);
  // The entry text is shown as text, never as markup.
  EXPECT_NE(html.find("&lt;b&gt;markup&lt;/b&gt; &amp; &quot;quotes&quot;"), std::string::npos);
  EXPECT_EQ(html.find("<b>markup</b>"), std::string::npos);
  // A seed document that exists beside the catalog is a relative link; one that does not is text.
  EXPECT_NE(html.find("seeds/001_0000000000000000.txt\">001_0000000000000000.txt</a>"), std::string::npos);
  EXPECT_EQ(html.find("002_0000000000000000.txt</a>"), std::string::npos);
  EXPECT_NE(html.find("002_0000000000000000.txt"), std::string::npos);
  // The implementation column and the skipped check.
  EXPECT_NE(html.find("<td>std.mutex</td>"), std::string::npos);
  EXPECT_NE(html.find("Checks skipped by a declared difference"), std::string::npos);
  // Without a readable catalog the page still groups by area.
  rr::Run bare = run;
  bare.info.catalog_path = "/nonexistent/behavior-catalog.md";
  const std::string plain = render("html", bare);
  EXPECT_NE(plain.find("id=\"area-lock\""), std::string::npos);
  EXPECT_EQ(plain.find("id=\"cat-"), std::string::npos);
}

TEST(HtmlReport, EverythingFromTheRunIsEscaped) {
  const std::string html = render("html", sample_run());
  EXPECT_EQ(html.find(kInjection), std::string::npos);
  EXPECT_EQ(html.find("alert(\"pwned\")"), std::string::npos);
  EXPECT_EQ(count(html, "<script"), 1u);  // the report's own, at the end
  EXPECT_EQ(count(html, "</script>"), 1u);
  EXPECT_NE(html.find("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("increment(std::vector&lt;int, std::allocator&lt;int&gt; &gt;&amp;)"), std::string::npos);
  EXPECT_NE(html.find("final&lt;1 &amp; &quot;impossible&quot;"), std::string::npos);  // SVG label
  EXPECT_EQ(html.find('\x1b'), std::string::npos);
  // Self-contained: nothing is loaded from anywhere.
  for (const char* external : {"src=", "<link", "url(", "@import", "http://", "https://"}) {
    std::string needle = external;
    if (needle == "http://") {
      // Only the SVG namespace may name a URL.
      EXPECT_EQ(count(html, needle), count(html, "xmlns=\"http://www.w3.org/2000/svg\"")) << needle;
    } else {
      EXPECT_EQ(html.find(needle), std::string::npos) << needle;
    }
  }
}

TEST(HtmlReport, ShowsBothRaceStacksWithSourceSnippets) {
  const std::string html = render("html", sample_run());
  EXPECT_NE(html.find("Write of size 4 at 0x55d0c0a3e154 by thread T2:"), std::string::npos);
  EXPECT_NE(html.find("Previous read of size 4 at 0x55d0c0a3e154 by thread T1:"), std::string::npos);
  // The fixture's racy line, highlighted, with its neighbours.
  EXPECT_NE(html.find("<span class=\"line hit\"><span class=\"ln\">14</span>  g_counter = g_counter + 1;  // racy read-modify-write</span>"),
            std::string::npos);
  EXPECT_NE(html.find("<span class=\"ln\">12</span>void increment(std::vector&lt;int&gt;&amp; log) {"), std::string::npos);
  // main() at line 28 of the creation stack.
  EXPECT_NE(html.find("<span class=\"line hit\"><span class=\"ln\">28</span>  std::thread t2(worker, 1000);</span>"),
            std::string::npos);
  // Frames outside the root or in missing files show no snippet.
  EXPECT_EQ(count(html, "<pre class=\"snippet\">"), 9u);  // 2+2 (race) + 1 (creation) + 4 (canary)
  EXPECT_NE(html.find("<svg class=\"histogram\""), std::string::npos);
  EXPECT_NE(html.find("id=\"verdict-table\""), std::string::npos);
}

TEST(HtmlReport, UnreadableSourceRootIsSkippedSilently) {
  rr::ReportConfig config;
  config.source_root = "/nonexistent/racegate-root";
  rr::Run run = sample_run();
  run.info.source_root.clear();
  std::string html;
  ASSERT_NO_THROW(html = rr::make_reporter("html")->render(run, config));
  EXPECT_EQ(count(html, "<pre class=\"snippet\">"), 0u);
  EXPECT_NE(html.find("Write of size 4 at 0x55d0c0a3e154 by thread T2:"), std::string::npos);
}

TEST(HtmlReport, SnippetsNeverComeFromOutsideTheRoot) {
  rr::Run run = sample_run();
  // A frame that climbs out of the root must not be read.
  run.units.at(3).findings.at(0).stacks.at(0).frames.at(0).file = "../../../../../../etc/passwd";
  run.units.at(3).findings.at(0).stacks.at(0).frames.at(0).line = 1;
  const std::string html = render("html", run);
  EXPECT_EQ(html.find("root:"), std::string::npos);
}

// ---------------------------------------------------------------------------
// The shared escaping writer.

TEST(MarkupWriter, EscapesTextAndAttributes) {
  EXPECT_EQ(ri::xml_escape("a<b>&\"c\"'d'"), "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;");
  EXPECT_EQ(ri::xml_escape("l1\nl2\tx\r"), "l1\nl2\tx&#13;");
  EXPECT_EQ(ri::xml_escape("l1\nl2\tx", /*in_attribute=*/true), "l1&#10;l2&#9;x");
  EXPECT_EQ(ri::xml_escape(std::string("nul\0bel\x07" "del\x7f", 12)), "nul\\x00bel\\x07del\\x7f");
  EXPECT_EQ(ri::xml_escape("bad \xff\xfe end"), "bad \xEF\xBF\xBD\xEF\xBF\xBD end");
  EXPECT_EQ(ri::xml_escape("overlong \xc0\xaf"), "overlong \xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(ri::xml_escape("surrogate \xed\xa0\x80"), "surrogate \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(ri::xml_escape("noncharacter \xef\xbf\xbf"), "noncharacter \xEF\xBF\xBD");
  EXPECT_EQ(ri::xml_escape("ok \xc3\xa9 \xe2\x80\xa6 \xf0\x9f\x90\x9b"), "ok \xc3\xa9 \xe2\x80\xa6 \xf0\x9f\x90\x9b");
  EXPECT_EQ(ri::xml_escape("cut \xe2\x80"), "cut \xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(MarkupWriter, XmlLayout) {
  ri::MarkupWriter w(ri::MarkupWriter::Syntax::kXml);
  w.open("a").attr("x", "1&2").open("b").close().open("c").text("t<").open("d").text("in").close().close();
  EXPECT_EQ(std::move(w).finish(), "<a x=\"1&amp;2\">\n  <b/>\n  <c>t&lt;<d>in</d></c>\n</a>\n");
}

TEST(MarkupWriter, HtmlVoidAndEmptyElements) {
  ri::MarkupWriter w(ri::MarkupWriter::Syntax::kHtml);
  w.open("p", ri::MarkupWriter::Layout::kInline).open("br").close().open("span").close().close();
  EXPECT_EQ(std::move(w).finish(), "<p><br><span></span></p>\n");
}

TEST(MarkupWriter, MisuseIsALogicError) {
  ri::MarkupWriter w(ri::MarkupWriter::Syntax::kHtml);
  EXPECT_THROW(w.close(), std::logic_error);
  EXPECT_THROW(w.open("bad tag"), std::logic_error);
  w.open("script");
  EXPECT_THROW(w.text("alert(1)"), std::logic_error);
  w.close();
  w.open("p").text("x");
  EXPECT_THROW(w.attr("class", "late"), std::logic_error);
  EXPECT_THROW(w.attr("on click", "x"), std::logic_error);
}

TEST(WriteCommon, PathsRelativeToTheRoot) {
  EXPECT_EQ(ri::display_path("/src/r/a/b.cpp", "/src/r"), "a/b.cpp");
  EXPECT_EQ(ri::display_path("/src/r/./a/../b.cpp", "/src/r"), "b.cpp");
  EXPECT_EQ(ri::display_path("/src/other/b.cpp", "/src/r"), "/src/other/b.cpp");
  EXPECT_EQ(ri::display_path("/src/rx/b.cpp", "/src/r"), "/src/rx/b.cpp");
  EXPECT_EQ(ri::display_path("a/b.cpp", "/src/r"), "a/b.cpp");
  EXPECT_FALSE(ri::is_inside_root("../x.cpp", "/src/r"));
  EXPECT_FALSE(ri::is_inside_root("/src/r", "/src/r"));
  EXPECT_FALSE(ri::is_inside_root("", "/src/r"));
  EXPECT_EQ(ri::file_uri("/a b/c++.cpp"), "file:///a%20b/c%2B%2B.cpp");
  rr::ReportConfig c;
  c.source_root = "/src/r/";
  EXPECT_EQ(ri::source_root_of(rr::Run{}, c), fs::path("/src/r"));
}

// racegate run --explore: every format shows each explored unit's figures,
// passing units included, with what comes from the run escaped; a gate's
// run.explore likewise.
rr::Run explored_run() {
  rr::Run run = sample_run();
  for (auto& u : run.units) {
    if (u.verdict != rr::Verdict::kPass && u.verdict != rr::Verdict::kFail) continue;
    nlohmann::json x = {{"mode", "pct"}, {"runs", 50}, {"runs_requested", 50}, {"failed_runs", 3},
                        {"outcomes", {{"pass", 47}, {"fail", 3}}}, {"threads", 2}, {"steps", 12}, {"depth", 1},
                        {"miss_bound", 0.25}, {"slice_preemptions", 4}, {"first_failing_outcome", "fail"},
                        {"first_failing_token", "case=<b>x</b>,variant=plain,case_seed=1,trials=1,mode=pct,seed=9"}};
    u.explore_json = x.dump();
  }
  return run;
}

TEST(ExploreReports, EveryFormatShowsTheExploration) {
  const rr::Run run = explored_run();
  const std::string md = render("md", run), html = render("html", run), junit = render("junit", run);
  EXPECT_NE(md.find("### Exploration"), std::string::npos);
  EXPECT_NE(md.find("miss bound 0.25"), std::string::npos) << md;
  EXPECT_NE(html.find("<h4>Exploration</h4>"), std::string::npos);
  EXPECT_NE(html.find("case=&lt;b&gt;x&lt;/b&gt;,variant=plain"), std::string::npos);
  EXPECT_EQ(html.find("<b>x</b>"), std::string::npos);
  EXPECT_NE(junit.find("[racegate] exploration: miss bound: 0.25"), std::string::npos);
  EXPECT_NE(junit.find("case=&lt;b&gt;x&lt;/b&gt;"), std::string::npos);
  EXPECT_EQ(junit.find("<b>x</b>"), std::string::npos);
  const auto sarif = nlohmann::json::parse(render("sarif", run));
  const auto& units = sarif["runs"][0]["properties"]["exploredUnits"];
  ASSERT_TRUE(units.is_array());
  EXPECT_EQ(units.size(), static_cast<std::size_t>(std::count_if(run.units.begin(), run.units.end(), [](const auto& u) {
              return !u.explore_json.empty();
            })));
  EXPECT_EQ(units[0]["explore"]["miss_bound"], 0.25);
  // The JSON report round-trips the unit's object.
  const auto j = nlohmann::json::parse(render("json", run));
  std::size_t with = 0;
  for (const auto& u : j["units"]) with += u.contains("explore") ? 1 : 0;
  EXPECT_EQ(with, units.size());
}

TEST(ExploreReports, TheGatesExplorationIsShown) {
  rr::Run run;
  run.info.mode = "gate";
  run.info.explore_json = R"({"mode":"noise","runs":5,"failed_runs":0,"outcomes":{"pass":5},"threads_max":3})";
  rr::UnitResult u;
  u.case_id = "gate";
  u.variant = "command";
  u.verdict = rr::Verdict::kPass;
  run.units.push_back(u);
  EXPECT_NE(render("html", run).find("<h4>Exploration</h4>"), std::string::npos);
  EXPECT_NE(render("junit", run).find("[racegate] exploration: threads n: 3"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(render("sarif", run))["runs"][0]["properties"]["explore"]["runs"], 5);
}

TEST(WriteCommon, CapOutputKeepsHeadAndTail) {
  std::string text(1000, 'a');
  text += std::string(1000, 'z');
  std::string capped = ri::cap_output(text, 400, false);
  EXPECT_EQ(capped.substr(0, 100), std::string(100, 'a'));
  EXPECT_NE(capped.find("[... racegate: 1600 bytes left out ...]\n"), std::string::npos);
  EXPECT_EQ(capped.substr(capped.size() - 300), std::string(300, 'z'));
  EXPECT_EQ(ri::cap_output("short", 400, true), "short\n[... racegate: output was truncated when captured ...]\n");
  EXPECT_EQ(ri::truncate_utf8("\xc3\xa9\xc3\xa9", 3), "\xc3\xa9");
}

}  // namespace

// Writes the sample run's reports into argv[0] (a directory that exists), for
// the schema and browser checks.
RG_CHILD_PROGRAM(write_sample_reports) {
  if (argc < 1) {
    std::cerr << "usage: writers_test --racegate-child=write_sample_reports DIR\n";
    return 2;
  }
  const rr::Run run = sample_run();
  for (const auto& info : rr::reporters()) {
    std::cout << info.make()->write(run, config_for(argv[0])).string() << "\n";
  }
  return 0;
}
