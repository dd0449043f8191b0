// Schedule exploration's shared pieces: see explore_runs.h.
#include "explore_runs.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include <fmt/format.h>

#include "runner.h"

namespace racegate::runner {

namespace fs = std::filesystem;

void check_explore_options(const ExploreOptions& o) {
  const bool exploring = !o.explore.empty();
  if (exploring && o.explore != "noise" && o.explore != "pct") {
    throw SetupError(fmt::format("--explore {}: the mode is noise or pct", o.explore));
  }
  if (!exploring && (o.runs != -1 || o.depth != -1 || o.steps != 0 || o.stop_on_first)) {
    throw SetupError("--runs, --depth, --steps and --stop-on-first need --explore noise|pct");
  }
  if (o.explore == "noise" && (o.depth != -1 || o.steps != 0)) {
    throw SetupError("--depth and --steps are PCT's: they do not go with --explore noise");
  }
  if (o.runs != -1 && (o.runs < 1 || o.runs > 1'000'000)) {
    throw SetupError(fmt::format("--runs {}: the number of runs is an integer from 1 to 1000000", o.runs));
  }
  if (o.depth != -1 && (o.depth < 1 || o.depth > 16)) {
    throw SetupError(fmt::format("--depth {}: the PCT depth is an integer from 1 to 16", o.depth));
  }
  if (o.steps < 0 || o.steps > 1'000'000'000) {
    throw SetupError(fmt::format("--steps {}: the number of PCT steps is an integer from 1 to 1e9", o.steps));
  }
  if (o.explore_seed < 0) throw SetupError(fmt::format("--explore-seed {}: a seed is not negative", o.explore_seed));
}

std::string engine_config(const std::string& mode, long long seed, int depth, long steps) {
  return mode == "pct" ? fmt::format("mode=pct,seed={},depth={},steps={}", seed, depth, steps)
                       : fmt::format("mode=noise,seed={}", seed);
}

fs::path find_preload(const std::string& preload) {
  if (!preload.empty()) {
    if (access(preload.c_str(), R_OK) != 0) {
      throw SetupError(fmt::format("--preload {}: {}", preload, std::strerror(errno)));
    }
    return fs::absolute(preload);
  }
  std::vector<fs::path> candidates;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(self.parent_path() / kPreloadName);
    candidates.push_back(self.parent_path().parent_path() / "lib" / kPreloadName);
  }
#ifdef RACEGATE_EXPLORE_PRELOAD_BUILD
  candidates.emplace_back(RACEGATE_EXPLORE_PRELOAD_BUILD);
#endif
  std::string tried;
  for (const auto& c : candidates) {
    if (access(c.c_str(), R_OK) == 0) return c;
    tried += (tried.empty() ? "" : ", ") + c.string();
  }
  throw SetupError(fmt::format("the exploration's preload library {} was not found (looked for {}): install it "
                               "beside racegate, or give --preload PATH",
                               kPreloadName, tried));
}

std::vector<std::string> explore_variables(const fs::path& preload, const std::string& config, const fs::path& stats) {
  const char* user_preload = std::getenv("LD_PRELOAD");
  return {"LD_PRELOAD=" + preload.string() + (user_preload && *user_preload ? std::string(":") + user_preload : ""),
          "RACEGATE_EXPLORE=" + config, "RACEGATE_EXPLORE_STATS=" + stats.string()};
}

bool is_explore_variable(const std::string& kv) {
  return kv.rfind("LD_PRELOAD=", 0) == 0 || kv.rfind("RACEGATE_EXPLORE=", 0) == 0 ||
         kv.rfind("RACEGATE_EXPLORE_STATS=", 0) == 0;
}

ExploreStats read_stats(const fs::path& p) {
  ExploreStats s;
  std::string text = read_whole_file(p);
  text.erase(std::remove(text.begin(), text.end(), '\0'), text.end());
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return s;
  s.present = true;
  s.threads = j.value("threads", 0L);
  s.steps = j.value("steps", 0L);
  s.slice_preemptions = j.value("slice_preemptions", 0L);
  s.sanitized_starts = j.value("sanitized_starts", 0L);
  s.kernel_waits = j.value("kernel_waits", 0L);
  s.trace_hash = j.value("trace_hash", "");
  s.outcome = j.value("outcome", "");
  return s;
}

std::string outcome_of(const RunEnd& r, const ExploreStats& st, std::size_t reports) {
  if (r.interrupted) return "interrupted";
  if (r.timed_out) return "timeout";
  if (r.signal) return fmt::format("signal:{}", *r.signal);
  if (r.exit_code == kDeadlockExit && (!st.present || st.outcome == "deadlock")) return "deadlock";
  if (r.exit_code && *r.exit_code != 0) return fmt::format("exit:{}", *r.exit_code);
  if (reports > 0) return "findings";
  return "pass";
}

bool hard_failure(const std::string& outcome) {
  return outcome == "deadlock" || outcome == "timeout" || outcome.rfind("signal:", 0) == 0;
}

void append_line(int fd, const std::string& line) {
  if (fd < 0) return;
  for (std::size_t done = 0; done < line.size();) {
    ssize_t w = write(fd, line.data() + done, line.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw SetupError(fmt::format("writing explore-tokens.txt: {}", std::strerror(errno)));
    done += static_cast<std::size_t>(w);
  }
}

int open_tokens_file(const fs::path& path, const std::string& header) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw SetupError(fmt::format("cannot write {}: {}", path.string(), std::strerror(errno)));
  append_line(fd, header);
  return fd;
}

std::string result_line(const std::string& label, const std::string& outcome, const ExploreStats& st,
                        const std::string& extra) {
  return fmt::format("result {} outcome {} trace_hash {} slice_preemptions {} threads {} steps {} "
                     "sanitized_starts {} kernel_waits {}{}\n",
                     label, outcome, st.trace_hash.empty() ? "-" : st.trace_hash, st.slice_preemptions, st.threads,
                     st.steps, st.sanitized_starts, st.kernel_waits, extra);
}

std::optional<Recorded> recorded_result(const fs::path& file, const std::string& token) {
  std::ifstream in(file);
  if (!in) throw SetupError(fmt::format("{}: cannot read the tokens file ({})", file.string(), std::strerror(errno)));
  std::map<std::string, std::string> token_of, binary_of;  // label -> token, binary
  std::optional<Recorded> found;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string kind, label, key, value;
    words >> kind >> label;
    if (kind == "run") {
      words >> key >> value;
      if (key != "token") continue;
      token_of[label] = value;
      // racegate run's lines end with "binary PATH" (the rest of the line).
      if (auto at = line.find(" binary "); at != std::string::npos) binary_of[label] = line.substr(at + 8);
    } else if (kind == "result" && token_of.count(label) && token_of[label] == token) {
      Recorded r;
      r.binary = binary_of[label];
      while (words >> key >> value) {
        if (key == "outcome") r.outcome = value;
        if (key == "trace_hash") r.trace_hash = value == "-" ? "" : value;
        if (key == "slice_preemptions") r.slice_preemptions = std::strtol(value.c_str(), nullptr, 10);
        if (key == "steps") r.steps = std::strtol(value.c_str(), nullptr, 10);
        if (key == "sanitized_starts") r.sanitized_starts = std::strtol(value.c_str(), nullptr, 10);
        if (key == "kernel_waits") r.kernel_waits = std::strtol(value.c_str(), nullptr, 10);
      }
      found = r;
    }
  }
  return found;
}

std::string trace_hash_check(const Recorded& recorded, const ExploreStats& now) {
  if (recorded.trace_hash.empty() || now.trace_hash.empty()) return "not compared (no trace hash)";
  if (recorded.slice_preemptions > 0 || now.slice_preemptions > 0) return "not compared (a time-slice preemption)";
  // A wait in the kernel (a process-shared object, a pipe, a sleep) ends when
  // the kernel says: what runs meanwhile may differ.
  if (recorded.kernel_waits > 0 || now.kernel_waits > 0) return "not compared (waits in the kernel)";
  if (recorded.sanitized_starts > 0 || now.sanitized_starts > 0) {
    // In a sanitized program a new thread's start overlaps its creator
    // (docs/exploration.md, "Determinism"): the order of the steps may
    // differ even when their number does not.
    return "not compared (a sanitized program's thread start)";
  }
  return recorded.trace_hash == now.trace_hash ? "same" : "differs";
}

nlohmann::json miss_bound(long threads, long steps, int depth, int runs) {
  if (threads <= 0 || steps <= 0 || runs <= 0) return nullptr;
  const double p = 1.0 / (static_cast<double>(threads) * std::pow(static_cast<double>(steps), depth - 1));
  return std::pow(1.0 - p, runs);
}

std::string histogram_text(const std::map<std::string, int>& outcomes) {
  std::string hist;
  for (const auto& [k, n] : outcomes) hist += fmt::format("{}{} {}", hist.empty() ? "" : ", ", n, k);
  return hist;
}

// ---------------------------------------------------------------------------
// racegate run --explore and racegate replay TOKEN.

std::string case_token(const Unit& u) {
  return fmt::format("case={},variant={},case_seed={},trials={},{}", u.c.id, u.c.variant, u.seed, u.trials,
                     u.explore_config);
}

bool looks_like_token(const std::string& arg) { return arg.find('=') != std::string::npos; }

CaseToken parse_case_token(const std::string& token) {
  const auto bad = [&](const std::string& why) {
    return SetupError(fmt::format("replay token '{}': {} (a token is case=ID,variant=V,case_seed=S,trials=T,"
                                  "mode=...: the 'run' line of explore-tokens.txt)",
                                  token, why));
  };
  if (token.find_first_of(" \t\n") != std::string::npos) throw bad("it has spaces");
  const auto mode = token.find(",mode=");
  if (mode == std::string::npos) throw bad("no engine configuration (mode=...)");
  CaseToken t;
  t.config = token.substr(mode + 1);
  if (const auto parsed = explore::parse_config(t.config); !parsed.config) throw bad(parsed.error);
  std::istringstream head(token.substr(0, mode));
  std::vector<std::string> keys;
  for (std::string item; std::getline(head, item, ',');) {
    const auto eq = item.find('=');
    if (eq == std::string::npos) throw bad(fmt::format("'{}' is not key=value", item));
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    keys.push_back(key);
    const auto number = [&](unsigned long long max) {
      char* end = nullptr;
      errno = 0;
      const unsigned long long v = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno != 0 || v > max || value[0] == '-') {
        throw bad(fmt::format("{}={} is not a number", key, value));
      }
      return v;
    };
    if (key == "case") {
      t.case_id = value;
    } else if (key == "variant") {
      t.variant = value;
    } else if (key == "case_seed") {
      t.case_seed = number(~0ull);
    } else if (key == "trials") {
      t.trials = static_cast<int>(number(1'000'000'000));
    } else {
      throw bad(fmt::format("unknown key '{}'", key));
    }
  }
  if (keys.size() < 3 || keys[0] != "case" || keys[1] != "variant" || keys[2] != "case_seed" || t.case_id.empty() ||
      t.variant.empty()) {
    throw bad("it starts case=ID,variant=V,case_seed=S");
  }
  return t;
}

CaseExploration::CaseExploration(const ExploreOptions& o, fs::path preload, fs::path work, int tokens_fd,
                                 std::string replay_suffix, std::function<void(reports::UnitResult&&)> emit)
    : o_(o),
      runs_(o.runs == -1 ? 50 : o.runs),
      depth_(o.depth == -1 ? 3 : o.depth),
      preload_(std::move(preload)),
      work_(std::move(work)),
      tokens_fd_(tokens_fd),
      replay_suffix_(std::move(replay_suffix)),
      emit_(std::move(emit)) {}

bool CaseExploration::needs_probe() const { return o_.explore == "pct" && o_.steps == 0; }

std::string CaseExploration::label(const Unit& u) const {
  return u.explore_run < 0 ? fmt::format("{}.probe", u.explore_unit) : fmt::format("{}.{}", u.explore_unit, u.explore_run);
}

Unit CaseExploration::make(const Unit& base, int index, int run, const std::string& config) const {
  Unit u = base;
  u.explore_config = config;
  u.explore_preload = preload_;
  u.explore_unit = index;
  u.explore_run = run;
  u.explore_stats = work_ / fmt::format("stats.{}.json", label(u));
  return u;
}

std::vector<Unit> CaseExploration::probe_units(const std::vector<Unit>& base) {
  std::vector<Unit> out;
  for (std::size_t i = 0; i < base.size(); ++i) out.push_back(make(base[i], static_cast<int>(i), -1, kProbeConfig));
  return out;
}

std::vector<Unit> CaseExploration::run_units(const std::vector<Unit>& base) {
  std::vector<Unit> out;
  for (std::size_t i = 0; i < base.size(); ++i) {
    State& st = state_[static_cast<int>(i)];
    st.remaining = runs_;
    const long steps = o_.steps > 0 ? o_.steps : std::max(1L, st.probe ? st.probe->stats.steps : 1L);
    st.steps = o_.explore == "pct" ? steps : 0;
    for (int r = 0; r < runs_; ++r) {
      out.push_back(make(base[i], static_cast<int>(i), r, engine_config(o_.explore, o_.explore_seed + r, depth_, steps)));
    }
  }
  return out;
}

void CaseExploration::on_start(const Unit& u) {
  append_line(tokens_fd_, fmt::format("run {} token {} binary {}\n", label(u), case_token(u), u.c.binary.string()));
}

bool CaseExploration::skip(const Unit& u) {
  State& st = state_[u.explore_unit];
  const bool failed = std::any_of(st.runs.begin(), st.runs.end(), [](const auto& d) { return d.second.outcome != "pass"; });
  if (!o_.stop_on_first || u.explore_run < 0 || !failed) return false;
  if (--st.remaining == 0) finish(u.explore_unit);
  return true;
}

std::string judge_case_run(const Unit& u, reports::UnitResult& r, ExploreStats& stats) {
  stats = read_stats(u.explore_stats);
  std::error_code ec;
  fs::remove(u.explore_stats, ec);
  if (r.exit_code == kDeadlockExit && (!stats.present || stats.outcome == "deadlock")) {
    std::string said;
    std::istringstream lines(r.stderr_text);
    for (std::string line; std::getline(lines, line);) {
      if (line.find("racegate-explore: deadlock") != std::string::npos) said = line;
    }
    r.verdict = reports::Verdict::kFail;
    while (!said.empty() && (said.back() == ';' || said.back() == ' ' || said.back() == '\r')) said.pop_back();
    r.message = "the scheduler found a deadlock (exit 86): " +
                (said.empty() ? std::string("every thread was blocked") : said);
    return "deadlock";
  }
  if (r.verdict == reports::Verdict::kPass) return "pass";
  if (r.verdict == reports::Verdict::kTimeout) return "timeout";
  if (r.signal) return fmt::format("signal:{}", *r.signal);
  std::string name = reports::verdict_name(r.verdict);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  return name;
}

void CaseExploration::on_done(const Unit& u, reports::UnitResult&& r) {
  Done d{case_token(u), "", {}, {}};
  d.outcome = judge_case_run(u, r, d.stats);
  append_line(tokens_fd_, result_line(label(u), d.outcome, d.stats,
                                      fmt::format(" verdict {} exit_code {}", reports::verdict_name(r.verdict),
                                                  r.exit_code ? std::to_string(*r.exit_code) : "-")));
  if (d.outcome != "pass") {
    std::cerr << fmt::format("racegate: {} [{}] {} ({}): {}\n", u.c.id, u.c.variant,
                             u.explore_run < 0 ? std::string("probe run")
                                               : fmt::format("run {} of {}", u.explore_run + 1, runs_),
                             d.token, d.outcome);
  }
  d.result = std::move(r);
  State& st = state_[u.explore_unit];
  if (u.explore_run < 0) {
    st.probe = std::move(d);
    return;
  }
  st.runs.emplace(u.explore_run, std::move(d));
  if (--st.remaining == 0) finish(u.explore_unit);
}

void CaseExploration::flush() {
  for (auto& [index, st] : state_) {
    if (!st.emitted && !st.runs.empty()) finish(index);
  }
}

void CaseExploration::finish(int index) {
  State& st = state_[index];
  if (st.emitted || st.runs.empty()) return;
  st.emitted = true;
  std::map<std::string, int> outcomes;
  int failed = 0;
  long threads = 0, preemptions = 0;
  const Done* first_failing = nullptr;
  std::string first_failing_run;
  double wall = 0;
  long rss = 0;
  for (const auto& [i, d] : st.runs) {
    ++outcomes[d.outcome];
    threads = std::max(threads, d.stats.threads);
    preemptions += d.stats.slice_preemptions;
    wall += d.result.wall_seconds;
    rss = std::max(rss, d.result.peak_rss_kb);
    if (d.outcome != "pass") {
      ++failed;
      if (!first_failing) {
        first_failing = &d;
        first_failing_run = std::to_string(i);
      }
    }
  }
  if (st.probe) {
    threads = std::max(threads, st.probe->stats.threads);
    wall += st.probe->result.wall_seconds;
    if (!first_failing && st.probe->outcome != "pass") {
      first_failing = &*st.probe;
      first_failing_run = "probe";
    }
  }
  const int done = static_cast<int>(st.runs.size());
  nlohmann::json x = {{"mode", o_.explore},
                      {"runs", done},
                      {"runs_requested", runs_},
                      {"seed_first", o_.explore_seed},
                      {"failed_runs", failed},
                      {"outcomes", outcomes},
                      {"threads", threads},
                      {"slice_preemptions", preemptions},
                      {"stopped_early", done < runs_}};
  x["first_failing_token"] = first_failing ? nlohmann::json(first_failing->token) : nlohmann::json();
  x["first_failing_outcome"] = first_failing ? nlohmann::json(first_failing->outcome) : nlohmann::json();
  x["first_failing_run"] = first_failing ? nlohmann::json(first_failing_run) : nlohmann::json();
  if (o_.explore == "pct") {
    x["depth"] = depth_;
    x["steps"] = st.steps;
    x["steps_from_probe"] = st.probe.has_value();
    x["miss_bound"] = miss_bound(threads, st.steps, depth_, done);
  } else {
    x["depth"] = nullptr;
    x["steps"] = nullptr;
    x["steps_from_probe"] = false;
    x["miss_bound"] = nullptr;
  }
  // The unit's result: the first failing run's, else the first run's.
  reports::UnitResult u = first_failing ? first_failing->result : st.runs.begin()->second.result;
  u.wall_seconds = wall;
  u.peak_rss_kb = rss;
  const std::string summary =
      fmt::format("exploration {}: {} of {} runs failed ({}){}", o_.explore, failed, done, histogram_text(outcomes),
                  first_failing ? fmt::format(", the first with token {}", first_failing->token) : "");
  u.message = u.message.empty() ? summary : u.message + "; " + summary;
  if (first_failing) u.replay_command = fmt::format("racegate replay {}{}", first_failing->token, replay_suffix_);
  u.explore_json = x.dump();
  emit_(std::move(u));
}

void judge_replay(const std::string& token, const fs::path& tokens_file, const std::optional<Recorded>& recorded,
                  const std::string& outcome, const ExploreStats& stats, reports::UnitResult& r) {
  const auto mode_at = token.find(",mode=") + 6;
  const auto mode_end = token.find(',', mode_at);
  nlohmann::json replay = {{"token", token},
                           {"tokens_file", tokens_file.string()},
                           {"outcome", outcome},
                           {"trace_hash", stats.trace_hash}};
  std::string said;
  if (!recorded) {
    replay["recorded_outcome"] = nullptr;
    replay["recorded_trace_hash"] = nullptr;
    replay["trace_hash_check"] = "not compared (no record)";
    replay["same"] = nullptr;
    said = fmt::format("replay: no record of this token in {}; the outcome is {}", tokens_file.string(), outcome);
  } else {
    const std::string check = trace_hash_check(*recorded, stats);
    const bool same = outcome == recorded->outcome && check != "differs";
    replay["recorded_outcome"] = recorded->outcome;
    replay["recorded_trace_hash"] = recorded->trace_hash;
    replay["trace_hash_check"] = check;
    replay["same"] = same;
    said = same ? fmt::format("replay reproduced the recorded outcome {} (trace hash {})", outcome, check)
                : fmt::format("replay diverged: recorded {}, replayed {} (trace hash {})", recorded->outcome,
                              outcome, check);
    if (!same) r.verdict = std::max(r.verdict, reports::Verdict::kFail);  // never silently trusted
  }
  r.message = r.message.empty() ? said : said + "; " + r.message;
  r.explore_json = nlohmann::json{{"mode", token.substr(mode_at, mode_end == std::string::npos ? std::string::npos
                                                                                                 : mode_end - mode_at)},
                                  {"replay", replay}}
                       .dump();
}

}  // namespace racegate::runner
