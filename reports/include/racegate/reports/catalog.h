// racegate/reports/catalog.h — the behavior catalog (behavior-catalog.md):
// every behavior the conformance suite encodes, under a stable id.
//
// The catalog is Markdown; each behavior is one list item of the form
//
//   - **process.misuse_errors** [D], 001_41cd22346628bbc0.txt. *CPython:* ...
//     (continued on indented lines)
//
// under a "## N. Area (`prefix.*`)" heading. The item's first sentence names
// the seed documents it was drawn from (files NNN_<16 hex>.txt), if any.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace racegate::reports {

struct CatalogEntry {
  std::string id;                           // "process.misuse_errors"
  std::string kind;                         // the tag as written: "D", "T", "R", "D+T", "D, order R", ...
  std::vector<std::string> seed_documents;  // in the order written
  std::string section;                      // the heading it sits under: "1. Process (`process.*`)"
  std::string text;                         // the whole item, Markdown, lines joined with spaces
  int line = 0;                             // 1-based line of the item in the file

  // Tagged purely racy ("R"): graded by outcome, never required to hold.
  [[nodiscard]] bool racy() const { return kind == "R"; }
  // Tagged with no racy part at all: must hold.
  [[nodiscard]] bool deterministic() const { return kind.find('R') == std::string::npos; }
};

struct Catalog {
  std::filesystem::path path;
  std::vector<CatalogEntry> entries;  // in file order

  [[nodiscard]] const CatalogEntry* find(const std::string& id) const;
};

// Parses the catalog's text. Throws std::runtime_error naming the line of an
// item that cannot be read (no closing "**", no "[kind]") or of an id given twice.
Catalog parse_catalog(const std::string& text, const std::filesystem::path& path = {});
// Reads and parses a catalog file; throws std::runtime_error naming the file
// when it cannot be read.
Catalog load_catalog(const std::filesystem::path& path);

// The catalog id a case id encodes: the part before '@'
// ("lock.release_unlocked@std.mutex" -> "lock.release_unlocked").
std::string catalog_id_of(const std::string& case_id);
// The implementation a case id names: after '@', or "reference".
std::string implementation_of(const std::string& case_id);

// The report area of a catalog id: its first component, with the queue
// sections together ("mpqueue", "tqueue", "joinablequeue" -> "queues") and
// "threadpool" under "pool".
std::string area_of(const std::string& case_id);
// The areas in the order reports show them.
const std::vector<std::string>& report_areas();

}  // namespace racegate::reports
