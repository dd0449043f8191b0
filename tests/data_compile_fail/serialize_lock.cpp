// Must NOT compile: an mp::Lock is shared by inheritance, never sent as a
// value (CPython: "Lock objects should only be shared between processes
// through inheritance").
#include "racegate/internal/serialize.h"
#include "racegate/mp/lock.h"

int main() {
  racegate::mp::Lock lock;
  return static_cast<int>(racegate::internal::dumps(lock).size());
}
