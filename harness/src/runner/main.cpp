// racegate — the runner. See `racegate --help` and docs/runner.md.
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fnmatch.h>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <spawn.h>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "racegate/reports/catalog.h"
#include "racegate/reports/reporter.h"
#include "racegate/reports/results_file.h"
#include "gate.h"
#include "runner.h"
#include "doctor.h"
#include "explore_runs.h"

extern char** environ;

namespace fs = std::filesystem;
using racegate::reports::Verdict;

namespace racegate::runner {
namespace {

constexpr const char* kVersion = "0.1.0";
const std::vector<std::string> kAllVariants = {"plain", "tsan", "asan"};
const std::vector<std::string> kAllFormats = {"json", "junit", "sarif", "md", "html"};

std::atomic<bool> g_interrupted{false};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, sep);) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// GoogleTest-style filter: POSITIVE[:POSITIVE...][-NEGATIVE[:NEGATIVE...]] of globs.
bool matches_filter(const std::string& id, const std::string& filter) {
  if (filter.empty()) return true;
  auto dash = filter.find('-');
  std::string pos = filter.substr(0, dash);
  std::string neg = dash == std::string::npos ? "" : filter.substr(dash + 1);
  bool ok = pos.empty();
  for (const auto& g : split(pos, ':')) ok = ok || fnmatch(g.c_str(), id.c_str(), 0) == 0;
  for (const auto& g : split(neg, ':')) ok = ok && fnmatch(g.c_str(), id.c_str(), 0) != 0;
  return ok;
}

fs::path self_dir() { return fs::read_symlink("/proc/self/exe").parent_path(); }

// The project's own case binaries: build/<preset>/cases/racegate-cases[-variant],
// found from this runner's place in build/<preset>/harness/.
fs::path default_binary(const std::string& variant) {
  fs::path build_root = self_dir().parent_path().parent_path();
  if (variant == "plain") return build_root / "default" / "cases" / "racegate-cases";
  return build_root / variant / "cases" / ("racegate-cases-" + variant);
}

struct Selection {
  std::vector<std::string> binaries;
  std::vector<std::string> variants;
  std::string filter;
};

std::vector<CaseEntry> discover(const Selection& sel) {
  std::vector<fs::path> bins;
  std::vector<std::string> variants = sel.variants.empty() ? kAllVariants : sel.variants;
  for (const auto& v : variants) {
    if (std::find(kAllVariants.begin(), kAllVariants.end(), v) == kAllVariants.end()) {
      throw SetupError(fmt::format("unknown variant '{}' (plain, tsan, asan)", v));
    }
  }
  if (!sel.binaries.empty()) {
    for (const auto& b : sel.binaries) bins.emplace_back(b);
  } else {
    for (const auto& v : variants) {
      fs::path p = default_binary(v);
      if (access(p.c_str(), X_OK) != 0) {
        throw SetupError(fmt::format(
            "the {} case binary is missing: {}\n  build it with `cmake --preset {} && cmake --build --preset {}`, "
            "choose variants with --variants, or name binaries with --binary",
            v, p.string(), v == "plain" ? "default" : v, v == "plain" ? "default" : v));
      }
      bins.push_back(p);
    }
  }
  std::vector<CaseEntry> out;
  for (const auto& b : bins) {
    for (auto& c : list_cases(b)) {
      if (!sel.variants.empty() &&
          std::find(variants.begin(), variants.end(), c.variant) == variants.end()) {
        continue;
      }
      if (matches_filter(c.id, sel.filter)) out.push_back(std::move(c));
    }
  }
  return out;
}

}  // namespace

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// Starts `racegate __guardian` (see guardian_main); returns the write end of
// its stdin and its pid.
std::pair<int, pid_t> start_guardian() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw SetupError("pipe2 failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
  std::string exe = fs::read_symlink("/proc/self/exe").string();
  std::string sub = "__guardian";
  char* argv[] = {exe.data(), sub.data(), nullptr};
  pid_t pid;
  int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[0]);
  if (rc != 0) {
    close(fds[1]);
    throw SetupError(fmt::format("cannot start the guardian: {}", std::strerror(rc)));
  }
  return {fds[1], pid};
}

namespace {

const char* colour(Verdict v, bool tty) {
  if (!tty) return "";
  return v == Verdict::kPass ? "\033[32m" : "\033[31m";
}

struct RunOptions {
  Selection sel;
  int jobs = 0;
  int trials = 0;
  int repeat = 1;
  std::optional<std::uint64_t> seed;
  double timeout = 0;
  std::string shard;
  std::string out = "racegate-out";
  std::string formats = "json,junit,sarif,md,html";
  std::string source_root;
  std::string catalog;
  bool quiet = false;
  bool doctor = true;
  int max_procs = 1024;
  // Schedule exploration (docs/exploration.md, "racegate run --explore").
  ExploreOptions x;
  std::string preload;
  std::string replay_token;   // racegate replay TOKEN
  std::string tokens;         // replay TOKEN: the tokens file (default <out>/explore-tokens.txt)
  std::size_t max_memory_mib = 8192;
};

// The behavior catalog a run links its cases to: --catalog, else
// <source root>/../shared/behavior-catalog.md when that file exists.
std::optional<fs::path> find_catalog(const std::string& option, const fs::path& source_root) {
  if (!option.empty()) {
    fs::path p = fs::absolute(option);
    if (!fs::is_regular_file(p)) throw SetupError(fmt::format("no catalog file {}", p.string()));
    return p;
  }
  fs::path p = source_root / ".." / "shared" / "behavior-catalog.md";
  std::error_code ec;
  if (fs::is_regular_file(p, ec)) return fs::weakly_canonical(p, ec);
  return std::nullopt;
}

// `racegate catalog`: every catalog id has a case under exactly that id (the
// reference), every case's id (before any '@implementation') is a catalog id,
// and each reference case carries the entry's seed documents and an
// expectation that fits its tag. Prints one line per problem; 0 when none.
int check_catalog(const fs::path& catalog_path, const std::vector<CaseEntry>& cases) {
  const auto catalog = reports::load_catalog(catalog_path);
  std::map<std::string, std::vector<const CaseEntry*>> by_id;
  for (const auto& c : cases) by_id[c.id].push_back(&c);
  int problems = 0;
  auto problem = [&](const std::string& text) {
    std::cout << "  " << text << "\n";
    ++problems;
  };
  std::set<std::string> implementations;
  for (const auto& e : catalog.entries) {
    auto it = by_id.find(e.id);
    if (it == by_id.end()) {
      problem(fmt::format("{}: no case (catalog line {})", e.id, e.line));
      continue;
    }
    const CaseEntry& c = *it->second.front();
    std::string seeds;
    for (const auto& s : e.seed_documents) seeds += (seeds.empty() ? "" : ", ") + s;
    if (c.seed_document != seeds) {
      problem(fmt::format("{}: seed document '{}', the catalog says '{}'", e.id, c.seed_document, seeds));
    }
    if (e.racy() && c.expectation == "holds") {
      problem(fmt::format("{}: tagged [{}] but expected to hold; racy behaviors are outcomes or race-expected cases",
                          e.id, e.kind));
    }
    if (e.deterministic() && c.expectation != "holds") {
      problem(fmt::format("{}: tagged [{}] but its expectation is {}; deterministic behaviors hold", e.id, e.kind,
                          c.expectation));
    }
  }
  for (const auto& [id, entries] : by_id) {
    implementations.insert(reports::implementation_of(id));
    if (!catalog.find(reports::catalog_id_of(id))) {
      problem(fmt::format("{}: not a catalog id ({})", id, entries.front()->binary.string()));
    }
  }
  std::cout << fmt::format("{}: {} catalog ids, {} cases ({} implementations)\n", catalog_path.string(),
                           catalog.entries.size(), by_id.size(), implementations.size());
  std::cout << (problems == 0 ? "every catalog id has its case and every case a catalog id\n"
                              : fmt::format("{} problem(s)\n", problems));
  return problems == 0 ? 0 : 1;
}

}  // namespace

std::vector<fs::path> stage_reports(const reports::Run& run, const fs::path& out,
                                    const std::vector<std::string>& formats, reports::AtomicFileSet& files) {
  reports::ReportConfig cfg{out, run.info.source_root};
  std::vector<fs::path> paths;
  for (const auto& f : formats) {
    auto r = reports::make_reporter(f);
    if (!r) throw SetupError(fmt::format("no reporter '{}'", f));
    paths.push_back(out / r->file_name());
    files.add(paths.back(), r->render(run, cfg));
  }
  return paths;
}

void write_reports(const reports::Run& run, const fs::path& out, const std::vector<std::string>& formats,
                   bool announce) {
  reports::AtomicFileSet files;
  auto paths = stage_reports(run, out, formats, files);
  files.commit();
  for (const auto& p : paths) {
    if (announce) std::cout << "report: " << p.string() << "\n";
  }
}

std::vector<std::string> check_formats(const std::string& list) {
  auto formats = split(list, ',');
  for (const auto& f : formats) {
    if (!reports::make_reporter(f)) {
      std::string known;
      for (const auto& r : reports::reporters()) known += (known.empty() ? "" : ", ") + r.name;
      throw SetupError(fmt::format("unknown format '{}' (known: {})", f, known));
    }
  }
  return formats;
}

namespace {

// results.jsonl as it is written during a run: appended to
// results.jsonl.partial, renamed over results.jsonl by finish().
class ResultsStream {
 public:
  explicit ResultsStream(fs::path final_path)
      : final_(std::move(final_path)), partial_(final_.string() + ".partial") {
    fd_ = ::open(partial_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) throw SetupError(fmt::format("cannot create {}: {}", partial_.string(), std::strerror(errno)));
  }
  ResultsStream(const ResultsStream&) = delete;
  ResultsStream& operator=(const ResultsStream&) = delete;
  ~ResultsStream() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] const fs::path& partial() const { return partial_; }
  // Appends a line; false (the error kept for finish) when it cannot.
  bool append(const std::string& line) {
    if (!error_.empty()) return false;
    for (std::size_t done = 0; done < line.size();) {
      ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        error_ = fmt::format("cannot write {}: {}", partial_.string(), n < 0 ? std::strerror(errno) : "no space");
        return false;
      }
      done += static_cast<std::size_t>(n);
    }
    return true;
  }
  // Syncs and closes; hands the file to `files` (renamed over results.jsonl
  // with the reports) or, on failure, returns why (the caller removes it).
  std::string finish(reports::AtomicFileSet& files) {
    if (error_.empty() && ::fsync(fd_) != 0) error_ = fmt::format("cannot write {}: {}", partial_.string(), std::strerror(errno));
    if (::close(fd_) != 0 && error_.empty()) error_ = fmt::format("cannot write {}: {}", partial_.string(), std::strerror(errno));
    fd_ = -1;
    if (error_.empty()) files.adopt(partial_, final_);
    return error_;
  }

 private:
  fs::path final_, partial_;
  int fd_ = -1;
  std::string error_;
};

int do_run(RunOptions o, const std::string& command_line, std::optional<std::string> replay_id = {}) {
  auto formats = check_formats(o.formats);
  // Exploration's options: all checked before anything runs.
  check_explore_options(o.x);
  const bool exploring = !o.x.explore.empty();
  const bool replaying_token = !o.replay_token.empty();
  if (!exploring && !replaying_token && !o.preload.empty()) throw SetupError("--preload goes with --explore noise|pct");
  const fs::path preload = exploring || replaying_token ? find_preload(o.preload) : fs::path();
  std::optional<CaseToken> token;
  std::optional<Recorded> recorded;
  fs::path tokens_read;
  if (replaying_token) {
    // racegate replay TOKEN: the unit the token names, run once under its
    // engine configuration; the case binary is the one the tokens file
    // recorded unless --binary names one.
    token = parse_case_token(o.replay_token);
    tokens_read = fs::absolute(o.tokens.empty() ? fs::path(o.out) / "explore-tokens.txt" : fs::path(o.tokens));
    std::error_code ec;
    if (!o.tokens.empty() || fs::exists(tokens_read, ec)) recorded = recorded_result(tokens_read, o.replay_token);
    if (!recorded) {
      std::cerr << fmt::format("racegate: no record of this token in {}: the replay's outcome is reported, not "
                               "compared\n",
                               tokens_read.string());
    }
    if (o.sel.binaries.empty() && recorded && !recorded->binary.empty()) o.sel.binaries = {recorded->binary};
    o.sel.variants = {token->variant};
    o.seed = token->case_seed;
    o.trials = token->trials;
    o.jobs = 1;
    replay_id = token->case_id;
  }
  // Sharding: --shard I/N, else GoogleTest's environment protocol.
  int shard_index = 0, shard_total = 1;
  if (!o.shard.empty()) {
    auto parts = split(o.shard, '/');
    auto number = [&](const std::string& text) {
      std::size_t used = 0;
      int n = -1;
      try {
        n = std::stoi(text, &used);
      } catch (const std::logic_error&) {
        used = 0;
      }
      if (used == 0 || used != text.size()) {
        throw SetupError(fmt::format("--shard takes I/N, e.g. 0/4 (got '{}')", o.shard));
      }
      return n;
    };
    if (parts.size() != 2) throw SetupError(fmt::format("--shard takes I/N, e.g. 0/4 (got '{}')", o.shard));
    shard_index = number(parts[0]);
    shard_total = number(parts[1]);
  } else if (const char* t = std::getenv("GTEST_TOTAL_SHARDS")) {
    shard_total = std::atoi(t);
    const char* i = std::getenv("GTEST_SHARD_INDEX");
    shard_index = i ? std::atoi(i) : 0;
  }
  if (shard_total < 1 || shard_index < 0 || shard_index >= shard_total) {
    throw SetupError(fmt::format("invalid shard {}/{}", shard_index, shard_total));
  }
  if (const char* f = std::getenv("GTEST_SHARD_STATUS_FILE")) std::ofstream(f).flush();

  auto cases = discover(o.sel);
  if (replay_id) {
    std::erase_if(cases, [&](const CaseEntry& c) { return c.id != *replay_id; });
    if (cases.empty()) throw SetupError(fmt::format("no case '{}' for that variant", *replay_id));
  }
  if (cases.empty()) throw SetupError("no case matches the filter");
  std::sort(cases.begin(), cases.end(), [](const CaseEntry& a, const CaseEntry& b) {
    return std::tie(a.id, a.variant) < std::tie(b.id, b.variant);
  });

  if (o.doctor) {
    // The tsan and asan variants are clang builds: prove first (cached per
    // toolchain) that clang's detectors see planted bugs, so that a blind
    // detector fails the run instead of passing it.
    DoctorOptions d;
    d.compilers = {"clang++"};
    d.tools.clear();
    for (const auto& c : cases) {
      if (c.variant == "tsan" && std::find(d.tools.begin(), d.tools.end(), "tsan") == d.tools.end()) {
        d.tools.push_back("tsan");
      }
      if (c.variant == "asan" && std::find(d.tools.begin(), d.tools.end(), "asan") == d.tools.end()) {
        d.tools.push_back("asan");
        d.tools.push_back("ubsan");
      }
    }
    if (!d.tools.empty()) {
      if (auto blind = blind_detectors(d); !blind.empty()) throw SetupError(blind);
    }
  }

  std::uint64_t run_seed = o.seed ? *o.seed : std::random_device{}() * 4294967296ull + std::random_device{}();
  std::vector<Unit> units;
  int index = 0;
  for (const auto& c : cases) {
    if (index++ % shard_total != shard_index) continue;
    for (int r = 0; r < o.repeat; ++r) {
      Unit u;
      u.c = c;
      u.repeat = r;
      u.seed = replay_id ? *o.seed : derive_seed(run_seed, c.id, r);
      if (replaying_token) {
        u.explore_config = token->config;
        u.explore_preload = preload;
        u.explore_unit = 0;
        u.explore_run = 0;
      }
      u.trials = o.trials > 0 ? o.trials : c.default_trials;
      u.timeout_seconds = o.timeout > 0 ? o.timeout : c.timeout_seconds;
      units.push_back(std::move(u));
    }
  }

  if (replaying_token && units.empty()) {
    throw SetupError(fmt::format("the token's unit is not in this shard ({}/{}): unset GTEST_TOTAL_SHARDS",
                                 shard_index, shard_total));
  }
  // A token's replay keeps its reports apart from the exploration's (whose
  // tokens file it reads): in <out>/replay.
  fs::path out = fs::absolute(replaying_token ? fs::path(o.out) / "replay" : fs::path(o.out));
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec || access(out.c_str(), W_OK) != 0) {
    throw SetupError(fmt::format("cannot write to output directory {}: {}", out.string(),
                                 ec ? ec.message() : std::strerror(errno)));
  }
  reports::Run run;
  run.info.tool_version = kVersion;
  run.info.run_seed = run_seed;
  run.info.started_at = now_iso();
  run.info.command_line = command_line;
  run.info.shard_index = shard_index;
  run.info.shard_total = shard_total;
  run.info.source_root = fs::absolute(o.source_root.empty() ? fs::current_path() : fs::path(o.source_root));
  if (auto cat = find_catalog(o.catalog, run.info.source_root)) run.info.catalog_path = cat->string();
  std::set<std::string> vs;
  for (const auto& u : units) vs.insert(u.c.variant);
  run.info.variants.assign(vs.begin(), vs.end());

  // results.jsonl: a header line, then one line per unit as it finishes,
  // written to results.jsonl.partial and renamed over results.jsonl when the
  // run ends, so that an earlier results.jsonl is never truncated or half
  // written. Should the runner die first, the guardian renames it.
  fs::path results_path = out / "results.jsonl";
  ResultsStream results(results_path);
  results.append(reports::results_header_line(run.info));

  const bool tty = isatty(1);
  std::cout << fmt::format("racegate {}: {} units ({} cases), seed {}, jobs {}, shard {}/{}\n", kVersion,
                           units.size(), cases.size(), run_seed, o.jobs, shard_index, shard_total);
  std::cout.flush();

  const char* tmpdir = std::getenv("TMPDIR");
  std::string work_template = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/racegate-run-XXXXXX";
  if (!mkdtemp(work_template.data())) {
    throw SetupError(fmt::format("cannot create a work directory {}: {}", work_template, std::strerror(errno)));
  }
  ExecOptions eo;
  eo.jobs = o.jobs;
  eo.work_dir = work_template;
  eo.max_procs = o.max_procs;
  eo.max_memory_mib = o.max_memory_mib;
  auto [guardian_fd, guardian_pid] = start_guardian();
  eo.guardian_fd = guardian_fd;
  for (const std::string& line : {"D" + eo.work_dir.string() + "\n", "R" + results.partial().string() + "\n"}) {
    (void)!write(guardian_fd, line.data(), line.size());
  }
  eo.interrupted = &g_interrupted;
  int tokens_fd = -1;
  const fs::path tokens_path = out / "explore-tokens.txt";
  if (exploring) {
    tokens_fd = open_tokens_file(tokens_path, fmt::format("# racegate run --explore {}: one 'run' line per run, "
                                                          "written before it starts, and a 'result' line after "
                                                          "it ended\n",
                                                          o.x.explore));
  }

  auto t0 = std::chrono::steady_clock::now();
  std::size_t done = 0, failed = 0;
  auto emit = [&](reports::UnitResult&& u) {
    ++done;
    if (u.verdict != Verdict::kPass) ++failed;
    if (u.verdict != Verdict::kPass && u.replay_command.empty()) {
      u.replay_command = fmt::format("racegate replay {} --variant {} --seed {} --trials {}{}", u.case_id,
                                     u.variant, u.seed, u.trials_requested,
                                     o.sel.binaries.empty() ? "" : " --binary " + u.binary);
    }
    if (!results.append(reports::results_unit_line(u))) g_interrupted.store(true);  // stop: it cannot be kept
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (tty) std::cout << "\r\033[K";
    if (!o.quiet || u.verdict != Verdict::kPass) {
      std::cout << fmt::format("{}{:<7}{} {} [{}] {:.2f}s  {}\n", colour(u.verdict, tty),
                               reports::verdict_name(u.verdict), tty ? "\033[0m" : "", u.case_id,
                               u.variant, u.wall_seconds, u.message);
    }
    if (tty) {
      std::cout << fmt::format("[{}/{}] {} failed, {:.1f}s", done, units.size(), failed, elapsed);
    }
    std::cout.flush();
    run.units.push_back(std::move(u));
  };
  if (exploring) {
    // Every (case, variant, repeat) runs --runs times, each run a unit of the
    // pool; its results fold into one (explore_runs.h).
    // The tokens file records each run's case binary: the replay finds it there.
    const std::string suffix = " --tokens " + tokens_path.string();
    CaseExploration ce(o.x, preload, eo.work_dir, tokens_fd, suffix, emit);
    ExecOptions xo = eo;
    xo.on_start = [&](const Unit& u) { ce.on_start(u); };
    const auto fold = [&](const Unit& u, reports::UnitResult&& r) { ce.on_done(u, std::move(r)); };
    if (ce.needs_probe()) execute(ce.probe_units(units), xo, fold);
    xo.skip = [&](const Unit& u) { return ce.skip(u); };
    if (!g_interrupted.load()) execute(ce.run_units(units), xo, fold);
    ce.flush();
    close(tokens_fd);
  } else if (replaying_token) {
    units.front().explore_stats = eo.work_dir / "stats.replay.json";
    execute(units, eo, [&](const Unit& unit, reports::UnitResult&& r) {
      ExploreStats stats;
      const std::string outcome = judge_case_run(unit, r, stats);
      judge_replay(o.replay_token, tokens_read, recorded, outcome, stats, r);
      if (r.verdict != Verdict::kPass) {
        r.replay_command = fmt::format("racegate replay {} --tokens {}{}", o.replay_token, tokens_read.string(),
                                       o.sel.binaries.empty() ? "" : " --binary " + r.binary);
      }
      std::cout << "racegate: " << r.message.substr(0, r.message.find("; ")) << "\n";
      emit(std::move(r));
    });
  } else {
    execute(units, eo, [&](const Unit&, reports::UnitResult&& u) { emit(std::move(u)); });
  }
  if (tty) std::cout << "\r\033[K";
  run.info.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  run.info.interrupted = g_interrupted.load();
  // results.jsonl and every report replace the earlier ones together, or
  // none does. Only then may the guardian go (it renames the partial
  // results of a runner that died before this).
  std::string write_error;
  std::vector<fs::path> report_paths;
  {
    reports::AtomicFileSet files;
    write_error = results.finish(files);
    try {
      if (write_error.empty()) {
        report_paths = stage_reports(run, out, formats, files);
        files.commit();
      }
    } catch (const std::exception& e) {
      write_error = e.what();
    }
    if (!write_error.empty()) ::unlink(results.partial().c_str());
  }
  close(eo.guardian_fd);  // EOF: the guardian ends (nothing is registered any more)
  while (waitpid(guardian_pid, nullptr, 0) == -1 && errno == EINTR) {}
  fs::remove_all(eo.work_dir, ec);
  if (!write_error.empty()) {
    throw SetupError(write_error + "; the earlier results and reports in " + out.string() + " are as they were");
  }
  for (const auto& p : report_paths) std::cout << "report: " << p.string() << "\n";
  if (exploring) std::cout << "tokens: " << tokens_path.string() << "\n";

  std::map<Verdict, int> counts;
  for (const auto& u : run.units) ++counts[u.verdict];
  std::string tally;
  for (auto& [v, n] : counts) tally += fmt::format("{}{} {}", tally.empty() ? "" : ", ", n, reports::verdict_name(v));
  std::cout << fmt::format("{} units in {:.1f}s: {}{}\n", run.units.size(), run.info.wall_seconds,
                           tally.empty() ? "none" : tally, run.info.interrupted ? " (INTERRUPTED)" : "");
  for (const auto& u : run.units) {
    if (u.verdict != Verdict::kPass) std::cout << "  replay: " << u.replay_command << "\n";
  }
  bool ok = run.worst() == Verdict::kPass && !run.info.interrupted && run.units.size() == units.size();
  return ok ? 0 : 1;
}

reports::Run read_results(const std::vector<std::string>& files) {
  std::vector<std::string> warnings;
  auto run = reports::read_results_files(std::vector<fs::path>(files.begin(), files.end()), warnings);
  for (const auto& w : warnings) std::cerr << "racegate: " << w << "\n";
  return run;
}

}  // namespace
}  // namespace racegate::runner

int main(int argc, char** argv) {
  using namespace racegate::runner;
  if (argc == 2 && std::string(argv[1]) == "__guardian") return guardian_main();

  std::string command_line;
  for (int i = 0; i < argc; ++i) command_line += (i ? " " : "") + std::string(argv[i]);

  CLI::App app{"racegate: runs concurrency conformance cases in isolated processes under plain, "
               "ThreadSanitizer and ASan/UBSan builds, judges each, and writes JSON, JUnit, SARIF, "
               "Markdown and HTML reports.\n\nExit codes: 0 everything passed, 1 something did not "
               "(or the run was interrupted), 2 bad usage or a broken set-up."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("racegate ") + "0.1.0");

  RunOptions ro;
  ro.jobs = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  auto add_selection = [&](CLI::App* c) {
    c->add_option("--filter", ro.sel.filter, "Case ids to include, as globs: A*:B*-C* (GoogleTest syntax)");
    c->add_option("--binary", ro.sel.binaries, "Case binaries to use instead of the project's own")
        ->expected(1, -1);
  };
  auto add_variants = [&](CLI::App* c) {
    c->add_option_function<std::string>(
        "--variants", [&](const std::string& v) { ro.sel.variants = split(v, ','); },
        "Variants to run: plain,tsan,asan (default: all)");
  };

  auto* list = app.add_subcommand("list", "List the cases");
  bool list_json = false;
  add_selection(list);
  add_variants(list);
  list->add_flag("--json", list_json, "Print JSON");

  auto* catalog = app.add_subcommand(
      "catalog", "Check the cases against behavior-catalog.md: every id a case, every case an id (exit 1 if not)");
  add_selection(catalog);
  add_variants(catalog);
  catalog->add_option("--catalog", ro.catalog,
                      "The catalog file (default: <source root>/../shared/behavior-catalog.md)");
  catalog->add_option("--source-root", ro.source_root, "Project directory (default: cwd)");

  auto* run = app.add_subcommand("run", "Run the cases and write the reports");
  add_selection(run);
  add_variants(run);
  run->add_option("--jobs,-j", ro.jobs, "Units run at once (default: the number of CPUs)")->check(CLI::PositiveNumber);
  run->add_option("--trials", ro.trials, "Trials per unit (default: each case's own)")->check(CLI::PositiveNumber);
  run->add_option("--repeat", ro.repeat, "Run each (case, variant) this many times with different seeds")
      ->check(CLI::PositiveNumber);
  run->add_option("--seed", ro.seed, "Run seed (default: random, printed); every unit's seed derives from it");
  run->add_option("--timeout", ro.timeout, "Seconds before a unit is stopped as TIMEOUT (default: each case's own)")
      ->check(CLI::PositiveNumber);
  run->add_option("--shard", ro.shard, "Run shard I of N (I/N, 0-based); GTEST_TOTAL_SHARDS/GTEST_SHARD_INDEX also work");
  run->add_option("--out", ro.out, "Output directory (default: racegate-out)");
  run->add_option("--format", ro.formats, "Report formats: json,junit,sarif,md,html (default: all)");
  run->add_option("--source-root", ro.source_root, "Report paths relative to this directory (default: cwd)");
  run->add_option("--catalog", ro.catalog,
                  "behavior-catalog.md to link cases to in the reports (default: <source root>/../shared/"
                  "behavior-catalog.md when present)");
  run->add_option("--max-procs", ro.max_procs,
                  "Processes a unit's process group may hold at once; a group with more is killed "
                  "(CRASH, over the process limit). 0: no limit (default: 1024)")
      ->check(CLI::NonNegativeNumber);
  run->add_option("--max-memory", ro.max_memory_mib,
                  "Address space of a plain-variant unit, MiB (RLIMIT_AS); a unit that fails for want of "
                  "it is CRASH, out of memory. Not applied to tsan/asan. 0: no limit (default: 8192)")
      ->check(CLI::NonNegativeNumber);
  run->add_flag("--quiet,-q", ro.quiet, "Print only units that did not pass");
  run->add_flag("!--no-doctor", ro.doctor,
                "Skip proving first (cached per toolchain) that clang's TSan/ASan/UBSan see planted bugs");
  run->add_option("--explore", ro.x.explore,
                  "Schedule exploration: run each (case, variant) --runs times under the preload library, in "
                  "mode noise or pct; each run's replay token goes to <out>/explore-tokens.txt "
                  "(docs/exploration.md)");
  run->add_option("--runs", ro.x.runs, "Exploration: runs per (case, variant), jobs of the pool (default: 50)");
  run->add_option("--depth", ro.x.depth, "PCT: the bug depth d, 1..16 (default: 3)");
  run->add_option("--steps", ro.x.steps, "PCT: k, the steps change points are drawn from (default: measured per "
                                         "(case, variant) by a probe run)");
  run->add_option("--explore-seed", ro.x.explore_seed, "Exploration: the first run's engine seed; run i has seed "
                                                       "S+i (the case's own seed is the unit's) (default: 1)");
  run->add_flag("--stop-on-first", ro.x.stop_on_first,
                "Exploration: start no more runs of a (case, variant) once one of its runs failed");
  run->add_option("--preload", ro.preload, "The preload library (default: libracegate-explore.so beside racegate)");

  auto* replay = app.add_subcommand(
      "replay", "Rerun one unit exactly (as printed by a failed run): racegate replay CASE --variant V --seed S, "
                "or one exploration run: racegate replay TOKEN");
  std::string replay_id, replay_variant;
  std::uint64_t replay_seed = 0;
  replay->add_option("id", replay_id,
                     "Case id, or the replay token of an exploration run (case=ID,variant=V,case_seed=S,trials=T,"
                     "mode=...; a case id has no '=')")
      ->required();
  replay->add_option("--variant", replay_variant, "CASE: plain, tsan or asan (required)");
  replay->add_option("--seed", replay_seed, "CASE: the unit's seed (required)");
  replay->add_option("--trials", ro.trials, "CASE: trials (as printed)")->check(CLI::PositiveNumber);
  replay->add_option("--tokens", ro.tokens,
                     "TOKEN: the exploration's tokens file, where the recorded outcome is looked up (default: "
                     "<out>/explore-tokens.txt); the replay exits 1 with 'replay diverged' when the outcome differs");
  replay->add_option("--preload", ro.preload,
                     "TOKEN: the preload library (default: libracegate-explore.so beside racegate)");
  replay->add_option("--binary", ro.sel.binaries,
                     "Case binary, when not the project's own (TOKEN: default the one the tokens file recorded)")
      ->expected(1, -1);
  replay->add_option("--out", ro.out,
                     "Output directory (default: racegate-out); TOKEN: the reports go to <out>/replay, the tokens "
                     "file is read from <out>");
  replay->add_option("--timeout", ro.timeout, "Seconds before TIMEOUT");

  auto* report = app.add_subcommand("report", "Render reports from results.jsonl files");
  std::vector<std::string> from;
  std::string report_out = "racegate-out";
  std::string report_formats = "json,junit,sarif,md,html";
  report->add_option("--from", from, "results.jsonl file(s)")->required()->expected(1, -1);
  report->add_option("--out", report_out, "Output directory");
  report->add_option("--format", report_formats, "Report formats");

  auto* merge = app.add_subcommand("merge", "Join the results of shards into one set of reports");
  std::vector<std::string> shards;
  merge->add_option("results", shards, "results.jsonl of each shard")->required()->expected(1, -1);
  merge->add_option("--out", report_out, "Output directory");
  merge->add_option("--format", report_formats, "Report formats");

  auto* doctor = app.add_subcommand(
      "doctor", "Prove that each sanitizer sees a planted bug with this machine's compilers; print the fix of "
                "what does not (exit 1 if a required one fails)");
  DoctorOptions doctor_options;
  doctor->add_option("--compiler", doctor_options.compilers, "Check only this compiler (repeatable)")
      ->allow_extra_args(false);
  doctor->add_flag("--json", doctor_options.json, "Print the result as JSON on stdout");
  doctor->add_flag_callback("--no-cache", [&] { doctor_options.use_cache = false; },
                            "Rerun every check instead of trusting cached results");
  doctor->add_flag("--keep", doctor_options.keep, "Keep the temporary directory (planted programs and logs)");
  doctor->add_flag("--require-gcc", doctor_options.require_gcc, "A gcc failure is an error, not a warning");
  auto* gate = app.add_subcommand(
      "gate",
      "Run any command (a test binary, ctest, a script) with every sanitizer logging to a private "
      "directory, and fail only on findings that are new: racegate gate [options] -- COMMAND [ARGS...]");
  GateOptions go;
  gate->add_option("command", go.command, "The command and its arguments, after --")->required()->expected(1, -1);
  gate->add_option("--out", go.out, "Output directory: reports and the raw sanitizer logs (default: racegate-out)");
  gate->add_option("--format", go.formats, "Report formats: json,junit,sarif,md,html (default: all)");
  gate->add_option("--source-root", go.source_root, "Report paths relative to this directory (default: cwd)");
  gate->add_option("--baseline", go.baseline,
                   "Known findings (JSON): the gate fails only on findings not in it; entries not seen are "
                   "reported fixed");
  gate->add_flag("--update-baseline", go.update_baseline,
                 "Rewrite the baseline (atomically) with the findings of this run; creates it if missing");
  gate->add_option("--reason", go.baseline_reason, "Reason recorded for entries added by --update-baseline");
  gate->add_option("--suppressions", go.suppressions,
                   "ThreadSanitizer suppressions file: checked, then passed to TSan (suppressions=)");
  gate->add_option("--ignore", go.ignore,
                   "racegate ignore list: one 'SIGNATURE REASON' per line; those findings are marked suppressed");
  gate->add_flag("--allow-command-failure", go.allow_command_failure,
                 "Judge only the findings: a command that fails does not fail the gate");
  gate->add_option("--timeout", go.timeout, "Seconds before the command is killed (default: no limit)")
      ->check(CLI::PositiveNumber);
  gate->add_option("--top", go.top, "Signatures listed on the console, most frequent first (default: 20)")
      ->check(CLI::PositiveNumber);
  gate->add_flag("!--no-doctor", go.doctor,
                 "Skip proving first (cached per toolchain) that the sanitizers see planted bugs");
  gate->add_option("--explore", go.explore,
                   "Schedule exploration: run the command --runs times under the preload library, in mode noise "
                   "or pct (docs/exploration.md)");
  gate->add_option("--runs", go.runs, "Exploration: how many runs, one after the other (default: 100)");
  gate->add_option("--depth", go.depth, "PCT: the bug depth d, 1..16 (default: 3)");
  gate->add_option("--steps", go.steps, "PCT: k, the steps change points are drawn from (default: measured by a "
                                        "probe run)");
  gate->add_option("--explore-seed", go.explore_seed, "Exploration: the first run's seed; run i has seed S+i "
                                                      "(default: 1)");
  gate->add_flag("--stop-on-first", go.stop_on_first, "Exploration: stop after the first failing run");
  gate->add_option("--preload", go.preload,
                   "The preload library (default: libracegate-explore.so beside racegate)");
  gate->add_option("--replay-token", go.replay_token,
                   "Rerun one exploration run from its token (explore-tokens.txt) and compare its outcome with "
                   "the recorded one: exit 1 when the replay diverged");
  gate->add_option("--tokens", go.tokens,
                   "Replay: the exploration's tokens file (default: <out>/explore-tokens.txt)");
  gate->footer(
      "Exit codes: 0 the command succeeded and no new finding appeared; 1 a new finding appeared, or the "
      "command failed (both are said); 2 bad usage or a broken set-up (nothing is overwritten).\n"
      "The gate sets log_path in TSAN_OPTIONS, ASAN_OPTIONS, LSAN_OPTIONS and UBSAN_OPTIONS, and exitcode=0 "
      "for TSan (it judges races itself); every other option of yours is kept. "
      "See docs/gate.md.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  std::signal(SIGPIPE, SIG_IGN);
  // Past a file-size limit (RLIMIT_FSIZE) a write fails with EFBIG, reported
  // like a full disk, instead of the signal killing the runner. A handler,
  // not SIG_IGN, so that the processes it starts keep the default.
  struct sigaction xfsz {};
  xfsz.sa_handler = [](int) {};
  sigaction(SIGXFSZ, &xfsz, nullptr);
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_interrupted.store(true); };
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  try {
    if (list->parsed()) {
      auto cases = discover(ro.sel);
      if (list_json) {
        nlohmann::json all = nlohmann::json::array();
        for (const auto& c : cases) {
          all.push_back({{"id", c.id}, {"catalog_id", racegate::reports::catalog_id_of(c.id)},
                         {"implementation", racegate::reports::implementation_of(c.id)},
                         {"title", c.title}, {"seed_document", c.seed_document},
                         {"tags", c.tags}, {"expectation", c.expectation}, {"race_site", c.race_site},
                         {"variant", c.variant}, {"default_trials", c.default_trials},
                         {"timeout_seconds", c.timeout_seconds}, {"binary", c.binary.string()}});
        }
        std::cout << all.dump(2) << "\n";
      } else {
        for (const auto& c : cases) {
          std::cout << fmt::format("{:<48} {:<6} {:<14} {}\n", c.id, c.variant, c.expectation, c.title);
        }
      }
      return 0;
    }
    if (catalog->parsed()) {
      const fs::path root = fs::absolute(ro.source_root.empty() ? fs::current_path() : fs::path(ro.source_root));
      auto path = find_catalog(ro.catalog, root);
      if (!path) {
        throw SetupError(fmt::format("no catalog: give --catalog FILE ({} does not exist)",
                                     (root / ".." / "shared" / "behavior-catalog.md").string()));
      }
      return check_catalog(*path, discover(ro.sel));
    }
    if (run->parsed()) return do_run(ro, command_line);
    if (doctor->parsed()) return doctor_main(doctor_options);
    if (gate->parsed()) return gate_main(go, command_line, g_interrupted);
    if (replay->parsed()) {
      if (looks_like_token(replay_id)) {
        if (replay->count("--variant") || replay->count("--seed") || replay->count("--trials")) {
          throw SetupError("a replay token names the variant, the seed and the trials: --variant, --seed and "
                           "--trials go with racegate replay CASE");
        }
        ro.replay_token = replay_id;
        return do_run(ro, command_line);
      }
      if (!replay->count("--variant") || !replay->count("--seed")) {
        throw SetupError(fmt::format("racegate replay {} needs --variant V and --seed S (or give an exploration "
                                     "run's replay token: case=ID,...,mode=...)",
                                     replay_id));
      }
      if (!ro.tokens.empty() || !ro.preload.empty()) {
        throw SetupError("--tokens and --preload go with racegate replay TOKEN");
      }
      ro.sel.variants = {replay_variant};
      ro.seed = replay_seed;
      ro.jobs = 1;
      return do_run(ro, command_line, replay_id);
    }
    if (report->parsed() || merge->parsed()) {
      auto formats = check_formats(report_formats);
      auto r = read_results(report->parsed() ? from : shards);
      std::error_code ec;
      std::filesystem::create_directories(report_out, ec);
      if (ec || !std::filesystem::is_directory(report_out)) {
        throw SetupError(fmt::format("cannot write to output directory {}: {}", report_out,
                                     ec ? ec.message() : "not a directory"));
      }
      // Every file replaced together, or none.
      racegate::reports::AtomicFileSet files;
      if (merge->parsed()) {
        // The merged results, so that the merge can be merged or re-rendered again.
        std::string all = racegate::reports::results_header_line(r.info);
        for (const auto& u : r.units) all += racegate::reports::results_unit_line(u);
        files.add(std::filesystem::path(report_out) / "results.jsonl", all);
      }
      auto paths = stage_reports(r, report_out, formats, files);
      files.commit();
      for (const auto& p : paths) std::cout << "report: " << p.string() << "\n";
      return r.worst() == Verdict::kPass && !r.info.interrupted ? 0 : 1;
    }
  } catch (const SetupError& e) {
    std::cerr << "racegate: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "racegate: " << e.what() << "\n";
    return 2;
  }
  return 2;
}
