// racegate-bench-spawn: the floor of the runner's per-unit cost.
//
//   racegate-bench-spawn N PROGRAM [ARGS...]
//
// An argument "@PID@" is replaced by this process's pid (the runner passes
// its own as --parent-pid).
// Starts PROGRAM ARGS N times, one after the other, the way the runner starts
// a unit and no more: posix_spawn in a process group of its own, stdin from
// /dev/null, stdout, stderr and fd 3 (the result pipe) on pipes read to their
// end with poll, then waitpid. Prints one JSON line
//   {"runs": N, "seconds": total wall time, "failures": runs that did not exit 0}
// bench/compare subtracts seconds / N from `racegate run`'s wall time per
// unit to get the runner's own overhead (docs/bench.md). Written in C++
// because Python's subprocess adds a few hundred microseconds per process
// that the runner does not pay.
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

extern char** environ;

namespace {

bool run_once(char** argv) {
  int out[2], err[2], res[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 || pipe2(res, O_CLOEXEC) != 0) {
    std::perror("pipe2");
    std::exit(2);
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  posix_spawn_file_actions_adddup2(&fa, res[1], 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(out[1]);
  close(err[1]);
  close(res[1]);
  if (rc != 0) {
    std::fprintf(stderr, "racegate-bench-spawn: cannot start %s\n", argv[0]);
    std::exit(2);
  }
  std::vector<pollfd> fds = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {res[0], POLLIN, 0}};
  char buf[65536];
  int open_fds = 3;
  while (open_fds > 0) {
    if (poll(fds.data(), fds.size(), -1) < 0) continue;
    for (auto& p : fds) {
      if (p.fd < 0 || p.revents == 0) continue;
      if (read(p.fd, buf, sizeof buf) <= 0) {
        close(p.fd);
        p.fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: racegate-bench-spawn N PROGRAM [ARGS...]\n");
    return 2;
  }
  const long n = std::strtol(argv[1], nullptr, 10);
  if (n < 1) {
    std::fprintf(stderr, "racegate-bench-spawn: N must be at least 1\n");
    return 2;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  for (auto& a : args) {
    if (a == "@PID@") a = std::to_string(getpid());
  }
  std::vector<char*> child_argv;
  for (auto& a : args) child_argv.push_back(a.data());
  child_argv.push_back(nullptr);
  long failures = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) failures += run_once(child_argv.data()) ? 0 : 1;
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - t0;
  std::printf("{\"runs\": %ld, \"seconds\": %.9f, \"failures\": %ld}\n", n, elapsed.count(),
              failures);
  return 0;
}
