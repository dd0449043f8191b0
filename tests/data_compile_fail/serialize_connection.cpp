// Must NOT compile: a Connection is shared by inheritance (its descriptor is
// inherited at fork), never sent as a value.
#include "racegate/internal/serialize.h"
#include "racegate/mp/connection.h"

int main() {
  auto ends = racegate::mp::Pipe<int>();
  return static_cast<int>(racegate::internal::dumps(ends.first).size());
}
