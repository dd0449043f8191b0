// `racegate gate -- COMMAND`: see gate.h.
#include "gate.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <poll.h>
#include <set>
#include <sstream>
#include <cmath>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "racegate/reports/baseline.h"
#include "racegate/reports/parse.h"
#include "racegate/reports/reporter.h"
#include "racegate/reports/results_file.h"
#include "doctor.h"
#include "explore_runs.h"
#include "runner.h"

extern char** environ;

namespace racegate::runner {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using reports::Finding;
using reports::InputError;
using reports::Verdict;

constexpr const char* kLogPrefixes[] = {"tsan.", "asan.", "lsan.", "ubsan."};

// ---------------------------------------------------------------------------
// Sanitizer options: the user's, with the gate's own where it needs them.

// One "name=value" of a *SAN_OPTIONS string; values may be quoted.
struct SanOption {
  std::string name, value;
};

// The sanitizers' flag parser separates options with spaces, ',' and ':'.
constexpr const char* kSeparators = " ,:\t\n\r";
bool is_separator(char c) { return std::strchr(kSeparators, c) != nullptr && c != '\0'; }

std::vector<SanOption> parse_san_options(const std::string& text) {
  std::vector<SanOption> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_separator(text[i])) ++i;
    if (i >= text.size()) break;
    std::size_t eq = text.find('=', i);
    std::size_t stop = text.find_first_of(kSeparators, i);
    if (eq == std::string::npos || (stop != std::string::npos && stop < eq)) {
      // A bare word: keep it as a name without value (the sanitizer will judge it).
      out.push_back({text.substr(i, stop == std::string::npos ? std::string::npos : stop - i), ""});
      i = stop == std::string::npos ? text.size() : stop;
      continue;
    }
    SanOption o{text.substr(i, eq - i), ""};
    i = eq + 1;
    if (i < text.size() && (text[i] == '"' || text[i] == '\'')) {
      char q = text[i++];
      std::size_t end = text.find(q, i);
      o.value = text.substr(i, end == std::string::npos ? std::string::npos : end - i);
      i = end == std::string::npos ? text.size() : end + 1;
    } else {
      std::size_t end = text.find_first_of(kSeparators, i);
      o.value = text.substr(i, end == std::string::npos ? std::string::npos : end - i);
      i = end == std::string::npos ? text.size() : end;
    }
    out.push_back(std::move(o));
  }
  return out;
}

std::string quote_if_needed(const std::string& v) {
  return v.find_first_of(kSeparators) == std::string::npos ? v : "\"" + v + "\"";
}

// The variable's new value: the user's options, with `forced` replacing any
// user value (each replacement is described in `notes`) and `defaults` added
// only where the user has not set them.
std::string merge_san_options(const char* var, const std::vector<SanOption>& forced,
                              const std::vector<SanOption>& defaults, std::vector<std::string>& notes) {
  const char* user = std::getenv(var);
  std::vector<SanOption> opts = parse_san_options(user ? user : "");
  for (const auto& d : defaults) {
    if (std::none_of(opts.begin(), opts.end(), [&](const SanOption& o) { return o.name == d.name; })) {
      opts.push_back(d);
    }
  }
  for (const auto& f : forced) {
    bool replaced = false;
    for (auto& o : opts) {
      if (o.name != f.name) continue;
      if (o.value != f.value) {
        notes.push_back(fmt::format("{}: {}={} replaced by the gate's {}={}", var, o.name, o.value, f.name,
                                    f.name == "log_path" ? "<its log directory>" : f.value));
      }
      o.value = f.value;
      replaced = true;
    }
    if (!replaced) opts.push_back(f);
  }
  std::string out;
  for (const auto& o : opts) out += (out.empty() ? "" : ":") + o.name + "=" + quote_if_needed(o.value);
  return out;
}

// `tag` is put into every log file's name (exploration: one per run, so
// that each run's reports can be told apart). `explore_vars`: the preload
// library's variables (LD_PRELOAD first in the user's, RACEGATE_EXPLORE,
// RACEGATE_EXPLORE_STATS), replacing the user's; empty when not exploring.
std::vector<std::string> gate_environment(const fs::path& log_dir, const GateOptions& o,
                                          std::vector<std::string>& notes, const std::string& tag = "",
                                          const std::vector<std::string>& explore_vars = {}) {
  const std::string d = log_dir.string();
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    if (kv.rfind("TSAN_OPTIONS=", 0) == 0 || kv.rfind("ASAN_OPTIONS=", 0) == 0 ||
        kv.rfind("UBSAN_OPTIONS=", 0) == 0 || kv.rfind("LSAN_OPTIONS=", 0) == 0) {
      continue;
    }
    if (!explore_vars.empty() && is_explore_variable(kv)) continue;
    env.push_back(std::move(kv));
  }
  for (const auto& v : explore_vars) env.push_back(v);
  const std::string t = tag.empty() ? "" : "." + tag;
  // TSan reports and goes on; its exit code (66) would fail the command for
  // a race the baseline accepts, so the gate judges races itself. (Not so for
  // LeakSanitizer: under ASan its exitcode is ASan's own, and a memory error
  // must still stop the command.)
  std::vector<SanOption> tsan_forced = {{"log_path", d + "/tsan" + t}, {"exitcode", "0"}};
  if (!o.suppressions.empty()) tsan_forced.push_back({"suppressions", fs::absolute(o.suppressions).string()});
  env.push_back("TSAN_OPTIONS=" + merge_san_options("TSAN_OPTIONS", tsan_forced,
                                                    {{"halt_on_error", "0"}, {"second_deadlock_stack", "1"}},
                                                    notes));
  // LeakSanitizer's exit-time check runs in a thread of its own that would
  // wait for the PCT token for ever (docs/exploration.md): off under PCT
  // unless the user asks for it.
  const bool pct = std::any_of(explore_vars.begin(), explore_vars.end(),
                               [](const std::string& v) { return v.rfind("RACEGATE_EXPLORE=mode=pct", 0) == 0; });
  std::vector<SanOption> asan_defaults;
  if (pct) asan_defaults.push_back({"detect_leaks", "0"});
  env.push_back("ASAN_OPTIONS=" + merge_san_options("ASAN_OPTIONS", {{"log_path", d + "/asan" + t}}, asan_defaults, notes));
  env.push_back("LSAN_OPTIONS=" +
                merge_san_options("LSAN_OPTIONS", {{"log_path", d + "/lsan" + t}}, {}, notes));
  env.push_back("UBSAN_OPTIONS=" + merge_san_options("UBSAN_OPTIONS", {{"log_path", d + "/ubsan" + t}},
                                                     {{"print_stacktrace", "1"}}, notes));
  return env;
}

// ---------------------------------------------------------------------------
// The command's processes.

std::vector<pid_t> children_of_self(pid_t except) {
  std::vector<pid_t> out;
  const pid_t self = getpid();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::string stat = read_whole_file(e.path() / "stat");
    auto paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 4 >= stat.size()) continue;
    long ppid = std::strtol(stat.c_str() + paren + 4, nullptr, 10);
    pid_t pid = static_cast<pid_t>(std::stol(name));
    if (ppid == self && pid != except) out.push_back(pid);
  }
  return out;
}

struct CommandResult {
  std::optional<int> exit_code;
  std::optional<int> signal;
  bool timed_out = false;
  bool interrupted = false;
  int leftovers = 0;      // processes still running after the command ended (killed)
  std::string stderr_tail;  // the end of what the command wrote on stderr (passed on as it came)
  long maxrss_kb = 0;
  double wall_seconds = 0;
};

// The command's stderr goes through a pipe: every byte is passed on to ours
// as it comes, and its end is kept (a loader's message is quoted from it).
struct StderrTee {
  static constexpr std::size_t kKeep = 64 * 1024;
  int fd = -1;
  std::string tail;
  void pump() {
    char buf[65536];
    for (;;) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      for (ssize_t done = 0; done < n;) {
        ssize_t w = write(2, buf + done, static_cast<std::size_t>(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        done += w;
      }
      tail.append(buf, static_cast<std::size_t>(n));
      if (tail.size() > 2 * kKeep) tail.erase(0, tail.size() - kKeep);
    }
  }
};

// Runs the command in its own process group and waits for it; kills what it
// leaves behind. Throws SetupError when it cannot be started.
CommandResult run_command(const GateOptions& o, const std::vector<std::string>& env, int guardian_fd,
                          pid_t guardian_pid, const std::atomic<bool>& interrupted) {
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::vector<char*> argv;
  for (const auto& a : o.command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  int err_pipe[2] = {-1, -1};
  if (pipe2(err_pipe, O_CLOEXEC) != 0) throw SetupError(fmt::format("pipe2: {}", std::strerror(errno)));
  StderrTee tee{err_pipe[0], {}};
  fcntl(tee.fd, F_SETFL, fcntl(tee.fd, F_GETFL) | O_NONBLOCK);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  // In a process group of its own, a command reading the terminal would
  // stop (SIGTTIN): it reads /dev/null instead; piped input is kept.
  if (isatty(0)) posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  pid_t pid = -1;
  const auto started = Clock::now();
  int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(err_pipe[1]);
  if (rc != 0) {
    close(tee.fd);
    throw SetupError(fmt::format("cannot run '{}': {}", o.command[0], std::strerror(rc)));
  }
  guardian_send(guardian_fd, '+', pid);
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));

  CommandResult r;
  const auto deadline = o.timeout > 0 ? started + std::chrono::duration_cast<Clock::duration>(
                                                      std::chrono::duration<double>(o.timeout))
                                      : Clock::time_point::max();
  std::optional<Clock::time_point> kill_at;  // after SIGTERM on an interrupt
  int status = 0;
  rusage ru{};
  for (;;) {
    pid_t w = wait4(pid, &status, WNOHANG, &ru);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) throw SetupError(fmt::format("waiting for the command: {}", std::strerror(errno)));
    auto now = Clock::now();
    if (interrupted.load() && !r.interrupted) {
      r.interrupted = true;
      killpg(pid, SIGTERM);
      kill_at = now + std::chrono::seconds(5);
    }
    if ((kill_at && now >= *kill_at) || (!r.timed_out && now >= deadline)) {
      if (now >= deadline) r.timed_out = true;
      killpg(pid, SIGKILL);
      kill_at.reset();
    }
    // Orphans of the command come back to us (subreaper): reap them.
    for (;;) {
      siginfo_t info{};
      if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) break;
      if (info.si_pid == pid || info.si_pid == guardian_pid) break;
      waitpid(info.si_pid, nullptr, WNOHANG);
    }
    pollfd p[2] = {{tee.fd, POLLIN, 0}, {pidfd, POLLIN, 0}};
    poll(p, pidfd >= 0 ? 2 : 1, 100);
    tee.pump();
  }
  tee.pump();
  if (pidfd >= 0) close(pidfd);
  r.wall_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  r.maxrss_kb = ru.ru_maxrss;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);

  // What the command left: its group, and orphans that came back to us. A
  // sanitizer's symbolizer may still be finishing a report: give it a moment.
  for (int i = 0; i < 100; ++i) {
    if (group_members(pid, false).empty() && children_of_self(guardian_pid).empty()) break;
    usleep(20000);
  }
  std::set<pid_t> left;
  for (pid_t p : group_members(pid, false)) left.insert(p);
  for (pid_t p : children_of_self(guardian_pid)) left.insert(p);
  r.leftovers = static_cast<int>(left.size());
  killpg(pid, SIGKILL);
  for (pid_t p : left) kill(p, SIGKILL);
  for (int i = 0; i < 200; ++i) {
    auto zombies = group_members(pid, true);
    for (pid_t p : children_of_self(guardian_pid)) zombies.push_back(p);
    if (zombies.empty()) break;
    for (pid_t p : zombies) waitpid(p, nullptr, WNOHANG);
    usleep(5000);
  }
  guardian_send(guardian_fd, '-', pid);
  tee.pump();
  close(tee.fd);
  r.stderr_tail = std::move(tee.tail);
  return r;
}

// ---------------------------------------------------------------------------
// Findings.

struct Collected {
  std::vector<Finding> findings;  // deduplicated, most frequent first
  std::size_t reports = 0;        // before deduplication
  std::size_t logs = 0;
  std::uint64_t log_bytes = 0;
};

int pid_of_log(const std::string& name) {
  auto dot = name.rfind('.');
  if (dot == std::string::npos) return 0;
  char* end = nullptr;
  long v = std::strtol(name.c_str() + dot + 1, &end, 10);
  return end && *end == '\0' ? static_cast<int>(v) : 0;
}

// Parses every log of `log_dir` and copies it into `keep_dir`.
Collected collect(const fs::path& log_dir, const fs::path& keep_dir) {
  Collected c;
  std::vector<fs::path> logs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(log_dir, ec)) {
    const std::string name = e.path().filename().string();
    for (const char* prefix : kLogPrefixes) {
      if (name.rfind(prefix, 0) == 0) logs.push_back(e.path());
    }
  }
  std::sort(logs.begin(), logs.end());
  std::map<std::string, std::size_t> by_signature;
  fs::create_directories(keep_dir, ec);
  for (const auto& path : logs) {
    const std::string text = read_whole_file(path);
    ++c.logs;
    c.log_bytes += text.size();
    fs::copy_file(path, keep_dir / path.filename(), fs::copy_options::overwrite_existing, ec);
    const int file_pid = pid_of_log(path.filename().string());
    for (auto& f : reports::parse_sanitizer_log(text)) {
      ++c.reports;
      if (f.pid == 0) f.pid = file_pid;
      std::string key = f.signature.empty() ? f.tool + "/" + f.kind + "/" + f.headline : f.signature;
      auto [it, inserted] = by_signature.try_emplace(key, c.findings.size());
      if (inserted) {
        f.occurrences = 1;
        if (f.pid) f.pids = {f.pid};
        c.findings.push_back(std::move(f));
      } else {
        Finding& first = c.findings[it->second];
        ++first.occurrences;
        if (f.pid && std::find(first.pids.begin(), first.pids.end(), f.pid) == first.pids.end()) {
          first.pids.push_back(f.pid);
        }
      }
    }
  }
  for (auto& f : c.findings) std::sort(f.pids.begin(), f.pids.end());
  std::stable_sort(c.findings.begin(), c.findings.end(), [](const Finding& a, const Finding& b) {
    return std::tie(b.occurrences, a.signature) < std::tie(a.occurrences, b.signature);
  });
  return c;
}

std::string relative_file(const std::string& file, const fs::path& root) {
  if (file.empty()) return file;
  fs::path p(file);
  if (!p.is_absolute()) return file;
  std::error_code ec;
  fs::path rel = fs::relative(p, root, ec);
  if (ec || rel.empty() || rel.native().rfind("..", 0) == 0) return file;
  return rel.generic_string();
}

std::string where(const Finding& f, const fs::path& root) {
  const auto& l = f.location;
  if (l.file.empty()) return l.function.empty() ? "(no user frame)" : l.function;
  return fmt::format("{}:{}{}", relative_file(l.file, root), l.line, l.function.empty() ? "" : " " + l.function);
}

std::string shorten(const std::string& s, std::size_t n) {
  return s.size() <= n ? s : s.substr(0, n - 3) + "...";
}

std::string plural(std::size_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

// ---------------------------------------------------------------------------
// Schedule exploration (docs/exploration.md): the command runs under the
// preload library, once per token.

std::string shell_quote(const std::string& a) {
  if (!a.empty() && a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+=/.,:@%") ==
                        std::string::npos) {
    return a;
  }
  std::string q = "'";
  for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Sanitizer reports in the logs of one tagged run.
std::size_t reports_of_run(const fs::path& log_dir, const std::string& tag) {
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(log_dir, ec)) {
    const std::string name = e.path().filename().string();
    for (const char* prefix : kLogPrefixes) {
      if (name.rfind(std::string(prefix) + tag + ".", 0) == 0) {
        n += reports::parse_sanitizer_log(read_whole_file(e.path())).size();
      }
    }
  }
  return n;
}

struct ExploreRun {
  std::string label, token, outcome;
  CommandResult cr;
  ExploreStats stats;
  std::size_t reports = 0;
};

// One run under `token`. Its line is in the tokens file before it starts;
// its result line after it ended.
ExploreRun explore_one(const std::string& label, const std::string& token, const GateOptions& o,
                       const fs::path& log_dir, const fs::path& work, const fs::path& preload, int tokens_fd,
                       int guardian_fd, pid_t guardian_pid, const std::atomic<bool>& interrupted) {
  ExploreRun r{label, token, "", {}, {}, 0};
  std::string cmd;
  for (const auto& a : o.command) cmd += (cmd.empty() ? "" : " ") + shell_quote(a);
  append_line(tokens_fd, fmt::format("run {} token {} command {}\n", label, token, cmd));
  const fs::path stats = work / ("stats." + label + ".json");
  const auto vars = explore_variables(preload, token, stats);
  std::vector<std::string> notes;  // said once, for the first environment
  const auto env = gate_environment(log_dir, o, notes, "r" + label, vars);
  r.cr = run_command(o, env, guardian_fd, guardian_pid, interrupted);
  r.stats = read_stats(stats);
  std::error_code ec;
  fs::remove(stats, ec);
  r.reports = reports_of_run(log_dir, "r" + label);
  r.outcome = outcome_of(RunEnd{r.cr.interrupted, r.cr.timed_out, r.cr.signal, r.cr.exit_code}, r.stats, r.reports);
  append_line(tokens_fd, result_line(label, r.outcome, r.stats));
  return r;
}

}  // namespace

int gate_main(const GateOptions& o, const std::string& command_line, const std::atomic<bool>& interrupted) {
  if (o.command.empty()) throw SetupError("no command: racegate gate [options] -- COMMAND [ARGS...]");
  auto formats = check_formats(o.formats);
  // Exploration's options: all checked before anything runs.
  const bool exploring = !o.explore.empty();
  const bool replaying = !o.replay_token.empty();
  check_explore_options({o.explore, o.runs, o.depth, o.steps, o.explore_seed, o.stop_on_first});
  if (exploring && replaying) throw SetupError("--replay-token reruns one run: it does not go with --explore");
  if (!replaying && !o.tokens.empty()) throw SetupError("--tokens goes with --replay-token");
  if (replaying && (o.replay_token.find_first_of(" \t\n") != std::string::npos ||
                    o.replay_token.rfind("mode=", 0) != 0)) {
    throw SetupError(fmt::format("--replay-token '{}': a token is the mode=...,seed=... string of "
                                 "explore-tokens.txt, without spaces",
                                 o.replay_token));
  }
  const int runs = o.runs == -1 ? 100 : o.runs;
  const int depth = o.depth == -1 ? 3 : o.depth;
  const fs::path preload = exploring || replaying ? find_preload(o.preload) : fs::path();
  std::optional<Recorded> recorded;
  fs::path tokens_read;
  if (replaying) {
    tokens_read = fs::absolute(o.tokens.empty() ? fs::path(o.out) / "explore-tokens.txt" : fs::path(o.tokens));
    recorded = recorded_result(tokens_read, o.replay_token);
    if (!recorded) {
      throw SetupError(fmt::format("{} has no result for the token {}: replay compares with the recorded outcome "
                                   "(give the exploration's tokens file with --tokens)",
                                   tokens_read.string(), o.replay_token));
    }
  }
  const fs::path root = fs::absolute(o.source_root.empty() ? fs::current_path() : fs::path(o.source_root));

  // Everything that can be wrong with the input is found before the command runs.
  reports::Baseline baseline;
  std::vector<reports::IgnoreEntry> ignore;
  std::vector<reports::SuppressionRule> suppressions;
  try {
    if (!o.suppressions.empty()) suppressions = reports::load_tsan_suppressions(o.suppressions);
    if (!o.ignore.empty()) ignore = reports::load_ignore_list(o.ignore);
    if (!o.baseline.empty()) {
      std::error_code ec;
      if (o.update_baseline && !fs::exists(o.baseline, ec)) {
        std::cerr << fmt::format("racegate gate: {} does not exist yet: --update-baseline will create it\n",
                                 o.baseline);
      } else if (!fs::exists(o.baseline, ec)) {
        throw SetupError(fmt::format("{}: no such baseline file (--update-baseline creates it; a gate never "
                                     "runs without the baseline it was given)",
                                     o.baseline));
      } else {
        baseline = reports::load_baseline(o.baseline);
      }
    }
  } catch (const InputError& e) {
    throw SetupError(e.what());
  }
  if (o.update_baseline && o.baseline.empty()) throw SetupError("--update-baseline needs --baseline FILE");
  if (o.update_baseline) {
    const fs::path dir = fs::absolute(o.baseline).parent_path();
    if (access(dir.c_str(), W_OK) != 0) {
      throw SetupError(fmt::format("cannot write the baseline into {}: {}", dir.string(), std::strerror(errno)));
    }
  }
  const fs::path out = fs::absolute(o.out);
  {
    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec || access(out.c_str(), W_OK) != 0) {
      throw SetupError(fmt::format("cannot write to output directory {}: {}", out.string(),
                                   ec ? ec.message() : std::strerror(errno)));
    }
  }

  if (o.doctor) {
    // A blind detector must fail the gate, not pass it.
    if (auto blind = blind_detectors(DoctorOptions{}); !blind.empty()) throw SetupError(blind);
  }

  const char* tmpdir = std::getenv("TMPDIR");
  std::string work = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/racegate-gate-XXXXXX";
  if (!mkdtemp(work.data())) {
    throw SetupError(fmt::format("cannot create a work directory {}: {}", work, std::strerror(errno)));
  }
  auto [guardian_fd, guardian_pid] = start_guardian();
  {
    std::string line = "D" + work + "\n";
    (void)!write(guardian_fd, line.data(), line.size());
  }
  const fs::path log_dir = fs::path(work) / "logs";
  fs::create_directories(log_dir);

  std::vector<std::string> notes;
  auto env = gate_environment(log_dir, o, notes);
  for (const auto& n : notes) std::cerr << "racegate gate: " << n << "\n";
  std::string shown;
  for (const auto& a : o.command) shown += (shown.empty() ? "" : " ") + a;
  std::cerr << fmt::format("racegate gate: running {}\n", shown);
  std::cerr.flush();

  const std::string started_at = now_iso();
  CommandResult cr;
  Collected found;
  std::vector<ExploreRun> xruns;    // the exploration's runs, or the replay's one
  std::optional<ExploreRun> probe;  // PCT without --steps: the run that measured k
  long steps = o.steps;
  int tokens_fd = -1;
  const fs::path tokens_path = out / "explore-tokens.txt";
  try {
    if (exploring) {
      tokens_fd = open_tokens_file(tokens_path, fmt::format("# racegate gate --explore {}: one 'run' line per run, written before it "
                                         "starts, and a 'result' line after it ended\n",
                                         o.explore));
      if (o.explore == "pct" && steps == 0) {
        probe = explore_one("probe", kProbeConfig, o, log_dir, work,
                            preload, tokens_fd, guardian_fd, guardian_pid, interrupted);
        steps = std::max(1L, probe->stats.steps);
        std::cerr << fmt::format("racegate gate: probe run: {} threads, {} steps: PCT draws its change points "
                                 "among {} steps\n",
                                 probe->stats.threads, probe->stats.steps, steps);
      }
      for (int i = 0; i < runs && !interrupted.load(); ++i) {
        const long long seed = o.explore_seed + i;
        const std::string token = engine_config(o.explore, seed, depth, steps);
        xruns.push_back(explore_one(std::to_string(i), token, o, log_dir, work, preload, tokens_fd, guardian_fd,
                                    guardian_pid, interrupted));
        const auto& r = xruns.back();
        if (r.outcome != "pass") {
          std::cerr << fmt::format("racegate gate: run {} of {} ({}): {}\n", i + 1, runs, token, r.outcome);
          if (o.stop_on_first) break;
        }
      }
    } else if (replaying) {
      xruns.push_back(explore_one("replay", o.replay_token, o, log_dir, work, preload, -1, guardian_fd,
                                  guardian_pid, interrupted));
    } else {
      cr = run_command(o, env, guardian_fd, guardian_pid, interrupted);
    }
    if (exploring || replaying) {
      // The command's result for the verdict: the first failing run's (the
      // probe's when it alone failed), else a success.
      std::vector<const ExploreRun*> all;
      for (const auto& r : xruns) all.push_back(&r);
      if (probe) all.push_back(&*probe);
      cr.exit_code = 0;
      bool failed = false;
      for (const auto* r : all) {
        cr.wall_seconds += r->cr.wall_seconds;
        cr.maxrss_kb = std::max(cr.maxrss_kb, r->cr.maxrss_kb);
        cr.leftovers += r->cr.leftovers;
        cr.interrupted = cr.interrupted || r->cr.interrupted;
        const bool command_failed = r->cr.timed_out || r->cr.signal || (r->cr.exit_code && *r->cr.exit_code != 0);
        if (command_failed && !failed) {
          failed = true;
          cr.exit_code = r->cr.exit_code;
          cr.signal = r->cr.signal;
          cr.timed_out = r->cr.timed_out;
          cr.stderr_tail = r->cr.stderr_tail;
        }
      }
    }
    // The raw logs stay in the output directory, replacing a previous run's.
    const fs::path keep = out / "logs";
    std::error_code ec;
    fs::remove_all(keep, ec);
    found = collect(log_dir, keep);
  } catch (...) {
    if (tokens_fd >= 0) close(tokens_fd);
    close(guardian_fd);
    while (waitpid(guardian_pid, nullptr, 0) == -1 && errno == EINTR) {}
    std::error_code ec;
    fs::remove_all(work, ec);
    throw;
  }
  if (tokens_fd >= 0) close(tokens_fd);
  close(guardian_fd);  // EOF: the guardian ends and removes nothing more
  while (waitpid(guardian_pid, nullptr, 0) == -1 && errno == EINTR) {}
  {
    std::error_code ec;
    fs::remove_all(work, ec);
  }

  // Judge each finding: suppressed, known or new; baseline entries not seen are fixed.
  std::map<std::string, std::string> ignored;
  for (const auto& e : ignore) ignored.emplace(e.signature, e.reason);
  std::size_t n_new = 0, n_known = 0, n_suppressed = 0;
  std::set<std::string> seen;
  for (auto& f : found.findings) {
    seen.insert(f.signature);
    auto rule = std::find_if(suppressions.begin(), suppressions.end(),
                             [&](const reports::SuppressionRule& r) { return reports::suppression_matches(r, f); });
    if (auto it = ignored.find(f.signature); it != ignored.end()) {
      f.state = "suppressed";
      f.state_reason = it->second;
      ++n_suppressed;
    } else if (rule != suppressions.end()) {
      f.state = "suppressed";
      f.state_reason = fmt::format("TSan suppression {}:{} ({}:{})", rule->type, rule->pattern,
                                   fs::path(o.suppressions).filename().string(), rule->line);
      ++n_suppressed;
    } else if (const auto* k = baseline.find(f.signature)) {
      f.state = "known";
      f.state_reason = k->reason;
      ++n_known;
    } else {
      f.state = "new";
      ++n_new;
    }
  }
  std::vector<reports::KnownFinding> fixed;
  for (const auto& k : baseline.findings) {
    if (!seen.count(k.signature)) fixed.push_back(k);
  }

  std::size_t adopted = 0;
  if (o.update_baseline && !cr.interrupted) {
    reports::Baseline next;
    for (const auto& k : baseline.findings) {
      if (seen.count(k.signature)) next.findings.push_back(k);
    }
    const std::string reason = o.baseline_reason.empty()
                                   ? fmt::format("accepted by racegate gate --update-baseline on {}", started_at)
                                   : o.baseline_reason;
    for (auto& f : found.findings) {
      if (f.state != "new") continue;
      reports::KnownFinding k{f.signature, f.tool, f.kind, f.location, started_at, reason};
      k.location.file = relative_file(k.location.file, root);
      next.findings.push_back(std::move(k));
      f.state = "known";
      f.state_reason = reason;
      ++adopted;
    }
    n_known += adopted;
    n_new -= adopted;
    reports::write_file_atomically(fs::absolute(o.baseline), reports::baseline_text(next));
    std::cerr << fmt::format("racegate gate: baseline {} written: {} added, {} kept, {} removed as fixed\n",
                             o.baseline, adopted, next.findings.size() - adopted, fixed.size());
  }

  // The exploration's figures (report.json's run.explore).
  nlohmann::json explore;
  bool explore_hard = false;    // a deadlock, signal or timeout: --allow-command-failure does not excuse it
  bool replay_diverged = false;
  std::string explore_text;     // for the verdict's message
  if (exploring) {
    std::map<std::string, int> outcomes;
    int failed = 0;
    long threads_max = 0, steps_max = 0, preemptions = 0;
    const ExploreRun* first_failing = nullptr;
    for (const auto& r : xruns) {
      ++outcomes[r.outcome];
      threads_max = std::max(threads_max, r.stats.threads);
      steps_max = std::max(steps_max, r.stats.steps);
      preemptions += r.stats.slice_preemptions;
      if (r.outcome != "pass") {
        ++failed;
        if (!first_failing) first_failing = &r;
      }
      explore_hard = explore_hard || hard_failure(r.outcome);
    }
    if (probe) {
      explore_hard = explore_hard || hard_failure(probe->outcome);
      if (!first_failing && probe->outcome != "pass") first_failing = &*probe;
    }
    const int done = static_cast<int>(xruns.size());
    explore = {{"mode", o.explore},
               {"runs", done},
               {"runs_requested", runs},
               {"seed_first", o.explore_seed},
               {"failed_runs", failed},
               {"outcomes", outcomes},
               {"threads_max", threads_max},
               {"steps_max", steps_max},
               {"slice_preemptions", preemptions},
               {"stopped_early", done < runs},
               {"tokens_file", tokens_path.string()},
               {"preload", preload.string()}};
    explore["first_failing_token"] = first_failing ? nlohmann::json(first_failing->token) : nlohmann::json();
    explore["first_failing_outcome"] = first_failing ? nlohmann::json(first_failing->outcome) : nlohmann::json();
    explore["first_failing_run"] = first_failing ? nlohmann::json(first_failing->label) : nlohmann::json();
    if (o.explore == "pct") {
      explore["depth"] = depth;
      explore["steps"] = steps;
      explore["steps_from_probe"] = probe.has_value();
      // The PCT guarantee: one run finds a bug of depth d with probability at
      // least 1/(n k^(d-1)), so R runs miss it with probability at most this.
      explore["miss_bound"] = miss_bound(threads_max, steps_max, depth, done);
    } else {
      explore["depth"] = nullptr;
      explore["steps"] = nullptr;
      explore["miss_bound"] = nullptr;
    }
    if (probe) {
      explore["probe"] = {{"token", probe->token}, {"outcome", probe->outcome}, {"threads", probe->stats.threads},
                          {"steps", probe->stats.steps}};
    }
    const std::string hist = histogram_text(outcomes);
    explore_text = fmt::format("exploration {}: {} of {} runs failed ({})", o.explore, failed, done,
                               hist.empty() ? "none run" : hist);
    if (first_failing) explore_text += fmt::format(", the first with token {}", first_failing->token);
  } else if (replaying) {
    const ExploreRun& r = xruns.front();
    const std::string hash_check = trace_hash_check(*recorded, r.stats);
    const bool same = r.outcome == recorded->outcome && hash_check != "differs";
    replay_diverged = !same;
    explore_hard = hard_failure(r.outcome);
    const auto mode_end = o.replay_token.find(',');
    explore = {{"mode", o.replay_token.substr(5, mode_end == std::string::npos ? std::string::npos : mode_end - 5)},
               {"replay",
                {{"token", o.replay_token},
                 {"tokens_file", tokens_read.string()},
                 {"recorded_outcome", recorded->outcome},
                 {"outcome", r.outcome},
                 {"recorded_trace_hash", recorded->trace_hash},
                 {"trace_hash", r.stats.trace_hash},
                 {"trace_hash_check", hash_check},
                 {"same", same}}}};
    explore_text = same ? fmt::format("replay reproduced the recorded outcome {} (trace hash {})", r.outcome,
                                      hash_check)
                        : fmt::format("replay diverged: recorded {}, replayed {} (trace hash {})",
                                      recorded->outcome, r.outcome, hash_check);
  }

  // The verdict.
  const bool command_failed = cr.timed_out || cr.signal || (cr.exit_code && *cr.exit_code != 0);
  // Exit code 127 is the loader's (a shared library, such as a sanitizer
  // runtime, it could not load) or a shell's (a program not found): nothing
  // was tested, so --allow-command-failure does not excuse it.
  const bool not_loaded = !cr.timed_out && !cr.interrupted && cr.exit_code == 127;
  const std::string loader_says = not_loaded ? loader_error_line(cr.stderr_tail) : "";
  std::string command_text =
      cr.timed_out       ? fmt::format("the command timed out after {} s and was killed", o.timeout)
      : cr.interrupted   ? "the gate was interrupted; the command was stopped"
      : cr.signal        ? fmt::format("the command was killed by signal {} ({})", *cr.signal, strsignal(*cr.signal))
      : not_loaded       ? "the command exited with code 127: it, or a program it ran, could not be loaded or "
                           "found (a shared library such as a sanitizer runtime the loader could not load, or a "
                           "missing program)" +
                               (loader_says.empty() ? std::string("; the shell's message is on stderr")
                                                    : ": " + loader_says)
      : command_failed   ? fmt::format("the command failed with exit code {}", *cr.exit_code)
                         : "the command succeeded";
  if (command_failed && o.allow_command_failure && !cr.timed_out && !cr.interrupted && !not_loaded &&
      !explore_hard) {
    command_text += " (allowed by --allow-command-failure)";
  }
  const std::size_t n_unsymbolized = static_cast<std::size_t>(
      std::count_if(found.findings.begin(), found.findings.end(), [](const Finding& f) { return unsymbolized(f); }));
  if (n_unsymbolized > 0) std::cerr << "racegate gate: " << unsymbolized_warning(n_unsymbolized) << "\n";
  Verdict verdict = Verdict::kPass;
  if (cr.timed_out) {
    verdict = Verdict::kTimeout;
  } else if (not_loaded) {
    verdict = Verdict::kError;
  } else if (n_new > 0) {
    verdict = Verdict::kRace;
  } else if (cr.interrupted || (command_failed && (!o.allow_command_failure || explore_hard))) {
    verdict = cr.signal ? Verdict::kCrash : Verdict::kFail;
  }
  if (verdict == Verdict::kPass && replay_diverged) verdict = Verdict::kFail;  // never silently trusted
  std::map<std::string, int> new_kinds;
  for (const auto& f : found.findings) {
    if (f.state == "new") ++new_kinds[f.kind];
  }
  std::string kinds;
  for (const auto& [k, n] : new_kinds) kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ", n, k);
  std::string message = fmt::format("{}{}, {} known, {} suppressed, {} fixed; {}", plural(n_new, "new finding", "new findings"),
                                    kinds.empty() ? "" : " (" + kinds + ")", n_known, n_suppressed, fixed.size(),
                                    command_text);
  if (!explore_text.empty()) message += "; " + explore_text;
  if (cr.leftovers > 0) {
    message += fmt::format("; {} left running after it ended (killed)",
                           plural(static_cast<std::size_t>(cr.leftovers), "process was", "processes were"));
  }

  reports::Run run;
  run.info.tool_version = "0.1.0";
  run.info.started_at = started_at;
  run.info.wall_seconds = cr.wall_seconds;
  run.info.command_line = command_line;
  run.info.interrupted = cr.interrupted;
  run.info.source_root = root.string();
  run.info.mode = "gate";
  run.info.baseline_path = o.baseline.empty() ? "" : fs::absolute(o.baseline).string();
  run.info.fixed = fixed;
  run.info.variants = {"command"};
  if (exploring || replaying) run.info.explore_json = explore.dump();
  reports::UnitResult u;
  u.case_id = "gate";
  u.title = shown;
  u.expectation = "no new findings";
  u.binary = o.command[0];
  u.variant = "command";
  u.verdict = verdict;
  u.message = message;
  u.exit_code = cr.exit_code;
  u.signal = cr.signal;
  u.wall_seconds = cr.wall_seconds;
  u.peak_rss_kb = cr.maxrss_kb;
  u.findings = found.findings;
  run.units.push_back(std::move(u));
  {  // results.jsonl and the reports replace the earlier ones together, or none does
    reports::AtomicFileSet files;
    files.add(out / "results.jsonl",
              reports::results_header_line(run.info) + reports::results_unit_line(run.units.front()));
    (void)stage_reports(run, out, formats, files);
    files.commit();
  }

  // The console: the findings, most frequent first, then the verdict.
  std::cout << fmt::format("racegate gate: {} in {} of sanitized processes ({} KiB), {}\n",
                           plural(found.reports, "report", "reports"), plural(found.logs, "log", "logs"),
                           (found.log_bytes + 1023) / 1024,
                           plural(found.findings.size(), "distinct signature", "distinct signatures"));
  if (!found.findings.empty()) {
    std::cout << fmt::format("  {:<10} {:>6} {:>5}  {:<32} {}\n", "state", "count", "procs", "kind", "where");
    const std::size_t shown_n = std::min<std::size_t>(found.findings.size(), static_cast<std::size_t>(std::max(1, o.top)));
    for (std::size_t i = 0; i < shown_n; ++i) {
      const auto& f = found.findings[i];
      std::cout << fmt::format("  {:<10} {:>6} {:>5}  {:<32} {}\n", f.state, f.occurrences, f.pids.size(),
                               shorten(f.tool + "/" + f.kind, 32), shorten(where(f, root), 90));
    }
    if (shown_n < found.findings.size()) {
      std::cout << fmt::format("  ... and {} more signatures ({} reports): every one is in {}\n",
                               found.findings.size() - shown_n,
                               [&] {
                                 std::size_t n = 0;
                                 for (std::size_t i = shown_n; i < found.findings.size(); ++i) {
                                   n += static_cast<std::size_t>(found.findings[i].occurrences);
                                 }
                                 return n;
                               }(),
                               (out / "report.json").string());
    }
  }
  for (const auto& k : fixed) {
    std::cout << fmt::format("  fixed      {}/{} {}:{} {} (in the baseline since {})\n", k.tool, k.kind,
                             k.location.file, k.location.line, k.location.function, k.first_seen);
  }
  for (const auto& f : formats) {
    if (auto r = reports::make_reporter(f)) std::cout << "report: " << (out / r->file_name()).string() << "\n";
  }
  std::cout << "logs: " << (out / "logs").string() << "\n";
  if (exploring) {
    std::cout << fmt::format("racegate gate: {}\n", explore_text);
    if (o.explore == "pct") {
      std::cout << fmt::format("racegate gate: PCT depth {}, k = {} steps{}, n = {} threads (max measured)",
                               depth, steps, probe ? " (measured by the probe run)" : "",
                               explore["threads_max"].get<long>());
      if (explore["miss_bound"].is_number()) {
        std::cout << fmt::format(": a bug of depth <= {} missed by all {} runs with probability <= {}",
                                 depth, explore["runs"].get<int>(), explore["miss_bound"].get<double>());
      }
      std::cout << "\n";
    }
    std::cout << "tokens: " << tokens_path.string() << "\n";
  } else if (replaying) {
    std::cout << fmt::format("racegate gate: {}\n", explore_text);
  }
  std::cout << fmt::format("racegate gate: {}: {}\n", reports::verdict_name(verdict), message);
  std::cout.flush();
  return verdict == Verdict::kPass ? 0 : 1;
}

}  // namespace racegate::runner
