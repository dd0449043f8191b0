#include "racegate/reports/reporter.h"

#include <algorithm>
#include <cstdio>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <map>
#include <stdexcept>
#include <unistd.h>

namespace racegate::reports {
namespace {

std::map<std::string, ReporterInfo>& registry() {
  static std::map<std::string, ReporterInfo> r;
  return r;
}

[[noreturn]] void fail(const std::filesystem::path& path, const char* what, int err) {
  throw std::runtime_error("cannot write " + path.string() + ": " + what + ": " + std::strerror(err));
}

}  // namespace

bool register_reporter(ReporterInfo info) {
  std::string name = info.name;
  registry()[name] = std::move(info);
  return true;
}

std::vector<ReporterInfo> reporters() {
  std::vector<ReporterInfo> out;
  for (const auto& [name, info] : registry()) out.push_back(info);
  return out;
}

std::unique_ptr<Reporter> make_reporter(const std::string& name) {
  auto it = registry().find(name);
  return it == registry().end() ? nullptr : it->second.make();
}

std::filesystem::path Reporter::write(const Run& run, const ReportConfig& config) const {
  auto path = config.out_dir / file_name();
  write_file_atomically(path, render(run, config));
  return path;
}

void write_file_atomically(const std::filesystem::path& path, const std::string& content) {
  AtomicFileSet set;
  set.add(path, content);
  set.commit();
}

AtomicFileSet::~AtomicFileSet() {
  for (const auto& [tmp, target] : staged_) unlink(tmp.c_str());
}

void AtomicFileSet::add(const std::filesystem::path& path, const std::string& content) {
  std::string tmp = path.string() + ".tmp-XXXXXX";
  int fd = mkstemp(tmp.data());
  if (fd < 0) fail(path, "creating a temporary file", errno);
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      unlink(tmp.c_str());
      fail(path, "writing", err);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
    int err = errno;
    close(fd);
    unlink(tmp.c_str());
    fail(path, "syncing", err);
  }
  if (close(fd) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    fail(path, "closing", err);
  }
  staged_.emplace_back(std::move(tmp), path);
}

void AtomicFileSet::adopt(const std::filesystem::path& written, const std::filesystem::path& path) {
  staged_.emplace_back(written.string(), path);
}

void AtomicFileSet::commit() {
  while (!staged_.empty()) {
    const auto& [tmp, target] = staged_.front();
    if (std::rename(tmp.c_str(), target.c_str()) != 0) fail(target, "renaming into place", errno);
    staged_.erase(staged_.begin());
  }
}

}  // namespace racegate::reports
