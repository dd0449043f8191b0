// Must NOT compile: an mp::Event is shared by inheritance, never sent as a value.
#include "racegate/internal/serialize.h"
#include "racegate/mp/event.h"

int main() {
  racegate::mp::Event event;
  return static_cast<int>(racegate::internal::dumps(event).size());
}
