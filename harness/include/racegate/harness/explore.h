// racegate/harness/explore.h — schedule exploration: noise injection and a
// PCT scheduler behind one schedule-point call.
//
// A program (or the preload library that interposes its pthread calls) calls
// `explore::point(kind, object)` at every synchronizing operation. What the
// call does depends on the configuration, read once from a string such as
// "mode=pct,seed=7,depth=2" (usually the RACEGATE_EXPLORE environment
// variable, so that case binaries and preloaded programs share it):
//
//   mode=off    nothing; point() is a call, one relaxed load and a branch
//               (about 20 instructions more than the reference's inline
//               schedule::point with no hook; docs/exploration.md).
//   mode=noise  with a seeded per-thread probability (level/10) the thread
//               yields, sleeps briefly or is delayed, so that rare
//               interleavings become common.
//   mode=pct    Probabilistic Concurrency Testing (Burckhardt et al. 2010):
//               one registered thread runs at a time (it holds the token);
//               each thread gets a random distinct priority when it
//               registers; at depth-1 steps chosen at random among the first
//               `steps` the running thread's priority drops below every
//               other; at every point the highest-priority enabled thread
//               runs.
//
// PCT blocking protocol. A thread that would block on an object calls
// `block_on(object)`: it is disabled until another thread calls
// `wake_one(object)` / `wake_all(object)`, and returns holding the token.
// A call that blocks in the kernel on something the scheduler does not model
// is bracketed by `leave()` / `enter()`. A running thread that reaches no
// point within the time slice (slice_ms) is treated as preempted: the next
// thread runs and the event is counted. When every registered thread is
// disabled and none is outside the scheduler: a wait_word that may idle
// (a word shared with other processes) is sent to the kernel; else, if a
// wait has a deadline, the scheduler lets real time pass until the first
// deadline ends its wait (a timed wait never ends early); else the run is a
// deadlock: "racegate-explore: deadlock" on stderr, exit code kExitDeadlock.
//
// Determinism: with the same configuration and a program whose threads only
// synchronize through points, the schedule, and so `Stats::trace_hash`, is
// the same. A run with slice preemptions or kernel waits (leave()/enter())
// may diverge.
//
// fork: the child keeps only the thread that forked (every other record is
// marked exited) and writes no statistics; it goes on exploring alone.
//
// Statistics (threads seen, steps, slice preemptions, trace hash) are written
// as JSON to the file named by RACEGATE_EXPLORE_STATS, if set: at every step
// for the first 1024, then at every 64th, and whole at exit and deadlock.
//
// Thread-safety: every function may be called from any thread once
// `configure` has returned; `configure` must run before the threads it
// should see start. The engine uses raw futexes and never calls the pthread
// functions the preload library interposes.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace racegate::explore {

enum class Mode : std::uint8_t { kOff, kNoise, kPct };

// The exit code of a run that PCT found deadlocked.
inline constexpr int kExitDeadlock = 86;
// The exit code of a run whose configuration could not be read.
inline constexpr int kExitBadConfig = 2;

struct Config {
  Mode mode = Mode::kOff;
  std::uint64_t seed = 1;
  int depth = 1;             // PCT: bug depth d; d-1 priority change points
  std::uint64_t steps = 64;  // PCT: k, the steps change points are drawn from
  int level = 3;             // noise: probability level/10 per point, 1..10
  unsigned slice_ms = 100;   // PCT: time slice before a silent thread is preempted
};

// Parses "key=value,key=value" (keys: mode, seed, depth, steps, level,
// slice_ms). On error, `error` names the offending item.
struct ParseResult {
  std::optional<Config> config;
  std::string error;
};
ParseResult parse_config(std::string_view text);

// The configuration as a string parse_config reads back (a replay token).
std::string to_string(const Config& config);

enum class Kind : std::uint8_t {
  kLock,
  kTryLock,
  kUnlock,
  kCondWait,
  kCondSignal,
  kCondBroadcast,
  kSemWait,
  kSemPost,
  kThreadStart,
  kThreadJoin,
  kYield,
  kOther,
};

// Installs `config` (once; later calls are ignored and return false).
bool configure(const Config& config);

// Reads RACEGATE_EXPLORE (absent or empty: off). A bad value is reported on
// stderr naming the variable and the item, and the process exits with
// kExitBadConfig.
void configure_from_env();

Mode mode() noexcept;

// A schedule step of the calling thread (registering it if new).
void point(Kind kind, const void* object) noexcept;

// PCT only (no-ops otherwise; block_on* return at once, block_on_until
// true). block_on_until ends the wait when `deadline_ns` (CLOCK_MONOTONIC;
// 0: none) passes, returning false; the scheduler then waits for that
// moment in real time when nothing else can run.
void block_on(const void* object) noexcept;
[[nodiscard]] bool block_on_until(const void* object, std::uint64_t deadline_ns) noexcept;
void wake_one(const void* object) noexcept;
void wake_all(const void* object) noexcept;
void leave() noexcept;
void enter() noexcept;

// A futex-style wait (PCT only; elsewhere kKernel at once): while `*word`
// holds `expected`, the caller is disabled until wake_one/wake_all(word),
// until `deadline_ns` (CLOCK_MONOTONIC; 0: none) passes, or, when
// `can_idle`, until nothing else can run. The word is checked under the
// scheduler's lock, so a wake after the change cannot be lost.
enum class WordWait : std::uint8_t {
  kChanged,   // the word no longer held `expected`, or a wake came
  kTimedOut,  // the deadline passed
  kKernel,    // nothing else can run: block in the kernel between leave() and enter()
};
WordWait wait_word(const std::atomic<std::uint32_t>* word, std::uint32_t expected, std::uint64_t deadline_ns,
                   bool can_idle) noexcept;

// Threads. `prepare_thread(pending)` registers a child before it starts (in
// the creator, so that registration order is deterministic); the child calls
// `adopt_thread(handle, wait)` first thing (wait: take the token before
// returning) and `thread_exit()` last. A pending child (one that cannot wait
// for the token before its first point) holds every other thread at its next
// point until it reaches its own first point (or a time slice passed), so
// that what it runs before that point does not overlap anything. `join_thread` blocks until the
// handle's thread has exited. Threads not created this way register at their
// first point and exit through a thread-local destructor.
struct ThreadHandle;
ThreadHandle* prepare_thread(bool pending) noexcept;
void cancel_thread(ThreadHandle* handle) noexcept;
void adopt_thread(ThreadHandle* handle, bool wait) noexcept;
void thread_exit() noexcept;
void join_thread(ThreadHandle* handle) noexcept;
// The preload library finds a handle by its pthread_t (0 forgets it).
void set_thread_key(ThreadHandle* handle, unsigned long key) noexcept;
ThreadHandle* thread_by_key(unsigned long key) noexcept;

struct Stats {
  Mode mode = Mode::kOff;
  std::uint64_t threads = 0;
  std::uint64_t steps = 0;
  std::uint64_t slice_preemptions = 0;
  std::uint64_t timeouts_fired = 0;
  std::uint64_t noise_delays = 0;
  std::uint64_t trace_hash = 0;
  // Threads started in a sanitized program (see prepare_thread): what the
  // creator runs then overlaps the child's start, so the steps, and the
  // trace hash, may differ from one run of a token to the next.
  std::uint64_t sanitized_starts = 0;
  // Waits in the kernel outside the scheduler (leave()/enter(), and waits
  // wait_word sent there): when one ends depends on the kernel, so the
  // schedule after it may differ from one run of a token to the next.
  std::uint64_t kernel_waits = 0;
};
Stats stats() noexcept;

// The statistics as one JSON object (with the configuration and `outcome`).
std::string stats_json(const Stats& stats, const Config& config, std::string_view outcome);

}  // namespace racegate::explore
