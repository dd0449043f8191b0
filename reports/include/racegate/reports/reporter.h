// racegate/reports/reporter.h — report writers and their registry.
//
// Every report format is a Reporter registered under a name ("json",
// "junit", "sarif", "md", "html") with RG_REGISTER_REPORTER. A reporter is a
// pure function of a Run: `racegate report --from results.jsonl` renders the
// same files offline. Files are written atomically (temporary file in the same
// directory, then rename), so an earlier report is never half-overwritten.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "racegate/reports/run.h"

namespace racegate::reports {

struct ReportConfig {
  std::filesystem::path out_dir;      // where the file goes
  std::filesystem::path source_root;  // paths in reports are relative to it
};

class Reporter {
 public:
  virtual ~Reporter() = default;
  // The file name this reporter writes inside out_dir ("junit.xml").
  [[nodiscard]] virtual std::string file_name() const = 0;
  // Renders the whole run.
  [[nodiscard]] virtual std::string render(const Run& run, const ReportConfig& config) const = 0;
  // Renders and writes atomically to out_dir/file_name(); returns the path.
  std::filesystem::path write(const Run& run, const ReportConfig& config) const;
};

struct ReporterInfo {
  std::string name;         // as given to --format
  std::string description;  // one line, for --help and --list-reporters
  std::function<std::unique_ptr<Reporter>()> make;
};

// All registered reporters, sorted by name.
std::vector<ReporterInfo> reporters();
// The reporter registered as `name`, or nullptr.
std::unique_ptr<Reporter> make_reporter(const std::string& name);
bool register_reporter(ReporterInfo info);

// Writes `content` to `path` atomically (temporary file, fsync, rename).
// Throws std::runtime_error with the path and the reason on failure.
void write_file_atomically(const std::filesystem::path& path, const std::string& content);

// Several files replaced together: each add() writes a temporary file beside
// its target (fsync'ed); commit() renames them all into place. Until commit
// nothing is replaced, so a failure (a full disk, a read-only or vanished
// directory) leaves every earlier file as it was; temporary files not
// committed are removed by the destructor. Throws std::runtime_error naming
// the path and the reason.
class AtomicFileSet {
 public:
  AtomicFileSet() = default;
  AtomicFileSet(const AtomicFileSet&) = delete;
  AtomicFileSet& operator=(const AtomicFileSet&) = delete;
  ~AtomicFileSet();
  void add(const std::filesystem::path& path, const std::string& content);
  // A file already written (and synced) elsewhere in the same directory,
  // renamed to `path` on commit; removed if the set is not committed.
  void adopt(const std::filesystem::path& written, const std::filesystem::path& path);
  void commit();

 private:
  std::vector<std::pair<std::string, std::filesystem::path>> staged_;  // temporary, target
};

}  // namespace racegate::reports

// RG_REGISTER_REPORTER("sarif", SarifReporter): SarifReporter must be default
// constructible and have `static std::string description()`.
#define RG_REGISTER_REPORTER(Name, Type)                                              \
  [[maybe_unused]] static const bool rg_reporter_registered_##Type =                  \
      ::racegate::reports::register_reporter(::racegate::reports::ReporterInfo{       \
          Name, Type::description(), [] { return std::unique_ptr<::racegate::reports::Reporter>(new Type()); }})
