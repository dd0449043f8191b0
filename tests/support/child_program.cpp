#include "child_program.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <poll.h>
#include <spawn.h>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace racegate::test {
namespace {

std::map<std::string, ChildMain>& programs() {
  static std::map<std::string, ChildMain> m;
  return m;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Kills and reaps `pid` unless it ends before `timeout_s`.
int wait_with_watchdog(pid_t pid, double timeout_s, bool& timed_out) {
  long pidfd = syscall(SYS_pidfd_open, pid, 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r == -1 && errno != EINTR) throw std::runtime_error("waitpid failed");
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) {
      timed_out = true;
      ::kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) == -1 && errno == EINTR) {}
      break;
    }
    int ms = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
    if (pidfd >= 0) {
      pollfd pfd{static_cast<int>(pidfd), POLLIN, 0};
      poll(&pfd, 1, ms);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(ms, 20)));
    }
  }
  if (pidfd >= 0) close(static_cast<int>(pidfd));
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

}  // namespace

bool register_child_program(const char* name, ChildMain main) {
  programs()[name] = main;
  return true;
}

int dispatch_child_program(const std::string& name, int argc, char** argv) {
  auto it = programs().find(name);
  if (it == programs().end()) {
    std::fprintf(stderr, "unknown child program '%s'\n", name.c_str());
    return 2;
  }
  return it->second(argc, argv);
}

ChildResult run_child_program(const std::string& name, const std::vector<std::string>& args,
                              double timeout_s) {
  char dir_template[] = "/tmp/racegate-test-XXXXXX";
  const char* dir_c = mkdtemp(dir_template);
  if (!dir_c) throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  const std::string dir = dir_c;

  std::vector<std::string> argv_s = {"/proc/self/exe", "--racegate-child=" + name};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  // The child's environment: ours, with each sanitizer's log sent to `dir`.
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    if (kv.rfind("TSAN_OPTIONS=", 0) == 0 || kv.rfind("ASAN_OPTIONS=", 0) == 0 ||
        kv.rfind("UBSAN_OPTIONS=", 0) == 0) {
      continue;
    }
    env_s.push_back(kv);
  }
  env_s.push_back("TSAN_OPTIONS=log_path=" + dir + "/tsan halt_on_error=0 exitcode=66 second_deadlock_stack=1");
  env_s.push_back("ASAN_OPTIONS=log_path=" + dir + "/asan detect_leaks=1");
  env_s.push_back("UBSAN_OPTIONS=log_path=" + dir + "/ubsan print_stacktrace=1");
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  const std::string stderr_path = dir + "/stderr.txt";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error(std::string("posix_spawn: ") + std::strerror(rc));

  ChildResult result;
  result.exit_code = wait_with_watchdog(pid, timeout_s, result.timed_out);
  result.stderr_text = slurp(stderr_path);
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* ent = readdir(d)) {
      std::string f = ent->d_name;
      if (f == "." || f == "..") continue;
      std::string path = dir + "/" + f;
      if (f != "stderr.txt") result.sanitizer_log += slurp(path);
      unlink(path.c_str());
    }
    closedir(d);
  }
  rmdir(dir.c_str());
  return result;
}

ChildResult run_command(const std::vector<std::string>& args, double timeout_s) {
  char dir_template[] = "/tmp/racegate-cmd-XXXXXX";
  const char* dir_c = mkdtemp(dir_template);
  if (!dir_c) throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  const std::string dir = dir_c;
  std::vector<std::string> argv_s = args;
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string out_path = dir + "/stdout.txt", err_path = dir + "/stderr.txt";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error(std::string("posix_spawn ") + args[0] + ": " + std::strerror(rc));
  ChildResult result;
  result.exit_code = wait_with_watchdog(pid, timeout_s, result.timed_out);
  result.stdout_text = slurp(out_path);
  result.stderr_text = slurp(err_path);
  unlink(out_path.c_str());
  unlink(err_path.c_str());
  rmdir(dir.c_str());
  return result;
}

}  // namespace racegate::test
