// Test support: child programs. A test binary doubles as the program a test
// starts in a fresh process (gtest death-test style: exec of /proc/self/exe
// with an internal flag, never a bare fork of the test runner), e.g. to look
// at what ThreadSanitizer prints about a racy program.
//
//   RG_CHILD_PROGRAM(racy_counter) { ... return 0; }     // int argc, char** argv
//   auto r = racegate::test::run_child_program("racy_counter", {"1000"});
#pragma once

#include <string>
#include <vector>

namespace racegate::test {

using ChildMain = int (*)(int argc, char** argv);
bool register_child_program(const char* name, ChildMain main);
// Runs the registered program `name` in this process (called from main()).
int dispatch_child_program(const std::string& name, int argc, char** argv);

struct ChildResult {
  int exit_code = -1;         // exit status, or -N when killed by signal N
  bool timed_out = false;     // killed by the watchdog
  std::string sanitizer_log;  // every sanitizer log file the child wrote, concatenated
  std::string stderr_text;    // the child's stderr
  std::string stdout_text;    // run_command only: the command's stdout
};

// Starts this binary as `--racegate-child=NAME args...` with posix_spawn, with
// the sanitizer log path of every sanitizer pointed at a private temporary
// directory (halt_on_error=0), waits at most `timeout_s` (then SIGKILL), reaps
// it, reads its logs and removes the directory.
ChildResult run_child_program(const std::string& name, const std::vector<std::string>& args,
                              double timeout_s = 120.0);

// Runs an arbitrary command (argv[0] is a path) with stdout and stderr captured,
// killed after `timeout_s`, and reaped. The environment is this process's.
ChildResult run_command(const std::vector<std::string>& argv, double timeout_s = 300.0);

}  // namespace racegate::test

#define RG_CHILD_PROGRAM(Name)                                                        \
  static int rg_child_main_##Name(int argc, char** argv);                             \
  [[maybe_unused]] static const bool rg_child_registered_##Name =                     \
      ::racegate::test::register_child_program(#Name, &rg_child_main_##Name);         \
  static int rg_child_main_##Name([[maybe_unused]] int argc, [[maybe_unused]] char** argv)
