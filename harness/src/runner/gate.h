// Internal to the racegate runner: `racegate gate -- COMMAND`, a CI gate for
// any command built with sanitizers. Do not depend on it directly.
//
// The command runs with every sanitizer's log_path pointed at a private
// directory, so that each sanitized process it starts, at any depth, leaves
// its reports there. The gate parses them into findings, deduplicates them
// by signature, marks each new, known (in the baseline) or suppressed (the
// ignore list), reports baseline entries no longer seen as fixed, writes
// the reports and exits 0 (command ok, nothing new), 1 (something new, or
// the command failed) or 2 (bad usage or a broken set-up).
#pragma once

#include <atomic>
#include <string>
#include <vector>

namespace racegate::runner {

struct GateOptions {
  std::vector<std::string> command;       // argv of the command; argv[0] is looked up in PATH
  std::string out = "racegate-out";
  std::string formats = "json,junit,sarif,md,html";
  std::string source_root;                // default: the current directory
  std::string baseline;                   // known findings (JSON); empty: none
  bool update_baseline = false;           // rewrite the baseline with what this run saw
  std::string baseline_reason;            // reason recorded for entries added by --update-baseline
  std::string suppressions;               // a TSan suppressions file, checked and passed to TSan
  std::string ignore;                     // racegate's ignore list (signature + reason per line)
  bool allow_command_failure = false;     // judge only the findings, not the command's exit status
  double timeout = 0;                     // seconds; 0: no limit
  int top = 20;                           // signatures listed on the console
  bool doctor = true;                     // prove the detectors see planted bugs first (cached)

  // Schedule exploration (docs/exploration.md): the command runs `runs`
  // times under the preload library, one seed after the other.
  std::string explore;                    // "", "noise" or "pct"
  int runs = -1;                          // -1: 100 when exploring
  int depth = -1;                         // -1: 3 (PCT only)
  long steps = 0;                         // 0: measured by a probe run (PCT only)
  long long explore_seed = 1;             // the runs' seeds are S+0 .. S+runs-1
  bool stop_on_first = false;             // stop after the first failing run
  std::string preload;                    // the preload library; default: found beside racegate
  std::string replay_token;               // rerun one run from its token and compare its outcome
  std::string tokens;                     // replay: the tokens file of the exploration (default <out>/explore-tokens.txt)
};

// Runs the gate; returns the exit code. `interrupted` is set from SIGINT/SIGTERM.
int gate_main(const GateOptions& options, const std::string& command_line, const std::atomic<bool>& interrupted);

}  // namespace racegate::runner
