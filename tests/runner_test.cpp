// End-to-end tests of `racegate run` over the misbehaving cases: each ends
// in the right verdict in every report, and nothing of the run is left.
#include <chrono>
#include <csignal>
#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/child_program.h"
#include "support/processes.h"

namespace fs = std::filesystem;
using racegate::test::processes_running;
using racegate::test::run_command;
using racegate::test::slurp;

namespace {

std::string variant() {
  auto r = run_command({RACEGATE_MISBEHAVING, "--list", "--json"}, 60);
  auto j = nlohmann::json::parse(r.stdout_text);
  return j.at(0).at("variant");
}

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    out_ = fs::temp_directory_path() / ("racegate-runner-test-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(out_);
  }
  void TearDown() override { fs::remove_all(out_); }
  fs::path out_;
};

}  // namespace

TEST_F(RunnerTest, MisbehavingCasesGetTheirVerdicts) {
  const std::string v = variant();
  auto r = run_command({RACEGATE_RUNNER, "run", "--binary", RACEGATE_MISBEHAVING, "--jobs", "2",
                        "--seed", "42", "--out", out_.string(), "--format", "json,junit,sarif,md,html"},
                       600);
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 1) << r.stdout_text << r.stderr_text;

  std::map<std::string, std::string> want = {
      {"misbehave.crash", "CRASH"},          {"misbehave.hang", "TIMEOUT"},
      {"misbehave.grandchild_hang", "TIMEOUT"}, {"misbehave.flood", "PASS"},
      {"misbehave.shm_leak", "FAIL"},        {"misbehave.property_fails", "FAIL"},
      {"misbehave.unexpected_race", v == "tsan" ? "RACE" : "PASS"},
      {"misbehave.hidden_canary", v == "tsan" ? "MISSED" : "PASS"}};

  std::ifstream results(out_ / "results.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(results, line));
  EXPECT_EQ(nlohmann::json::parse(line).at("schema"), "racegate-results/1");
  std::map<std::string, nlohmann::json> got;
  while (std::getline(results, line)) {
    auto j = nlohmann::json::parse(line);
    got[j.at("case_id")] = j;
  }
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [id, verdict] : want) {
    ASSERT_TRUE(got.count(id)) << id;
    EXPECT_EQ(got[id]["verdict"], verdict) << id << ": " << got[id]["message"];
  }
  if (v == "plain") {
    EXPECT_EQ(got["misbehave.crash"]["signal"], SIGSEGV);
    EXPECT_NE(got["misbehave.crash"]["stderr"].get<std::string>().find("backtrace"), std::string::npos);
  } else {
    // The sanitizer catches the signal, reports it and exits.
    EXPECT_EQ(got["misbehave.crash"]["findings"].at(0)["kind"], "segv");
  }
  EXPECT_NE(got["misbehave.hang"]["hang_stacks"].get<std::string>().find("Thread"), std::string::npos)
      << got["misbehave.hang"]["hang_stacks"];
  // The grandchild's stacks were taken too: two processes in the report.
  const std::string gc = got["misbehave.grandchild_hang"]["hang_stacks"];
  EXPECT_NE(gc.find("==== process"), gc.rfind("==== process")) << gc;
  EXPECT_TRUE(got["misbehave.flood"]["stdout_truncated"].get<bool>());
  EXPECT_LE(got["misbehave.flood"]["stdout"].get<std::string>().size(), 1u << 20);
  EXPECT_NE(got["misbehave.shm_leak"]["message"].get<std::string>().find("shared-memory"), std::string::npos);
  EXPECT_NE(got["misbehave.property_fails"]["counterexample"].get<std::string>().find("Falsifiable"),
            std::string::npos);
  EXPECT_NE(got["misbehave.property_fails"]["replay_command"].get<std::string>().find("racegate replay"),
            std::string::npos);
  if (v == "tsan") {
    EXPECT_EQ(got["misbehave.unexpected_race"]["findings"].at(0)["kind"], "data-race");
  }

  // Every report says the same.
  auto report = nlohmann::json::parse(slurp(out_ / "report.json"));
  ASSERT_EQ(report.at("units").size(), want.size());
  for (const auto& u : report["units"]) EXPECT_EQ(u["verdict"], want[u["case_id"]]) << u["case_id"];
  const std::string junit = slurp(out_ / "junit.xml");
  const std::string md = slurp(out_ / "summary.md");
  const std::string html = slurp(out_ / "report.html");
  for (const auto& [id, verdict] : want) {
    EXPECT_NE(junit.find(id), std::string::npos) << id;
    EXPECT_NE(md.find(id), std::string::npos) << id;
    EXPECT_NE(html.find(id), std::string::npos) << id;
  }
  // SARIF: every failing verdict is a result, each naming its rule.
  auto sarif = nlohmann::json::parse(slurp(out_ / "racegate.sarif"));
  EXPECT_EQ(sarif.at("version"), "2.1.0");
  std::map<std::string, int> rules;
  for (const auto& res : sarif.at("runs").at(0).at("results")) ++rules[res.at("ruleId").get<std::string>()];
  EXPECT_EQ(rules["verdict/TIMEOUT"], 2);
  EXPECT_EQ(rules["verdict/CRASH"], 1);
  EXPECT_EQ(rules["verdict/FAIL"], 2);
  if (v == "tsan") {
    EXPECT_EQ(rules["verdict/MISSED"], 1);
    EXPECT_GE(rules["tsan/data-race"], 1);
  }

  // Nothing left: no process of the run, no segment in /dev/shm.
  EXPECT_TRUE(processes_running(RACEGATE_MISBEHAVING).empty());
  for (const auto& e : fs::directory_iterator("/dev/shm")) {
    EXPECT_EQ(e.path().filename().string().find("racegate-misbehave-"), std::string::npos) << e.path();
  }
}

TEST_F(RunnerTest, ReplayRerunsOneUnitExactly) {
  auto r = run_command({RACEGATE_RUNNER, "run", "--binary", RACEGATE_MISBEHAVING, "--filter",
                        "misbehave.property_fails", "--seed", "7", "--out", out_.string(), "--format", "json"},
                       300);
  ASSERT_EQ(r.exit_code, 1) << r.stdout_text << r.stderr_text;
  auto report = nlohmann::json::parse(slurp(out_ / "report.json"));
  const auto& unit = report.at("units").at(0);
  // The replay command, run as printed, fails the same way with the same counterexample.
  std::istringstream words(unit.at("replay_command").get<std::string>());
  std::vector<std::string> argv;
  for (std::string w; words >> w;) argv.push_back(w);
  ASSERT_EQ(argv.at(0), "racegate");
  argv[0] = RACEGATE_RUNNER;
  argv.push_back("--out");
  argv.push_back((out_ / "replay").string());
  auto again = run_command(argv, 300);
  EXPECT_EQ(again.exit_code, 1) << again.stdout_text << again.stderr_text;
  auto replay = nlohmann::json::parse(slurp(out_ / "replay" / "report.json"));
  EXPECT_EQ(replay.at("units").at(0).at("counterexample"), unit.at("counterexample"));
  EXPECT_EQ(replay.at("units").at(0).at("seed"), unit.at("seed"));
}

TEST_F(RunnerTest, BadUsageExitsTwo) {
  EXPECT_EQ(run_command({RACEGATE_RUNNER, "run", "--nonsense"}, 60).exit_code, 2);
  EXPECT_EQ(run_command({RACEGATE_RUNNER, "run", "--binary", "/nonexistent/cases"}, 60).exit_code, 2);
  EXPECT_EQ(run_command({RACEGATE_RUNNER, "run", "--binary", RACEGATE_MISBEHAVING, "--format", "pdf",
                         "--out", out_.string()}, 60).exit_code, 2);
  EXPECT_EQ(run_command({RACEGATE_RUNNER, "run", "--binary", RACEGATE_MISBEHAVING, "--filter", "nomatch*",
                         "--out", out_.string()}, 60).exit_code, 2);
  auto help = run_command({RACEGATE_RUNNER, "run", "--help"}, 60);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.stdout_text.find("--shard"), std::string::npos);
}

TEST_F(RunnerTest, ShardsPartitionTheCases) {
  std::map<std::string, int> seen;
  for (int i = 0; i < 3; ++i) {
    auto dir = out_ / ("shard" + std::to_string(i));
    auto r = run_command({RACEGATE_RUNNER, "run", "--binary", RACEGATE_CASES, "--shard",
                          std::to_string(i) + "/3", "--trials", "1", "--seed", "1", "--out", dir.string(),
                          "--format", "json"},
                         600);
    EXPECT_EQ(r.exit_code, 0) << r.stdout_text << r.stderr_text;
    const auto report = nlohmann::json::parse(slurp(dir / "report.json"));
    for (const auto& u : report.at("units")) ++seen[u.at("case_id").get<std::string>()];
  }
  auto all = run_command({RACEGATE_RUNNER, "list", "--binary", RACEGATE_CASES, "--json"}, 60);
  auto cases = nlohmann::json::parse(all.stdout_text);
  EXPECT_EQ(seen.size(), cases.size());
  for (const auto& [id, n] : seen) EXPECT_EQ(n, 1) << id;

  // merge joins the shards into one run.
  auto merged = out_ / "merged";
  auto m = run_command({RACEGATE_RUNNER, "merge", (out_ / "shard0" / "results.jsonl").string(),
                        (out_ / "shard1" / "results.jsonl").string(), (out_ / "shard2" / "results.jsonl").string(),
                        "--out", merged.string(), "--format", "json"},
                       60);
  EXPECT_EQ(m.exit_code, 0) << m.stdout_text << m.stderr_text;
  const auto report = nlohmann::json::parse(slurp(merged / "report.json"));
  EXPECT_EQ(report.at("units").size(), cases.size());
  EXPECT_EQ(report.at("verdict"), "PASS");
}

TEST_F(RunnerTest, KillDashNineLeavesValidResultsAndNoProcess) {
  // Two units that hang for their whole (long) timeout and quick ones before
  // them: wait for a finished unit, then SIGKILL the runner.
  fs::create_directories(out_);
  // The runner's work directory goes below a TMPDIR of this test's own.
  const fs::path tmp = out_ / "tmp";
  fs::create_directories(tmp);
  // Orphans of the killed runner (its guardian, its units) come to us, so
  // that this test can reap them (and the machine keeps no zombies).
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::vector<std::string> argv = {RACEGATE_RUNNER, "run", "--binary", RACEGATE_MISBEHAVING, "--jobs", "3",
                                   "--filter", "misbehave.hang:misbehave.grandchild_hang:misbehave.property_fails",
                                   "--timeout", "300", "--out", out_.string(), "--format", "json"};
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t runner = fork();
  if (runner == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    setenv("TMPDIR", tmp.c_str(), 1);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  ASSERT_GT(runner, 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  int lines = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    // During the run the lines go to results.jsonl.partial (renamed at the end).
    std::istringstream in(slurp(out_ / "results.jsonl.partial"));
    lines = 0;
    for (std::string l; std::getline(in, l);) ++lines;
    if (lines >= 2 && processes_running(RACEGATE_MISBEHAVING).size() >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(runner, SIGKILL);
  int status;
  waitpid(runner, &status, 0);
  ASSERT_GE(lines, 2) << "no unit finished";
  // The guardian kills the process groups of the units still running; loose bound.
  auto gone_by = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!processes_running(RACEGATE_MISBEHAVING).empty() && std::chrono::steady_clock::now() < gone_by) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(processes_running(RACEGATE_MISBEHAVING).empty());
  // Reap what came back to us: the guardian ends once it has killed the groups.
  auto reaped_by = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < reaped_by) {
    pid_t w = waitpid(-1, nullptr, WNOHANG);
    if (w == -1) break;  // ECHILD: nothing left
    if (w == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  // The guardian renamed the dead runner's results.jsonl.partial into place:
  // every line is valid JSON, the header plus the finished unit(s).
  EXPECT_FALSE(fs::exists(out_ / "results.jsonl.partial"));
  std::istringstream in(slurp(out_ / "results.jsonl"));
  int units = 0;
  for (std::string l; std::getline(in, l);) {
    auto j = nlohmann::json::parse(l, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << l;
    if (j.contains("case_id")) ++units;
  }
  EXPECT_GE(units, 1);
  // The guardian removed the dead runner's work directory.
  EXPECT_TRUE(fs::is_empty(tmp)) << fs::directory_iterator(tmp)->path();
}
