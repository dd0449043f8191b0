// results.jsonl and report.json: writing lines, reading them back strictly.
#include "racegate/reports/results_file.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace racegate::reports {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kResultsSchema = "racegate-results/1";
constexpr const char* kRunSchema = "racegate-run/1";

std::string dump_text(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
std::string dump_line(const json& j) { return dump_text(j) + "\n"; }

UnitResult unit_of(const json& j, const std::string& where) {
  if (!j.is_object()) throw InputError(where + ": not a JSON object");
  auto id = j.find("case_id");
  if (id == j.end() || !id->is_string() || id->get<std::string>().empty()) {
    throw InputError(where + ": a unit needs a \"case_id\" string");
  }
  auto v = j.find("verdict");
  if (v == j.end() || !v->is_string() || !parse_verdict(v->get<std::string>())) {
    throw InputError(where + fmt::format(": unit {}: \"verdict\" must be one of PASS, FAIL, RACE, MISSED, TIMEOUT, "
                                         "CRASH, ERROR (got {})",
                                         printable_excerpt(id->get<std::string>()), v == j.end() ? "nothing" : printable_excerpt(dump_text(*v))));
  }
  try {
    return j.get<UnitResult>();
  } catch (const std::exception& e) {  // json::exception, or a number that does not fit
    throw InputError(where + fmt::format(": unit {}: {}", printable_excerpt(id->get<std::string>()), e.what()));
  }
}

RunInfo info_of(const json& j, const std::string& where) {
  auto r = j.find("run");
  if (r == j.end() || !r->is_object()) throw InputError(where + ": the header needs a \"run\" object");
  try {
    return r->get<RunInfo>();
  } catch (const std::exception& e) {  // json::exception, or a number that does not fit
    throw InputError(where + ": the run facts: " + e.what());
  }
}

bool looks_like_document(std::string_view text) {
  auto b = text.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos || text[b] != '{') return false;
  auto nl = text.find('\n', b);
  std::string_view first = text.substr(b, nl == std::string_view::npos ? std::string_view::npos : nl - b);
  while (!first.empty() && (first.back() == '\r' || first.back() == ' ')) first.remove_suffix(1);
  return first == "{";  // report.json is indented; results.jsonl lines are not
}

Run parse_document(std::string_view text, const std::string& name) {
  const json j = parse_schema_document(text, name, kRunSchema, "report.json");
  Run run;
  run.info = info_of(j, name + ":1");
  auto units = j.find("units");
  if (units == j.end() || !units->is_array()) throw InputError(name + ":1: a report.json needs a \"units\" array");
  for (std::size_t i = 0; i < units->size(); ++i) {
    run.units.push_back(unit_of((*units)[i], fmt::format("{}:1: units[{}]", name, i)));
  }
  return run;
}

}  // namespace

std::string printable_excerpt(std::string_view text, std::size_t max) {
  std::string out;
  for (char c : text.substr(0, max)) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u >= 0x7f) ? fmt::format("\\x{:02x}", u) : std::string(1, c);
  }
  return text.size() > max ? out + "..." : out;
}

int line_of_json_error(std::string_view text, const std::exception& e) {
  if (const auto* p = dynamic_cast<const nlohmann::json::parse_error*>(&e)) return line_of_offset(text, p->byte);
  // "number overflow parsing '1E999'": the line of that number.
  const std::string_view what = e.what();
  const auto open = what.find('\''), close = what.rfind('\'');
  if (open != std::string_view::npos && close > open + 1) {
    const auto at = text.find(what.substr(open + 1, close - open - 1));
    if (at != std::string_view::npos) return line_of_offset(text, at);
  }
  return 1;
}

json parse_schema_document(std::string_view text, const std::string& name, const std::string& schema,
                           const std::string& what) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw InputError(fmt::format("{}:{}: not valid JSON ({})", name, line_of_json_error(text, e), e.what()));
  }
  const auto found = j.is_object() ? j.find("schema") : j.end();
  if (!j.is_object() || found == j.end() || !found->is_string() || found->get<std::string>() != schema) {
    throw InputError(fmt::format("{}:1: not a racegate {} (expected \"schema\": \"{}\")", name, what, schema));
  }
  return j;
}

int line_of_offset(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

std::string results_header_line(const RunInfo& info) {
  return dump_line(json{{"schema", kResultsSchema}, {"run", info}});
}

std::string results_unit_line(const UnitResult& unit) { return dump_line(json(unit)); }

Run parse_results_text(std::string_view text, const std::string& name, std::vector<std::string>& warnings) {
  if (looks_like_document(text)) return parse_document(text, name);
  Run run;
  bool header = false, any = false;
  std::size_t pos = 0;
  int n = 0;
  while (pos < text.size()) {
    ++n;
    auto nl = text.find('\n', pos);
    const bool terminated = nl != std::string_view::npos;
    std::string_view line = text.substr(pos, terminated ? nl - pos : std::string_view::npos);
    pos = terminated ? nl + 1 : text.size();
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (line.empty()) continue;
    const std::string where = fmt::format("{}:{}", name, n);
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) {
      if (!terminated && any) {
        warnings.push_back(where + ": an unterminated last line that is not JSON (a run killed while writing it?), "
                                   "skipped");
        break;
      }
      throw InputError(fmt::format("{}: not JSON: {}", where, printable_excerpt(line)));
    }
    any = true;
    if (j.is_object() && j.contains("schema")) {
      auto schema = j["schema"];
      if (!schema.is_string() || schema.get<std::string>() != kResultsSchema) {
        throw InputError(fmt::format("{}: unknown schema {} (expected \"{}\")", where, printable_excerpt(dump_text(schema)),
                                     kResultsSchema));
      }
      RunInfo info = info_of(j, where);
      if (!header) {
        run.info = std::move(info);
        header = true;
      } else {  // several runs appended: the longest and any interruption count
        run.info.wall_seconds = std::max(run.info.wall_seconds, info.wall_seconds);
        run.info.interrupted = run.info.interrupted || info.interrupted;
      }
      continue;
    }
    if (!header) {
      throw InputError(fmt::format("{}: expected the header line {{\"schema\": \"{}\", ...}} first", where,
                                   kResultsSchema));
    }
    run.units.push_back(unit_of(j, where));
  }
  if (!header) throw InputError(name + ":1: empty: not a racegate results.jsonl or report.json");
  return run;
}

Run read_results_files(const std::vector<fs::path>& files, std::vector<std::string>& warnings) {
  Run run;
  bool first = true;
  for (const auto& f : files) {
    std::error_code ec;
    if (fs::is_directory(f, ec)) throw InputError(f.string() + ": is a directory, not a results file");
    std::ifstream in(f, std::ios::binary);
    if (!in) throw InputError(f.string() + ": cannot read it (no such file, or no permission)");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw InputError(f.string() + ": read error");
    Run part = parse_results_text(ss.str(), f.string(), warnings);
    if (first) {
      run.info = part.info;
      first = false;
    } else {
      run.info.wall_seconds = std::max(run.info.wall_seconds, part.info.wall_seconds);
      run.info.interrupted = run.info.interrupted || part.info.interrupted;
    }
    for (auto& u : part.units) run.units.push_back(std::move(u));
  }
  if (files.size() > 1) {
    run.info.shard_index = 0;
    run.info.shard_total = 1;
  }
  return run;
}

}  // namespace racegate::reports
