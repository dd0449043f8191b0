// `racegate doctor`: compiles and runs planted bugs under each sanitizer with
// each compiler, and diagnoses what keeps a sanitizer from seeing them. See
// doctor.h and docs/doctor.md.
#include "doctor.h"
#include "runner.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "racegate/reports/parse.h"
#include "racegate/reports/reporter.h"

extern char** environ;

namespace racegate::runner {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr double kVersionTimeoutSeconds = 30;
constexpr double kCompileTimeoutSeconds = 120;
constexpr double kRunTimeoutSeconds = 30;
// ThreadSanitizer misses even a trivial race about once in a thousand runs:
// a silent but otherwise healthy run is tried again before it counts.
constexpr int kTsanAttempts = 3;
constexpr std::size_t kOutputCap = 1 << 20;
constexpr const char* kCacheSchema = "racegate-doctor-cache/1";
constexpr const char* kReportSchema = "racegate-doctor/1";

// Set by doctor_main's SIGINT/SIGTERM handler: kill what runs, start nothing more.
std::atomic<bool> g_stop{false};

// ---------------------------------------------------------------- planted programs

constexpr const char* kRaceFile = "doctor_race.cpp";
constexpr const char* kRaceSource = R"(// racegate doctor: a planted data race; ThreadSanitizer must report it.
#include <thread>

int g_shared_counter = 0;

int main() {
  std::thread first([] { g_shared_counter = g_shared_counter + 1; });   // planted race
  std::thread second([] { g_shared_counter = g_shared_counter + 2; });  // planted race
  first.join();
  second.join();
  return g_shared_counter == 42 ? 1 : 0;
}
)";

constexpr const char* kUseAfterFreeFile = "doctor_use_after_free.cpp";
constexpr const char* kUseAfterFreeSource =
    R"(// racegate doctor: a planted heap-use-after-free (AddressSanitizer must report
// it) and, with the argument "leak", a planted leak (LeakSanitizer must).
#include <cstdlib>
#include <cstring>

void* volatile g_last_block = nullptr;

__attribute__((noinline)) void leak_a_block() {
  g_last_block = std::malloc(48);  // planted leak: the only pointer is dropped below
  g_last_block = nullptr;
}

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "leak") == 0) {
    leak_a_block();
    return 0;
  }
  int* block = new int[4]{};
  delete[] block;
  return block[argc];  // planted heap-use-after-free
}
)";

constexpr const char* kOverflowFile = "doctor_overflow.cpp";
constexpr const char* kOverflowSource = R"(// racegate doctor: a planted signed integer overflow; UBSan must report it.
#include <climits>

int main(int argc, char**) {
  volatile int largest = INT_MAX;
  int sum = largest + argc;  // planted signed integer overflow
  return sum == 0 ? 1 : 0;
}
)";

// What one tool's check compiles, runs and expects.
struct ToolSpec {
  std::string tool;                // "tsan"
  std::string sanitizer_name;      // "ThreadSanitizer"
  std::string flag;                // "-fsanitize=thread"
  std::vector<std::string> flags;  // every compile flag
  const char* file;
  const char* source;
  std::string options_variable;     // "TSAN_OPTIONS"
  std::string our_options;          // appended to the user's (log_path comes on top)
  std::string expected_kind;        // "data-race"
  std::string runtime_symbol;       // present in any instrumented binary
  std::string symbolizer_variable;  // "TSAN_SYMBOLIZER_PATH"
};

const std::vector<ToolSpec>& tool_specs() {
  static const std::vector<ToolSpec> specs = {
      {"tsan",
       "ThreadSanitizer",
       "-fsanitize=thread",
       {"-fsanitize=thread", "-fno-omit-frame-pointer", "-g", "-O1", "-pthread"},
       kRaceFile,
       kRaceSource,
       "TSAN_OPTIONS",
       "halt_on_error=0 exitcode=66",
       "data-race",
       "__tsan_init",
       "TSAN_SYMBOLIZER_PATH"},
      {"asan",
       "AddressSanitizer",
       "-fsanitize=address",
       {"-fsanitize=address", "-fno-omit-frame-pointer", "-g", "-O1"},
       kUseAfterFreeFile,
       kUseAfterFreeSource,
       "ASAN_OPTIONS",
       "detect_leaks=1",
       "heap-use-after-free",
       "__asan_init",
       "ASAN_SYMBOLIZER_PATH"},
      {"ubsan",
       "UndefinedBehaviorSanitizer",
       "-fsanitize=undefined",
       {"-fsanitize=undefined", "-fno-omit-frame-pointer", "-g", "-O1"},
       kOverflowFile,
       kOverflowSource,
       "UBSAN_OPTIONS",
       "print_stacktrace=1 halt_on_error=0",
       "signed-integer-overflow",
       "__ubsan_handle_add_overflow",
       "UBSAN_SYMBOLIZER_PATH"},
  };
  return specs;
}

const ToolSpec* find_spec(const std::string& tool) {
  for (const auto& s : tool_specs()) {
    if (s.tool == tool) return &s;
  }
  return nullptr;
}

// ---------------------------------------------------------------- small helpers

bool contains(const std::string& text, std::string_view needle) { return text.find(needle) != std::string::npos; }

std::string getenv_string(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string read_file(const fs::path& path, std::size_t cap = kOutputCap) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::string text(cap, '\0');
  in.read(text.data(), static_cast<std::streamsize>(cap));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

std::string first_line(const std::string& text) {
  auto end = text.find('\n');
  return text.substr(0, end);
}

std::string trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t start = 0;
  while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
  return s.substr(start);
}

// The first line of `text` that contains `needle`, trimmed and shortened.
std::string line_with(const std::string& text, std::string_view needle) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (contains(line, needle)) {
      line = trimmed(line);
      return line.size() > 240 ? line.substr(0, 237) + "..." : line;
    }
  }
  return {};
}

// A (shortened) sample of what a process printed, for a detail line.
std::string excerpt(const std::string& text) {
  for (const char* marker : {"error:", "ERROR", "FATAL", "WARNING", "HINT"}) {
    std::string line = line_with(text, marker);
    if (!line.empty()) return line;
  }
  std::string line = trimmed(first_line(trimmed(text)));
  return line.size() > 240 ? line.substr(0, 237) + "..." : line;
}

std::optional<fs::path> find_in_path(const std::string& name) {
  if (name.empty()) return std::nullopt;
  if (name.find('/') != std::string::npos) {
    if (access(name.c_str(), X_OK) == 0 && !fs::is_directory(name)) return fs::path(name);
    return std::nullopt;
  }
  std::stringstream dirs(getenv_string("PATH"));
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) dir = ".";
    fs::path candidate = fs::path(dir) / name;
    std::error_code ec;
    if (access(candidate.c_str(), X_OK) == 0 && !fs::is_directory(candidate, ec)) return candidate;
  }
  return std::nullopt;
}

// FNV-1a 64, as 16 hex digits: stable across builds and machines.
std::string fnv1a_hex(std::string_view text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

// The kernel's ASLR entropy for mmap (clang 14's TSan needs <= 28 bits).
std::string mmap_rnd_bits() { return trimmed(read_file("/proc/sys/vm/mmap_rnd_bits", 64)); }

int mmap_rnd_bits_value() {
  std::string bits = mmap_rnd_bits();
  return bits.empty() ? 0 : std::atoi(bits.c_str());
}

std::string machine_name() {
  utsname u{};
  return uname(&u) == 0 ? std::string(u.machine) : "x86_64";
}

// ---------------------------------------------------------------- bounded processes

struct ProcessResult {
  std::string spawn_error;  // non-empty: it could not be started
  bool timed_out = false;
  bool interrupted = false;
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::string output;  // stdout and stderr, interleaved, capped
};

// Runs argv in a process group of its own, stdin from /dev/null, stdout and
// stderr into `output_file`; after `timeout_s` (or when the doctor is
// interrupted) the whole group is killed. The child and everything of its
// group that became ours is reaped before it returns.
ProcessResult run_bounded(const std::vector<std::string>& argv_text, const std::vector<std::string>& env_text,
                          const fs::path& output_file, double timeout_s) {
  ProcessResult result;
  std::vector<char*> argv;
  for (const auto& a : argv_text) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : env_text) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, output_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t defaults, empty;
  sigemptyset(&defaults);
  for (int s : {SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGQUIT}) sigaddset(&defaults, s);
  sigemptyset(&empty);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  posix_spawnattr_setsigmask(&attributes, &empty);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, &attributes, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) {
    result.spawn_error = fmt::format("cannot run {}: {}", argv_text[0], std::strerror(rc));
    return result;
  }

  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) break;
    const bool late = Clock::now() >= deadline;
    if (late || g_stop.load()) {
      // The group leader is not reaped yet, so the group id is still ours.
      kill(-pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      // What was killed with it and became ours (when we are a child
      // subreaper, as `racegate run` is) is reaped before we go on.
      for (;;) {
        pid_t member = waitpid(-pid, nullptr, 0);
        if (member < 0 && errno != EINTR) break;
      }
      result.timed_out = late;
      result.interrupted = !late;
      break;
    }
    usleep(10000);
  }
  // Members of the group that became ours and have ended are reaped too.
  while (waitpid(-pid, nullptr, WNOHANG) > 0) {
  }
  if (!result.timed_out && !result.interrupted) {
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  }
  result.output = read_file(output_file);
  return result;
}

// The environment of a planted program: the user's, with the sanitizer's
// options variable extended (the user's options first, ours last so they win).
std::vector<std::string> run_environment(const std::string& options_variable, const std::string& our_options) {
  std::vector<std::string> env;
  const std::string prefix = options_variable + "=";
  for (char** e = environ; *e; ++e) {
    if (std::string_view(*e).substr(0, prefix.size()) != prefix) env.emplace_back(*e);
  }
  std::string user = getenv_string(options_variable.c_str());
  env.push_back(prefix + (user.empty() ? "" : user + " ") + our_options);
  return env;
}

std::vector<std::string> current_environment() {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  return env;
}

// The private temporary directory, removed on every path unless kept.
class TempDir {
 public:
  TempDir() {
    std::string base = getenv_string("TMPDIR");
    std::string pattern = (base.empty() ? std::string("/tmp") : base) + "/racegate-doctor-XXXXXX";
    if (!mkdtemp(pattern.data())) {
      throw std::runtime_error(
          fmt::format("cannot create a temporary directory {}: {}", pattern, std::strerror(errno)));
    }
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    if (keep_) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  [[nodiscard]] const fs::path& path() const { return path_; }
  void keep() { keep_ = true; }

 private:
  fs::path path_;
  bool keep_ = false;
};

// ---------------------------------------------------------------- compilers

struct Compiler {
  std::string name;     // as named or found: "/usr/bin/clang++"
  fs::path path;        // the executable run
  fs::path resolved;    // its canonical path
  std::string version;  // `--version` output
  std::string family;   // "clang", "gcc" or ""
  std::string major;    // "14", "12" or ""
  std::string problem;  // non-empty: it cannot be used
  std::string problem_fix;
  bool required = true;
};

std::string version_major_after(const std::string& line, std::string_view marker) {
  auto at = line.find(marker);
  if (at == std::string::npos) return {};
  std::string major;
  for (std::size_t i = at + marker.size(); i < line.size() && std::isdigit(static_cast<unsigned char>(line[i])); ++i) {
    major += line[i];
  }
  return major;
}

void identify(Compiler& c) {
  std::string line = first_line(c.version);
  if (contains(c.version, "clang version")) {
    c.family = "clang";
    c.major = version_major_after(line, "clang version ");
  } else if (contains(c.version, "Free Software Foundation") || line.rfind("g++", 0) == 0 ||
             line.rfind("gcc", 0) == 0 || contains(line, "GCC")) {
    c.family = "gcc";
    auto space = line.rfind(' ');
    std::string last = space == std::string::npos ? line : line.substr(space + 1);
    c.major = last.substr(0, last.find('.'));
    if (!c.major.empty() && !std::isdigit(static_cast<unsigned char>(c.major[0]))) c.major.clear();
  }
}

std::string clang_packages(const std::string& major) {
  std::string v = major.empty() ? "14" : major;
  return fmt::format("clang-{0} libclang-rt-{0}-dev llvm-{0}", v);
}

// Runs `--version` and fills what it says.
void probe(Compiler& c, const fs::path& work_dir, int index) {
  std::error_code ec;
  c.resolved = fs::canonical(c.path, ec);
  if (ec) c.resolved = c.path;
  auto r = run_bounded({c.path.string(), "--version"}, current_environment(),
                       work_dir / fmt::format("compiler-{}-version.txt", index), kVersionTimeoutSeconds);
  if (!r.spawn_error.empty() || r.timed_out || r.interrupted || r.exit_code != 0) {
    c.problem = !r.spawn_error.empty() ? r.spawn_error
                : r.timed_out
                    ? fmt::format("`{} --version` did not end within {:.0f} s", c.name, kVersionTimeoutSeconds)
                : r.interrupted ? std::string("interrupted")
                                : fmt::format("`{} --version` failed: {}", c.name, excerpt(r.output));
    c.problem_fix = "check that the compiler runs: `" + c.name + " --version`";
    return;
  }
  c.version = r.output;
  identify(c);
}

// The compilers to check: the named ones, or the first clang++ and the first
// g++ in PATH (a missing one is reported, not skipped).
std::vector<Compiler> select_compilers(const DoctorOptions& o) {
  std::vector<Compiler> out;
  if (!o.compilers.empty()) {
    for (const auto& name : o.compilers) {
      Compiler c;
      c.name = name;
      if (auto p = find_in_path(name)) {
        c.path = *p;
      } else {
        c.problem = name.find('/') != std::string::npos
                        ? fmt::format("compiler {} not found (no such executable file)", name)
                        : fmt::format("compiler {} not found in PATH", name);
        c.problem_fix = "install it, or name an existing compiler with --compiler PATH";
      }
      out.push_back(std::move(c));
    }
    return out;
  }
  struct Wanted {
    std::string family;
    std::vector<std::string> names;
    std::string fix;
  };
  const std::vector<Wanted> wanted = {
      {"clang",
       {"clang++", "clang++-14"},
       "install clang: `apt-get install " + clang_packages("14") + "` (or name one with --compiler PATH)"},
      {"gcc", {"g++", "g++-12"}, "install gcc: `apt-get install g++-12` (or name one with --compiler PATH)"},
  };
  for (const auto& w : wanted) {
    Compiler c;
    c.family = w.family;
    for (const auto& name : w.names) {
      if (auto p = find_in_path(name)) {
        c.name = p->string();
        c.path = *p;
        break;
      }
    }
    if (c.path.empty()) {
      c.name = w.names.front();
      std::string tried;
      for (const auto& n : w.names) tried += (tried.empty() ? "" : ", ") + n;
      c.problem = fmt::format("no {} compiler: none of {} is in PATH", w.family, tried);
      c.problem_fix = w.fix;
    }
    out.push_back(std::move(c));
  }
  return out;
}

// The llvm-symbolizer the sanitizers of clang `major` would use: Debian's
// runtimes look for /usr/bin/llvm-symbolizer-<major> (package llvm-<major>)
// before llvm-symbolizer in PATH.
std::optional<fs::path> find_symbolizer(const std::string& major) {
  for (const auto& name : {"llvm-symbolizer-" + major, std::string("llvm-symbolizer")}) {
    if (auto p = find_in_path(name)) return p;
  }
  if (auto p = find_in_path("/usr/bin/llvm-symbolizer-" + major)) return p;
  return std::nullopt;
}

// ---------------------------------------------------------------- the cache

fs::path cache_directory() {
  std::string xdg = getenv_string("XDG_CACHE_HOME");
  if (!xdg.empty() && xdg.front() == '/') return fs::path(xdg) / "racegate";
  std::string home = getenv_string("HOME");
  if (!home.empty()) return fs::path(home) / ".cache" / "racegate";
  return {};
}

// What a cached result depends on: the compiler (resolved path, --version,
// binary mtime and size), the kernel's ASLR entropy, and what the user's
// environment tells the sanitizers (options, symbolizer paths).
std::string cache_key(const Compiler& c) {
  std::string text = std::string(kCacheSchema) + "\n" + c.resolved.string() + "\n" + c.version + "\n";
  struct stat st {};
  if (stat(c.resolved.c_str(), &st) == 0) {
    text += fmt::format("mtime={}.{:09} size={}\n", static_cast<long long>(st.st_mtim.tv_sec),
                        static_cast<long>(st.st_mtim.tv_nsec), static_cast<long long>(st.st_size));
  }
  text += "mmap_rnd_bits=" + mmap_rnd_bits() + "\n";
  for (const auto& spec : tool_specs()) {
    text += spec.options_variable + "=" + getenv_string(spec.options_variable.c_str()) + "\n";
    text += spec.symbolizer_variable + "=" + getenv_string(spec.symbolizer_variable.c_str()) + "\n";
  }
  text += "LSAN_OPTIONS=" + getenv_string("LSAN_OPTIONS") + "\n";
  auto symbolizer = find_symbolizer(c.family == "clang" && !c.major.empty() ? c.major : "14");
  text += "llvm-symbolizer=" + (symbolizer ? symbolizer->string() : std::string()) + "\n";
  return fnv1a_hex(text);
}

struct CacheEntry {
  bool ok = false;
  std::string detail;
};

// The passing results cached for a key; a missing, unreadable or corrupt file
// gives none (and is rewritten after the checks).
std::map<std::string, CacheEntry> read_cache(const fs::path& file, const std::string& key) {
  std::map<std::string, CacheEntry> out;
  std::ifstream in(file);
  if (!in) return out;
  std::stringstream text;
  text << in.rdbuf();
  json j = json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("schema", json()) != kCacheSchema ||
      j.value("key", json()) != key || !j.contains("checks") || !j["checks"].is_object()) {
    return out;
  }
  for (const auto& [tool, entry] : j["checks"].items()) {
    if (!find_spec(tool) || !entry.is_object()) return {};
    auto ok = entry.find("ok");
    auto detail = entry.find("detail");
    if (ok == entry.end() || !ok->is_boolean() || detail == entry.end() || !detail->is_string()) return {};
    if (ok->get<bool>()) out[tool] = CacheEntry{true, detail->get<std::string>()};
  }
  return out;
}

// Writes the passing results (temp file + rename); a failing check is never
// cached, so that a fix shows on the next run. Errors are ignored: the cache
// is an optimisation.
void write_cache(const fs::path& file, const std::string& key, const Compiler& c,
                 const std::map<std::string, CacheEntry>& passing) {
  json checks = json::object();
  for (const auto& [tool, entry] : passing) checks[tool] = {{"ok", entry.ok}, {"detail", entry.detail}};
  json j = {{"schema", kCacheSchema},
            {"key", key},
            {"compiler", c.name},
            {"resolved", c.resolved.string()},
            {"version", first_line(c.version)},
            {"mmap_rnd_bits", mmap_rnd_bits()},
            {"written_at", now_iso()},
            {"checks", checks}};
  try {
    std::error_code ec;
    fs::create_directories(file.parent_path(), ec);
    reports::write_file_atomically(file, j.dump(2) + "\n");
  } catch (const std::exception&) {
    // An unwritable cache only costs the next run its time.
  }
}

// ---------------------------------------------------------------- diagnosis

std::string runtime_package_fix(const Compiler& c, const ToolSpec& spec) {
  if (c.family == "clang") {
    std::string v = c.major.empty() ? "14" : c.major;
    return fmt::format("install clang's sanitizer runtimes: `apt-get install libclang-rt-{}-dev`", v);
  }
  if (c.family == "gcc") {
    static const std::map<std::string, std::pair<std::string, std::string>> gcc12 = {
        {"tsan", {"libtsan2", "libtsan"}}, {"asan", {"libasan8", "libasan"}}, {"ubsan", {"libubsan1", "libubsan"}}};
    const auto& [package, base] = gcc12.at(spec.tool);
    if (c.major == "12" || c.major.empty()) {
      return fmt::format("install gcc 12's {} runtime: `apt-get install {} libgcc-12-dev`", spec.sanitizer_name,
                         package);
    }
    return fmt::format(
        "install gcc {}'s {} runtime (the {} package of that gcc, e.g. {} for gcc 12; "
        "`apt-cache search {}`) and libgcc-{}-dev",
        c.major, spec.sanitizer_name, base, package, base, c.major);
  }
  return fmt::format("install the {} runtime of this compiler", spec.sanitizer_name);
}

std::string keep_hint(const ToolSpec& spec) {
  return fmt::format("run `racegate doctor --keep` and compile the kept {} by hand to see more", spec.file);
}

// Why a compile failed, and its fix.
std::pair<std::string, std::string> diagnose_compile(const Compiler& c, const ToolSpec& spec, const std::string& out) {
  static const std::vector<std::string> runtime_markers = {"libclang_rt", "-ltsan",  "-lasan",  "-lubsan",
                                                           "libtsan",     "libasan", "libubsan"};
  for (const auto& marker : runtime_markers) {
    if (contains(out, marker)) {
      return {fmt::format("link error: the {} runtime is missing: {}", spec.sanitizer_name, line_with(out, marker)),
              runtime_package_fix(c, spec)};
    }
  }
  for (const char* marker : {"unsupported option", "unrecognized command-line option",
                             "unrecognized command line option", "unsupported argument"}) {
    if (contains(out, marker) && contains(out, "sanitize")) {
      return {fmt::format("the compiler does not accept {}: {}", spec.flag, line_with(out, marker)),
              c.family == "clang"
                  ? "use clang " + std::string(c.major.empty() ? "14" : c.major) +
                        " with its runtimes: `apt-get install " + clang_packages(c.major) + "`"
                  : "use a compiler that supports " + spec.flag + " on this target (clang++-14 or g++-12)"};
    }
  }
  for (const char* header :
       {"'thread' file not found", "thread: No such file", "'cstdlib' file not found", "cstdlib: No such file",
        "'climits' file not found", "climits: No such file", "cannot find -lstdc++"}) {
    if (contains(out, header)) {
      return {fmt::format("the C++ standard library is missing: {}", line_with(out, header)),
              "install the C++ standard library headers: `apt-get install libstdc++-12-dev`"};
    }
  }
  std::string what = excerpt(out);
  return {fmt::format("compiling {} with {} failed: {}", spec.file, spec.flag, what.empty() ? "(no output)" : what),
          keep_hint(spec)};
}

std::string aslr_fix() {
  const std::string bits = mmap_rnd_bits();
  const std::string without_aslr =
      fmt::format("run the sanitized programs without ASLR: `setarch {} -R racegate run ...`", machine_name());
  if (mmap_rnd_bits_value() > 28) {
    return fmt::format(
        "the kernel's ASLR entropy (vm.mmap_rnd_bits = {}) is more than clang 14's sanitizers can map around: "
        "`sudo sysctl vm.mmap_rnd_bits=28` (persist it in /etc/sysctl.d/), or {}",
        bits, without_aslr);
  }
  return fmt::format(
      "the sanitizer rejects this process's memory layout although vm.mmap_rnd_bits is {}: {}, or use a clang whose "
      "sanitizers know this kernel's layout",
      bits.empty() ? "unreadable" : bits, without_aslr);
}

// TSan's "FATAL: ThreadSanitizer: unexpected memory mapping", ASan's shadow
// clash, or (with more than 28 bits of entropy) ASan's endless DEADLYSIGNAL.
bool looks_like_aslr_failure(const std::string& text) {
  return contains(text, "unexpected memory mapping") ||
         contains(text, "Shadow memory range interleaves with an existing memory mapping") ||
         (contains(text, "DEADLYSIGNAL") && mmap_rnd_bits_value() > 28);
}

std::string tracer_pid() {
  std::string status = read_file("/proc/self/status", 1 << 16);
  std::string line = line_with(status, "TracerPid:");
  if (line.empty()) return "0";
  return trimmed(line.substr(line.find(':') + 1));
}

std::string ptrace_fix() {
  std::string tracer = tracer_pid();
  if (tracer != "0") {
    return fmt::format(
        "racegate itself runs under ptrace (TracerPid {}: strace, gdb?): LeakSanitizer cannot "
        "stop its threads while traced; run it untraced",
        tracer);
  }
  std::string scope = trimmed(read_file("/proc/sys/kernel/yama/ptrace_scope", 64));
  std::string fix = "LeakSanitizer must ptrace its own threads: ";
  if (!scope.empty() && scope != "0" && scope != "1") {
    fix += fmt::format("Yama forbids it (kernel.yama.ptrace_scope = {}): `sudo sysctl kernel.yama.ptrace_scope=1`; ",
                       scope);
  } else {
    fix += fmt::format("kernel.yama.ptrace_scope is {}; ", scope.empty() ? "not set (no Yama)" : scope);
  }
  fix +=
      "in a container allow ptrace (`docker run --cap-add SYS_PTRACE`, or a seccomp profile that allows "
      "ptrace); do not run the sanitized programs under strace or gdb; as a last resort "
      "ASAN_OPTIONS=detect_leaks=0 (racegate then misses leaks)";
  return fix;
}

std::string symbolizer_fix(const Compiler& c, const ToolSpec& spec) {
  std::string options = getenv_string(spec.options_variable.c_str());
  if (contains(options, "symbolize=0") || contains(options, "symbolize=false")) {
    return fmt::format("remove symbolize=0 from {} (it is '{}')", spec.options_variable, options);
  }
  std::string v = c.family == "clang" && !c.major.empty() ? c.major : "14";
  std::string configured = getenv_string(spec.symbolizer_variable.c_str());
  if (!configured.empty()) {
    return fmt::format(
        "{}={} gives no file:line: point it at llvm-symbolizer-{} "
        "(`export {}=/usr/lib/llvm-{}/bin/llvm-symbolizer`) or unset it",
        spec.symbolizer_variable, configured, v, spec.symbolizer_variable, v);
  }
  auto found = find_symbolizer(v);
  if (!found) {
    return fmt::format(
        "no llvm-symbolizer (neither /usr/bin/llvm-symbolizer-{0} nor llvm-symbolizer in PATH), so stacks have "
        "no file:line: `apt-get install llvm-{0}`, or `export {1}=/path/to/llvm-symbolizer`",
        v, spec.symbolizer_variable);
  }
  return fmt::format(
      "{} gives no file:line for this binary: use the llvm-symbolizer of the compiler's version "
      "(`export {}=/usr/lib/llvm-{}/bin/llvm-symbolizer`)",
      found->string(), spec.symbolizer_variable, v);
}

// Whether a file contains `needle` (an instrumented binary names its runtime's entry points).
bool file_contains(const fs::path& file, const std::string& needle) {
  std::string bytes = read_file(file, 64u << 20);
  return contains(bytes, needle);
}

// The sanitizer's log files in `dir` (log_path=dir/prefix gives prefix.PID),
// then what the process printed.
std::string collect_logs(const fs::path& dir, const std::string& prefix, const std::string& output) {
  std::string text;
  std::vector<fs::path> logs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().filename().string().rfind(prefix + ".", 0) == 0) logs.push_back(entry.path());
  }
  std::sort(logs.begin(), logs.end());
  for (const auto& log : logs) text += read_file(log) + "\n";
  return text + output;
}

struct Verdict {
  bool ok = false;
  std::string detail, fix;
};

std::string where(const reports::Finding& f) {
  return f.location.column > 0 ? fmt::format("{}:{}:{}", fs::path(f.location.file).filename().string(), f.location.line,
                                             f.location.column)
                               : fmt::format("{}:{}", fs::path(f.location.file).filename().string(), f.location.line);
}

// Judges one run of a planted program: a finding of `kind` located in the
// planted file, or why not.
Verdict judge_run(const Compiler& c, const ToolSpec& spec, const std::string& kind, const ProcessResult& r,
                  const std::string& logs, bool instrumented, const fs::path& binary) {
  Verdict v;
  if (r.interrupted) {
    v.detail = "interrupted";
    v.fix = "run `racegate doctor` again";
    return v;
  }
  if (!r.spawn_error.empty()) {
    v.detail = r.spawn_error;
    v.fix = keep_hint(spec);
    return v;
  }
  const auto findings = reports::parse_sanitizer_log(logs);
  const reports::Finding* match = nullptr;
  for (const auto& f : findings) {
    if (f.kind == kind) {
      match = &f;
      break;
    }
  }
  if (match) {
    if (fs::path(match->location.file).filename() == spec.file && match->location.line > 0) {
      v.ok = true;
      v.detail = fmt::format("{} at {}", kind, where(*match));
      return v;
    }
    v.detail = fmt::format("{} reported, but its stacks have no file:line in {} (location: '{}')", kind, spec.file,
                           match->location.empty() ? std::string("none") : where(*match));
    v.fix = symbolizer_fix(c, spec);
    return v;
  }
  // Nothing of the expected kind: why?
  if (contains(logs, "LeakSanitizer has encountered a fatal error") || contains(logs, "does not work under ptrace")) {
    v.detail = fmt::format("LeakSanitizer failed: {}", line_with(logs, "LeakSanitizer"));
    v.fix = ptrace_fix();
    return v;
  }
  if (looks_like_aslr_failure(logs) || (r.timed_out && mmap_rnd_bits_value() > 28)) {
    std::string seen = line_with(logs, "unexpected memory mapping");
    if (seen.empty()) seen = line_with(logs, "Shadow memory range");
    if (seen.empty()) seen = line_with(logs, "DEADLYSIGNAL");
    if (seen.empty()) seen = fmt::format("the program hung ({:.0f} s)", kRunTimeoutSeconds);
    v.detail = fmt::format("{} cannot start under this memory layout: {}", spec.sanitizer_name, seen);
    v.fix = aslr_fix();
    return v;
  }
  for (const char* marker : {"error while loading shared libraries", "cannot open shared object file"}) {
    if (contains(logs, marker)) {
      v.detail = fmt::format("the {} runtime library is missing at run time: {}", spec.sanitizer_name,
                             line_with(logs, marker));
      v.fix = runtime_package_fix(c, spec);
      return v;
    }
  }
  if (contains(logs, "External symbolizer path is set to")) {
    v.detail = line_with(logs, "External symbolizer path");
    v.fix = symbolizer_fix(c, spec);
    return v;
  }
  if (contains(logs, "suppressions") && (contains(logs, "failed") || contains(logs, "ERROR"))) {
    v.detail = fmt::format("{} rejected its options: {}", spec.sanitizer_name, line_with(logs, "suppressions"));
    v.fix = fmt::format("fix or remove suppressions= in {} (it is '{}')", spec.options_variable,
                        getenv_string(spec.options_variable.c_str()));
    return v;
  }
  if (!instrumented) {
    v.detail = fmt::format(
        "the planted {} went unreported: {} has no {} runtime ({} missing), so the compiler "
        "ignored {}",
        kind, binary.filename().string(), spec.sanitizer_name, spec.runtime_symbol, spec.flag);
    v.fix = fmt::format(
        "make {} honour {} (a wrapper script, ccache or distcc setting that drops flags?), or "
        "name the real compiler with --compiler",
        c.name, spec.flag);
    return v;
  }
  if (r.timed_out) {
    v.detail = fmt::format("the planted program did not end within {:.0f} s", kRunTimeoutSeconds);
    v.fix = keep_hint(spec);
    return v;
  }
  std::string others;
  for (const auto& f : findings) others += (others.empty() ? "" : ", ") + f.kind;
  std::string options = getenv_string(spec.options_variable.c_str());
  v.detail = fmt::format("{} did not report the planted {}{}{}", spec.sanitizer_name, kind,
                         others.empty() ? "" : " (it reported: " + others + ")",
                         r.signal ? fmt::format("; the program died of signal {}", *r.signal)
                                  : fmt::format("; exit code {}", r.exit_code.value_or(-1)));
  v.fix = options.empty() ? keep_hint(spec)
                          : fmt::format(
                                "check the options in {} ('{}': suppressions, halt_on_error, "
                                "report_* settings can hide it); {}",
                                spec.options_variable, options, keep_hint(spec));
  return v;
}

// ---------------------------------------------------------------- one check

// Runs the planted program (up to `attempts` times while it is silent but
// healthy) and judges it. A failure that points at the memory layout is run
// again under `setarch -R`, a hang again with symbolize=0, to prove the cause.
Verdict run_planted(const Compiler& c, const ToolSpec& spec, const fs::path& dir, const fs::path& binary,
                    const std::string& log_prefix, const std::string& our_options, const std::string& kind,
                    const std::vector<std::string>& args, bool instrumented, int attempts) {
  struct Outcome {
    ProcessResult process;
    std::string logs;
  };
  auto run_once = [&](const std::string& name, std::vector<std::string> argv, const std::string& extra_options) {
    const fs::path run_dir = dir / name;
    std::error_code ec;
    fs::create_directories(run_dir, ec);
    argv.push_back(binary.string());
    argv.insert(argv.end(), args.begin(), args.end());
    const auto env = run_environment(spec.options_variable,
                                     our_options + extra_options + " log_path=" + (run_dir / log_prefix).string());
    Outcome o;
    o.process = run_bounded(argv, env, run_dir / "output.txt", kRunTimeoutSeconds);
    o.logs = collect_logs(run_dir, log_prefix, o.process.output);
    return o;
  };
  Verdict v;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    Outcome o = run_once(fmt::format("{}-run-{}", log_prefix, attempt), {}, "");
    const ProcessResult& r = o.process;
    v = judge_run(c, spec, kind, r, o.logs, instrumented, binary);
    if (v.ok || r.interrupted) return v;
    if (looks_like_aslr_failure(o.logs)) {
      if (auto setarch = find_in_path("setarch")) {
        Outcome retry = run_once(log_prefix + "-no-aslr", {setarch->string(), machine_name(), "-R"}, "");
        Verdict without = judge_run(c, spec, kind, retry.process, retry.logs, instrumented, binary);
        v.detail += without.ok ? " (under `setarch -R` it works)" : " (it fails under `setarch -R` too)";
      }
      return v;
    }
    if (r.timed_out && instrumented) {
      // A symbolizer that never answers hangs the report: without it, is the bug reported at once?
      Outcome retry = run_once(log_prefix + "-no-symbolizer", {}, " symbolize=0");
      if (!retry.process.timed_out) {
        for (const auto& f : reports::parse_sanitizer_log(retry.logs)) {
          if (f.kind != kind) continue;
          v.detail = fmt::format(
              "the program hangs while symbolizing its {} report (with symbolize=0 it is reported "
              "at once, without file:line)",
              kind);
          v.fix = symbolizer_fix(c, spec);
          break;
        }
      }
      return v;
    }
    // Only a silent, healthy, instrumented run is worth another try.
    const bool silent =
        instrumented && !r.timed_out && r.spawn_error.empty() && reports::parse_sanitizer_log(o.logs).empty();
    if (!silent || g_stop.load()) return v;
  }
  return v;
}

DetectorCheck check_one(const Compiler& c, const ToolSpec& spec, const fs::path& work_dir, int index) {
  DetectorCheck check;
  check.compiler = c.name;
  check.tool = spec.tool;
  check.family = c.family;
  check.required = c.required;
  if (!c.problem.empty()) {
    check.detail = c.problem;
    check.fix = c.problem_fix;
    return check;
  }
  if (g_stop.load()) {
    check.detail = "interrupted";
    check.fix = "run `racegate doctor` again";
    return check;
  }
  const fs::path dir = work_dir / fmt::format("compiler-{}-{}", index, spec.tool);
  std::error_code ec;
  fs::create_directories(dir, ec);
  const fs::path source = dir / spec.file;
  const fs::path binary = dir / fs::path(spec.file).stem();
  {
    std::ofstream out(source);
    out << spec.source;
    if (!out) {
      check.detail = fmt::format("cannot write {}", source.string());
      check.fix = "check that the temporary directory (TMPDIR) is writable";
      return check;
    }
  }
  std::vector<std::string> compile = {c.path.string()};
  compile.insert(compile.end(), spec.flags.begin(), spec.flags.end());
  compile.insert(compile.end(), {source.string(), "-o", binary.string()});
  ProcessResult built = run_bounded(compile, current_environment(), dir / "compile.txt", kCompileTimeoutSeconds);
  if (built.interrupted) {
    check.detail = "interrupted";
    check.fix = "run `racegate doctor` again";
    return check;
  }
  if (!built.spawn_error.empty()) {
    check.detail = built.spawn_error;
    check.fix = c.problem_fix.empty() ? "check that the compiler runs: `" + c.name + " --version`" : c.problem_fix;
    return check;
  }
  if (built.timed_out) {
    check.detail =
        fmt::format("compiling {} with {} did not end within {:.0f} s", spec.file, spec.flag, kCompileTimeoutSeconds);
    check.fix = keep_hint(spec);
    return check;
  }
  if (built.exit_code != 0 || access(binary.c_str(), X_OK) != 0) {
    auto [detail, fix] = diagnose_compile(c, spec, built.output);
    if (built.exit_code == 0)
      detail = fmt::format("compiling {} gave no program: {}", spec.file, excerpt(built.output));
    check.detail = detail;
    check.fix = fix;
    return check;
  }
  const bool instrumented = file_contains(binary, spec.runtime_symbol);
  const int attempts = spec.tool == "tsan" ? kTsanAttempts : 1;
  Verdict v =
      run_planted(c, spec, dir, binary, spec.tool, spec.our_options, spec.expected_kind, {}, instrumented, attempts);
  if (v.ok && spec.tool == "asan") {
    // racegate's asan runs have leak detection on: LeakSanitizer must work too.
    Verdict leak =
        run_planted(c, spec, dir, binary, "leak", "detect_leaks=1", "memory-leak", {"leak"}, instrumented, 1);
    v.ok = leak.ok;
    v.detail += "; " + leak.detail;
    v.fix = leak.fix;
  }
  check.ok = v.ok;
  check.detail = v.detail;
  check.fix = v.ok ? "" : v.fix;
  return check;
}

// ---------------------------------------------------------------- the run

struct DoctorRun {
  std::vector<DetectorCheck> checks;
  std::vector<Compiler> compilers;
  std::string kept_dir;
  fs::path cache_dir;
};

void validate_tools(const std::vector<std::string>& tools) {
  for (const auto& t : tools) {
    if (!find_spec(t)) throw std::invalid_argument(fmt::format("unknown tool '{}' (tsan, asan, ubsan)", t));
  }
}

DoctorRun run_doctor(const DoctorOptions& o,
                     const std::function<void(const DetectorCheck&, const Compiler&)>& on_check) {
  validate_tools(o.tools);
  DoctorRun run;
  run.cache_dir = cache_directory();
  TempDir work;
  if (o.keep) {
    work.keep();
    run.kept_dir = work.path().string();
  }
  run.compilers = select_compilers(o);
  int index = 0;
  for (auto& c : run.compilers) {
    if (c.problem.empty()) probe(c, work.path(), index);
    // clang++ is what racegate's tsan and asan presets build with; gcc is optional.
    c.required = c.family == "gcc" ? o.require_gcc : true;
    std::string key;
    fs::path cache_file;
    std::map<std::string, CacheEntry> cached, previous;
    if (c.problem.empty() && !run.cache_dir.empty()) {
      key = cache_key(c);
      cache_file = run.cache_dir / fmt::format("doctor-{}.json", key);
      // A missing or corrupt file gives nothing: every check runs and the
      // file is (re)written below.
      previous = read_cache(cache_file, key);
      if (o.use_cache) cached = previous;
    }
    std::map<std::string, CacheEntry> passing = previous;
    bool ran_any = false;
    for (const auto& tool : o.tools) {
      const ToolSpec& spec = *find_spec(tool);
      DetectorCheck check;
      if (auto hit = cached.find(tool); hit != cached.end()) {
        check.compiler = c.name;
        check.tool = tool;
        check.family = c.family;
        check.required = c.required;
        check.ok = true;
        check.detail = hit->second.detail;
        check.cached = true;
      } else {
        check = check_one(c, spec, work.path(), index);
        ran_any = true;
        if (check.ok) {
          passing[tool] = CacheEntry{true, check.detail};
        } else {
          passing.erase(tool);
        }
      }
      if (on_check) on_check(check, c);
      run.checks.push_back(std::move(check));
    }
    if (!cache_file.empty() && ran_any && !g_stop.load()) write_cache(cache_file, key, c, passing);
    ++index;
  }
  return run;
}

std::string compiler_description(const Compiler& c) {
  if (!c.problem.empty()) return c.name + " (not usable)";
  std::string resolved = c.resolved != c.path ? " -> " + c.resolved.string() : "";
  return fmt::format("{}{} ({})", c.name, resolved, trimmed(first_line(c.version)));
}

json to_json_check(const DetectorCheck& c) {
  return {{"compiler", c.compiler}, {"family", c.family}, {"tool", c.tool},     {"ok", c.ok},
          {"required", c.required}, {"cached", c.cached}, {"detail", c.detail}, {"fix", c.fix}};
}

}  // namespace

std::vector<DetectorCheck> check_detectors(const DoctorOptions& options) { return run_doctor(options, {}).checks; }

bool required_checks_pass(const std::vector<DetectorCheck>& checks) {
  return std::all_of(checks.begin(), checks.end(), [](const DetectorCheck& c) { return c.ok || !c.required; });
}

int doctor_main(const DoctorOptions& options) {
  try {
    validate_tools(options.tools);
  } catch (const std::invalid_argument& e) {
    std::cerr << "racegate doctor: " << e.what() << "\n";
    return 2;
  }
  for (const auto& c : options.compilers) {
    if (c.empty()) {
      std::cerr << "racegate doctor: --compiler needs a path or a name\n";
      return 2;
    }
  }
  g_stop.store(false);
  struct sigaction stop {};
  stop.sa_handler = [](int) { g_stop.store(true); };
  struct sigaction old_int {
  }, old_term{};
  sigaction(SIGINT, &stop, &old_int);
  sigaction(SIGTERM, &stop, &old_term);
  struct RestoreSignals {
    struct sigaction& i;
    struct sigaction& t;
    ~RestoreSignals() {
      sigaction(SIGINT, &i, nullptr);
      sigaction(SIGTERM, &t, nullptr);
    }
  } restore{old_int, old_term};

  const bool human = !options.json;
  if (human) {
    std::cout << "racegate doctor: do the sanitizers see planted bugs? (clang++ required";
    std::cout << (options.require_gcc ? ", g++ required)\n" : ", g++ optional)\n");
    std::cout.flush();
  }
  std::string last_compiler;
  DoctorRun run;
  try {
    run = run_doctor(options, [&](const DetectorCheck& check, const Compiler& c) {
      if (!human) return;
      if (c.name != last_compiler) {
        std::cout << compiler_description(c) << "\n";
        last_compiler = c.name;
      }
      std::string status = check.ok ? "ok" : "FAILED";
      std::string note;
      if (check.cached) note = " (cached)";
      if (!check.ok && !check.required) note = " (warning: gcc is optional; --require-gcc makes this an error)";
      std::cout << fmt::format("  {:<18} {:<6} {:<6}{}{}\n", c.name, check.tool, status,
                               check.detail.empty() ? "" : " " + check.detail, note);
      if (!check.ok && !check.fix.empty()) std::cout << "      fix: " << check.fix << "\n";
      std::cout.flush();
    });
  } catch (const std::exception& e) {
    std::cerr << "racegate doctor: " << e.what() << "\n";
    return 2;
  }

  const bool pass = required_checks_pass(run.checks) && !g_stop.load();
  std::size_t required_failed = 0, optional_failed = 0;
  for (const auto& c : run.checks) {
    if (!c.ok) ++(c.required ? required_failed : optional_failed);
  }
  if (options.json) {
    json checks = json::array();
    for (const auto& c : run.checks) checks.push_back(to_json_check(c));
    json compilers = json::array();
    for (const auto& c : run.compilers) {
      compilers.push_back({{"name", c.name},
                           {"path", c.path.string()},
                           {"resolved", c.resolved.string()},
                           {"family", c.family},
                           {"version", trimmed(first_line(c.version))},
                           {"required", c.required},
                           {"problem", c.problem}});
    }
    json out = {{"schema", kReportSchema},
                {"ok", pass},
                {"exit_code", pass ? 0 : 1},
                {"interrupted", g_stop.load()},
                {"mmap_rnd_bits", mmap_rnd_bits()},
                {"cache_dir", run.cache_dir.string()},
                {"kept_dir", run.kept_dir},
                {"compilers", compilers},
                {"checks", checks}};
    std::cout << out.dump(2) << "\n";
  } else {
    if (!run.kept_dir.empty()) std::cout << "kept the planted programs, binaries and logs in " << run.kept_dir << "\n";
    if (g_stop.load()) {
      std::cout << "doctor: interrupted\n";
    } else if (pass) {
      std::cout << "doctor: every required sanitizer sees its planted bug"
                << (optional_failed ? fmt::format(" ({} optional check(s) failed)", optional_failed) : "") << "\n";
    } else {
      std::cout << fmt::format(
          "doctor: {} required check(s) FAILED; racegate's sanitizer verdicts cannot be "
          "trusted until they are fixed\n",
          required_failed);
    }
  }
  return pass ? 0 : 1;
}

std::string blind_detectors(const DoctorOptions& options) {
  std::string text;
  for (const auto& check : check_detectors(options)) {
    if (check.ok || !check.required) continue;
    text += fmt::format("\n  {} {}: {}{}", check.compiler, check.tool, check.detail,
                        check.fix.empty() ? "" : " (fix: " + check.fix + ")");
  }
  if (text.empty()) return text;
  return "a sanitizer did not see its planted bug, so its silence would prove nothing (`racegate doctor` "
         "explains; --no-doctor skips this check):" +
         text;
}

}  // namespace racegate::runner
