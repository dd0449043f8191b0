// Internal to the racegate runner: what `racegate gate --explore` and
// `racegate run --explore` share of schedule exploration (docs/exploration.md):
// the options' checks, the preload library, the engine's statistics, run
// outcomes, the tokens file and the PCT bound. Do not depend on it directly.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "racegate/harness/explore.h"
#include "racegate/reports/run.h"

#include <nlohmann/json.hpp>

namespace racegate::runner {

constexpr const char* kPreloadName = "libracegate-explore.so";
constexpr int kDeadlockExit = explore::kExitDeadlock;  // every thread was blocked

// The exploration options as given (-1 / 0: not given).
struct ExploreOptions {
  std::string explore;        // "", "noise" or "pct"
  int runs = -1;
  int depth = -1;
  long steps = 0;
  long long explore_seed = 1;
  bool stop_on_first = false;
};

// Throws SetupError for a bad combination or value (the same messages for
// gate and run).
void check_explore_options(const ExploreOptions& o);

// The engine configuration (RACEGATE_EXPLORE) of the run with this seed.
std::string engine_config(const std::string& mode, long long seed, int depth, long steps);
// The probe run's configuration: PCT at depth 1, which measures k.
constexpr const char* kProbeConfig = "mode=pct,seed=0,depth=1";

// `preload` (--preload), else beside the racegate binary, else in ../lib,
// else where the build tree put it. Throws SetupError.
std::filesystem::path find_preload(const std::string& preload);

// The environment variables of one run: LD_PRELOAD (the library first, then
// the user's), RACEGATE_EXPLORE and RACEGATE_EXPLORE_STATS.
std::vector<std::string> explore_variables(const std::filesystem::path& preload, const std::string& config,
                                           const std::filesystem::path& stats);
// Whether an environment entry is one that explore_variables replaces.
bool is_explore_variable(const std::string& kv);

// The engine's statistics (RACEGATE_EXPLORE_STATS).
struct ExploreStats {
  bool present = false;
  long threads = 0, steps = 0, slice_preemptions = 0, sanitized_starts = 0, kernel_waits = 0;
  std::string trace_hash, outcome;
};
ExploreStats read_stats(const std::filesystem::path& p);

// What the process of a run did.
struct RunEnd {
  bool interrupted = false, timed_out = false;
  std::optional<int> signal, exit_code;
};

// pass, findings (a sanitizer reported, the command succeeded), deadlock
// (exit 86 with the engine's deadlock), exit:N, signal:N, timeout, interrupted.
std::string outcome_of(const RunEnd& r, const ExploreStats& st, std::size_t reports);

// A failure that --allow-command-failure does not excuse: the scheduler's
// deadlock, a signal, a timeout.
bool hard_failure(const std::string& outcome);

// Appends to the tokens file (fd < 0: nothing). Throws SetupError.
void append_line(int fd, const std::string& line);
// Opens (truncates) the tokens file and writes its header line. Throws SetupError.
int open_tokens_file(const std::filesystem::path& path, const std::string& header);
// A run's 'result' line.
std::string result_line(const std::string& label, const std::string& outcome, const ExploreStats& st,
                        const std::string& extra = "");

// What a tokens file recorded for `token` (its last run with that token).
struct Recorded {
  std::string outcome, trace_hash, binary;
  long slice_preemptions = 0, steps = 0, sanitized_starts = 0, kernel_waits = 0;
};
// Throws SetupError when the file cannot be read.
std::optional<Recorded> recorded_result(const std::filesystem::path& file, const std::string& token);

// Replay: whether the trace hashes can be compared, and the verdict of the
// comparison ("same", "differs", "not compared (...)").
std::string trace_hash_check(const Recorded& recorded, const ExploreStats& now);

// The PCT guarantee: one run finds a bug of depth d with probability at
// least 1/(n k^(d-1)), so `runs` runs miss it with probability at most this.
// Null when nothing was measured.
nlohmann::json miss_bound(long threads, long steps, int depth, int runs);

// "3 pass, 1 exit:1" of an outcomes histogram.
std::string histogram_text(const std::map<std::string, int>& outcomes);

// ---------------------------------------------------------------------------
// racegate run --explore and racegate replay TOKEN.

struct Unit;

// A run's replay token: the case, its variant, seed and trials, and the
// engine's configuration, as one shell-safe word:
//   case=ID,variant=V,case_seed=S,trials=T,mode=pct,seed=E,depth=D,steps=K
// Everything from "mode=" on is RACEGATE_EXPLORE.
struct CaseToken {
  std::string case_id, variant, config;
  std::uint64_t case_seed = 0;
  int trials = 0;  // 0: the case's own
};
std::string case_token(const Unit& u);
// Whether a `racegate replay` argument is a token rather than a case id (a
// case id has no '=').
bool looks_like_token(const std::string& arg);
// Throws SetupError naming what is wrong.
CaseToken parse_case_token(const std::string& token);

// The runs of `racegate run --explore`: for each (case, variant, repeat)
// unit, an optional probe run (PCT without --steps) and then `runs` runs,
// all of them units of the executor; their results are folded into one
// result per unit, handed to `emit` when its last run is in.
class CaseExploration {
 public:
  CaseExploration(const ExploreOptions& o, std::filesystem::path preload, std::filesystem::path work,
                  int tokens_fd, std::string replay_suffix, std::function<void(reports::UnitResult&&)> emit);
  bool needs_probe() const;
  std::vector<Unit> probe_units(const std::vector<Unit>& base);
  std::vector<Unit> run_units(const std::vector<Unit>& base);
  void on_start(const Unit& u);
  bool skip(const Unit& u);
  void on_done(const Unit& u, reports::UnitResult&& r);
  // After an interrupt: the units some of whose runs are in.
  void flush();

 private:
  struct Done {
    std::string token, outcome;
    ExploreStats stats;
    reports::UnitResult result;
  };
  struct State {
    int remaining = 0;
    long steps = 0;
    bool emitted = false;
    std::optional<Done> probe;
    std::map<int, Done> runs;  // by run index
  };
  std::string label(const Unit& u) const;
  Unit make(const Unit& base, int index, int run, const std::string& config) const;
  void finish(int index);
  ExploreOptions o_;
  int runs_, depth_;
  std::filesystem::path preload_, work_;
  int tokens_fd_;
  std::string replay_suffix_;
  std::function<void(reports::UnitResult&&)> emit_;
  std::map<int, State> state_;
};

// One run of a case as exploration judges it: reads and removes its
// statistics, turns the scheduler's deadlock into FAIL, returns its outcome.
std::string judge_case_run(const Unit& u, reports::UnitResult& r, ExploreStats& stats);

// racegate replay TOKEN: folds the comparison with the recorded outcome into
// the replayed run's result (a divergence is FAIL, "replay diverged").
void judge_replay(const std::string& token, const std::filesystem::path& tokens_file,
                  const std::optional<Recorded>& recorded, const std::string& outcome, const ExploreStats& stats,
                  reports::UnitResult& r);

}  // namespace racegate::runner
