// Internal to the racegate runner: plan, execute and judge units. Do not
// depend on it directly.
#pragma once

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <utility>
#include <vector>

#include "racegate/reports/reporter.h"
#include "racegate/reports/run.h"

namespace racegate::runner {

// A case as a case binary lists it (`--list --json`).
struct CaseEntry {
  std::string id, title, seed_document, expectation, race_site, variant;
  std::vector<std::string> tags;
  int default_trials = 100;
  double timeout_seconds = 120;
  std::filesystem::path binary;
};

// One (case, variant, repeat) to run.
struct Unit {
  CaseEntry c;
  int repeat = 0;
  std::uint64_t seed = 0;
  int trials = 0;
  double timeout_seconds = 0;
  // racegate run --explore: one run of the unit under the preload library
  // (empty explore_config: a plain unit). The engine's configuration
  // (RACEGATE_EXPLORE) and where it writes its statistics.
  std::string explore_config;
  std::filesystem::path explore_preload, explore_stats;
  int explore_unit = -1;   // the (case, variant, repeat) it explores: an index of the caller's
  int explore_run = -1;    // 0-based run index; -1: the probe run
};

struct ExecOptions {
  int jobs = 1;
  std::filesystem::path work_dir;     // per-unit log directories go below it
  std::size_t output_cap = 1 << 20;   // bytes kept of stdout and of stderr
  bool take_stacks = true;            // gdb/proc stacks on timeout
  int guardian_fd = -1;               // pipe to the guardian (pgid registration)
  // Processes a unit's process group may hold at once (0: no limit). A
  // watchdog counts them and kills the group when there are more.
  int max_procs = 0;
  // Address space of a plain-variant unit, MiB (RLIMIT_AS; 0: no limit).
  // Never applied to sanitizer variants, which reserve huge ranges.
  std::size_t max_memory_mib = 0;
  // Set from a signal handler: start nothing more, kill what runs, return.
  const std::atomic<bool>* interrupted = nullptr;
  // Called just before a unit is started (e.g. to record its replay token);
  // may be empty.
  std::function<void(const Unit&)> on_start;
  // Asked before a unit is started: true drops it (not run, not handed
  // over); may be empty.
  std::function<bool(const Unit&)> skip;
};

// Raised for problems that make the whole run impossible (exit code 2).
struct SetupError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Lists the cases of a case binary. Throws SetupError when it cannot be run or
// its list cannot be read.
std::vector<CaseEntry> list_cases(const std::filesystem::path& binary);

// Runs every unit, at most opts.jobs at a time, calling on_done for each
// finished unit (in finishing order) with its judged result.
void execute(const std::vector<Unit>& units, const ExecOptions& opts,
             const std::function<void(const Unit&, reports::UnitResult&&)>& on_done);

// What the executor observed of one unit's process, for the verdict engine.
struct Observation {
  std::string spawn_error;            // non-empty: the unit could not be started
  bool timed_out = false;
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::string result_text;            // what the case wrote on its result pipe
  std::vector<reports::Finding> findings;
  int stray_processes = 0;            // left in the unit's process group after it exited
  std::vector<std::string> leaked_shm;  // shared-memory segments it left (removed)
  // The dynamic loader's message when the case binary could not be loaded
  // (a missing or broken shared library, a sanitizer runtime among them).
  std::string loader_error;
  int process_limit = 0;              // > 0: the group held more processes than this; killed
  int processes_seen = 0;             // how many the watchdog counted then
  std::size_t memory_limit_mib = 0;   // > 0: the unit ran out of memory under this limit
};

// The first line of `text` in which the dynamic loader says a program could
// not be loaded ("error while loading shared libraries", "symbol lookup
// error"); empty when there is none.
std::string loader_error_line(const std::string& text);

// Whether a finding's stacks carry no function and no file:line at all, only
// module+offset (the sanitizer could not symbolize them).
bool unsymbolized(const reports::Finding& f);
// The warning printed when `findings` findings had unsymbolized stacks.
std::string unsymbolized_warning(std::size_t findings);

// The verdict engine: fills verdict, message, outcomes, counterexample and
// trials_run of `u` from what was observed.
void judge(const Unit& unit, const Observation& obs, reports::UnitResult& u);

// Deterministic per-unit seed from the run seed.
std::uint64_t derive_seed(std::uint64_t run_seed, const std::string& case_id, int repeat);

// The guardian: started once per run, kills every registered process group
// and removes the run's work directory when the runner dies (its stdin
// reaches EOF), and renames the run's results.jsonl.partial over
// results.jsonl if the runner did not. Lines: "+PGID" / "-PGID" /
// "D<work dir>" / "R<path of results.jsonl.partial>".
int guardian_main();

// Starts `racegate __guardian` (see guardian_main); returns the write end of
// its stdin and its pid. Throws SetupError.
std::pair<int, pid_t> start_guardian();
// Sends "+PGID" (op '+') or "-PGID" (op '-') to the guardian; fd < 0: nothing.
void guardian_send(int fd, char op, pid_t pgid);

// Pids whose process group is `pgid`, ascending (zombies when asked).
std::vector<pid_t> group_members(pid_t pgid, bool include_zombies);
// Processes (zombies included) in each process group, from one scan of /proc.
std::map<pid_t, int> group_sizes();
// The whole content of a file; empty when it cannot be read.
std::string read_whole_file(const std::filesystem::path& p);
// Removes the shared-memory segment a unit named in its shm-created file;
// false when it was not there or the name is not a plain segment name.
bool remove_shm_segment(const std::string& name);
// Removes the segments a unit recorded in <unit_dir>/shm-created and left;
// returns their names.
std::vector<std::string> remove_recorded_segments(const std::filesystem::path& unit_dir);
// Removes the segments every unit directory below `work_dir` recorded (what
// the units of a killed runner left); returns their names.
std::vector<std::string> remove_unit_segments(const std::filesystem::path& work_dir);

// The report formats of a comma-separated list; throws SetupError naming
// an unknown one.
std::vector<std::string> check_formats(const std::string& list);
// Renders every report of `run` into `files` (targets in `out`); returns
// their paths. Nothing is replaced before files.commit().
std::vector<std::filesystem::path> stage_reports(const reports::Run& run, const std::filesystem::path& out,
                                                 const std::vector<std::string>& formats,
                                                 reports::AtomicFileSet& files);
// Writes every report of `run` into `out` (all replaced together).
void write_reports(const reports::Run& run, const std::filesystem::path& out,
                   const std::vector<std::string>& formats, bool announce);
// Now, ISO 8601 UTC.
std::string now_iso();

}  // namespace racegate::runner
