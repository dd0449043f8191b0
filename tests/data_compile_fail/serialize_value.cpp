// Must NOT compile: an mp::Value (CPython's Synchronized) or mp::Array cannot
// be sent through a Pipe.
#include "racegate/mp/array.h"
#include "racegate/mp/connection.h"
#include "racegate/mp/value.h"

int main() {
  auto ends = racegate::mp::Pipe<racegate::mp::Value<int>>();
  ends.first.send(racegate::mp::Value<int>(1));
  (void)racegate::internal::loads<racegate::mp::Array<int>>("");
}
