// bench/primitives_main.cpp — main() of racegate-bench-primitives and the
// shared helpers of bench_support.h.
//
// Measures nothing itself. It keeps the naming contract of
// docs/bench-workloads.md: every benchmark is named exactly
// `<workload>/<impl>/<placement>`, in --benchmark_list_tests, in every
// reporter's output (console, json, csv, --benchmark_out) and for
// --benchmark_filter. Google Benchmark 1.7 would append "/min_time:0.100" and
// "/real_time" to the names of benchmarks that use MinTime() and
// UseRealTime(); so this main
//  - evaluates --benchmark_filter itself (a regular expression searched in the
//    exact name, a leading '-' negates it, as Google Benchmark does) and
//    registers only the benchmarks that match;
//  - answers --benchmark_list_tests itself with the exact names;
//  - wraps the reporters so that the names they print have no suffix;
//  - applies each benchmark's default MinTime() only when the command line
//    has no --benchmark_min_time (which then governs every benchmark).
// Every benchmark uses UseRealTime(): most of them block, so CPU time would
// say nothing (and would make Google Benchmark run far too many iterations).
#include <fcntl.h>
#include <sys/socket.h>

#include <cstdlib>
#include <iostream>
#include <regex>
#include <string_view>

#include "bench_support.h"

namespace rgbench {

namespace {

// A watchdog per benchmark call: with --benchmark_min_time in seconds, one
// call lasts about that long; nothing legitimate takes 5 minutes.
constexpr unsigned kWatchdogSeconds = 300;

extern "C" void on_watchdog(int) {
  static const char msg[] =
      "racegate-bench-primitives: a benchmark made no progress for 300 s (a peer process died?); "
      "aborting (children die with this process)\n";
  ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)ignored;
  _exit(2);
}

// Runs one call of a benchmark: pins the measuring thread to CPU 0, arms the
// watchdog, and turns an exception into SkipWithError.
void run_guarded(benchmark::State& state, const BenchFn& fn) {
  try {
    pin_self(0);
    alarm(kWatchdogSeconds);
    fn(state);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  } catch (...) {
    state.SkipWithError("unknown exception");
  }
  alarm(0);
}

}  // namespace

std::vector<Registration>& registry() {
  static std::vector<Registration> all;
  return all;
}

void add(const std::string& workload, const std::string& impl, Placement placement,
         std::function<void(benchmark::State&)> fn, double min_time) {
  registry().push_back(
      Registration{workload + "/" + impl + "/" + placement_name(placement), std::move(fn), min_time});
}

void add_placed(const std::string& workload, const std::string& impl,
                const std::function<void(benchmark::State&, Placement)>& fn, double min_time) {
  for (Placement p : {Placement::kOneCpu, Placement::kTwoCpus})
    add(
        workload, impl, p,
        [fn, p](benchmark::State& state) {
          require_placement(p);
          fn(state, p);
        },
        min_time);
}

void add_gap(const std::string& workload, const std::string& impl, Placement placement, std::string why) {
  add(workload, impl, placement, [why = std::move(why)](benchmark::State& state) {
    state.SkipWithError(why.c_str());
  });
}

std::pair<Fd, Fd> make_socketpair() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    throw std::system_error(errno, std::generic_category(), "socketpair");
  return {Fd(sv[0]), Fd(sv[1])};
}

std::pair<Fd, Fd> make_pipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  return {Fd(fds[0]), Fd(fds[1])};
}

namespace {

// Forwards to a reporter of Google Benchmark's after removing the suffixes
// it appended to the names (min_time, iterations, real_time).
class ExactNameReporter : public benchmark::BenchmarkReporter {
 public:
  ExactNameReporter(benchmark::BenchmarkReporter* inner, std::size_t name_width)
      : inner_(inner), name_width_(name_width) {}

  bool ReportContext(const Context& context) override {
    inner_->SetOutputStream(&GetOutputStream());
    inner_->SetErrorStream(&GetErrorStream());
    Context exact = context;
    exact.name_field_width = name_width_;
    return inner_->ReportContext(exact);
  }
  void ReportRuns(const std::vector<Run>& reports) override {
    std::vector<Run> exact = reports;
    for (Run& run : exact) {
      run.run_name.min_time.clear();
      run.run_name.iterations.clear();
      run.run_name.time_type.clear();
    }
    inner_->ReportRuns(exact);
  }
  void Finalize() override { inner_->Finalize(); }

 private:
  benchmark::BenchmarkReporter* inner_;
  std::size_t name_width_;
};

// The value of --NAME=VALUE in argv (the last one wins, as in Google Benchmark).
std::optional<std::string> flag_value(int argc, char** argv, std::string_view name) {
  std::optional<std::string> value;
  const std::string prefix = "--" + std::string(name) + "=";
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.substr(0, prefix.size()) == prefix) value = std::string(arg.substr(prefix.size()));
  }
  return value;
}

bool flag_true(int argc, char** argv, std::string_view name) {
  bool on = false;
  const std::string bare = "--" + std::string(name);
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == bare) on = true;
  }
  if (auto v = flag_value(argc, argv, name)) on = (*v == "true" || *v == "1" || *v == "yes" || *v == "on");
  return on;
}

}  // namespace

}  // namespace rgbench

int main(int argc, char** argv) {
  using namespace rgbench;
  (void)allowed_cpus();             // before anything is pinned
  std::signal(SIGPIPE, SIG_IGN);  // a dead peer shows up as EPIPE, not as our death
  std::signal(SIGALRM, on_watchdog);

  // Which benchmarks: --benchmark_filter, matched against the exact names.
  std::string filter = flag_value(argc, argv, "benchmark_filter").value_or(".");
  bool negative = false;
  if (filter == "all" || filter.empty()) filter = ".";
  if (filter[0] == '-') {
    negative = true;
    filter.erase(0, 1);
  }
  std::regex re;
  try {
    re = std::regex(filter, std::regex::extended);
  } catch (const std::regex_error& e) {
    std::cerr << "racegate-bench-primitives: bad --benchmark_filter '" << filter << "': " << e.what() << "\n";
    return 1;
  }
  std::vector<const Registration*> selected;
  std::size_t width = 10;
  for (const Registration& r : registry()) {
    if (std::regex_search(r.name, re) != negative) {
      selected.push_back(&r);
      width = std::max(width, r.name.size());
    }
  }

  if (flag_true(argc, argv, "benchmark_list_tests")) {
    for (const Registration* r : selected) std::cout << r->name << "\n";
    return 0;
  }

  // Read before benchmark::Initialize, which removes the flags it knows from argv.
  const bool min_time_given = flag_value(argc, argv, "benchmark_min_time").has_value();
  const bool out_given = flag_value(argc, argv, "benchmark_out").has_value();
  const std::string out_format = flag_value(argc, argv, "benchmark_out_format").value_or("json");
  if (selected.empty()) {
    std::cerr << "racegate-bench-primitives: no benchmark matches --benchmark_filter '"
              << (negative ? "-" : "") << filter << "'\n";
    return 1;
  }
  for (const Registration* r : selected) {
    const BenchFn* fn = &r->fn;
    benchmark::internal::Benchmark* b = benchmark::RegisterBenchmark(
        r->name.c_str(), [fn](benchmark::State& state) { run_guarded(state, *fn); });
    b->UseRealTime();
    if (!min_time_given) b->MinTime(r->default_min_time);
  }

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::SetBenchmarkFilter(".");  // selection done above, on the exact names

  ExactNameReporter display(benchmark::CreateDefaultDisplayReporter(), width);
  std::unique_ptr<benchmark::BenchmarkReporter> file_inner;
  std::unique_ptr<ExactNameReporter> file;
  if (out_given) {
    if (out_format == "console") {
      file_inner = std::make_unique<benchmark::ConsoleReporter>(benchmark::ConsoleReporter::OO_None);
    } else if (out_format == "csv") {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
      file_inner = std::make_unique<benchmark::CSVReporter>();
#pragma GCC diagnostic pop
    } else {
      file_inner = std::make_unique<benchmark::JSONReporter>();
    }
    file = std::make_unique<ExactNameReporter>(file_inner.get(), width);
  }
  benchmark::RunSpecifiedBenchmarks(&display, file.get());
  benchmark::Shutdown();
  return 0;
}
