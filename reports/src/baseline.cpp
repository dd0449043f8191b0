// The baseline, ignore list and TSan suppressions files of `racegate gate`.
#include "racegate/reports/baseline.h"

#include "racegate/reports/results_file.h"  // line_of_offset

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <string_view>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace racegate::reports {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kBaselineSchema = "racegate-baseline/1";

std::string read_text(const fs::path& file, const char* what) {
  std::error_code ec;
  if (!fs::exists(file, ec)) throw InputError(fmt::format("{}: no such {} file", file.string(), what));
  if (fs::is_directory(file, ec)) throw InputError(fmt::format("{}: is a directory, not a {} file", file.string(), what));
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot read the {} file", file.string(), what));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw InputError(fmt::format("{}: read error", file.string()));
  return ss.str();
}

// The line (1-based) on which the n-th (0-based) element of the "findings"
// array starts, approximately: the line of its n-th '"signature"' key. Good
// enough to point a reader at the entry; exact for the files we write.
int entry_line(std::string_view text, std::size_t n) {
  std::size_t pos = std::string_view::npos;
  for (std::size_t i = 0; i <= n; ++i) {
    pos = text.find("\"signature\"", pos == std::string_view::npos ? 0 : pos + 1);
    if (pos == std::string_view::npos) return 0;
  }
  return line_of_offset(text, pos);
}

bool is_hex(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// Calls each(line number, trimmed line) for every line that is neither
// blank nor a '#' comment.
template <class Each>
void for_each_entry_line(std::string_view text, Each each) {
  std::istringstream in{std::string(text)};
  std::string raw;
  int n = 0;
  while (std::getline(in, raw)) {
    ++n;
    std::string line = trim(raw);
    if (!line.empty() && line[0] != '#') each(n, line);
  }
}

}  // namespace

const KnownFinding* Baseline::find(const std::string& signature) const {
  for (const auto& f : findings) {
    if (f.signature == signature) return &f;
  }
  return nullptr;
}

Baseline load_baseline(const fs::path& file) { return parse_baseline(read_text(file, "baseline"), file.string()); }

Baseline parse_baseline(std::string_view text, const std::string& name) {
  const json j = parse_schema_document(text, name, kBaselineSchema, "baseline");
  auto it = j.find("findings");
  if (it == j.end() || !it->is_array()) {
    throw InputError(fmt::format("{}:1: a baseline needs a \"findings\" array", name));
  }
  Baseline b;
  for (std::size_t i = 0; i < it->size(); ++i) {
    const json& e = (*it)[i];
    const int line = entry_line(text, i);
    auto bad = [&](const std::string& what) {
      return InputError(fmt::format("{}:{}: finding {}: {}", name, line, i + 1, what));
    };
    if (!e.is_object()) throw bad("not an object");
    KnownFinding k;
    try {
      k.signature = e.at("signature").get<std::string>();
      k.tool = e.value("tool", std::string());
      k.kind = e.value("kind", std::string());
      if (e.contains("location")) k.location = e.at("location").get<SourceLocation>();
      k.first_seen = e.value("first_seen", std::string());
      k.reason = e.value("reason", std::string());
    } catch (const std::exception& ex) {  // json::exception, or a number that does not fit
      throw bad(ex.what());
    }
    if (!is_hex(k.signature)) throw bad(fmt::format("signature '{}' is not a hex string", printable_excerpt(k.signature)));
    if (b.find(k.signature)) throw bad(fmt::format("signature {} is listed twice", k.signature));
    b.findings.push_back(std::move(k));
  }
  return b;
}

std::string baseline_text(const Baseline& baseline) {
  std::vector<KnownFinding> sorted = baseline.findings;
  std::sort(sorted.begin(), sorted.end(),
            [](const KnownFinding& a, const KnownFinding& b) { return a.signature < b.signature; });
  nlohmann::ordered_json out;
  out["schema"] = kBaselineSchema;
  out["findings"] = nlohmann::ordered_json::array();
  for (const auto& k : sorted) {
    nlohmann::ordered_json e;
    e["signature"] = k.signature;
    e["tool"] = k.tool;
    e["kind"] = k.kind;
    e["location"] = {{"file", k.location.file},
                     {"line", k.location.line},
                     {"column", k.location.column},
                     {"function", k.location.function}};
    e["first_seen"] = k.first_seen;
    e["reason"] = k.reason;
    out["findings"].push_back(std::move(e));
  }
  return out.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::vector<IgnoreEntry> load_ignore_list(const fs::path& file) {
  return parse_ignore_list(read_text(file, "ignore list"), file.string());
}

std::vector<IgnoreEntry> parse_ignore_list(std::string_view text, const std::string& name) {
  std::vector<IgnoreEntry> out;
  for_each_entry_line(text, [&](int n, const std::string& line) {
    auto space = line.find_first_of(" \t");
    IgnoreEntry e;
    e.line = n;
    e.signature = line.substr(0, space);
    e.reason = space == std::string::npos ? "" : trim(line.substr(space));
    if (!is_hex(e.signature)) {
      throw InputError(fmt::format("{}:{}: '{}' is not a finding signature (a hex string)", name, n,
                                   printable_excerpt(e.signature)));
    }
    if (e.reason.empty()) {
      throw InputError(fmt::format("{}:{}: signature {} has no reason; every ignored finding needs one "
                                   "(SIGNATURE  REASON)",
                                   name, n, e.signature));
    }
    out.push_back(std::move(e));
  });
  return out;
}

std::vector<SuppressionRule> load_tsan_suppressions(const fs::path& file) {
  return parse_tsan_suppressions(read_text(file, "suppressions"), file.string());
}

std::vector<SuppressionRule> parse_tsan_suppressions(std::string_view text, const std::string& name) {
  static constexpr std::array<const char*, 7> kTypes = {"race",   "race_top", "thread",         "mutex",
                                                        "signal", "deadlock", "called_from_lib"};
  std::vector<SuppressionRule> out;
  for_each_entry_line(text, [&](int n, const std::string& line) {
    auto colon = line.find(':');
    if (colon == std::string::npos) {
      throw InputError(fmt::format("{}:{}: '{}' is not a suppression (TYPE:PATTERN, e.g. race:MyClass::f)",
                                   name, n, printable_excerpt(line)));
    }
    SuppressionRule r{line.substr(0, colon), trim(line.substr(colon + 1)), n};
    if (std::find_if(kTypes.begin(), kTypes.end(), [&](const char* t) { return r.type == t; }) == kTypes.end()) {
      throw InputError(fmt::format("{}:{}: unknown suppression type '{}' (race, race_top, thread, mutex, signal, "
                                   "deadlock, called_from_lib)",
                                   name, n, printable_excerpt(r.type)));
    }
    if (r.pattern.empty()) throw InputError(fmt::format("{}:{}: suppression '{}' has no pattern", name, n, printable_excerpt(line)));
    out.push_back(std::move(r));
  });
  return out;
}

namespace {

// Whether `text` matches `pattern` where '*' matches any run (possibly empty)
// and every other character itself.
bool star_match(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// TSan's template match: the pattern may match anywhere in the text unless
// '^' anchors it at the start or '$' at the end; '*' matches any run.
bool template_match(std::string_view pattern, std::string_view text) {
  if (pattern.empty() || text.empty()) return false;
  std::string glob;
  if (pattern.front() == '^') {
    pattern.remove_prefix(1);
  } else {
    glob += '*';
  }
  const bool at_end = !pattern.empty() && pattern.back() == '$';
  if (at_end) pattern.remove_suffix(1);
  glob += pattern;
  if (!at_end) glob += '*';
  return star_match(glob, text);
}

bool kind_of_type(const std::string& type, const std::string& kind) {
  if (type == "race" || type == "race_top") return kind == "data-race";
  if (type == "thread") return kind == "thread-leak";
  if (type == "deadlock") return kind == "lock-order-inversion";
  if (type == "signal") return kind == "signal-unsafe-call" || kind == "errno-spoiled";
  if (type == "mutex") return kind.find("mutex") != std::string::npos || kind == "double-lock";
  return type == "called_from_lib";
}

}  // namespace

bool suppression_matches(const SuppressionRule& rule, const Finding& f) {
  if (f.tool != "tsan" || !kind_of_type(rule.type, f.kind)) return false;
  for (const auto& stack : f.stacks) {
    for (std::size_t i = 0; i < stack.frames.size(); ++i) {
      const Frame& fr = stack.frames[i];
      if (rule.type == "called_from_lib") {
        if (template_match(rule.pattern, fr.module)) return true;
        continue;
      }
      if (template_match(rule.pattern, fr.function) || template_match(rule.pattern, fr.file) ||
          template_match(rule.pattern, fr.module)) {
        return true;
      }
      if (rule.type == "race_top") break;  // only the innermost frame
    }
  }
  return false;
}

}  // namespace racegate::reports
