// `racegate doctor`: proves that the sanitizers racegate relies on see
// planted bugs with the compilers of this machine, and says how to fix the
// ones that do not.
//
// For each compiler (clang++ and g++ found in PATH, or the ones named), tiny
// C++ programs with a planted bug are written to a private temporary
// directory, compiled with the sanitizer's flags and run with the sanitizer's
// log_path in that directory; the logs are parsed with racegate's own parser
// (reports/parse.h). A check passes only when the parsed finding has the
// planted kind and a file:line in the planted program:
//   tsan   a data race between two std::threads           -> "data-race"
//   asan   a heap-use-after-free                          -> "heap-use-after-free"
//          and a leak (LeakSanitizer, which racegate's asan runs enable)
//                                                         -> "memory-leak"
//   ubsan  a signed integer overflow (-fsanitize=undefined) -> "signed-integer-overflow"
// Every compile and run has a bounded timeout; every child is reaped and the
// temporary directory is removed on every path (unless `keep`).
//
// Passing results are cached per toolchain in
// ${XDG_CACHE_HOME:-$HOME/.cache}/racegate/doctor-<hash>.json; see
// docs/doctor.md.
#pragma once

#include <string>
#include <vector>

namespace racegate::runner {

// The result of one (compiler, sanitizer) check.
struct DetectorCheck {
  std::string compiler;  // the compiler as found or named ("/usr/bin/clang++")
  std::string tool;      // "tsan", "asan", "ubsan"
  bool ok = false;       // the sanitizer reported the planted bug with its file:line
  std::string detail;    // what was seen ("data-race at doctor_race.cpp:9:13", or why it failed)
  std::string fix;       // what to do when !ok (empty when ok)
  // Beyond the five fields above:
  std::string family;    // "clang", "gcc", or "" (unknown: missing or unrecognised compiler)
  bool required = true;  // racegate needs it: clang (and unknown) always, gcc only with require_gcc
  bool cached = false;   // read from the cache rather than run now
};

struct DoctorOptions {
  std::vector<std::string> compilers;  // paths or names in PATH; empty: clang++ and g++ from PATH
  std::vector<std::string> tools = {"tsan", "asan", "ubsan"};
  bool use_cache = true;     // false: rerun every check (passing results still refresh the cache)
  bool keep = false;         // keep the temporary directory (doctor_main says where)
  bool require_gcc = false;  // a gcc failure fails the doctor (otherwise it is a warning)
  bool json = false;         // doctor_main prints JSON on stdout
};

// Runs (or reads from cache) the checks, in order: for each compiler, each
// tool. Prints nothing. Never throws for a failing or missing toolchain, only
// reports it; throws std::invalid_argument for an unknown tool name and
// std::runtime_error when no temporary directory can be created.
std::vector<DetectorCheck> check_detectors(const DoctorOptions& options);

// Whether every required check passed (what doctor_main's exit code says).
bool required_checks_pass(const std::vector<DetectorCheck>& checks);

// For `racegate run` and `racegate gate`, before they rely on the detectors:
// the checks of `options` (cached), and an error text naming every required
// detector that did not see its planted bug (empty when all did).
std::string blind_detectors(const DoctorOptions& options);

// The `racegate doctor` command: prints one line per (compiler, sanitizer)
// with ok / FAILED and the fix (or JSON), returns the exit code: 0 every
// required check passed, 1 otherwise, 2 bad usage.
int doctor_main(const DoctorOptions& options);

}  // namespace racegate::runner
