// The exploration engine: noise injection and the PCT scheduler.
//
// Everything here runs under one futex lock (g_lock) and wakes threads
// through a futex word per thread, with raw system calls only: the engine is
// linked into the preload library, whose pthread_mutex_lock, sched_yield and
// so on would otherwise call back into it (and, in a sanitizer build, the
// sanitizer's interceptors would see the scheduler's own synchronization).
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "racegate/harness/explore.h"

namespace racegate::explore {

enum class State : std::uint8_t { kEnabled, kWaiting, kFree, kExited };

struct ThreadHandle {
  std::uint32_t id = 0;
  std::uint64_t priority = 0;
  State state = State::kEnabled;
  const void* waiting_on = nullptr;
  bool can_idle = false;  // when nothing else can run, the wait ends (kIdle)
  bool timed_out = false;
  std::uint64_t deadline = 0;  // wait_word: CLOCK_MONOTONIC ns, 0 none
  bool deadline_hit = false;   // the wait ended because `deadline` passed
  bool yielded = false;
  std::uint64_t wait_seq = 0;
  unsigned long key = 0;  // the pthread_t the preload library knows it by
  bool pending = false;   // started, but has not reached its first point yet
  std::uint64_t pending_since = 0;
  std::atomic<std::uint32_t> wake{0};
};

namespace {

long futex(std::atomic<std::uint32_t>* word, int op, std::uint32_t value, const timespec* timeout) {
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op, value, timeout, nullptr, 0);
}

// A three-state futex mutex (0 free, 1 locked, 2 locked with waiters).
class FutexLock {
 public:
  void lock() {
    std::uint32_t c = 0;
    if (state_.compare_exchange_strong(c, 1, std::memory_order_acquire)) return;
    if (c != 2) c = state_.exchange(2, std::memory_order_acquire);
    while (c != 0) {
      futex(&state_, FUTEX_WAIT_PRIVATE, 2, nullptr);
      c = state_.exchange(2, std::memory_order_acquire);
    }
  }
  void unlock() {
    if (state_.exchange(0, std::memory_order_release) == 2) futex(&state_, FUTEX_WAKE_PRIVATE, 1, nullptr);
  }
  // In a child after fork: whoever held the lock is not in this process.
  void reset() { state_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<std::uint32_t> state_{0};
};

class Locked {
 public:
  explicit Locked(FutexLock& lock) : lock_(lock) { lock_.lock(); }
  ~Locked() { lock_.unlock(); }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;

 private:
  FutexLock& lock_;
};

// Engine calls keep the caller's errno (they make system calls of their own).
class KeepErrno {
 public:
  KeepErrno() : saved_(errno) {}
  ~KeepErrno() { errno = saved_; }
  KeepErrno(const KeepErrno&) = delete;
  KeepErrno& operator=(const KeepErrno&) = delete;

 private:
  int saved_;
};

std::uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t splitmix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void sleep_ns(std::uint64_t ns) {
  timespec ts{static_cast<time_t>(ns / 1'000'000'000u), static_cast<long>(ns % 1'000'000'000u)};
  syscall(SYS_nanosleep, &ts, nullptr);
}

void write_all(int fd, const std::string& text) {
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    const ssize_t n = write(fd, p, left);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

// ---- global state ---------------------------------------------------------

// Nothing here has a destructor: exit handlers and the threads still running
// during exit keep using the engine after static destruction began.
std::atomic<Mode> g_mode{Mode::kOff};
std::atomic<bool> g_configured{false};
Config g_config;
constexpr std::size_t kStatsBytes = 1024;
char* g_stats_map = nullptr;  // the stats file, mapped shared

FutexLock g_lock;
// A list of fixed capacity: the engine's shared state must not go through
// memmove and friends, which a sanitizer intercepts (it would see the
// scheduler's accesses, whose synchronization it cannot see, as races).
template <class T, std::size_t N>
class FixedList {
 public:
  T* begin() { return items_; }
  T* end() { return items_ + size_; }
  std::size_t size() const { return size_; }
  bool full() const { return size_ == N; }
  T& operator[](std::size_t i) { return items_[i]; }
  void push_back(T v) { items_[size_++] = v; }
  void clear() { size_ = 0; }

 private:
  T items_[N] = {};
  std::size_t size_ = 0;
};

constexpr std::size_t kMaxThreads = 4096;
FixedList<ThreadHandle*, kMaxThreads> g_thread_list;  // registration order; never freed
FixedList<ThreadHandle*, kMaxThreads>& threads() { return g_thread_list; }
ThreadHandle* g_running = nullptr;
std::uint64_t g_rng = 0;
FixedList<std::uint64_t, 16> g_change_list;  // sorted steps (depth <= 16)
FixedList<std::uint64_t, 16>& change_points() { return g_change_list; }
std::size_t g_next_change = 0;
std::uint64_t g_steps = 0;
std::uint64_t g_hash = 0xcbf29ce484222325ULL;
std::uint64_t g_preemptions = 0;
std::uint64_t g_sanitized_starts = 0;  // threads started through a sanitizer's pthread_create
std::uint64_t g_timeouts = 0;
std::uint64_t g_kernel_waits = 0;
std::uint64_t g_wait_seq = 0;
std::uint64_t g_last_progress = 0;
std::uint64_t g_pending = 0;                 // threads with `pending` set
std::atomic<std::uint32_t> g_arrivals{0};   // futex word: a pending thread arrived

// Noise mode keeps no shared schedule, only counters.
std::atomic<std::uint64_t> g_noise_threads{0};
std::atomic<std::uint64_t> g_noise_steps{0};
std::atomic<std::uint64_t> g_noise_delays{0};

void thread_exit_locked(ThreadHandle* t);

struct ExitGuard {
  bool armed = false;
  ~ExitGuard() {
    if (armed) thread_exit();
  }
};
thread_local ThreadHandle* t_self = nullptr;
// The guard's first use registers its destructor, which allocates: never
// before a sanitizer's own thread start routine has run.
thread_local ExitGuard t_guard;
thread_local bool t_guard_armed = false;

void arm_exit_guard() {
  if (!t_guard_armed) {
    t_guard_armed = true;
    t_guard.armed = true;
  }
}
thread_local std::uint64_t t_noise_rng = 0;
thread_local bool t_noise_seeded = false;

void hash_in(std::uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    g_hash ^= (v >> (8 * i)) & 0xff;
    g_hash *= 0x100000001b3ULL;
  }
}

// A fresh thread record with a random priority above every change point's.
ThreadHandle* new_thread_locked() {
  if (threads().full()) {
    write_all(2, "racegate-explore: more than 4096 threads; PCT cannot schedule this program\n");
    _exit(kExitBadConfig);
  }
  auto* t = new ThreadHandle;
  t->id = static_cast<std::uint32_t>(threads().size());
  const auto floor = static_cast<std::uint64_t>(g_config.depth);
  for (;;) {
    const std::uint64_t p = floor + (splitmix(g_rng) >> 16);
    if (std::none_of(threads().begin(), threads().end(), [&](ThreadHandle* o) { return o->priority == p; })) {
      t->priority = p;
      break;
    }
  }
  threads().push_back(t);
  return t;
}

// The calling thread's record; a thread seen for the first time is
// registered enabled (and takes the token if nobody holds it).
ThreadHandle* self_locked() {
  if (t_self == nullptr) t_self = new_thread_locked();
  arm_exit_guard();
  return t_self;
}

void wake(ThreadHandle* t) {
  t->wake.fetch_add(1, std::memory_order_release);
  futex(&t->wake, FUTEX_WAKE_PRIVATE, 1, nullptr);
}

Stats stats_locked() {
  Stats s;
  s.mode = g_config.mode;
  if (g_config.mode == Mode::kPct) {
    s.threads = threads().size();
    s.steps = g_steps;
  } else {
    s.threads = g_noise_threads.load();
    s.steps = g_noise_steps.load();
  }
  s.slice_preemptions = g_preemptions;
  s.sanitized_starts = g_sanitized_starts;
  s.timeouts_fired = g_timeouts;
  s.noise_delays = g_noise_delays.load();
  s.trace_hash = g_hash;
  s.kernel_waits = g_kernel_waits;
  return s;
}

// The stats file is a shared mapping rewritten as the run goes ("running"),
// so that a run ended by _exit, a sanitizer or a signal still leaves its
// steps and trace hash (exact for the first 1024 steps, then up to 63 steps
// behind); the JSON is padded with spaces to the file's size.
void map_stats_file(const char* path) {
  const int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (ftruncate(fd, kStatsBytes) == 0) {
    void* p = mmap(nullptr, kStatsBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p != MAP_FAILED) g_stats_map = static_cast<char*>(p);
  }
  close(fd);
}

void write_stats_locked(const char* outcome) {
  if (g_stats_map == nullptr) return;
  const std::string json = stats_json(stats_locked(), g_config, outcome);
  const std::size_t n = std::min(json.size(), kStatsBytes);
  // Byte by byte through a volatile pointer: neither memcpy nor a loop the
  // compiler turns into one, which a sanitizer would intercept.
  volatile char* out = g_stats_map;
  for (std::size_t i = 0; i < kStatsBytes; ++i) out[i] = i < n ? json[i] : ' ';
}

void write_stats_at_exit() {
  Locked hold(g_lock);
  write_stats_locked("exit");
}

[[noreturn]] void deadlock_locked() {
  // Objects are numbered in order of first appearance, not by address, so
  // that a replay prints the same message.
  std::string msg = "racegate-explore: deadlock: every thread is blocked (" + to_string(g_config) + "):";
  std::vector<const void*> objects;
  for (ThreadHandle* t : threads()) {
    if (t->state != State::kWaiting) continue;
    auto it = std::find(objects.begin(), objects.end(), t->waiting_on);
    if (it == objects.end()) it = objects.insert(objects.end(), t->waiting_on);
    const bool on_thread = std::any_of(threads().begin(), threads().end(),
                                       [&](ThreadHandle* o) { return o == t->waiting_on; });
    char line[96];
    std::snprintf(line, sizeof line, " t%u waits on %s%zu;", t->id, on_thread ? "the exit of thread object " : "object ",
                  static_cast<std::size_t>(it - objects.begin()));
    msg += line;
  }
  msg += "\n";
  write_all(2, msg);
  write_stats_locked("deadlock");
  _exit(kExitDeadlock);
}

// Gives the token to the highest-priority enabled thread. A thread that
// yielded runs only when no thread that did not is enabled.
void dispatch_locked() {
  ThreadHandle* best = nullptr;
  // A wait whose deadline passed ends, whatever else could run.
  std::uint64_t now = 0;
  for (ThreadHandle* t : threads()) {
    if (t->state != State::kWaiting || t->deadline == 0) continue;
    if (now == 0) now = now_ns();
    if (t->deadline > now) continue;
    t->deadline_hit = true;
    t->timed_out = true;
    ++g_timeouts;
    t->state = State::kEnabled;
    t->waiting_on = nullptr;
  }
  const bool fresh = std::any_of(threads().begin(), threads().end(),
                                 [](ThreadHandle* t) { return t->state == State::kEnabled && !t->yielded; });
  for (ThreadHandle* t : threads()) {
    if (t->state != State::kEnabled || (fresh && t->yielded)) continue;
    if (best == nullptr || t->priority > best->priority) best = t;
  }
  if (best == nullptr) {
    g_running = nullptr;
    bool free_threads = false;
    bool waiting = false;
    bool deadlined = false;  // a wait with a deadline
    ThreadHandle* idler = nullptr;
    for (ThreadHandle* t : threads()) {
      free_threads = free_threads || t->state == State::kFree;
      waiting = waiting || t->state == State::kWaiting;
      deadlined = deadlined || (t->state == State::kWaiting && t->deadline != 0);
      if (t->state == State::kWaiting && t->can_idle && (idler == nullptr || t->priority > idler->priority)) idler = t;
    }
    if (!waiting) return;  // all are gone, or outside the scheduler and will come back
    // A wait that may idle (on a word another process may change) goes to
    // the kernel as soon as nothing in this process can run, even if a thread
    // outside the scheduler may come back: that one may wait for this one.
    if (free_threads && idler == nullptr) return;
    if (idler == nullptr) {
      // A wait with a deadline ends when the deadline passes: the waiter
      // wakes up then by itself (wait_turn_locked) and dispatches.
      if (deadlined) return;
      deadlock_locked();
    }
    ++g_timeouts;
    idler->timed_out = true;
    idler->state = State::kEnabled;
    idler->waiting_on = nullptr;
    best = idler;
  }
  g_running = best;
  g_last_progress = now_ns();
  wake(best);
}

// A running thread that reached no point within the slice is preempted.
void check_slice_locked() {
  if (g_running == nullptr || g_running->state != State::kEnabled) return;
  if (now_ns() - g_last_progress < std::uint64_t{g_config.slice_ms} * 1'000'000u) return;
  g_running->state = State::kFree;
  ++g_preemptions;
  dispatch_locked();
}

// Waits (releasing g_lock) until `t` holds the token.
void wait_turn_locked(ThreadHandle* t) {
  while (g_running != t) {
    const std::uint32_t seen = t->wake.load(std::memory_order_acquire);
    g_lock.unlock();
    // Wake up at the end of the slice, or at the wait's deadline if sooner
    // (a deadline ends a wait even when every other thread is in the kernel).
    std::uint64_t ns = std::uint64_t{g_config.slice_ms} * 1'000'000u;
    if (t->state == State::kWaiting && t->deadline != 0) {
      const std::uint64_t now = now_ns();
      ns = std::min(ns, t->deadline > now ? t->deadline - now : 1);
    }
    const timespec slice{static_cast<time_t>(ns / 1'000'000'000u), static_cast<long>(ns % 1'000'000'000u)};
    const long rc = futex(&t->wake, FUTEX_WAIT_PRIVATE, seen, &slice);
    const bool timed_out = rc == -1 && errno == ETIMEDOUT;
    g_lock.lock();
    if (timed_out && g_running == nullptr) dispatch_locked();
    // Given the token but preempted before it woke up (a loaded machine):
    // it is back, and wants the token again.
    if (t->state == State::kFree) {
      t->state = State::kEnabled;
      t->yielded = false;
      if (g_running == nullptr) dispatch_locked();
    }
    if (timed_out && g_running != t) check_slice_locked();
  }
  g_last_progress = now_ns();
}

// The calling thread comes (back) under the scheduler and waits its turn.
void enter_locked(ThreadHandle* t) {
  if (t->state != State::kEnabled) {
    t->state = State::kEnabled;
    t->yielded = false;
  }
  if (g_running == nullptr) dispatch_locked();
  wait_turn_locked(t);
}

// How a wait in the scheduler ended.
enum class Woke : std::uint8_t { kWoken, kDeadline, kIdle };

// Disables `t` until `object` is woken, until `deadline` (CLOCK_MONOTONIC
// ns, 0: none) passes, or, when `can_idle`, until nothing else can run;
// returns holding the token.
Woke block_locked(ThreadHandle* t, const void* object, bool can_idle, std::uint64_t deadline = 0) {
  if (deadline != 0 && now_ns() >= deadline) return Woke::kDeadline;
  t->state = State::kWaiting;
  t->waiting_on = object;
  t->can_idle = can_idle;
  t->timed_out = false;
  t->deadline = deadline;
  t->deadline_hit = false;
  t->yielded = false;
  t->wait_seq = ++g_wait_seq;
  if (g_running == t || g_running == nullptr) dispatch_locked();
  wait_turn_locked(t);
  t->deadline = 0;
  if (!t->timed_out) return Woke::kWoken;
  return t->deadline_hit ? Woke::kDeadline : Woke::kIdle;
}

void wake_locked(const void* object, bool all) {
  ThreadHandle* first = nullptr;
  for (ThreadHandle* t : threads()) {
    if (t->state != State::kWaiting || t->waiting_on != object) continue;
    if (all) {
      t->state = State::kEnabled;
      t->waiting_on = nullptr;
    } else if (first == nullptr || t->wait_seq < first->wait_seq) {
      first = t;
    }
  }
  if (first != nullptr) {
    first->state = State::kEnabled;
    first->waiting_on = nullptr;
  }
  if (g_running == nullptr) dispatch_locked();
}

void clear_pending_locked(ThreadHandle* t) {
  if (!t->pending) return;
  t->pending = false;
  --g_pending;
  g_arrivals.fetch_add(1, std::memory_order_release);
  futex(&g_arrivals, FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr);
}

// Holds the caller until every pending thread reached its first point; one
// that takes longer than the slice is counted as a preemption and let go.
void await_pending_locked() {
  while (g_pending > 0) {
    const std::uint32_t seen = g_arrivals.load(std::memory_order_acquire);
    g_lock.unlock();
    const timespec slice{static_cast<time_t>(g_config.slice_ms / 1000),
                         static_cast<long>(g_config.slice_ms % 1000) * 1'000'000L};
    futex(&g_arrivals, FUTEX_WAIT_PRIVATE, seen, &slice);
    g_lock.lock();
    const std::uint64_t now = now_ns();
    for (ThreadHandle* t : threads()) {
      if (t->pending && now - t->pending_since >= std::uint64_t{g_config.slice_ms} * 1'000'000u) {
        clear_pending_locked(t);
        ++g_preemptions;
      }
    }
  }
}

void thread_exit_locked(ThreadHandle* t) {
  clear_pending_locked(t);
  if (t->state == State::kExited) return;
  t->state = State::kExited;
  wake_locked(t, true);
  if (g_running == t || g_running == nullptr) dispatch_locked();
}

void noise_point() {
  if (!t_noise_seeded) {
    t_noise_seeded = true;
    std::uint64_t index = g_noise_threads.fetch_add(1);
    t_noise_rng = g_config.seed ^ (splitmix(index) * 0x2545f4914f6cdd1dULL);
  }
  g_noise_steps.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t r = splitmix(t_noise_rng);
  if (r % 100 >= static_cast<std::uint64_t>(g_config.level) * 10) return;
  g_noise_delays.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t kind = (r >> 32) % 100;
  if (kind < 50) {
    syscall(SYS_sched_yield);
  } else if (kind < 85) {
    sleep_ns(20'000 + (r >> 8) % 180'000);  // 20-200 us
  } else {
    sleep_ns(1'000'000 + (r >> 8) % 2'000'000);  // 1-3 ms
  }
}

// fork: the child has only the thread that forked, which held the token.
// The lock is not held across fork (a sanitizer's own fork handler, which
// runs before this one, starts a thread through pthread_create); another
// thread holds it only for a few instructions, while it is not running.
void after_fork_child() {
  g_lock.reset();
  g_lock.lock();
  for (ThreadHandle* t : threads()) {
    if (t == t_self) continue;
    t->state = State::kExited;
    t->pending = false;
  }
  g_pending = 0;
  g_stats_map = nullptr;  // the statistics are the parent's
  g_running = nullptr;
  if (t_self != nullptr) {
    t_self->state = State::kEnabled;
    t_self->pending = false;
    t_self->waiting_on = nullptr;
    g_running = t_self;
    g_last_progress = now_ns();
  }
  g_lock.unlock();
}

}  // namespace

bool configure(const Config& config) {
  bool expected = false;
  if (!g_configured.compare_exchange_strong(expected, true)) return false;
  Locked hold(g_lock);
  g_config = config;
  g_rng = config.seed;
  change_points().clear();
  if (config.mode == Mode::kPct) {
    const auto wanted = static_cast<std::size_t>(config.depth - 1);
    while (change_points().size() < wanted && change_points().size() < config.steps) {
      const std::uint64_t step = 1 + splitmix(g_rng) % config.steps;
      if (std::find(change_points().begin(), change_points().end(), step) == change_points().end()) {
        change_points().push_back(step);
      }
    }
    std::sort(change_points().begin(), change_points().end());
  }
  if (const char* path = std::getenv("RACEGATE_EXPLORE_STATS"); path != nullptr && *path != '\0') {
    map_stats_file(path);
    // The statistics are this process's: a child it starts (a sanitizer's
    // symbolizer, a worker process) must not truncate the file.
    unsetenv("RACEGATE_EXPLORE_STATS");
    write_stats_locked("running");
    std::atexit(write_stats_at_exit);
  }
  if (config.mode == Mode::kPct) pthread_atfork(nullptr, nullptr, after_fork_child);
  g_mode.store(config.mode, std::memory_order_release);
  return true;
}

void configure_from_env() {
  const char* text = std::getenv("RACEGATE_EXPLORE");
  if (text == nullptr || *text == '\0') return;
  ParseResult parsed = parse_config(text);
  if (!parsed.config) {
    write_all(2, "racegate-explore: RACEGATE_EXPLORE=\"" + std::string(text) + "\": " + parsed.error + "\n");
    _exit(kExitBadConfig);
  }
  configure(*parsed.config);
}

Mode mode() noexcept { return g_mode.load(std::memory_order_acquire); }

void point(Kind kind, const void* /*object*/) noexcept {
  const Mode m = mode();
  if (m == Mode::kOff) return;
  KeepErrno keep;
  if (m == Mode::kNoise) {
    noise_point();
    return;
  }
  Locked hold(g_lock);
  ThreadHandle* t = self_locked();
  clear_pending_locked(t);
  await_pending_locked();
  if (g_running == t) {
    ++g_steps;
    hash_in((std::uint64_t{t->id} << 8) | static_cast<std::uint64_t>(kind));
    while (g_next_change < change_points().size() && change_points()[g_next_change] <= g_steps) {
      t->priority = static_cast<std::uint64_t>(g_config.depth) - 1 - g_next_change;
      ++g_next_change;
    }
    for (ThreadHandle* o : threads()) o->yielded = false;
    t->yielded = kind == Kind::kYield;
    // Rewriting the statistics costs some 17 000 instructions: after the
    // first 1024 steps, every 64th step only (exit and deadlock write them
    // whole; a run killed later leaves them up to 63 steps behind).
    if (g_steps <= 1024 || g_steps % 64 == 0) write_stats_locked("running");
    dispatch_locked();
  }
  enter_locked(t);
}

void block_on(const void* object) noexcept {
  if (mode() != Mode::kPct) return;
  KeepErrno keep;
  Locked hold(g_lock);
  block_locked(self_locked(), object, false);
}

bool block_on_until(const void* object, std::uint64_t deadline_ns) noexcept {
  if (mode() != Mode::kPct) return true;
  KeepErrno keep;
  Locked hold(g_lock);
  return block_locked(self_locked(), object, false, deadline_ns) == Woke::kWoken;
}

WordWait wait_word(const std::atomic<std::uint32_t>* word, std::uint32_t expected, std::uint64_t deadline_ns,
                   bool can_idle) noexcept {
  if (mode() != Mode::kPct) return WordWait::kKernel;
  KeepErrno keep;
  Locked hold(g_lock);
  ThreadHandle* t = self_locked();
  if (word->load(std::memory_order_seq_cst) != expected) return WordWait::kChanged;
  switch (block_locked(t, word, can_idle, deadline_ns)) {
    case Woke::kWoken:
      return WordWait::kChanged;
    case Woke::kDeadline:
      return WordWait::kTimedOut;
    case Woke::kIdle:
      break;
  }
  return WordWait::kKernel;
}

void wake_one(const void* object) noexcept {
  if (mode() != Mode::kPct) return;
  KeepErrno keep;
  Locked hold(g_lock);
  wake_locked(object, false);
}

void wake_all(const void* object) noexcept {
  if (mode() != Mode::kPct) return;
  KeepErrno keep;
  Locked hold(g_lock);
  wake_locked(object, true);
}

void leave() noexcept {
  if (mode() != Mode::kPct) return;
  KeepErrno keep;
  Locked hold(g_lock);
  ThreadHandle* t = self_locked();
  t->state = State::kFree;
  ++g_kernel_waits;
  if (g_running == t) dispatch_locked();
}

void enter() noexcept {
  if (mode() != Mode::kPct) return;
  KeepErrno keep;
  Locked hold(g_lock);
  enter_locked(self_locked());
}

ThreadHandle* prepare_thread(bool pending) noexcept {
  if (mode() != Mode::kPct) return nullptr;
  Locked hold(g_lock);
  ThreadHandle* creator = self_locked();
  if (g_running == nullptr) {  // the creator is running now: let it hold the token
    creator->state = State::kEnabled;
    g_running = creator;
    g_last_progress = now_ns();
  }
  ThreadHandle* child = new_thread_locked();
  if (pending) {
    ++g_sanitized_starts;
    child->pending = true;
    child->pending_since = now_ns();
    ++g_pending;
  }
  return child;
}

void cancel_thread(ThreadHandle* handle) noexcept {
  if (handle == nullptr) return;
  Locked hold(g_lock);
  clear_pending_locked(handle);
  handle->state = State::kExited;
}

void adopt_thread(ThreadHandle* handle, bool wait) noexcept {
  if (handle == nullptr) return;
  KeepErrno keep;
  Locked hold(g_lock);
  t_self = handle;
  if (wait) {
    arm_exit_guard();
    enter_locked(handle);
  }
}

void thread_exit() noexcept {
  if (mode() != Mode::kPct) return;
  KeepErrno keep;
  Locked hold(g_lock);
  if (t_self == nullptr) return;
  thread_exit_locked(t_self);
  t_self = nullptr;
  if (t_guard_armed) t_guard.armed = false;
}

void join_thread(ThreadHandle* handle) noexcept {
  if (handle == nullptr || mode() != Mode::kPct) return;
  KeepErrno keep;
  Locked hold(g_lock);
  ThreadHandle* t = self_locked();
  while (handle->state != State::kExited) block_locked(t, handle, false);
}

void set_thread_key(ThreadHandle* handle, unsigned long key) noexcept {
  if (handle == nullptr) return;
  Locked hold(g_lock);
  handle->key = key;
}

ThreadHandle* thread_by_key(unsigned long key) noexcept {
  if (mode() != Mode::kPct || key == 0) return nullptr;
  Locked hold(g_lock);
  // The newest first: a pthread_t may be reused once its thread was joined.
  for (std::size_t i = threads().size(); i-- > 0;) {
    if (threads()[i]->key == key) return threads()[i];
  }
  return nullptr;
}

Stats stats() noexcept {
  Locked hold(g_lock);
  return stats_locked();
}

}  // namespace racegate::explore
