// Check-then-act on a shared counter: a seat is free when the counter is
// below the capacity; the check and the booking are two critical sections,
// so two clients can both see the last seat free.
#include <mutex>
#include <thread>

#include "planted.h"

constexpr int kSeats = 1;
std::mutex g_mutex;
int g_booked = 0;  // guarded by g_mutex

void book() {
  bool free_seat = false;
  {
    std::lock_guard<std::mutex> hold(g_mutex);
    free_seat = g_booked < kSeats;
  }
  if (free_seat) {
    std::lock_guard<std::mutex> hold(g_mutex);
    ++g_booked;
  }
}

int main() {
  std::thread a(book);
  std::thread b([] {
    planted::work();  // the second client arrives a little later
    book();
  });
  a.join();
  b.join();
  std::lock_guard<std::mutex> hold(g_mutex);
  if (g_booked > kSeats) planted::bug("more seats booked than there are");
  return 0;
}
