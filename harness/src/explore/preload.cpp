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
// implementation since waits may wake spuriously; a timed wait times out only
// when nothing else can run. The real condition variable is not used then.
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <ctime>

#include "racegate/harness/explore.h"

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

// Takes `m` through try-locks, blocking on it in the scheduler between tries.
template <class TryLock>
int take(const void* object, TryLock try_lock, bool timed) {
  for (;;) {
    const int rc = try_lock();
    if (rc != EBUSY) return rc;
    if (timed) {
      if (!ex::block_on_timed(object)) return ETIMEDOUT;
    } else {
      ex::block_on(object);
    }
  }
}

int relock(pthread_mutex_t* m) {
  return take(m, [m] { return RG_REAL(pthread_mutex_trylock, nullptr)(m); }, false);
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
  return take(m, [m] { return RG_REAL(pthread_mutex_trylock, nullptr)(m); }, true);
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
  return take(l, [l] { return RG_REAL(pthread_rwlock_tryrdlock, nullptr)(l); }, false);
}

int pthread_rwlock_wrlock(pthread_rwlock_t* l) {
  ex::point(ex::Kind::kLock, l);
  if (!pct()) return RG_REAL(pthread_rwlock_wrlock, nullptr)(l);
  return take(l, [l] { return RG_REAL(pthread_rwlock_trywrlock, nullptr)(l); }, false);
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
  RG_REAL(pthread_mutex_unlock, nullptr)(m);
  ex::wake_all(m);
  ex::block_on(c);
  return relock(m);
}

namespace {
int timed_wait_pct(pthread_cond_t* c, pthread_mutex_t* m) {
  RG_REAL(pthread_mutex_unlock, nullptr)(m);
  ex::wake_all(m);
  const bool woken = ex::block_on_timed(c);
  const int rc = relock(m);
  return rc != 0 ? rc : (woken ? 0 : ETIMEDOUT);
}
}  // namespace

int pthread_cond_timedwait(pthread_cond_t* c, pthread_mutex_t* m, const struct timespec* deadline) {
  ex::point(ex::Kind::kCondWait, c);
  if (!pct()) return RG_REAL(pthread_cond_timedwait, kCondVersion)(c, m, deadline);
  return timed_wait_pct(c, m);
}

int pthread_cond_clockwait(pthread_cond_t* c, pthread_mutex_t* m, clockid_t clock,
                           const struct timespec* deadline) {
  ex::point(ex::Kind::kCondWait, c);
  if (!pct()) return RG_REAL(pthread_cond_clockwait, "GLIBC_2.34")(c, m, clock, deadline);
  return timed_wait_pct(c, m);
}

int pthread_cond_signal(pthread_cond_t* c) {
  ex::point(ex::Kind::kCondSignal, c);
  if (!pct()) return RG_REAL(pthread_cond_signal, kCondVersion)(c);
  ex::wake_one(c);
  return 0;
}

int pthread_cond_broadcast(pthread_cond_t* c) {
  ex::point(ex::Kind::kCondBroadcast, c);
  if (!pct()) return RG_REAL(pthread_cond_broadcast, kCondVersion)(c);
  ex::wake_all(c);
  return 0;
}

int sem_wait(sem_t* s) {
  ex::point(ex::Kind::kSemWait, s);
  if (!pct()) return RG_REAL(sem_wait, nullptr)(s);
  const int rc = take(s, [s] { return RG_REAL(sem_trywait, nullptr)(s) == 0 ? 0 : errno; }, false);
  return rc == 0 ? 0 : (errno = rc, -1);
}

int sem_timedwait(sem_t* s, const struct timespec* deadline) {
  ex::point(ex::Kind::kSemWait, s);
  if (!pct()) return RG_REAL(sem_timedwait, nullptr)(s, deadline);
  // sem_trywait fails with EAGAIN where a lock says EBUSY.
  const int rc = take(s, [s] {
    if (RG_REAL(sem_trywait, nullptr)(s) == 0) return 0;
    return errno == EAGAIN ? EBUSY : errno;
  }, true);
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
  if (!pct() || sanitizer_thread(attr, arg)) {
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
    ex::leave();
    const int rc = RG_REAL(pthread_join, nullptr)(thread, result);
    ex::enter();
    return rc;
  }
  ex::join_thread(handle);
  const int rc = RG_REAL(pthread_join, nullptr)(thread, result);
  ex::set_thread_key(handle, 0);
  return rc;
}

}  // extern "C"
