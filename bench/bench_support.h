// bench/bench_support.h — shared helpers of racegate-bench-primitives.
//
// - Registration under the naming contract `<workload>/<impl>/<placement>`
//   (docs/bench-workloads.md): benchmarks are added to a registry here and
//   registered with Google Benchmark by primitives_main.cpp, which also keeps
//   the reported names exact (Google Benchmark 1.7 appends "/real_time" and
//   "/min_time:..." to a name; see primitives_main.cpp).
// - Pinning: the measuring thread goes to CPU 0; a peer (child process or
//   thread) to CPU 0 (`one_cpu`) or CPU 1 (`two_cpus`).
// - Cross-process helpers: anonymous shared memory (never a name in
//   /dev/shm), futex flags for start/ready/done hand-shakes, child processes
//   (raw fork for the floors, mp::Process for the reference) that are always
//   killed and reaped when the benchmark leaves early, and a watchdog that
//   ends the whole program (children die with it: parent-death signal)
//   instead of hanging for ever when a peer died mid-protocol.
#pragma once

#include <benchmark/benchmark.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "racegate/mp/process.h"

namespace rgbench {

// ---------------------------------------------------------------------------
// Placement and pinning

enum class Placement { kOneCpu, kTwoCpus, kNa };

inline const char* placement_name(Placement p) {
  switch (p) {
    case Placement::kOneCpu: return "one_cpu";
    case Placement::kTwoCpus: return "two_cpus";
    case Placement::kNa: return "na";
  }
  return "?";
}

// The CPU of the peer (child process or second thread) for a placement.
inline int peer_cpu(Placement p) { return p == Placement::kTwoCpus ? 1 : 0; }

// The CPUs this process was allowed to use when it started (main() calls it
// first, before anything is pinned).
inline const cpu_set_t& allowed_cpus() {
  static const cpu_set_t set = [] {
    cpu_set_t s;
    CPU_ZERO(&s);
    if (sched_getaffinity(0, sizeof s, &s) != 0) CPU_SET(0, &s);
    return s;
  }();
  return set;
}

// Throws when the placement needs a CPU this process may not use (checked
// before any child starts, so that no child dies for it mid-hand-shake).
inline void require_placement(Placement p) {
  for (int cpu : {0, peer_cpu(p)})
    if (!CPU_ISSET(cpu, &allowed_cpus()))
      throw std::runtime_error(std::string(placement_name(p)) + " needs CPU " + std::to_string(cpu) +
                               ", which this process may not use");
}

// Pins the calling thread to `cpu`; throws std::system_error when it cannot
// (e.g. a machine or cgroup without that CPU).
inline void pin_self(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0)
    throw std::system_error(errno, std::generic_category(), "sched_setaffinity(CPU " + std::to_string(cpu) + ")");
}

// ---------------------------------------------------------------------------
// Futex words and flags (process-shared: no FUTEX_PRIVATE_FLAG)

inline void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, expected, nullptr, nullptr, 0);
}
// As futex_wait, for at most `ms` milliseconds.
inline void futex_wait_ms(std::atomic<std::uint32_t>& word, std::uint32_t expected, long ms) noexcept {
  timespec ts{ms / 1000, (ms % 1000) * 1000000};
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, expected, &ts, nullptr, 0);
}
inline void futex_wake(std::atomic<std::uint32_t>& word, int count) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, count, nullptr, nullptr, 0);
}

// A one-shot flag: set() once, wait() until set. Works between threads and
// between processes when it lives in shared memory.
struct Flag {
  std::atomic<std::uint32_t> word{0};
  void set() noexcept {
    word.store(1, std::memory_order_release);
    futex_wake(word, INT_MAX);
  }
  void wait() noexcept {
    while (word.load(std::memory_order_acquire) == 0) futex_wait(word, 0);
  }
  [[nodiscard]] bool is_set() const noexcept { return word.load(std::memory_order_acquire) != 0; }
};

// Waits for a flag the child `peer` sets; throws if the child ends first
// (it is looked at every 50 ms, a sleep that a set() cuts short).
template <class Child>
void wait_for_peer(Flag& flag, Child& peer) {
  while (!flag.is_set()) {
    futex_wait_ms(flag.word, 0, 50);
    if (!flag.is_set() && !peer.alive()) throw std::runtime_error("the peer process ended early");
  }
}

// ready: the peer is set up and waits for go; go: the measured part starts;
// done: the peer finished its share.
struct Handshake {
  alignas(64) Flag ready;
  alignas(64) Flag go;
  alignas(64) Flag done;
};

// ---------------------------------------------------------------------------
// Anonymous shared memory (MAP_SHARED | MAP_ANONYMOUS: inherited at fork,
// never a file in /dev/shm, gone with the last process that maps it).

template <class T>
class Shared {
 public:
  template <class... As>
  explicit Shared(As&&... as) {
    void* p = mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
    try {
      obj_ = new (p) T(std::forward<As>(as)...);
    } catch (...) {
      munmap(p, sizeof(T));
      throw;
    }
  }
  ~Shared() {
    obj_->~T();
    munmap(obj_, sizeof(T));
  }
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;
  T* operator->() const noexcept { return obj_; }
  T& operator*() const noexcept { return *obj_; }
  T* get() const noexcept { return obj_; }

 private:
  T* obj_ = nullptr;
};

// ---------------------------------------------------------------------------
// Children

// A raw fork()ed child (the floors): pinned to the placement's peer CPU, dies
// with its parent (PR_SET_PDEATHSIG), ends with _exit(0), or _exit(1) after
// printing an exception. Destroying a child that was not joined kills and
// reaps it, so no path leaves one behind.
class ForkChild {
 public:
  ForkChild(Placement placement, const std::function<void()>& body) {
    const pid_t parent = getpid();
    std::fflush(nullptr);
    pid_ = fork();
    if (pid_ < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid_ == 0) {
      int rc = 0;
      if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(3);
      try {
        pin_self(peer_cpu(placement));
        body();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "racegate-bench-primitives: child: %s\n", e.what());
        rc = 1;
      } catch (...) {
        rc = 1;
      }
      std::fflush(nullptr);
      _exit(rc);
    }
  }
  ForkChild(const ForkChild&) = delete;
  ForkChild& operator=(const ForkChild&) = delete;
  ~ForkChild() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      join();
    }
  }
  // Waits for the child (reaps it); true when it exited with status 0.
  bool join() {
    if (pid_ > 0) {
      int status = 0;
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      pid_ = -1;
      status_ = status;
    }
    return status_ && WIFEXITED(*status_) && WEXITSTATUS(*status_) == 0;
  }
  // Whether the child still runs (reaps it if it ended).
  bool alive() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return true;
    pid_ = -1;
    status_ = status;
    return false;
  }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// A child started with racegate::mp::Process (the reference's own way to
// start a peer), pinned to the placement's peer CPU. Killed and joined when
// destroyed before join().
class MpChild {
 public:
  MpChild(Placement placement, std::function<void()> body) {
    const int cpu = peer_cpu(placement);
    process_ = std::make_unique<racegate::mp::Process>([cpu, body = std::move(body)] {
      pin_self(cpu);
      body();
    });
    process_->start();
    started_ = true;
  }
  MpChild(const MpChild&) = delete;
  MpChild& operator=(const MpChild&) = delete;
  ~MpChild() {
    if (started_) {
      try {
        process_->kill();
        process_->join();
      } catch (...) {
      }
    }
  }
  // Waits for the child; true when its exit code is 0.
  bool join() {
    if (started_) {
      process_->join();
      started_ = false;
    }
    return process_ && process_->exitcode() == 0;
  }
  // Whether the child still runs (reaps it if it ended).
  bool alive() { return started_ && process_->is_alive(); }

 private:
  std::unique_ptr<racegate::mp::Process> process_;
  bool started_ = false;
};

// ---------------------------------------------------------------------------
// File descriptors

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  [[nodiscard]] int get() const noexcept { return fd_; }

 private:
  int fd_ = -1;
};

// Writes / reads exactly `n` bytes; throws on an error or end of file.
inline void write_full(int fd, const void* buf, std::size_t n) {
  const char* p = static_cast<const char*>(buf);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "write");
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}
inline void read_full(int fd, void* buf, std::size_t n) {
  char* p = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "read");
    }
    if (r == 0) throw std::runtime_error("read: unexpected end of file (peer gone)");
    p += r;
    n -= static_cast<std::size_t>(r);
  }
}

// Two connected AF_UNIX SOCK_STREAM sockets, close-on-exec.
std::pair<Fd, Fd> make_socketpair();

// An 8-byte ping-pong over a raw socketpair with a forked peer: the floor of
// queue.roundtrip.8B and pipe.roundtrip.8B (defined in primitives_pipe.cpp).
void roundtrip_8b_socketpair(benchmark::State& state, Placement placement);
// A pipe: {read end, write end}, close-on-exec.
std::pair<Fd, Fd> make_pipe();

// ---------------------------------------------------------------------------
// Registration

using BenchFn = std::function<void(benchmark::State&)>;

struct Registration {
  std::string name;  // <workload>/<impl>/<placement>
  BenchFn fn;
  // Per-benchmark minimum time used when --benchmark_min_time is not given.
  double default_min_time;
};

std::vector<Registration>& registry();

// The default minimum time (seconds) of a benchmark: small enough that the
// whole binary runs in well under 3 minutes with default settings.
inline constexpr double kDefaultMinTime = 0.5;

// Adds `<workload>/<impl>/<placement>`. The body runs guarded: the calling
// thread is pinned to CPU 0 first, an exception becomes SkipWithError, and a
// watchdog ends the program if one call hangs (see run_guarded).
void add(const std::string& workload, const std::string& impl, Placement placement,
         std::function<void(benchmark::State&)> fn, double min_time = kDefaultMinTime);

// Adds the workload for both cross-CPU placements, one_cpu and two_cpus.
void add_placed(const std::string& workload, const std::string& impl,
                const std::function<void(benchmark::State&, Placement)>& fn,
                double min_time = kDefaultMinTime);

// Registers a workload the reference cannot express: it reports `why` as an
// error so the gap stays visible.
void add_gap(const std::string& workload, const std::string& impl, Placement placement, std::string why);

// Sets the standard counters: items = iterations, and bytes when non-zero.
inline void set_counters(benchmark::State& state, std::size_t bytes_per_item = 0) {
  state.SetItemsProcessed(state.iterations());
  if (bytes_per_item != 0)
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes_per_item));
}

// Marks the run failed unless the child exited cleanly.
template <class Child>
void join_or_fail(benchmark::State& state, Child& child, const char* what) {
  if (!child.join()) state.SkipWithError((std::string(what) + ": child process failed").c_str());
}

// The one-way pattern (a child produces N items, the parent consumes them):
// the child announces ready and waits for go; the parent waits for ready
// outside the clock, then times one batch of N = max_iterations items: go, N
// consumes (the last one ends after the child's last produce).
// produce(i) runs in the child, consume(i) in the parent and returns whether
// item i arrived intact and in order.
template <class Child, class Produce, class Consume>
void oneway_batch(benchmark::State& state, Placement placement, std::size_t item_bytes, Produce produce,
                  Consume consume) {
  const auto n = static_cast<std::uint64_t>(state.max_iterations);
  Shared<Handshake> hs;
  Child child(placement, [&hs, n, produce]() mutable {
    hs->ready.set();
    hs->go.wait();
    for (std::uint64_t i = 0; i < n; ++i) produce(i);
  });
  wait_for_peer(hs->ready, child);
  bool in_order = true;
  while (state.KeepRunningBatch(static_cast<benchmark::IterationCount>(n))) {
    hs->go.set();
    for (std::uint64_t i = 0; i < n; ++i) in_order = consume(i) && in_order;
  }
  join_or_fail(state, child, "producer");
  if (!in_order) state.SkipWithError("items arrived out of order or corrupted");
  set_counters(state, item_bytes);
}

}  // namespace rgbench
