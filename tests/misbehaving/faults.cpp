// Cases that attack the runner itself (not in the catalog): fork bombs,
// unbounded allocation, gigabytes of output, a tampered result pipe, silent
// or malformed results, blocking system calls, and a case that says when it
// started so that a test can kill the runner mid-run. Each is bounded, so
// that a runner whose limit is broken cannot take the machine down with it.
// tests/runner_faults_test.cpp runs them through `racegate run`.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/futex.h>
#include <memory>
#include <string>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "racegate/harness/case.h"

namespace {

// The case binary writes its result on this descriptor (`--result-fd 3`).
constexpr int kResultFd = 3;

// Blocks until the process is killed.
[[noreturn]] void block_for_ever() {
  for (;;) pause();
}

void write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

// Writes `total` bytes to stdout in 1 MiB blocks; false when stdout fails.
bool write_stdout(std::size_t total) {
  static const std::string block(1 << 20, 'g');
  for (std::size_t written = 0; written < total; written += block.size()) {
    std::size_t done = 0;
    while (done < block.size()) {
      ssize_t n = write(1, block.data() + done, block.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
  }
  return true;
}

}  // namespace

RG_CASE("fault.fork_bomb",
        {.title = "Forks up to 5000 processes that wait for ever, then waits", .tags = {"fault"},
         .default_trials = 1, .timeout_seconds = 60}) {
  // 5000 at most: a broken limit costs 5000 sleeping processes until the
  // timeout, not the machine.
  int forked = 0;
  for (; forked < 5000; ++forked) {
    pid_t pid = fork();
    if (pid == 0) block_for_ever();
    if (pid < 0) {
      std::fprintf(stderr, "fork failed after %d processes: %s\n", forked, std::strerror(errno));
      break;
    }
  }
  std::fprintf(stderr, "forked %d processes\n", forked);
  block_for_ever();
}

RG_CASE("fault.alloc_unbounded",
        {.title = "Allocates and touches 16 MiB blocks, up to 1 GiB", .tags = {"fault"}, .default_trials = 1,
         .timeout_seconds = 60}) {
  // 1 GiB at most: a broken limit makes it pass (and its test fail), nothing worse.
  std::vector<std::unique_ptr<char[]>> blocks;
  for (int i = 0; i < 64; ++i) {
    blocks.emplace_back(new char[16 << 20]);
    std::memset(blocks.back().get(), i + 1, 16 << 20);
  }
  ctx.count_trial();
}

RG_CASE("fault.gigabytes",
        {.title = "Writes 2 GiB to stdout, then passes", .tags = {"fault"}, .default_trials = 1,
         .timeout_seconds = 120}) {
  if (!write_stdout(std::size_t{2} << 30)) ctx.fail("stdout failed");
  ctx.count_trial();
}

RG_CASE("fault.endless_stdout",
        {.title = "Writes to stdout until it is killed (64 GiB at most)", .tags = {"fault"},
         .default_trials = 1, .timeout_seconds = 3}) {
  write_stdout(std::size_t{64} << 30);
  ctx.count_trial();
}

RG_CASE("fault.close_result_pipe",
        {.title = "Closes its result pipe, then passes", .tags = {"fault"}, .default_trials = 1}) {
  close(kResultFd);
  ctx.count_trial();
}

RG_CASE("fault.redirect_result_pipe",
        {.title = "Puts /dev/null in place of its result pipe, then passes", .tags = {"fault"},
         .default_trials = 1}) {
  int null = open("/dev/null", O_WRONLY);
  if (null >= 0) {
    dup2(null, kResultFd);
    close(null);
  }
  ctx.count_trial();
}

RG_CASE("fault.garbage_result",
        {.title = "Writes binary garbage on its result pipe before its result", .tags = {"fault"},
         .default_trials = 1}) {
  write_all(kResultFd, std::string("\x00\xff\xfe garbage {{{ \x1b[31m\n", 22));
  ctx.count_trial();
}

RG_CASE("fault.exit_zero_silently",
        {.title = "Exits 0 without writing a result", .tags = {"fault"}, .default_trials = 1}) {
  std::fflush(nullptr);
  _exit(0);
}

RG_CASE("fault.malformed_result",
        {.title = "Writes half a result, then exits 0", .tags = {"fault"}, .default_trials = 1}) {
  write_all(kResultFd, R"({"status": "passed", "trials_run": )");
  std::fflush(nullptr);
  _exit(0);
}

RG_CASE("fault.block_in_read",
        {.title = "Blocks in read() on a pipe nobody writes", .tags = {"fault"}, .default_trials = 1,
         .timeout_seconds = 3}) {
  int fds[2];
  if (pipe(fds) != 0) {
    ctx.fail("pipe failed");
    return;
  }
  char c;
  for (;;) (void)!read(fds[0], &c, 1);
}

RG_CASE("fault.block_in_futex",
        {.title = "Blocks in a raw FUTEX_WAIT nobody wakes", .tags = {"fault"}, .default_trials = 1,
         .timeout_seconds = 3}) {
  static int word = 0;
  for (;;) syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, nullptr, nullptr, 0);
}

RG_CASE("fault.block_in_waitpid",
        {.title = "Blocks in waitpid() on a child that never ends", .tags = {"fault"}, .default_trials = 1,
         .timeout_seconds = 3}) {
  pid_t child = fork();
  if (child == 0) block_for_ever();
  if (child < 0) ctx.fail("fork failed");
  while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {}
  ctx.count_trial();
}

RG_CASE("fault.announce_and_block",
        {.title = "Creates $RACEGATE_FAULT_STARTED/started-PID (and a segment), then blocks", .tags = {"fault"},
         .default_trials = 1, .timeout_seconds = 600}) {
  // With RACEGATE_FAULT_SHM=1, a shared-memory segment it never removes:
  // whoever ends the run must remove it (the runner, or its guardian).
  if (const char* shm = std::getenv("RACEGATE_FAULT_SHM"); shm && std::string(shm) == "1") {
    std::string name = "/racegate-fault-" + std::to_string(getpid());
    int fd = shm_open(name.c_str(), O_CREAT | O_RDWR, 0600);
    if (fd < 0) ctx.fail("shm_open failed");
    if (fd >= 0) close(fd);
  }
  // The test that kills the runner waits for this file: the unit runs.
  if (const char* dir = std::getenv("RACEGATE_FAULT_STARTED")) {
    std::string path = std::string(dir) + "/started-" + std::to_string(getpid());
    int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0) close(fd);
  }
  block_for_ever();
}

RG_CASE("fault.quick_pass", {.title = "Passes at once", .tags = {"fault"}, .default_trials = 1}) {
  ctx.count_trial();
}
