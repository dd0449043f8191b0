// Case binaries: ask one for its cases (`--list --json`), and the guardian.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <iostream>
#include <poll.h>
#include <set>
#include <spawn.h>
#include <string>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runner.h"

extern char** environ;

namespace racegate::runner {

std::vector<CaseEntry> list_cases(const std::filesystem::path& binary) {
  std::error_code dir_ec;
  if (std::filesystem::is_directory(binary, dir_ec)) {
    throw SetupError(fmt::format("case binary {} is a directory", binary.string()));
  }
  if (access(binary.c_str(), X_OK) != 0) {
    throw SetupError(fmt::format("case binary {} is {}", binary.string(),
                                 access(binary.c_str(), F_OK) == 0 ? "not executable" : "missing"));
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw SetupError("pipe2 failed");
  // Its stderr goes to a memory file: the reason when the listing fails (a
  // runtime the loader cannot find says so there), passed on otherwise.
  const int err_fd = memfd_create("racegate-list-stderr", MFD_CLOEXEC);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  if (err_fd >= 0) posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<std::string> argv_s = {binary.string(), "--list", "--json"};
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    if (err_fd >= 0) close(err_fd);
    throw SetupError(fmt::format("cannot run {}: {}", binary.string(), std::strerror(rc)));
  }
  std::string text;
  char buf[65536];
  for (;;) {
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, 60000) <= 0) {  // a listing that takes a minute is broken
      kill(pid, SIGKILL);
      break;
    }
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) == -1 && errno == EINTR) {}
  std::string err_text;
  if (err_fd >= 0) {
    err_text = read_whole_file(fmt::format("/proc/self/fd/{}", err_fd));
    close(err_fd);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const std::string how = WIFEXITED(status) ? fmt::format("exit code {}", WEXITSTATUS(status))
                            : WIFSIGNALED(status) ? fmt::format("signal {}", WTERMSIG(status))
                                                  : fmt::format("status {}", status);
    std::string why = loader_error_line(err_text);
    if (!why.empty()) {
      why = "\n  the case binary could not be loaded: " + why;
    } else if (!err_text.empty()) {
      why = "\n  its stderr ends with: " +
            (err_text.size() > 2000 ? "..." + err_text.substr(err_text.size() - 2000) : err_text);
    }
    throw SetupError(fmt::format("{} --list --json failed ({}){}", binary.string(), how, why));
  }
  if (!err_text.empty()) std::cerr << err_text << std::flush;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array()) {
    throw SetupError(fmt::format("{} --list --json did not print a JSON array; is it a racegate case binary?",
                                 binary.string()));
  }
  std::vector<CaseEntry> out;
  for (const auto& c : j) {
    CaseEntry e;
    e.id = c.value("id", "");
    e.title = c.value("title", "");
    e.seed_document = c.value("seed_document", "");
    e.expectation = c.value("expectation", "holds");
    e.race_site = c.value("race_site", "");
    e.variant = c.value("variant", "plain");
    e.tags = c.value("tags", std::vector<std::string>{});
    e.default_trials = c.value("default_trials", 100);
    e.timeout_seconds = c.value("timeout_seconds", 120.0);
    e.binary = std::filesystem::absolute(binary);
    if (e.id.empty()) throw SetupError(binary.string() + " listed a case without an id");
    out.push_back(std::move(e));
  }
  return out;
}

int guardian_main() {
  // Own process group, so that a Ctrl-C aimed at the runner does not reach us
  // before we did our job; ignore the polite signals for the same reason.
  setpgid(0, 0);
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  std::set<pid_t> groups;
  std::string work_dir;
  std::string results_partial;  // results.jsonl.partial of the run, if any
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.size() < 2) continue;
    if (line[0] == 'D') {
      work_dir = line.substr(1);
      continue;
    }
    if (line[0] == 'R') {
      results_partial = line.substr(1);
      continue;
    }
    pid_t pgid = static_cast<pid_t>(std::atol(line.c_str() + 1));
    if (pgid <= 1) continue;
    if (line[0] == '+') groups.insert(pgid);
    if (line[0] == '-') groups.erase(pgid);
  }
  // The runner is gone (or done): nothing of its units may survive it, nor
  // its work directory (the runner removes it itself when it ends normally).
  for (pid_t g : groups) killpg(g, SIGKILL);
  // A runner that died before renaming its results into place: what it
  // wrote (every unit that finished) becomes results.jsonl.
  const std::string suffix = ".partial";
  if (results_partial.size() > suffix.size() &&
      results_partial.compare(results_partial.size() - suffix.size(), suffix.size(), suffix) == 0 &&
      access(results_partial.c_str(), F_OK) == 0) {
    std::rename(results_partial.c_str(), results_partial.substr(0, results_partial.size() - suffix.size()).c_str());
  }
  // Only a work directory of ours (`racegate run` or `racegate gate`).
  const std::string name = std::filesystem::path(work_dir).filename().string();
  if (!work_dir.empty() && (name.rfind("racegate-run-", 0) == 0 || name.rfind("racegate-gate-", 0) == 0)) {
    // The segments the killed units created and never removed.
    remove_unit_segments(work_dir);
    std::error_code ec;
    std::filesystem::remove_all(work_dir, ec);
  }
  return 0;
}

}  // namespace racegate::runner
