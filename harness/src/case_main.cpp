// The main() of every case binary.
//
//   racegate-cases --list [--json]
//   racegate-cases --case ID [--seed S] [--trials N] [--result-fd FD]
//
// --list prints the cases (with --json, one JSON array with each case's id,
// title, seed document, tags, expectation, race site, default trials and
// timeout, and the binary's variant). --case runs one case and writes one JSON
// object to FD (stdout when not given): {"status":"returned"|"threw",
// "failed", "message", "trials_run", "counterexample", "outcomes", "seed",
// "variant"}. The binary never judges sanitizer output; the runner does.
// Exit code: 0 when the result was written (whatever it says), 2 for bad
// usage, 3 when the result could not be written.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <execinfo.h>
#include <string>
#include <iostream>
#include <sys/prctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "racegate/harness/case.h"
#include "racegate/harness/explore_bridge.h"

namespace racegate::harness {
namespace {

bool write_all(int fd, const std::string& s) {
  const char* p = s.data();
  std::size_t left = s.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return true;
}

// Plain builds: on a deadly signal, print a backtrace to stderr and die of
// the same signal, so that a CRASH comes with a stack. (The sanitizer builds
// have their own handlers, which print better ones.)
void on_deadly_signal(int sig) {
  void* frames[64];
  int n = backtrace(frames, 64);
  const char header[] = "racegate case: deadly signal; backtrace:\n";
  (void)!::write(2, header, sizeof header - 1);
  backtrace_symbols_fd(frames, n, 2);
  signal(sig, SIG_DFL);
  raise(sig);
}

void install_crash_backtrace() {
  if (std::string(build_variant()) != "plain") return;
  static char alt_stack[64 * 1024];
  stack_t ss{};
  ss.ss_sp = alt_stack;
  ss.ss_size = sizeof alt_stack;
  sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_handler = on_deadly_signal;
  sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) sigaction(sig, &sa, nullptr);
}

nlohmann::json case_json(const Case& c) {
  return {{"id", c.id},
          {"title", c.spec.title},
          {"seed_document", c.spec.seed_document},
          {"tags", c.spec.tags},
          {"expectation", expectation_name(c.spec.expectation)},
          {"race_site", c.spec.race_site},
          {"default_trials", c.spec.default_trials},
          {"timeout_seconds", c.spec.timeout_seconds},
          {"variant", build_variant()}};
}

}  // namespace

int harness_case_main(int argc, char** argv) {
  CLI::App app{"racegate case binary: lists its cases or runs one (normally started by `racegate run`)"};
  bool list = false, json = false;
  std::string case_id;
  std::uint64_t seed = 1;
  int trials = 0;
  int result_fd = 1;
  pid_t parent_pid = 0;
  app.add_flag("--list", list, "List the cases of this binary");
  app.add_flag("--json", json, "With --list: print JSON");
  app.add_option("--case", case_id, "Run the case with this id");
  app.add_option("--seed", seed, "Seed of the unit (decides every generated input)");
  app.add_option("--trials", trials, "Trials to run (default: the case's own)")->check(CLI::PositiveNumber);
  app.add_option("--result-fd", result_fd, "File descriptor to write the result JSON to");
  app.add_option("--parent-pid", parent_pid, "Die with this process (set by the runner)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  if (parent_pid != 0) {
    // Started by the runner: never outlive it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent_pid) return 3;
  }

  const auto& cases = registered_cases();
  if (list) {
    if (json) {
      nlohmann::json all = nlohmann::json::array();
      for (const auto& c : cases) all.push_back(case_json(c));
      std::cout << all.dump(2) << "\n";
    } else {
      for (const auto& c : cases) {
        std::cout << c.id << "  [" << expectation_name(c.spec.expectation) << "]  " << c.spec.title
                  << "\n";
      }
    }
    return 0;
  }
  if (case_id.empty()) {
    std::cerr << "nothing to do: give --list or --case ID (see --help)\n";
    return 2;
  }
  const Case* found = nullptr;
  for (const auto& c : cases) {
    if (c.id == case_id) found = &c;
  }
  if (!found) {
    std::cerr << "no case '" << case_id << "' in this binary (see --list)\n";
    return 2;
  }

  install_crash_backtrace();
  if (install_explore_bridge() == ExploreBridge::kMissingLibrary) {
    std::cerr << "racegate case: RACEGATE_EXPLORE is set, but libracegate-explore.so is not preloaded "
                 "(racegate run --explore preloads it)\n";
    return 2;
  }
  CaseContext ctx(seed, trials > 0 ? trials : found->spec.default_trials);
  std::string result;
  try {
    found->body(ctx);
    result = ctx.result_json();
  } catch (const std::exception& e) {
    ctx.fail(std::string("the case threw: ") + e.what());
    auto j = nlohmann::json::parse(ctx.result_json());
    j["status"] = "threw";
    result = j.dump();
  } catch (...) {
    ctx.fail("the case threw a non-standard exception");
    auto j = nlohmann::json::parse(ctx.result_json());
    j["status"] = "threw";
    result = j.dump();
  }
  std::cout.flush();
  std::fflush(nullptr);
  if (!write_all(result_fd, result + "\n")) {
    std::fprintf(stderr, "racegate case: cannot write the result to fd %d: %s\n", result_fd,
                 std::strerror(errno));
    return 3;
  }
  if (result_fd > 2) close(result_fd);
  return 0;
}

}  // namespace racegate::harness
