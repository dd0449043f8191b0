// Case support for the tickets.* cases: the ticket office of
// 001_41cd22346628bbc0.txt. A JSON file db `{"count": N}` in a private
// temporary directory, read and written the way the seed does it, and an
// office of buyer processes that each search() and then get_ticket().
//
// The seed's I/O, kept: search() and get_ticket() read the whole file and
// parse it (json.load(open('db.txt'))); get_ticket() writes with
// json.dump(dic, open('db.txt', 'w')): the open truncates the file, the text
// follows later (CPython writes it when the unclosed file object is collected).
// A reader that runs between the two sees an empty file, where CPython raises
// "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)".
// The seed's random time.sleep(1..4) between the decrement and the write is
// replaced by optional yields (or, for a deterministic oversell, a barrier
// that every buyer reaches after its read): no sleeps.
//
// Buyers are mp::Process children; each reports one Report through an
// mp::Queue and exits 0 (a nonzero exit code means the buyer itself broke).
#pragma once

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <optional>
#include <sched.h>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cases/support/process_guard.h"
#include "racegate/errors.h"
#include "racegate/mp/barrier.h"
#include "racegate/mp/lock.h"
#include "racegate/mp/process.h"
#include "racegate/mp/queue.h"

namespace racegate::cases::tickets {

// A private temporary directory under $TMPDIR (or /tmp), removed with its
// files by the process that made it (never by a forked child's copy).
class TempDir {
 public:
  TempDir() : owner_(::getpid()) {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/racegate-case-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    if (::getpid() != owner_) return;
    if (DIR* d = ::opendir(path_.c_str())) {
      while (dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name != "." && name != "..") ::unlink((path_ + "/" + name).c_str());
      }
      ::closedir(d);
    }
    ::rmdir(path_.c_str());
  }
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  pid_t owner_;
  std::string path_;
};

inline bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// What a read of the db saw.
enum class ReadKind : int {
  kCount = 0,    // a whole {"count": N}
  kEmpty = 1,    // an empty file: CPython's JSONDecodeError "Expecting value: line 1 column 1 (char 0)"
  kPartial = 2,  // text that is not a whole {"count": N}
};
struct ReadResult {
  ReadKind kind = ReadKind::kEmpty;
  int count = 0;
};

// The db file.
class TicketDb {
 public:
  explicit TicketDb(std::string path) : path_(std::move(path)) {}
  [[nodiscard]] const std::string& path() const { return path_; }

  // json.dump(dic, open(path, 'w')): truncate, then (after a yield, when
  // asked: the window in which the seed's file is empty) write the text.
  void write(int count, bool yield_after_truncate = false) const {
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) throw std::runtime_error("open for writing failed");
    if (yield_after_truncate) ::sched_yield();
    const std::string text = nlohmann::json{{"count", count}}.dump();
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fd);
        throw std::runtime_error("write failed");
      }
      done += static_cast<std::size_t>(n);
    }
    ::close(fd);
  }

  // json.load(open(path)).
  [[nodiscard]] ReadResult read() const {
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("open for reading failed");
    std::string text;
    char buf[256];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    if (text.empty()) return {ReadKind::kEmpty, 0};
    const auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("count") || !j["count"].is_number_integer()) {
      return {ReadKind::kPartial, 0};
    }
    return {ReadKind::kCount, j["count"].get<int>()};
  }

 private:
  std::string path_;
};

// What get_ticket() did.
enum class Bought : int {
  kYes = 0,        // read count > 0, wrote count - 1 ("购买成功")
  kSoldOut = 1,    // read count 0 ("抢票失败")
  kReadError = 2,  // the read was torn (CPython: JSONDecodeError, the buyer dies without buying)
};

// How an office runs.
struct OfficeParams {
  int buyers = 10;
  int count = 1;
  bool locked = true;               // get_ticket() under the inherited mp::Lock (the seed)
  bool barrier_after_read = false;  // unlocked only: every buyer reads before anyone writes
  bool yield_before_write = false;  // widens the read-decrement-write window (the seed's sleep)
  bool yield_after_truncate = false;
  int searches = 1;  // search() calls per buyer (the seed: 1)
};

// What an office run gave.
struct OfficeResult {
  int bought = 0;
  int sold_out = 0;
  int read_errors = 0;
  int reports = 0;                   // buyers that reported (== buyers unless one broke)
  std::vector<ReadResult> searches;  // every search() of every buyer
  std::vector<std::optional<int>> exit_codes;
  ReadResult final_db;
};

// A buyer's report: {Bought, 0} first, then {ReadKind, count} per search().
using Report = std::vector<std::array<int, 2>>;

// get_ticket(): read, and when a ticket is left, decrement and write.
inline Bought get_ticket(const TicketDb& db, const OfficeParams& p, mp::Barrier& barrier) {
  const ReadResult now = db.read();
  if (now.kind != ReadKind::kCount) return Bought::kReadError;
  if (now.count <= 0) return Bought::kSoldOut;
  const int left = now.count - 1;
  if (p.barrier_after_read) barrier.wait(std::chrono::seconds(60));
  if (p.yield_before_write) ::sched_yield();
  db.write(left, p.yield_after_truncate);
  return Bought::kYes;
}

// One buyer: search() `searches` times, then get_ticket() (under the lock when locked).
inline Report buyer(const TicketDb& db, const OfficeParams& p, mp::Lock lock, mp::Barrier barrier) {
  Report r;
  for (int i = 0; i < p.searches; ++i) {
    const ReadResult s = db.read();
    r.push_back({static_cast<int>(s.kind), s.count});
  }
  Bought b;
  if (p.locked) {
    if (!lock.acquire(true, std::chrono::seconds(60))) throw mp::SystemExit(3);
    b = get_ticket(db, p, barrier);
    lock.release();
  } else {
    b = get_ticket(db, p, barrier);
  }
  r.insert(r.begin(), {static_cast<int>(b), 0});
  return r;
}

// Runs the office: a db holding p.count, p.buyers buyer processes started one
// after another (as the seed's loop does), every report collected, every
// buyer joined (and reaped even when this throws), the db's final state read.
inline OfficeResult run_office(const OfficeParams& p) {
  TempDir dir;
  const TicketDb db(dir.file("db.txt"));
  db.write(p.count);
  mp::Lock lock;
  mp::Barrier barrier(p.buyers);
  mp::Queue<Report> reports;

  std::vector<std::unique_ptr<mp::Process>> procs;
  std::vector<std::unique_ptr<racegate::test::ProcessGuard>> guards;
  for (int i = 0; i < p.buyers; ++i) {
    procs.push_back(std::make_unique<mp::Process>(
        [db, p, lock, barrier, reports]() mutable { reports.put(buyer(db, p, lock, barrier)); }));
    guards.push_back(std::make_unique<racegate::test::ProcessGuard>(*procs.back()));
    procs.back()->start();
  }

  OfficeResult out;
  for (int i = 0; i < p.buyers; ++i) {
    Report r;
    try {
      r = reports.get(true, std::chrono::seconds(60));
    } catch (const racegate::Empty&) {
      barrier.abort();  // a buyer broke: release the others
      break;
    }
    ++out.reports;
    switch (static_cast<Bought>(r.front()[0])) {
      case Bought::kYes:
        ++out.bought;
        break;
      case Bought::kSoldOut:
        ++out.sold_out;
        break;
      case Bought::kReadError:
        ++out.read_errors;
        break;
    }
    for (std::size_t k = 1; k < r.size(); ++k) {
      out.searches.push_back({static_cast<ReadKind>(r[k][0]), r[k][1]});
    }
  }
  for (auto& proc : procs) {
    proc->join(std::chrono::seconds(60));
    out.exit_codes.push_back(proc->exitcode());
  }
  out.final_db = db.read();
  return out;
}

}  // namespace racegate::cases::tickets
