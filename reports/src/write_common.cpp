// What several report writers share (see internal/write_common.h).
#include "racegate/reports/internal/write_common.h"

#include <algorithm>
#include <map>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace racegate::reports::internal {
namespace fs = std::filesystem;

VerdictCounts count_verdicts(const Run& run) {
  VerdictCounts counts{};
  for (const auto& u : run.units) ++counts[static_cast<std::size_t>(u.verdict)];
  return counts;
}

std::vector<std::string> variants_of(const Run& run) {
  std::vector<std::string> out;
  for (const auto& v : run.info.variants) {
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
  std::vector<std::string> extra;
  for (const auto& u : run.units) {
    if (std::find(out.begin(), out.end(), u.variant) == out.end() &&
        std::find(extra.begin(), extra.end(), u.variant) == extra.end()) {
      extra.push_back(u.variant);
    }
  }
  std::sort(extra.begin(), extra.end());
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

namespace {

std::vector<const UnitResult*> sorted_units(const Run& run, bool worst_first) {
  const auto variants = variants_of(run);
  std::map<std::string, std::size_t> rank;
  for (std::size_t i = 0; i < variants.size(); ++i) rank.emplace(variants[i], i);
  std::vector<const UnitResult*> out;
  out.reserve(run.units.size());
  for (const auto& u : run.units) out.push_back(&u);
  std::stable_sort(out.begin(), out.end(), [&](const UnitResult* a, const UnitResult* b) {
    if (worst_first && a->verdict != b->verdict) return a->verdict > b->verdict;
    return std::forward_as_tuple(a->case_id, rank.at(a->variant), a->repeat) <
           std::forward_as_tuple(b->case_id, rank.at(b->variant), b->repeat);
  });
  return out;
}

}  // namespace

std::vector<const UnitResult*> units_by_case(const Run& run) { return sorted_units(run, false); }
std::vector<const UnitResult*> units_by_severity(const Run& run) { return sorted_units(run, true); }

fs::path source_root_of(const Run& run, const ReportConfig& config) {
  fs::path root = config.source_root.empty() ? fs::path(run.info.source_root) : config.source_root;
  if (root.empty()) return root;
  root = root.lexically_normal();
  // "/a/b/" normalises to "/a/b/" (an empty last element): drop it.
  if (!root.has_filename() && root.has_parent_path() && root != root.root_path()) {
    root = root.parent_path();
  }
  return root;
}

namespace {

// `file` relative to `root` when inside it, else empty.
fs::path relative_inside(std::string_view file, const fs::path& root) {
  if (file.empty()) return {};
  fs::path p = fs::path(std::string(file)).lexically_normal();
  if (p.is_relative()) {
    if (root.empty()) return {};
    if (!p.empty() && *p.begin() == "..") return {};
    return p;
  }
  if (root.empty() || !root.is_absolute()) return {};
  fs::path rel = p.lexically_relative(root);
  if (rel.empty() || *rel.begin() == ".." || rel == ".") return {};
  return rel;
}

}  // namespace

std::string display_path(std::string_view file, const fs::path& root) {
  fs::path rel = relative_inside(file, root);
  if (!rel.empty()) return rel.generic_string();
  return std::string(file);
}

bool is_inside_root(std::string_view file, const fs::path& root) {
  return !relative_inside(file, root).empty();
}

namespace {

void append_percent_encoded(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
    if (keep) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
}

}  // namespace

std::string file_uri(const fs::path& path) {
  std::string out = "file://";
  append_percent_encoded(out, path.generic_string());
  return out;
}

std::string relative_uri(std::string_view relative_path) {
  std::string out;
  append_percent_encoded(out, relative_path);
  return out;
}

std::string format_seconds(double seconds) { return fmt::format("{:.3f}", seconds); }

std::string signal_name(int signal) {
  static const std::map<int, const char*> kNames = {
      {1, "SIGHUP"},   {2, "SIGINT"},   {3, "SIGQUIT"}, {4, "SIGILL"},   {5, "SIGTRAP"},
      {6, "SIGABRT"},  {7, "SIGBUS"},   {8, "SIGFPE"},  {9, "SIGKILL"},  {10, "SIGUSR1"},
      {11, "SIGSEGV"}, {12, "SIGUSR2"}, {13, "SIGPIPE"}, {14, "SIGALRM"}, {15, "SIGTERM"},
      {24, "SIGXCPU"}, {25, "SIGXFSZ"}, {31, "SIGSYS"}};
  auto it = kNames.find(signal);
  return it != kNames.end() ? it->second : fmt::format("signal {}", signal);
}

std::string tool_display_name(std::string_view tool) {
  if (tool == "tsan") return "ThreadSanitizer";
  if (tool == "asan") return "AddressSanitizer";
  if (tool == "lsan") return "LeakSanitizer";
  if (tool == "ubsan") return "UndefinedBehaviorSanitizer";
  return std::string(tool);
}

std::string kind_words(std::string_view kind) {
  std::string out(kind);
  std::replace(out.begin(), out.end(), '-', ' ');
  return out;
}

std::string truncate_utf8(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  std::size_t end = max_bytes;
  // Do not cut a multi-byte sequence: back up over continuation bytes.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

std::string cap_output(std::string_view text, std::size_t max_bytes, bool already_truncated) {
  std::string out;
  if (text.size() <= max_bytes) {
    out = std::string(text);
  } else {
    std::size_t head = max_bytes / 4;
    std::size_t tail = max_bytes - head;
    out = truncate_utf8(text, head);
    std::size_t start = text.size() - tail;
    while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) {
      ++start;
    }
    std::size_t left_out = start - out.size();
    if (!out.empty() && out.back() != '\n') out += '\n';
    out += fmt::format("[... racegate: {} bytes left out ...]\n", left_out);
    out.append(text.substr(start));
  }
  if (already_truncated) {
    if (!out.empty() && out.back() != '\n') out += '\n';
    out += "[... racegate: output was truncated when captured ...]\n";
  }
  return out;
}

UnitLabels::UnitLabels(const Run& run) {
  for (const auto& u : run.units) {
    if (u.repeat > 0) repeated_.emplace_back(u.case_id, u.variant);
  }
  std::sort(repeated_.begin(), repeated_.end());
  repeated_.erase(std::unique(repeated_.begin(), repeated_.end()), repeated_.end());
}

std::string UnitLabels::operator()(const UnitResult& unit) const {
  bool repeated =
      std::binary_search(repeated_.begin(), repeated_.end(), std::make_pair(unit.case_id, unit.variant));
  return repeated ? fmt::format("{} [repeat {}]", unit.case_id, unit.repeat) : unit.case_id;
}

std::vector<std::pair<std::string, std::string>> explore_facts(const std::string& explore_json) {
  std::vector<std::pair<std::string, std::string>> out;
  if (explore_json.empty()) return out;
  const auto e = nlohmann::json::parse(explore_json, nullptr, false);
  if (!e.is_object()) return out;
  auto text = [](const nlohmann::json& j, const char* key) -> std::string {
    if (!j.contains(key) || j[key].is_null()) return "-";
    return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
  };
  out.emplace_back("mode", text(e, "mode"));
  if (e.contains("replay") && e["replay"].is_object()) {
    const auto& r = e["replay"];
    out.emplace_back("replay token", text(r, "token"));
    out.emplace_back("recorded outcome", text(r, "recorded_outcome"));
    out.emplace_back("replayed outcome", text(r, "outcome"));
    out.emplace_back("trace hash", text(r, "trace_hash_check"));
    const bool recorded = r.contains("same") && r["same"].is_boolean();
    out.emplace_back("replay", !recorded ? "no record to compare with"
                               : r["same"].get<bool>() ? "same outcome" : "replay diverged");
    return out;
  }
  std::string outcomes;
  if (e.contains("outcomes") && e["outcomes"].is_object()) {
    for (const auto& [k, v] : e["outcomes"].items()) outcomes += fmt::format("{}{} {}", outcomes.empty() ? "" : ", ", v.dump(), k);
  }
  out.emplace_back("runs", text(e, "runs"));
  out.emplace_back("failed runs", text(e, "failed_runs"));
  out.emplace_back("outcomes", outcomes.empty() ? "-" : outcomes);
  out.emplace_back("first failing token", text(e, "first_failing_token"));
  out.emplace_back("first failing outcome", text(e, "first_failing_outcome"));
  out.emplace_back("threads n", text(e, e.contains("threads_max") ? "threads_max" : "threads"));
  out.emplace_back("steps k", text(e, "steps"));
  out.emplace_back("depth d", text(e, "depth"));
  out.emplace_back("miss bound", text(e, "miss_bound"));
  out.emplace_back("time-slice preemptions", text(e, "slice_preemptions"));
  return out;
}

}  // namespace racegate::reports::internal
