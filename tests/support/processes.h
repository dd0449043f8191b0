// Test support: what a test of the runner looks at to prove that a run left
// nothing behind (processes, shared-memory segments) and to read its files.
#pragma once

#include <dirent.h>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <sys/types.h>
#include <unistd.h>
#include <vector>

namespace racegate::test {

// The whole content of a file; empty when it cannot be read.
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Processes (not zombies, not this one) whose command line mentions `needle`.
inline std::vector<pid_t> processes_running(const std::string& needle) {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    pid_t pid = std::atoi(e->d_name);
    if (pid <= 0 || pid == getpid()) continue;
    std::string cmd = slurp(std::filesystem::path("/proc") / e->d_name / "cmdline");
    std::string stat = slurp(std::filesystem::path("/proc") / e->d_name / "stat");
    auto paren = stat.rfind(')');
    if (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z') continue;
    if (cmd.find(needle) != std::string::npos) out.push_back(pid);
  }
  closedir(d);
  return out;
}

// The names in /dev/shm.
inline std::set<std::string> shm_entries() {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/dev/shm", ec)) out.insert(e.path().filename());
  return out;
}

}  // namespace racegate::test
