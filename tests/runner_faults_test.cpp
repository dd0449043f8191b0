// Faults the runner must survive: cases that attack it (fork bombs, unbounded
// allocation, gigabytes of output, a tampered result pipe, blocking system
// calls) and the runner or the gate itself signalled mid-run. Every one ends
// in a clear verdict or exit code, and nothing of the run is left behind.
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <set>
#include <spawn.h>
#include <sstream>
#include <string>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/child_program.h"
#include "support/processes.h"

extern char** environ;

namespace fs = std::filesystem;
using racegate::test::processes_running;
using racegate::test::run_command;
using racegate::test::shm_entries;
using racegate::test::slurp;
using Clock = std::chrono::steady_clock;

namespace {

std::string variant() {
  auto r = run_command({RACEGATE_FAULTS, "--list", "--json"}, 60);
  return nlohmann::json::parse(r.stdout_text).at(0).at("variant");
}

// A command started with posix_spawn, output to a file, extra environment.
pid_t start(const std::vector<std::string>& argv_s, const std::vector<std::string>& extra_env,
            const fs::path& log) {
  std::vector<char*> argv;
  for (const auto& a : argv_s) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_s(extra_env);
  for (char** e = environ; *e; ++e) env_s.emplace_back(*e);  // first occurrence wins
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

struct Ended {
  bool ended = false;  // false: still running at the deadline (then killed)
  int status = 0;
  long maxrss_kb = 0;  // of the process and the descendants it reaped
};

// Waits for `pid` at most `seconds` (a loose bound; SIGKILL after it).
Ended wait_for(pid_t pid, double seconds) {
  Ended e;
  auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    rusage ru{};
    pid_t w = wait4(pid, &e.status, WNOHANG, &ru);
    if (w == pid) {
      e.ended = true;
      e.maxrss_kb = ru.ru_maxrss;
      return e;
    }
    if (Clock::now() >= deadline) {
      kill(pid, SIGKILL);
      wait4(pid, &e.status, 0, &ru);
      return e;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Polls `ready` until it holds, at most `seconds` (an order, not a timing:
// the bound is loose and only ends a broken run).
template <class F>
bool wait_until(F&& ready, double seconds) {
  auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (!ready()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// The lines of a results.jsonl; when `strict`, each must parse (a line being
// written while a test polls may not yet).
std::vector<nlohmann::json> results_lines(const fs::path& p, bool strict = true) {
  std::vector<nlohmann::json> out;
  std::istringstream in(slurp(p));
  for (std::string l; std::getline(in, l);) {
    auto j = nlohmann::json::parse(l, nullptr, false);
    if (strict) {
      EXPECT_FALSE(j.is_discarded()) << p << ": " << l;
    }
    if (!j.is_discarded()) out.push_back(j);
  }
  return out;
}

class RunnerFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    out_ = fs::temp_directory_path() / ("racegate-faults-test-" + std::to_string(getpid()) + "-" + name);
    fs::remove_all(out_);
    fs::create_directories(tmp());
    shm_before_ = shm_entries();
  }
  void TearDown() override { fs::remove_all(out_); }

  // The runner's TMPDIR: its work directory goes there, and must be gone.
  fs::path tmp() const { return out_ / "tmp"; }

  // Nothing of the run is left: no process of the case binary, no new
  // segment, no work directory.
  void expect_nothing_left() {
    EXPECT_TRUE(wait_until([] { return processes_running(RACEGATE_FAULTS).empty(); }, 30))
        << processes_running(RACEGATE_FAULTS).size() << " processes left";
    // Only the segments these cases create ("racegate-fault-PID"): tests that
    // run in parallel create and remove segments of their own meanwhile, and
    // ci/test's hygiene step checks that nothing at all is left in the end.
    std::set<std::string> now = shm_entries();
    for (const auto& name : now) {
      if (name.rfind("racegate-fault-", 0) != 0) continue;
      EXPECT_TRUE(shm_before_.count(name)) << "left in /dev/shm: " << name;
    }
    // A killed runner's guardian removes its work directory as it ends.
    EXPECT_TRUE(wait_until([&] { return fs::is_empty(tmp()); }, 30)) << fs::directory_iterator(tmp())->path();
  }

  // Runs `racegate run` over the fault cases of `filter` to its end.
  Ended run(const std::string& filter, const std::vector<std::string>& options, const fs::path& out,
            std::vector<std::string> env = {}) {
    std::vector<std::string> argv = {RACEGATE_RUNNER, "run", "--binary", RACEGATE_FAULTS, "--filter", filter,
                                     "--seed", "1", "--no-doctor", "--out", out.string(), "--format", "json,html"};
    argv.insert(argv.end(), options.begin(), options.end());
    env.push_back("TMPDIR=" + tmp().string());
    pid_t pid = start(argv, env, out_ / (out.filename().string() + ".log"));
    EXPECT_GT(pid, 0);
    return wait_for(pid, 600);
  }

  // The units in out/results.jsonl (or in `file` of out, such as the
  // results.jsonl.partial a running runner streams to).
  std::map<std::string, nlohmann::json> units_of(const fs::path& out, bool strict = true,
                                                 const std::string& file = "results.jsonl") {
    std::map<std::string, nlohmann::json> got;
    for (const auto& j : results_lines(out / file, strict)) {
      if (j.contains("case_id")) got[j.at("case_id")] = j;
    }
    return got;
  }

  fs::path out_;
  std::set<std::string> shm_before_;
};

}  // namespace

TEST_F(RunnerFaultsTest, MisbehavingCasesEndInClearVerdicts) {
  const std::string v = variant();
  // The memory limit applies to the plain variant only (sanitizers reserve
  // terabytes of address space): the unbounded allocation runs there only.
  std::string filter =
      "fault.fork_bomb:fault.endless_stdout:fault.close_result_pipe:fault.redirect_result_pipe:"
      "fault.garbage_result:fault.exit_zero_silently:fault.malformed_result:fault.block_in_read:"
      "fault.block_in_futex:fault.block_in_waitpid";
  if (v == "plain") filter += ":fault.alloc_unbounded";
  const fs::path out = out_ / "out";
  Ended e = run(filter, {"--jobs", "2", "--max-procs", "64", "--max-memory", "256"}, out);
  ASSERT_TRUE(e.ended) << slurp(out_ / "out.log");
  ASSERT_TRUE(WIFEXITED(e.status)) << slurp(out_ / "out.log");
  EXPECT_EQ(WEXITSTATUS(e.status), 1) << slurp(out_ / "out.log");

  struct Want {
    const char* verdict;
    const char* message;  // a part of the message
  };
  std::map<std::string, Want> want = {
      {"fault.fork_bomb", {"CRASH", "--max-procs 64"}},
      {"fault.endless_stdout", {"TIMEOUT", "no result after 3 s"}},
      {"fault.close_result_pipe", {"CRASH", "exited with code 3 without a result"}},
      {"fault.redirect_result_pipe", {"ERROR", "exited 0 without writing a result"}},
      {"fault.garbage_result", {"ERROR", "malformed result"}},
      {"fault.exit_zero_silently", {"ERROR", "exited 0 without writing a result"}},
      {"fault.malformed_result", {"ERROR", "malformed result"}},
      {"fault.block_in_read", {"TIMEOUT", "no result after 3 s"}},
      {"fault.block_in_futex", {"TIMEOUT", "no result after 3 s"}},
      {"fault.block_in_waitpid", {"TIMEOUT", "no result after 3 s"}}};
  if (v == "plain") want["fault.alloc_unbounded"] = {"CRASH", "out of memory (limit 256 MiB"};

  auto got = units_of(out);
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [id, w] : want) {
    ASSERT_TRUE(got.count(id)) << id;
    const auto& u = got[id];
    EXPECT_EQ(u["verdict"], w.verdict) << id << ": " << u["message"];
    EXPECT_NE(u["message"].get<std::string>().find(w.message), std::string::npos) << id << ": " << u["message"];
  }
  // The fork bomb was stopped by the limit, long before its 5000.
  EXPECT_NE(got["fault.fork_bomb"]["message"].get<std::string>().find("processes in the unit's process group"),
            std::string::npos);
  // Output beyond the cap is cut, and marked so.
  EXPECT_TRUE(got["fault.endless_stdout"]["stdout_truncated"].get<bool>());
  EXPECT_EQ(got["fault.endless_stdout"]["stdout"].get<std::string>().size(), std::size_t{1} << 20);
  EXPECT_NE(slurp(out / "report.html").find("stdout (1048576 bytes, truncated)"), std::string::npos);
  // The stacks of the blocked ones were taken before the kill.
  for (const char* id : {"fault.block_in_read", "fault.block_in_futex", "fault.block_in_waitpid"}) {
    EXPECT_FALSE(got[id]["hang_stacks"].get<std::string>().empty()) << id;
  }
  // The waitpid one had two processes to look at.
  const std::string w = got["fault.block_in_waitpid"]["hang_stacks"];
  EXPECT_NE(w.find("==== process"), w.rfind("==== process")) << w;

  // report.json says the same.
  auto report = nlohmann::json::parse(slurp(out / "report.json"));
  ASSERT_EQ(report.at("units").size(), want.size());
  for (const auto& u : report["units"]) EXPECT_EQ(u["verdict"], want[u["case_id"]].verdict) << u["case_id"];
  expect_nothing_left();
}

TEST_F(RunnerFaultsTest, GigabytesOfStdoutAreCappedWithoutTheRunnerGrowing) {
  // The same runner over a case that passes at once, then over one that
  // writes 2 GiB: its peak memory (with its units') must not grow with the
  // output. The writer writes from one 1 MiB block, so it stays small too.
  // Under ASan, freed memory waits in a quarantine of up to 256 MiB, which
  // a long run fills whatever it keeps: measure without it (no effect on
  // other builds).
  const std::vector<std::string> env = {"ASAN_OPTIONS=quarantine_size_mb=0"};
  Ended base = run("fault.quick_pass", {"--jobs", "1"}, out_ / "base", env);
  ASSERT_TRUE(base.ended && WIFEXITED(base.status)) << slurp(out_ / "base.log");
  EXPECT_EQ(WEXITSTATUS(base.status), 0) << slurp(out_ / "base.log");
  Ended big = run("fault.gigabytes", {"--jobs", "1"}, out_ / "big", env);
  ASSERT_TRUE(big.ended && WIFEXITED(big.status)) << slurp(out_ / "big.log");
  EXPECT_EQ(WEXITSTATUS(big.status), 0) << slurp(out_ / "big.log");

  auto got = units_of(out_ / "big");
  ASSERT_EQ(got.count("fault.gigabytes"), 1u);
  const auto& u = got["fault.gigabytes"];
  EXPECT_EQ(u["verdict"], "PASS") << u["message"];
  EXPECT_TRUE(u["stdout_truncated"].get<bool>());
  EXPECT_EQ(u["stdout"].get<std::string>().size(), std::size_t{1} << 20);
  std::cout << "peak RSS of the runner and its units: " << base.maxrss_kb << " KiB for a quick unit, "
            << big.maxrss_kb << " KiB for a unit writing 2 GiB to stdout\n";
  // 2 GiB went through; the runner kept 1 MiB of it (twice over in the
  // report's strings): 64 MiB of slack, and far below the gigabytes.
  EXPECT_LT(big.maxrss_kb, base.maxrss_kb + 64 * 1024);
  expect_nothing_left();
}

// (command, signal): the runner or the gate signalled while a unit blocks.
class SignalledMidRun : public RunnerFaultsTest,
                        public ::testing::WithParamInterface<std::pair<std::string, int>> {};

TEST_P(SignalledMidRun, KeepsWhatFinishedAndLeavesNothing) {
  // Plain variables, not a structured binding: lambdas capture them.
  const std::string command = GetParam().first;
  const int sig = GetParam().second;
  const fs::path started = out_ / "started";
  const fs::path out = out_ / "out";
  fs::create_directories(started);
  // Orphans of a killed runner (its guardian) come to this process to be reaped.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::vector<std::string> argv;
  if (command == "run") {
    // One unit passes at once, the other blocks until it is killed.
    argv = {RACEGATE_RUNNER, "run", "--binary", RACEGATE_FAULTS, "--jobs", "2", "--no-doctor", "--filter",
            "fault.quick_pass:fault.announce_and_block", "--out", out.string(), "--format", "json,junit,md"};
  } else {
    argv = {RACEGATE_RUNNER, "gate", "--no-doctor", "--out", out.string(), "--format", "json,junit,md", "--",
            RACEGATE_FAULTS, "--case", "fault.announce_and_block"};
  }
  // Under `racegate run` the blocking unit also creates a shared-memory
  // segment first: whatever ends the runner, the segment must not outlive it.
  pid_t pid = start(argv,
                    {"TMPDIR=" + tmp().string(), "RACEGATE_FAULT_STARTED=" + started.string(),
                     std::string("RACEGATE_FAULT_SHM=") + (command == "run" ? "1" : "0")},
                    out_ / "log");
  ASSERT_GT(pid, 0);
  // Mid-run: the blocking unit has started and (run) the quick one is in results.jsonl.
  bool mid_run = wait_until(
      [&] {
        if (fs::is_empty(started)) return false;
        if (command != "run") return true;
        return units_of(out, false, "results.jsonl.partial").count("fault.quick_pass") == 1;
      },
      120);
  kill(pid, sig);
  Ended e = wait_for(pid, 120);
  ASSERT_TRUE(mid_run) << slurp(out_ / "log");
  ASSERT_TRUE(e.ended) << "still running 120 s after signal " << sig << "\n" << slurp(out_ / "log");

  if (sig == SIGKILL) {
    EXPECT_TRUE(WIFSIGNALED(e.status));
    // Its guardian renames what finished into results.jsonl as it ends.
    if (command == "run") wait_until([&] { return fs::exists(out / "results.jsonl"); }, 30);
  } else {
    // The signal was handled: the reports of what finished are written,
    // say the run was interrupted, and the exit code is not 0.
    ASSERT_TRUE(WIFEXITED(e.status)) << slurp(out_ / "log");
    EXPECT_NE(WEXITSTATUS(e.status), 0);
    EXPECT_EQ(WEXITSTATUS(e.status), 1) << slurp(out_ / "log");
    auto report = nlohmann::json::parse(slurp(out / "report.json"), nullptr, false);
    ASSERT_FALSE(report.is_discarded()) << slurp(out / "report.json");
    EXPECT_TRUE(report.at("run").at("interrupted").get<bool>()) << report.dump(2);
    EXPECT_NE(slurp(out / "junit.xml").find("racegate.interrupted"), std::string::npos);
    EXPECT_NE(slurp(out / "summary.md").find("nterrupted"), std::string::npos) << slurp(out / "summary.md");
    if (command == "run") {
      ASSERT_EQ(report.at("units").size(), 1u) << report.dump(2);
      EXPECT_EQ(report["units"][0]["case_id"], "fault.quick_pass");
      EXPECT_EQ(report["units"][0]["verdict"], "PASS");
    }
  }
  if (command == "run") {
    // Every line of results.jsonl parses; the finished unit is in it.
    auto lines = results_lines(out / "results.jsonl");
    ASSERT_GE(lines.size(), 2u);
    EXPECT_EQ(lines.front().at("schema"), "racegate-results/1");
    EXPECT_EQ(units_of(out).count("fault.quick_pass"), 1u);
  }
  expect_nothing_left();
  // Reap what came back to us (a killed runner's guardian ends once it has
  // killed the groups and removed the work directory).
  wait_until([] { return waitpid(-1, nullptr, WNOHANG) == -1; }, 30);
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}

INSTANTIATE_TEST_SUITE_P(
    Signals, SignalledMidRun,
    ::testing::Values(std::make_pair(std::string("run"), SIGKILL), std::make_pair(std::string("run"), SIGTERM),
                      std::make_pair(std::string("run"), SIGINT),
                      std::make_pair(std::string("gate"), SIGKILL), std::make_pair(std::string("gate"), SIGTERM),
                      std::make_pair(std::string("gate"), SIGINT)),
    [](const auto& info) {
      return info.param.first + "_" + (info.param.second == SIGKILL   ? "SIGKILL"
                                       : info.param.second == SIGTERM ? "SIGTERM"
                                                                      : "SIGINT");
    });
