// The behavior catalog's parser (see racegate/reports/catalog.h).
#include "racegate/reports/catalog.h"

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

namespace racegate::reports {
namespace {

bool starts_with(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// Completes an item: its kind tag and the seed documents of its first sentence.
void finish(CatalogEntry& e, const std::filesystem::path& path) {
  const std::string head = "- **" + e.id + "**";
  std::string rest = e.text.substr(head.size());
  const auto open = rest.find('[');
  const auto close = rest.find(']');
  if (open == std::string::npos || close == std::string::npos || close < open ||
      trim(rest.substr(0, open)).size() != 0) {
    throw std::runtime_error(fmt::format("{}:{}: catalog item {} has no [kind] tag right after its id",
                                         path.string(), e.line, e.id));
  }
  e.kind = trim(rest.substr(open + 1, close - open - 1));
  // The first sentence ends at the first ". " (or "." at the end).
  std::string after = rest.substr(close + 1);
  std::size_t end = after.size();
  for (std::size_t i = 0; i + 1 <= after.size(); ++i) {
    if (after[i] == '.' && (i + 1 == after.size() || after[i + 1] == ' ')) {
      end = i;
      break;
    }
  }
  static const std::regex seed(R"(\b\d{3}_[0-9a-f]{16}\.txt\b)");
  const std::string first = after.substr(0, end);
  for (auto it = std::sregex_iterator(first.begin(), first.end(), seed); it != std::sregex_iterator(); ++it) {
    if (std::find(e.seed_documents.begin(), e.seed_documents.end(), it->str()) == e.seed_documents.end()) {
      e.seed_documents.push_back(it->str());
    }
  }
}

}  // namespace

const CatalogEntry* Catalog::find(const std::string& id) const {
  for (const auto& e : entries) {
    if (e.id == id) return &e;
  }
  return nullptr;
}

Catalog parse_catalog(const std::string& text, const std::filesystem::path& path) {
  static const std::regex item(R"(^- \*\*([a-z_]+(\.[a-z_]+)+)\*\*)");
  Catalog cat;
  cat.path = path;
  std::istringstream in(text);
  std::string line, section;
  std::optional<CatalogEntry> cur;
  auto flush = [&] {
    if (!cur) return;
    finish(*cur, path);
    if (cat.find(cur->id)) {
      throw std::runtime_error(fmt::format("{}:{}: catalog id {} is given twice", path.string(), cur->line, cur->id));
    }
    cat.entries.push_back(std::move(*cur));
    cur.reset();
  };
  for (int n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::smatch m;
    if (starts_with(line, "#")) {
      flush();
      section = trim(line.substr(line.find_first_not_of('#')));
    } else if (std::regex_search(line, m, item)) {
      flush();
      cur = CatalogEntry{};
      cur->id = m[1].str();
      cur->section = section;
      cur->text = line;
      cur->line = n;
    } else if (cur && starts_with(line, "  ") && !trim(line).empty()) {
      cur->text += " " + trim(line);
    } else if (starts_with(line, "- **") && line.find("**", 4) == std::string::npos) {
      throw std::runtime_error(fmt::format("{}:{}: catalog item without a closing ** after its id", path.string(), n));
    } else {
      flush();
    }
  }
  flush();
  return cat;
}

Catalog load_catalog(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(fmt::format("cannot read the behavior catalog {}", path.string()));
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw std::runtime_error(fmt::format("cannot read the behavior catalog {}", path.string()));
  return parse_catalog(ss.str(), path);
}

std::string catalog_id_of(const std::string& case_id) { return case_id.substr(0, case_id.find('@')); }

std::string implementation_of(const std::string& case_id) {
  const auto at = case_id.find('@');
  return at == std::string::npos ? "reference" : case_id.substr(at + 1);
}

std::string area_of(const std::string& case_id) {
  const std::string id = catalog_id_of(case_id);
  std::string first = id.substr(0, id.find('.'));
  if (first == "mpqueue" || first == "tqueue" || first == "joinablequeue") return "queues";
  if (first == "threadpool") return "pool";
  return first;
}

const std::vector<std::string>& report_areas() {
  static const std::vector<std::string> areas = {"process", "daemon",  "globals", "counter", "lock",    "event",
                                                 "condition", "semaphore", "queues", "pipe", "manager", "pool",
                                                 "thread",  "tickets", "server",  "asyncio"};
  return areas;
}

}  // namespace racegate::reports
