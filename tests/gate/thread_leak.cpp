// A thread leak: a joinable thread that ends and is never joined.
#include <atomic>
#include <pthread.h>
#include <sched.h>

std::atomic<bool> g_done{false};

void* body(void*) {
  g_done.store(true);
  return nullptr;
}

int main() {
  pthread_t t;
  pthread_create(&t, nullptr, body, nullptr);  // gate-test: thread_leak
  while (!g_done.load()) sched_yield();
  return 0;
}
