// racegate-bench-harness: throughput of racegate's sanitizer-log parser.
//
// harness.parse.tsan_log/racegate/na parses one large ThreadSanitizer log per
// iteration: every real TSan fixture log in tests/fixtures/ (clang's and
// gcc's, *tsan*.log) concatenated, over and over, to about 50 MB, built in
// memory once. Time is real time per parse of the whole log; bytes/s is the
// throughput (SetBytesProcessed), items/s the findings read. The run fails
// (SkipWithError) if the parser does not find every report of every copy.
//
// The name is kept exact (the naming contract of docs/bench-workloads.md):
// Google Benchmark 1.7 would print "harness.parse.tsan_log/racegate/na/real_time",
// so main() answers --benchmark_list_tests itself and its reporters drop the
// suffix. --benchmark_filter still sees the suffixed name: anchor a filter
// with (/|$), not $.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <benchmark/benchmark.h>

#include "racegate/reports/parse.h"

namespace {

namespace fs = std::filesystem;
namespace rr = racegate::reports;

constexpr std::size_t kTargetBytes = 50u * 1000u * 1000u;

struct Log {
  std::string text;
  std::size_t copies = 0;
  std::size_t findings_per_copy = 0;
  std::string error;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The fixture logs, sorted by name so that every run parses the same text.
Log build_log() {
  Log log;
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(RACEGATE_FIXTURES_DIR, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.find("tsan") != std::string::npos &&
        name.ends_with(".log")) {
      files.push_back(entry.path());
    }
  }
  if (ec || files.empty()) {
    log.error = "no *tsan*.log fixtures in " RACEGATE_FIXTURES_DIR;
    return log;
  }
  std::sort(files.begin(), files.end());
  std::string one;
  for (const auto& f : files) {
    std::string text = read_file(f);
    if (!text.empty() && text.back() != '\n') text += '\n';
    one += text;
  }
  log.findings_per_copy = rr::parse_sanitizer_log(one).size();
  if (log.findings_per_copy == 0) {
    log.error = "the parser found no report in the fixture logs";
    return log;
  }
  log.copies = (kTargetBytes + one.size() - 1) / one.size();
  log.text.reserve(log.copies * one.size());
  for (std::size_t i = 0; i < log.copies; ++i) log.text += one;
  return log;
}

const Log& big_log() {
  static const Log log = build_log();
  return log;
}

void parse_tsan_log(benchmark::State& state) {
  const Log& log = big_log();
  if (!log.error.empty()) {
    state.SkipWithError(log.error.c_str());
    return;
  }
  std::size_t findings = 0;
  for (auto _ : state) {
    auto parsed = rr::parse_sanitizer_log(log.text);
    findings = parsed.size();
    benchmark::DoNotOptimize(parsed.data());
  }
  if (findings != log.copies * log.findings_per_copy) {
    state.SkipWithError("the parser lost reports in the concatenated log");
    return;
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * log.text.size()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * findings));
  state.counters["log_MB"] = static_cast<double>(log.text.size()) / 1e6;
  state.counters["findings"] = static_cast<double>(findings);
}

constexpr const char* kName = "harness.parse.tsan_log/racegate/na";

BENCHMARK(parse_tsan_log)->Name(kName)->UseRealTime()->Unit(benchmark::kMillisecond);

// Forwards to a reporter of Google Benchmark's, without the suffixes it
// appends to the names (real_time, min_time, iterations).
class ExactNameReporter : public benchmark::BenchmarkReporter {
 public:
  explicit ExactNameReporter(benchmark::BenchmarkReporter* inner) : inner_(inner) {}
  bool ReportContext(const Context& context) override {
    inner_->SetOutputStream(&GetOutputStream());
    inner_->SetErrorStream(&GetErrorStream());
    return inner_->ReportContext(context);
  }
  void ReportRuns(const std::vector<Run>& reports) override {
    std::vector<Run> exact = reports;
    for (Run& run : exact) {
      run.run_name.time_type.clear();
      run.run_name.min_time.clear();
      run.run_name.iterations.clear();
    }
    inner_->ReportRuns(exact);
  }
  void Finalize() override { inner_->Finalize(); }

 private:
  benchmark::BenchmarkReporter* inner_;
};

bool has_flag(int argc, char** argv, std::string_view flag) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == flag || (arg.starts_with(flag) && arg.substr(flag.size()) == "=true")) return true;
  }
  return false;
}

bool has_option(int argc, char** argv, std::string_view prefix) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]).starts_with(prefix)) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (has_flag(argc, argv, "--benchmark_list_tests")) {
    std::cout << kName << "\n";
    return 0;
  }
  const bool out_given = has_option(argc, argv, "--benchmark_out=");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  ExactNameReporter display(benchmark::CreateDefaultDisplayReporter());
  std::unique_ptr<benchmark::JSONReporter> json;
  std::unique_ptr<ExactNameReporter> file;
  if (out_given) {  // --benchmark_out: written as JSON
    json = std::make_unique<benchmark::JSONReporter>();
    file = std::make_unique<ExactNameReporter>(json.get());
  }
  benchmark::RunSpecifiedBenchmarks(&display, file.get());
  benchmark::Shutdown();
  return 0;
}
