// The unit executor: posix_spawn each unit in its own process group, capture
// its output and result pipe, enforce its deadline, take stacks of a hung
// unit, reap everything and judge it.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <memory>
#include <poll.h>
#include <set>
#include <spawn.h>
#include <sstream>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "racegate/reports/parse.h"
#include "explore_runs.h"
#include "runner.h"

extern char** environ;

namespace racegate::runner {

std::string read_whole_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

// Calls f(pid, state, pgrp) for every process of /proc.
template <class F>
void for_each_process(F&& f) {
  DIR* d = opendir("/proc");
  if (!d) return;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (!end || *end != '\0' || pid <= 0) continue;
    std::string stat = read_whole_file(fmt::format("/proc/{}/stat", pid));
    auto close_paren = stat.rfind(')');
    if (close_paren == std::string::npos || close_paren + 2 > stat.size()) continue;
    std::istringstream rest(stat.substr(close_paren + 2));
    char state = 0;
    long ppid = 0, pgrp = 0;
    rest >> state >> ppid >> pgrp;
    f(static_cast<pid_t>(pid), state, static_cast<pid_t>(pgrp));
  }
  closedir(d);
}

}  // namespace

bool remove_shm_segment(const std::string& name) {
  // The name comes from a file the case binary wrote: only a plain segment
  // name ("/x" or "x"), never a path, reaches shm_unlink.
  std::string bare = name[0] == '/' ? name.substr(1) : name;
  if (bare.empty() || bare == "." || bare == ".." || bare.find('/') != std::string::npos) return false;
  return shm_unlink(("/" + bare).c_str()) == 0;
}

std::vector<std::string> remove_recorded_segments(const std::filesystem::path& unit_dir) {
  std::istringstream shm(read_whole_file(unit_dir / "shm-created"));
  std::set<std::string> names;
  for (std::string name; std::getline(shm, name);) {
    if (!name.empty()) names.insert(name);
  }
  std::vector<std::string> removed;
  for (const auto& name : names) {
    if (remove_shm_segment(name)) removed.push_back(name);
  }
  return removed;
}

std::vector<std::string> remove_unit_segments(const std::filesystem::path& work_dir) {
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& unit : std::filesystem::directory_iterator(work_dir, ec)) {
    if (unit.path().filename().string().rfind("unit-", 0) != 0) continue;
    for (auto& name : remove_recorded_segments(unit.path())) removed.push_back(std::move(name));
  }
  return removed;
}

std::vector<pid_t> group_members(pid_t pgid, bool include_zombies) {
  std::vector<pid_t> out;
  for_each_process([&](pid_t pid, char state, pid_t pgrp) {
    if (pgrp == pgid && (include_zombies || state != 'Z')) out.push_back(pid);
  });
  std::sort(out.begin(), out.end());
  return out;
}

std::map<pid_t, int> group_sizes() {
  std::map<pid_t, int> out;
  for_each_process([&](pid_t, char, pid_t pgrp) { ++out[pgrp]; });
  return out;
}

void guardian_send(int fd, char op, pid_t pgid) {
  if (fd < 0) return;
  std::string line = fmt::format("{}{}\n", op, pgid);
  (void)!write(fd, line.data(), line.size());
}

namespace {

using Clock = std::chrono::steady_clock;

struct Pipe {
  int r = -1, w = -1;
};

Pipe make_pipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw SetupError(std::string("pipe2: ") + std::strerror(errno));
  return {fds[0], fds[1]};
}

void close_fd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

struct Capture {
  int fd = -1;
  std::string text;
  std::size_t cap = 0;
  bool truncated = false;
  // Reads what is available; returns false at EOF or error.
  bool pump() {
    char buf[65536];
    for (;;) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n > 0) {
        std::size_t room = cap > text.size() ? cap - text.size() : 0;
        std::size_t take = std::min(room, static_cast<std::size_t>(n));
        text.append(buf, take);
        if (take < static_cast<std::size_t>(n)) truncated = true;
        continue;
      }
      if (n == 0) return false;
      if (errno == EINTR) continue;
      return errno == EAGAIN;
    }
  }
};

std::string read_file(const std::filesystem::path& p) { return read_whole_file(p); }

bool have_gdb() {
  static int cached = -1;
  if (cached < 0) cached = access("/usr/bin/gdb", X_OK) == 0 ? 1 : 0;
  return cached == 1;
}

// Runs a command with posix_spawn, output to `out_path`, killed after
// `timeout_s`. Returns whether it ran.
bool run_with_timeout(const std::vector<std::string>& argv_s, const std::string& out_path,
                      double timeout_s) {
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return false;
  auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  int status;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return true;
    if (Clock::now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return true;
    }
    usleep(20000);
  }
}

// Stacks of every thread of every process of the group, before the kill.
std::string take_stacks(pid_t pgid, const std::filesystem::path& dir) {
  std::string out;
  for (pid_t pid : group_members(pgid, false)) {
    out += fmt::format("==== process {} ({})\n", pid,
                       read_file(fmt::format("/proc/{}/cmdline", pid)).substr(0, 200));
    for (char& ch : out) {
      if (ch == '\0') ch = ' ';
    }
    if (have_gdb()) {
      auto path = (dir / fmt::format("gdb-{}.txt", pid)).string();
      run_with_timeout({"/usr/bin/gdb", "-nx", "-batch", "-p", std::to_string(pid), "-ex",
                        "thread apply all bt"},
                       path, 30.0);
      std::string text = read_file(path);
      // Keep the stacks, drop gdb's chatter.
      std::istringstream lines(text);
      for (std::string line; std::getline(lines, line);) {
        if (line.rfind("Thread ", 0) == 0 || line.rfind("#", 0) == 0) out += line + "\n";
      }
    } else {
      // No gdb: what the kernel says each thread waits in.
      DIR* d = opendir(fmt::format("/proc/{}/task", pid).c_str());
      while (d && true) {
        dirent* e = readdir(d);
        if (!e) break;
        if (e->d_name[0] == '.') continue;
        auto base = fmt::format("/proc/{}/task/{}", pid, e->d_name);
        std::string comm = read_file(base + "/comm");
        if (!comm.empty() && comm.back() == '\n') comm.pop_back();
        out += fmt::format("Thread {} ({}): wchan={} syscall={}", e->d_name, comm,
                           read_file(base + "/wchan"), read_file(base + "/syscall"));
        std::string kstack = read_file(base + "/stack");
        out += kstack.empty() ? "" : "\n" + kstack;
      }
      if (d) closedir(d);
    }
  }
  return out.empty() ? "(no process of the unit was left to inspect)\n" : out;
}

std::string sanitizer_options(const char* name, const std::string& ours) {
  const char* user = std::getenv(name);
  // Sanitizers read options left to right; ours come last and win.
  return std::string(name) + "=" + (user && *user ? std::string(user) + " " : "") + ours;
}

struct Running {
  const Unit* unit = nullptr;
  pid_t pid = -1;
  int pidfd = -1;
  Capture out, err, result;
  bool out_open = true, err_open = true, result_open = true;
  Clock::time_point started, deadline;
  std::filesystem::path dir;
  Observation obs;
  bool exited = false;
  int status = 0;
  long maxrss_kb = 0;
  std::size_t memory_limit_mib = 0;  // RLIMIT_AS set on it, MiB
  std::string stacks;  // of a unit that timed out
};

// What the case or the C++ runtime says when an allocation is refused.
bool says_out_of_memory(const std::string& text) {
  // The last three: a sanitizer runtime that cannot reserve its shadow or
  // allocator space (a sanitized binary listed as a plain variant).
  for (const char* s : {"std::bad_alloc", "Cannot allocate memory", "out of memory", "memory exhausted",
                        "can not mmap the shadow memory", "ReserveShadowMemoryRange failed",
                        "Sanitizer: CHECK failed: sanitizer_allocator"}) {
    if (text.find(s) != std::string::npos) return true;
  }
  return false;
}

// The watchdog of --max-procs: one scan of /proc, then every unit whose
// process group holds more processes than the limit is killed, all of it.
// RLIMIT_NPROC would not do: it counts every process of the user, and root
// is exempt from it.
void enforce_process_limit(std::vector<std::unique_ptr<Running>>& running, int max_procs) {
  const auto sizes = group_sizes();
  for (auto& r : running) {
    if (r->exited || r->pid <= 0 || r->obs.process_limit > 0) continue;
    auto it = sizes.find(r->pid);
    if (it == sizes.end() || it->second <= max_procs) continue;
    r->obs.process_limit = max_procs;
    r->obs.processes_seen = it->second;
    killpg(r->pid, SIGKILL);
  }
}


std::unique_ptr<Running> spawn_unit(const Unit& u, const ExecOptions& opts, int index) {
  auto r = std::make_unique<Running>();
  r->unit = &u;
  r->dir = opts.work_dir / fmt::format("unit-{:05d}", index);
  std::filesystem::create_directories(r->dir);

  Pipe out = make_pipe(), err = make_pipe(), res = make_pipe();
  std::vector<std::string> argv_s = {u.c.binary.string(),
                                     "--case", u.c.id,
                                     "--seed", std::to_string(u.seed),
                                     "--trials", std::to_string(u.trials),
                                     "--result-fd", "3",
                                     "--parent-pid", std::to_string(getpid())};
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    if (kv.rfind("TSAN_OPTIONS=", 0) == 0 || kv.rfind("ASAN_OPTIONS=", 0) == 0 ||
        kv.rfind("UBSAN_OPTIONS=", 0) == 0 || kv.rfind("LSAN_OPTIONS=", 0) == 0 ||
        kv.rfind("RC_PARAMS=", 0) == 0 || (!u.explore_config.empty() && is_explore_variable(kv))) {
      continue;
    }
    env_s.push_back(kv);
  }
  const std::string d = r->dir.string();
  env_s.push_back(sanitizer_options(
      "TSAN_OPTIONS", "log_path=" + d + "/tsan halt_on_error=0 second_deadlock_stack=1 exitcode=66"));
  // LeakSanitizer's exit-time check runs in a thread of its own that would
  // wait for the PCT token for ever (docs/exploration.md): off under PCT.
  const bool pct = u.explore_config.rfind("mode=pct", 0) == 0;
  env_s.push_back(sanitizer_options("ASAN_OPTIONS", "log_path=" + d + (pct ? "/asan detect_leaks=0" : "/asan detect_leaks=1")));
  env_s.push_back(sanitizer_options("LSAN_OPTIONS", "log_path=" + d + "/lsan"));
  env_s.push_back(sanitizer_options(
      "UBSAN_OPTIONS", "log_path=" + d + "/ubsan print_stacktrace=1 halt_on_error=0"));
  env_s.push_back("RACEGATE_UNIT_DIR=" + d);
  if (!u.explore_config.empty()) {
    for (auto& v : explore_variables(u.explore_preload, u.explore_config, u.explore_stats)) env_s.push_back(std::move(v));
  }
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out.w, 1);
  posix_spawn_file_actions_adddup2(&fa, err.w, 2);
  posix_spawn_file_actions_adddup2(&fa, res.w, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  int rc = posix_spawn(&r->pid, argv[0], &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close_fd(out.w);
  close_fd(err.w);
  close_fd(res.w);
  r->started = Clock::now();
  r->deadline = r->started + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(u.timeout_seconds));
  r->out = Capture{out.r, {}, opts.output_cap, false};
  r->err = Capture{err.r, {}, opts.output_cap, false};
  r->result = Capture{res.r, {}, 1 << 24, false};
  for (int fd : {out.r, err.r, res.r}) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (rc != 0) {
    r->obs.spawn_error = fmt::format("cannot start {}: {}", u.c.binary.string(), std::strerror(rc));
    r->exited = true;
    r->pid = -1;
    return r;
  }
  guardian_send(opts.guardian_fd, '+', r->pid);
  if (opts.max_memory_mib > 0 && u.c.variant == "plain") {
    // posix_spawn cannot set limits: set it now, as the case binary starts
    // (before its main can have allocated much). Sanitizer variants reserve
    // terabytes of address space and are left alone.
    rlim_t bytes = static_cast<rlim_t>(opts.max_memory_mib) << 20;
    rlimit lim{bytes, bytes};
    if (prlimit(r->pid, RLIMIT_AS, &lim, nullptr) == 0) r->memory_limit_mib = opts.max_memory_mib;
  }
  r->pidfd = static_cast<int>(syscall(SYS_pidfd_open, r->pid, 0));
  return r;
}

// After the main process ended: kill what is left of its group, collect logs.
void finish_unit(Running& r, const ExecOptions& opts, reports::UnitResult& u) {
  // The unit's main process is reaped; when nothing else is in its group
  // (the common case: ESRCH, zombies would still count), there is nothing to
  // scan /proc for.
  const bool group_left = r.pid > 0 && (killpg(r.pid, 0) == 0 || errno != ESRCH);
  if (r.pid > 0 && !group_left) guardian_send(opts.guardian_fd, '-', r.pid);
  if (group_left) {
    // Processes left in the unit's group. The sanitizers' own symbolizer
    // (started to print a report) is not the case's doing: it is killed but
    // not counted.
    int strays = 0;
    for (pid_t p : group_members(r.pid, false)) {
      std::string comm = read_file(fmt::format("/proc/{}/comm", p));
      if (comm.rfind("llvm-symbolizer", 0) != 0 && comm.rfind("addr2line", 0) != 0) ++strays;
    }
    r.obs.stray_processes = strays;
    killpg(r.pid, SIGKILL);
    // Reap the group's processes that became our children (the runner is
    // their subreaper); wait at most about a second for the kernel to end them.
    for (int i = 0; i < 200; ++i) {
      auto left = group_members(r.pid, true);
      if (left.empty()) break;
      for (pid_t p : left) waitpid(p, nullptr, WNOHANG);
      usleep(5000);
    }
    guardian_send(opts.guardian_fd, '-', r.pid);
  }
  // Drain what the pipes still hold (writers are gone now).
  for (Capture* c : {&r.out, &r.err, &r.result}) {
    if (c->fd >= 0) {
      c->pump();
      close_fd(c->fd);
    }
  }
  if (r.pidfd >= 0) close_fd(r.pidfd);

  if (!r.obs.spawn_error.empty()) {
  } else if (WIFEXITED(r.status)) {
    r.obs.exit_code = WEXITSTATUS(r.status);
  } else if (WIFSIGNALED(r.status)) {
    r.obs.signal = WTERMSIG(r.status);
  }
  r.obs.result_text = r.result.text;
  if (r.obs.exit_code && *r.obs.exit_code != 0) r.obs.loader_error = loader_error_line(r.err.text);
  if (r.memory_limit_mib > 0 && (says_out_of_memory(r.err.text) || says_out_of_memory(r.result.text))) {
    r.obs.memory_limit_mib = r.memory_limit_mib;
  }

  // Sanitizer logs of every process of the unit: <dir>/{tsan,asan,lsan,ubsan}.<pid>
  std::vector<std::filesystem::path> logs;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(r.dir, ec)) {
    auto name = entry.path().filename().string();
    for (const char* prefix : {"tsan.", "asan.", "lsan.", "ubsan."}) {
      if (name.rfind(prefix, 0) == 0) logs.push_back(entry.path());
    }
  }
  std::sort(logs.begin(), logs.end());
  for (const auto& p : logs) {
    for (auto& f : reports::parse_sanitizer_log(read_file(p))) r.obs.findings.push_back(std::move(f));
  }
  // Shared-memory segments the unit created (audited by the case binary) and left.
  r.obs.leaked_shm = remove_recorded_segments(r.dir);

  const Unit& unit = *r.unit;
  u.case_id = unit.c.id;
  u.title = unit.c.title;
  u.seed_document = unit.c.seed_document;
  u.tags = unit.c.tags;
  u.expectation = unit.c.expectation;
  u.race_site = unit.c.race_site;
  u.binary = unit.c.binary.string();
  u.variant = unit.c.variant;
  u.repeat = unit.repeat;
  u.seed = unit.seed;
  u.trials_requested = unit.trials;
  u.exit_code = r.obs.exit_code;
  u.signal = r.obs.signal;
  u.wall_seconds = std::chrono::duration<double>(Clock::now() - r.started).count();
  u.peak_rss_kb = r.maxrss_kb;
  u.stdout_text = std::move(r.out.text);
  u.stderr_text = std::move(r.err.text);
  u.stdout_truncated = r.out.truncated;
  u.stderr_truncated = r.err.truncated;
  judge(unit, r.obs, u);
  u.findings = std::move(r.obs.findings);
  std::filesystem::remove_all(r.dir, ec);
}

}  // namespace

namespace {

// RACEGATE_RESOURCE_REPORT=1: the runner's open file descriptors and peak
// memory on stderr when execute() starts and ends (the load test compares
// them).
int open_fds() {
  int n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n - 1;  // the directory iterator's own descriptor
}

void report_resources(const char* when) {
  const char* want = std::getenv("RACEGATE_RESOURCE_REPORT");
  if (!want || std::string(want) != "1") return;
  std::string hwm;
  std::istringstream status(read_whole_file("/proc/self/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) hwm = line.substr(6);
  }
  hwm.erase(0, hwm.find_first_not_of(" \t"));
  std::fprintf(stderr, "racegate: resources at %s: open_fds=%d peak_rss=%s\n", when, open_fds(), hwm.c_str());
}

}  // namespace

void execute(const std::vector<Unit>& units, const ExecOptions& opts,
             const std::function<void(const Unit&, reports::UnitResult&&)>& handed_over) {
  report_resources("start");
  // Findings whose stacks could not be symbolized: one warning at the end.
  std::size_t unsymbolized_findings = 0;
  auto on_done = [&](const Unit& unit, reports::UnitResult&& u) {
    for (const auto& f : u.findings) unsymbolized_findings += unsymbolized(f) ? 1 : 0;
    handed_over(unit, std::move(u));
  };
  struct AtEnd {
    std::size_t& n;
    ~AtEnd() {
      if (n > 0) std::fprintf(stderr, "racegate: %s\n", unsymbolized_warning(n).c_str());
      report_resources("end");
    }
  } at_end{unsymbolized_findings};
  // Orphaned descendants of units come back to us, so that we can reap them.
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::deque<std::size_t> pending;
  for (std::size_t i = 0; i < units.size(); ++i) pending.push_back(i);
  std::vector<std::unique_ptr<Running>> running;
  // The process watchdog scans /proc at most this often.
  constexpr auto kProcessScan = std::chrono::milliseconds(50);
  auto next_scan = Clock::now();

  while (!pending.empty() || !running.empty()) {
    if (opts.interrupted && opts.interrupted->load()) {
      // Interrupted: what finished is kept; what runs is killed and dropped.
      pending.clear();
      for (auto& r : running) {
        if (r->pid > 0 && !r->exited) {
          killpg(r->pid, SIGKILL);
          waitpid(r->pid, nullptr, 0);
          for (pid_t p : group_members(r->pid, true)) waitpid(p, nullptr, WNOHANG);
          guardian_send(opts.guardian_fd, '-', r->pid);
        }
        for (Capture* c : {&r->out, &r->err, &r->result}) close_fd(c->fd);
        close_fd(r->pidfd);
        remove_recorded_segments(r->dir);
        std::error_code ec;
        std::filesystem::remove_all(r->dir, ec);
      }
      running.clear();
      break;
    }
    while (!pending.empty() && static_cast<int>(running.size()) < std::max(1, opts.jobs)) {
      std::size_t i = pending.front();
      pending.pop_front();
      if (opts.skip && opts.skip(units[i])) continue;
      if (opts.on_start) opts.on_start(units[i]);
      running.push_back(spawn_unit(units[i], opts, static_cast<int>(i)));
    }
    // Wait for output, a result, an exit or the nearest deadline.
    std::vector<pollfd> fds;
    auto now = Clock::now();
    auto nearest = now + std::chrono::seconds(1);
    for (auto& r : running) {
      if (r->exited) continue;
      nearest = std::min(nearest, r->deadline);
      for (Capture* c : {&r->out, &r->err, &r->result}) {
        if (c->fd >= 0) fds.push_back({c->fd, POLLIN, 0});
      }
      if (r->pidfd >= 0) fds.push_back({r->pidfd, POLLIN, 0});
    }
    if (opts.max_procs > 0) nearest = std::min(nearest, next_scan);
    int wait_ms = static_cast<int>(std::clamp<long long>(
        std::chrono::duration_cast<std::chrono::milliseconds>(nearest - now).count() + 1, 0, 1000));
    bool any_exited = std::any_of(running.begin(), running.end(), [](auto& r) { return r->exited; });
    if (!any_exited) poll(fds.data(), fds.size(), fds.empty() ? std::min(wait_ms, 20) : wait_ms);

    if (opts.max_procs > 0 && Clock::now() >= next_scan) {
      enforce_process_limit(running, opts.max_procs);
      next_scan = Clock::now() + kProcessScan;
    }
    for (auto& r : running) {
      if (r->exited) continue;
      for (Capture* c : {&r->out, &r->err, &r->result}) {
        if (c->fd >= 0 && !c->pump()) close_fd(c->fd);
      }
      rusage ru{};
      pid_t w = wait4(r->pid, &r->status, WNOHANG, &ru);
      if (w == r->pid) {
        r->exited = true;
        r->maxrss_kb = ru.ru_maxrss;
      } else if (Clock::now() >= r->deadline) {
        r->obs.timed_out = true;
        if (opts.take_stacks) {
          // Stop the group first so that the stacks show one moment.
          killpg(r->pid, SIGSTOP);
          r->stacks = take_stacks(r->pid, r->dir);
        }
        killpg(r->pid, SIGKILL);  // SIGKILL ends stopped processes too
        r->deadline = Clock::time_point::max();
      }
    }
    // Hand over every unit whose main process ended.
    for (auto it = running.begin(); it != running.end();) {
      if ((*it)->exited) {
        reports::UnitResult u;
        finish_unit(**it, opts, u);
        if ((*it)->obs.timed_out) u.hang_stacks = (*it)->stacks;
        on_done(*(*it)->unit, std::move(u));
        it = running.erase(it);
      } else {
        ++it;
      }
    }
    // Reap orphans that came back to us (the subreaper's duty), but never a
    // unit's own process: those are waited for by pid above.
    for (;;) {
      siginfo_t info{};
      if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) break;
      bool ours = std::any_of(running.begin(), running.end(),
                              [&](auto& r) { return r->pid == info.si_pid; });
      if (ours) break;
      waitpid(info.si_pid, nullptr, WNOHANG);
    }
  }
}

}  // namespace racegate::runner
