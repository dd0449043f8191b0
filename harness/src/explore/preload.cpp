// libracegate-explore.so: LD_PRELOAD it into any program (plain or built with
// a sanitizer) and its pthread mutex, rwlock, condition variable, create and
// join calls, its sem_* calls and sched_yield become schedule points of the
// exploration engine, configured by RACEGATE_EXPLORE.
//
// Each wrapper forwards to the next definition (dlsym RTLD_NEXT): in a plain
// program that is the C library; in a TSan-built program TSan's interceptor
// (in the executable, searched first) runs and calls this library as its
// "real" function, so TSan still sees every operation.
//
// Under PCT a blocking call must give the token up before it blocks, or the
// run would deadlock: locks are taken by try-lock loops that block on the
// lock object in the scheduler; a condition variable wait is modelled in the
// scheduler (release the mutex, wait for a signal, relock), which is a valid
// implementation since waits may wake spuriously; a timed wait ends when its
// deadline passes, in real time (the scheduler waits for it when nothing
// else can run). The real condition variable is not used then. Objects
// shared with other processes are used for real, their waits made outside
// the scheduler, and so is sleeping (nanosleep, clock_nanosleep).
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <ctime>

#include "racegate/harness/explore.h"
#include "racegate/harness/explore_api.h"

namespace ex = racegate::explore;

namespace {

void* next_symbol(const char* name, const char* version) {
  return version == nullptr ? dlsym(RTLD_NEXT, name) : dlvsym(RTLD_NEXT, name, version);
}

// The next definition of `name`, looked up once.
#define RG_REAL(name, version)                                                          \
  ([] {                                                                                 \
    static std::atomic<void*> fn{nullptr};                                              \
    void* f = fn.load(std::memory_order_acquire);                                       \
    if (f == nullptr) {                                                                 \
      f = next_symbol(#name, version);                                                  \
      fn.store(f, std::memory_order_release);                                           \
    }                                                                                   \
    return reinterpret_cast<decltype(&::name)>(f);                                      \
  }())

constexpr const char* kCondVersion = "GLIBC_2.3.2";
// A sanitizer's pthread_create interceptor (TSan, ASan) waits, after this
// library's pthread_create returned, until the child has run the sanitizer's
// start routine. So in a sanitized program the creator takes no step inside
// pthread_create and the child does not wait for the token before that
// routine: it is registered all the same and takes its turn at its first
// point.
bool g_sanitized = false;

bool pct() { return ex::mode() == ex::Mode::kPct; }

// An absolute time on `clock` as CLOCK_MONOTONIC nanoseconds (0 stays "no
// deadline" only for a null `at`; a deadline in the past becomes 1).
std::uint64_t monotonic_deadline(clockid_t clock, const struct timespec* at) {
  if (at == nullptr) return 0;
  timespec now{};
  timespec mono{};
  clock_gettime(clock, &now);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  const auto ns = [](const timespec& t) {
    return static_cast<long long>(t.tv_sec) * 1'000'000'000LL + static_cast<long long>(t.tv_nsec);
  };
  const long long left = ns(*at) - ns(now);
  const long long when = ns(mono) + (left > 0 ? left : 0);
  return when > 0 ? static_cast<std::uint64_t>(when) : 1;
}

// Objects shared with other processes (glibc's layout: the process-shared
// bit of a mutex's kind, bit 0 of a condition variable's __wrefs, an
// rwlock's __shared, a semaphore's `private` word after its 64-bit value,
// which glibc sets to FUTEX_PRIVATE_FLAG for a shared one).
// A thread of another process may unlock, signal or post them, which the
// scheduler of this one never sees: they are used for real, and a wait on
// them is a wait in the kernel, outside the scheduler.
bool shared(const pthread_mutex_t* m) { return (m->__data.__kind & 128) != 0; }
bool shared(const pthread_cond_t* c) { return (c->__data.__wrefs & 1) != 0; }
bool shared(const pthread_rwlock_t* l) { return l->__data.__shared != 0; }
bool shared(const sem_t* s) {
  static_assert(sizeof(sem_t) >= 12);
  unsigned private_word = 0;
  __builtin_memcpy(&private_word, reinterpret_cast<const char*>(s) + 8, sizeof private_word);
  return private_word != 0;
}

// A blocking call made outside the scheduler.
template <class Call>
auto in_kernel(Call call) {
  ex::leave();
  const auto rc = call();
  ex::enter();
  return rc;
}

// Takes `m` through try-locks, blocking on it in the scheduler between
// tries, until `deadline_ns` (0: none).
template <class TryLock>
int take(const void* object, TryLock try_lock, std::uint64_t deadline_ns = 0) {
  for (;;) {
    const int rc = try_lock();
    if (rc != EBUSY) return rc;
    if (deadline_ns != 0) {
      if (!ex::block_on_until(object, deadline_ns)) return ETIMEDOUT;
    } else {
      ex::block_on(object);
    }
  }
}

int relock(pthread_mutex_t* m) {
  if (shared(m)) return in_kernel([m] { return RG_REAL(pthread_mutex_lock, nullptr)(m); });
  return take(m, [m] { return RG_REAL(pthread_mutex_trylock, nullptr)(m); });
}

// What a new thread needs to start, passed from the creator. The child must
// not allocate or free before a sanitizer's start routine (which this one
// calls) has set the thread up, so the records come from a fixed pool, and
// the rare overflow is allocated by the creator and never freed.
struct Boot {
  void* (*start)(void*);
  void* arg;
  ex::ThreadHandle* handle;
  std::atomic<bool> used{false};
};
constexpr int kBootSlots = 1024;
Boot g_boots[kBootSlots];

Boot* take_boot() {
  for (Boot& b : g_boots) {
    bool expected = false;
    if (b.used.compare_exchange_strong(expected, true, std::memory_order_acquire)) return &b;
  }
  auto* b = new Boot;
  b->used.store(true);
  return b;
}

void* boot_thread(void* p) {
  auto* record = static_cast<Boot*>(p);
  const Boot boot{record->start, record->arg, record->handle, {}};
  record->used.store(false, std::memory_order_release);
  ex::adopt_thread(boot.handle, !g_sanitized);
  void* result = boot.start(boot.arg);
  ex::thread_exit();
  return result;
}

__attribute__((constructor)) void init_preload() {
  g_sanitized = dlsym(RTLD_DEFAULT, "__tsan_init") != nullptr || dlsym(RTLD_DEFAULT, "__asan_init") != nullptr;
  ex::configure_from_env();
}

}  // namespace

extern "C" {

int pthread_mutex_lock(pthread_mutex_t* m) {
  if (!pct()) {
    ex::point(ex::Kind::kLock, m);
    return RG_REAL(pthread_mutex_lock, nullptr)(m);
  }
  ex::point(ex::Kind::kLock, m);
  return relock(m);
}

int pthread_mutex_trylock(pthread_mutex_t* m) {
  ex::point(ex::Kind::kTryLock, m);
  return RG_REAL(pthread_mutex_trylock, nullptr)(m);
}

int pthread_mutex_timedlock(pthread_mutex_t* m, const struct timespec* deadline) {
  ex::point(ex::Kind::kLock, m);
  if (!pct()) return RG_REAL(pthread_mutex_timedlock, nullptr)(m, deadline);
  if (shared(m)) return in_kernel([&] { return RG_REAL(pthread_mutex_timedlock, nullptr)(m, deadline); });
  return take(m, [m] { return RG_REAL(pthread_mutex_trylock, nullptr)(m); },
              monotonic_deadline(CLOCK_REALTIME, deadline));
}

int pthread_mutex_unlock(pthread_mutex_t* m) {
  ex::point(ex::Kind::kUnlock, m);
  const int rc = RG_REAL(pthread_mutex_unlock, nullptr)(m);
  ex::wake_all(m);
  return rc;
}

int pthread_rwlock_rdlock(pthread_rwlock_t* l) {
  ex::point(ex::Kind::kLock, l);
  if (!pct()) return RG_REAL(pthread_rwlock_rdlock, nullptr)(l);
  if (shared(l)) return in_kernel([l] { return RG_REAL(pthread_rwlock_rdlock, nullptr)(l); });
  return take(l, [l] { return RG_REAL(pthread_rwlock_tryrdlock, nullptr)(l); });
}

int pthread_rwlock_wrlock(pthread_rwlock_t* l) {
  ex::point(ex::Kind::kLock, l);
  if (!pct()) return RG_REAL(pthread_rwlock_wrlock, nullptr)(l);
  if (shared(l)) return in_kernel([l] { return RG_REAL(pthread_rwlock_wrlock, nullptr)(l); });
  return take(l, [l] { return RG_REAL(pthread_rwlock_trywrlock, nullptr)(l); });
}

int pthread_rwlock_tryrdlock(pthread_rwlock_t* l) {
  ex::point(ex::Kind::kTryLock, l);
  return RG_REAL(pthread_rwlock_tryrdlock, nullptr)(l);
}

int pthread_rwlock_trywrlock(pthread_rwlock_t* l) {
  ex::point(ex::Kind::kTryLock, l);
  return RG_REAL(pthread_rwlock_trywrlock, nullptr)(l);
}

int pthread_rwlock_unlock(pthread_rwlock_t* l) {
  ex::point(ex::Kind::kUnlock, l);
  const int rc = RG_REAL(pthread_rwlock_unlock, nullptr)(l);
  ex::wake_all(l);
  return rc;
}

// Condition variables: exported at the C library's version (see preload.map)
// so that TSan's versioned lookup finds them.
int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m) {
  ex::point(ex::Kind::kCondWait, c);
  if (!pct()) return RG_REAL(pthread_cond_wait, kCondVersion)(c, m);
  if (shared(c)) return in_kernel([c, m] { return RG_REAL(pthread_cond_wait, kCondVersion)(c, m); });
  RG_REAL(pthread_mutex_unlock, nullptr)(m);
  ex::wake_all(m);
  ex::block_on(c);
  return relock(m);
}

namespace {
// A timed wait in the scheduler: it ends when signalled or when the deadline
// passes (in real time), never earlier.
int timed_wait_pct(pthread_cond_t* c, pthread_mutex_t* m, std::uint64_t deadline_ns) {
  RG_REAL(pthread_mutex_unlock, nullptr)(m);
  ex::wake_all(m);
  const bool woken = ex::block_on_until(c, deadline_ns);
  const int rc = relock(m);
  return rc != 0 ? rc : (woken ? 0 : ETIMEDOUT);
}
}  // namespace

int pthread_cond_timedwait(pthread_cond_t* c, pthread_mutex_t* m, const struct timespec* deadline) {
  ex::point(ex::Kind::kCondWait, c);
  if (!pct()) return RG_REAL(pthread_cond_timedwait, kCondVersion)(c, m, deadline);
  if (shared(c)) {
    return in_kernel([&] { return RG_REAL(pthread_cond_timedwait, kCondVersion)(c, m, deadline); });
  }
  // glibc keeps the clock of a condition variable in bit 1 of __wrefs.
  const clockid_t clock = (c->__data.__wrefs & 2) != 0 ? CLOCK_MONOTONIC : CLOCK_REALTIME;
  return timed_wait_pct(c, m, monotonic_deadline(clock, deadline));
}

int pthread_cond_clockwait(pthread_cond_t* c, pthread_mutex_t* m, clockid_t clock,
                           const struct timespec* deadline) {
  ex::point(ex::Kind::kCondWait, c);
  if (!pct()) return RG_REAL(pthread_cond_clockwait, "GLIBC_2.34")(c, m, clock, deadline);
  if (shared(c)) {
    return in_kernel([&] { return RG_REAL(pthread_cond_clockwait, "GLIBC_2.34")(c, m, clock, deadline); });
  }
  return timed_wait_pct(c, m, monotonic_deadline(clock, deadline));
}

int pthread_cond_signal(pthread_cond_t* c) {
  ex::point(ex::Kind::kCondSignal, c);
  if (!pct()) return RG_REAL(pthread_cond_signal, kCondVersion)(c);
  if (shared(c)) return RG_REAL(pthread_cond_signal, kCondVersion)(c);
  ex::wake_one(c);
  return 0;
}

int pthread_cond_broadcast(pthread_cond_t* c) {
  ex::point(ex::Kind::kCondBroadcast, c);
  if (!pct()) return RG_REAL(pthread_cond_broadcast, kCondVersion)(c);
  if (shared(c)) return RG_REAL(pthread_cond_broadcast, kCondVersion)(c);
  ex::wake_all(c);
  return 0;
}

int sem_wait(sem_t* s) {
  ex::point(ex::Kind::kSemWait, s);
  if (!pct()) return RG_REAL(sem_wait, nullptr)(s);
  if (shared(s)) return in_kernel([s] { return RG_REAL(sem_wait, nullptr)(s); });
  const int rc = take(s, [s] { return RG_REAL(sem_trywait, nullptr)(s) == 0 ? 0 : errno; });
  return rc == 0 ? 0 : (errno = rc, -1);
}

int sem_timedwait(sem_t* s, const struct timespec* deadline) {
  ex::point(ex::Kind::kSemWait, s);
  if (!pct()) return RG_REAL(sem_timedwait, nullptr)(s, deadline);
  if (shared(s)) return in_kernel([&] { return RG_REAL(sem_timedwait, nullptr)(s, deadline); });
  // sem_trywait fails with EAGAIN where a lock says EBUSY.
  const int rc = take(s, [s] {
    if (RG_REAL(sem_trywait, nullptr)(s) == 0) return 0;
    return errno == EAGAIN ? EBUSY : errno;
  }, monotonic_deadline(CLOCK_REALTIME, deadline));
  return rc == 0 ? 0 : (errno = rc, -1);
}

int sem_trywait(sem_t* s) {
  ex::point(ex::Kind::kSemWait, s);
  return RG_REAL(sem_trywait, nullptr)(s);
}

int sem_post(sem_t* s) {
  ex::point(ex::Kind::kSemPost, s);
  const int rc = RG_REAL(sem_post, nullptr)(s);
  ex::wake_all(s);
  return rc;
}

// Sleeping is blocking: under PCT the sleeper leaves the scheduler, so that
// the others run meanwhile, and comes back when the kernel wakes it.
int nanosleep(const struct timespec* request, struct timespec* remaining) {
  if (!pct()) return RG_REAL(nanosleep, nullptr)(request, remaining);
  return in_kernel([&] { return RG_REAL(nanosleep, nullptr)(request, remaining); });
}

int clock_nanosleep(clockid_t clock, int flags, const struct timespec* request, struct timespec* remaining) {
  if (!pct()) return RG_REAL(clock_nanosleep, nullptr)(clock, flags, request, remaining);
  return in_kernel([&] { return RG_REAL(clock_nanosleep, nullptr)(clock, flags, request, remaining); });
}

int sched_yield() {
  ex::point(ex::Kind::kYield, nullptr);
  if (pct()) return 0;  // the point let the others run
  return RG_REAL(sched_yield, nullptr)();
}

}  // extern "C"

namespace {
// A sanitizer starts its own threads (TSan's background thread) through the
// same pthread_create, with no attributes, no argument and every signal
// blocked; they never reach a schedule point, so they are not scheduled.
bool sanitizer_thread(const pthread_attr_t* attr, void* arg) {
  if (!g_sanitized || attr != nullptr || arg != nullptr) return false;
  sigset_t mask;
  return pthread_sigmask(SIG_BLOCK, nullptr, &mask) == 0 && sigismember(&mask, SIGSEGV) == 1 &&
         sigismember(&mask, SIGILL) == 1;
}
}  // namespace

extern "C" {

int pthread_create(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg) {
  // A sanitizer's thread is no step of the program (TSan starts one in a
  // forked child, from its fork handler, before the engine's has run).
  if (sanitizer_thread(attr, arg)) return RG_REAL(pthread_create, nullptr)(thread, attr, start, arg);
  if (!pct()) {
    ex::point(ex::Kind::kThreadStart, nullptr);
    return RG_REAL(pthread_create, nullptr)(thread, attr, start, arg);
  }
  ex::ThreadHandle* handle = ex::prepare_thread(g_sanitized);
  Boot* boot = take_boot();
  boot->start = start;
  boot->arg = arg;
  boot->handle = handle;
  const int rc = RG_REAL(pthread_create, nullptr)(thread, attr, boot_thread, boot);
  if (rc != 0) {
    ex::cancel_thread(handle);
    boot->used.store(false, std::memory_order_release);
    return rc;
  }
  ex::set_thread_key(handle, static_cast<unsigned long>(*thread));
  if (!g_sanitized) ex::point(ex::Kind::kThreadStart, handle);
  return 0;
}

int pthread_join(pthread_t thread, void** result) {
  ex::ThreadHandle* handle = ex::thread_by_key(static_cast<unsigned long>(thread));
  ex::point(ex::Kind::kThreadJoin, handle);
  if (handle == nullptr) {  // a thread the scheduler does not know: block outside it
    return in_kernel([&] { return RG_REAL(pthread_join, nullptr)(thread, result); });
  }
  ex::join_thread(handle);
  const int rc = RG_REAL(pthread_join, nullptr)(thread, result);
  ex::set_thread_key(handle, 0);
  return rc;
}

}  // extern "C"

// The engine's C entry points, for programs built on the reference
// (racegate/harness/explore_api.h).
namespace {
int api_mode() noexcept { return static_cast<int>(ex::mode()); }
void api_point(int kind, const void* object) noexcept { ex::point(static_cast<ex::Kind>(kind), object); }
int api_wait_word(const std::atomic<std::uint32_t>* word, std::uint32_t expected, std::uint64_t deadline_ns,
                  bool can_idle) noexcept {
  return static_cast<int>(ex::wait_word(word, expected, deadline_ns, can_idle));
}
constexpr ex::ExploreApi kApi{1, api_mode, api_point, api_wait_word, ex::wake_all, ex::leave, ex::enter};
}  // namespace

extern "C" __attribute__((visibility("default"))) const ex::ExploreApi* racegate_explore_api_v1() noexcept {
  return &kApi;
}
