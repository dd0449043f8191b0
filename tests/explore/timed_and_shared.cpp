// What the preload library must get right under PCT beyond scheduling:
//  1. a timed wait never ends before its deadline, even when nothing else
//     can run (condition variable, mutex, semaphore; CLOCK_REALTIME and
//     CLOCK_MONOTONIC condition variables);
//  2. objects shared with another process (a process-shared semaphore,
//     mutex and condition variable in a shared mapping) are unlocked,
//     posted and signalled by a process this scheduler does not see: the
//     waits must go to the kernel instead of being reported as a deadlock.
// Exits 0 when all holds, 1 with a message otherwise; run it under
// RACEGATE_EXPLORE=mode=pct (tests/explore.cmake).
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "timed_and_shared: %s\n", what);
  std::exit(1);
}

timespec after(clockid_t clock, long ms) {
  timespec t{};
  clock_gettime(clock, &t);
  t.tv_nsec += (ms % 1000) * 1'000'000L;
  t.tv_sec += ms / 1000 + t.tv_nsec / 1'000'000'000L;
  t.tv_nsec %= 1'000'000'000L;
  return t;
}

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void timed_waits_end_at_their_deadline() {
  constexpr long kMs = 50;
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  for (clockid_t clock : {CLOCK_REALTIME, CLOCK_MONOTONIC}) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, clock);
    pthread_cond_t c;
    pthread_cond_init(&c, &attr);
    pthread_mutex_lock(&m);
    const auto t0 = std::chrono::steady_clock::now();
    const timespec deadline = after(clock, kMs);
    int rc = 0;
    while (rc == 0) rc = pthread_cond_timedwait(&c, &m, &deadline);  // no one signals
    pthread_mutex_unlock(&m);
    if (rc != ETIMEDOUT) fail("pthread_cond_timedwait did not time out");
    if (since(t0) < kMs / 1000.0) fail("pthread_cond_timedwait timed out before its deadline");
    pthread_cond_destroy(&c);
  }
  pthread_mutex_lock(&m);  // held: a timed lock by the same thread can only time out
  pthread_mutexattr_t attr;
  pthread_mutex_t held;
  pthread_mutexattr_init(&attr);
  pthread_mutex_init(&held, &attr);
  pthread_mutex_lock(&held);
  struct Arg {
    pthread_mutex_t* held;
    double elapsed;
    int rc;
  } arg{&held, 0, 0};
  pthread_t t;
  pthread_create(&t, nullptr, [](void* p) -> void* {
    auto* a = static_cast<Arg*>(p);
    const auto t0 = std::chrono::steady_clock::now();
    const timespec deadline = after(CLOCK_REALTIME, kMs);
    a->rc = pthread_mutex_timedlock(a->held, &deadline);
    a->elapsed = since(t0);
    return nullptr;
  }, &arg);
  pthread_join(t, nullptr);
  if (arg.rc != ETIMEDOUT) fail("pthread_mutex_timedlock did not time out");
  if (arg.elapsed < kMs / 1000.0) fail("pthread_mutex_timedlock timed out before its deadline");
  pthread_mutex_unlock(&held);
  pthread_mutex_unlock(&m);

  sem_t s;
  sem_init(&s, 0, 0);
  const auto t0 = std::chrono::steady_clock::now();
  const timespec deadline = after(CLOCK_REALTIME, kMs);
  int rc;
  while ((rc = sem_timedwait(&s, &deadline)) != 0 && errno == EINTR) {
  }
  if (rc == 0 || errno != ETIMEDOUT) fail("sem_timedwait did not time out");
  if (since(t0) < kMs / 1000.0) fail("sem_timedwait timed out before its deadline");
}

struct Shared {
  sem_t posted;
  pthread_mutex_t mutex;
  pthread_cond_t cond;
  int ready;  // guarded by mutex
};

void shared_objects_are_woken_by_another_process() {
  void* p = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fail("mmap");
  auto* sh = static_cast<Shared*>(p);
  sem_init(&sh->posted, 1, 0);
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
  pthread_mutex_init(&sh->mutex, &ma);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
  pthread_cond_init(&sh->cond, &ca);
  sh->ready = 0;

  pthread_mutex_lock(&sh->mutex);  // the child must wait for this process's unlock
  const pid_t child = fork();
  if (child < 0) fail("fork");
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a parent stopped by a timeout
    if (getppid() == 1) _exit(1);
    sem_post(&sh->posted);             // wakes the parent's sem_wait
    pthread_mutex_lock(&sh->mutex);    // blocks until the parent waits on cond
    sh->ready = 1;
    pthread_cond_signal(&sh->cond);
    pthread_mutex_unlock(&sh->mutex);
    _exit(0);
  }
  while (sem_wait(&sh->posted) != 0) {
    if (errno != EINTR) fail("sem_wait on a process-shared semaphore failed");
  }
  while (sh->ready == 0) pthread_cond_wait(&sh->cond, &sh->mutex);
  pthread_mutex_unlock(&sh->mutex);
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) fail("waitpid");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("the child failed");
  munmap(p, sizeof(Shared));
}

}  // namespace

int main() {
  timed_waits_end_at_their_deadline();
  shared_objects_are_woken_by_another_process();
  std::puts("timed_and_shared: ok");
  return 0;
}
