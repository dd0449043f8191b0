// Control for the compile-fail checks: the same command line compiles a
// program that sends ordinary values, so the failures above come from the
// inherit-only rule and not from the command.
#include <map>
#include <string>
#include <vector>

#include "racegate/internal/serialize.h"
#include "racegate/mp/array.h"
#include "racegate/mp/connection.h"
#include "racegate/mp/event.h"
#include "racegate/mp/lock.h"
#include "racegate/mp/queue.h"
#include "racegate/mp/simple_queue.h"
#include "racegate/mp/value.h"

static_assert(racegate::internal::inherit_only_v<racegate::mp::Queue<int>>);
static_assert(racegate::internal::inherit_only_v<racegate::mp::JoinableQueue<int>>);
static_assert(racegate::internal::inherit_only_v<racegate::mp::SimpleQueue<int>>);
static_assert(racegate::internal::inherit_only_v<racegate::mp::Connection<int>>);
static_assert(racegate::internal::inherit_only_v<const racegate::mp::Value<int>&>);
static_assert(racegate::internal::inherit_only_v<racegate::mp::Array<double>>);
static_assert(!racegate::internal::inherit_only_v<std::vector<int>>);

int main() {
  racegate::mp::Queue<std::map<std::string, std::vector<int>>> q;
  q.put({{"k", {1, 2}}});
  auto ends = racegate::mp::Pipe<std::string>();
  ends.first.send("x");
  return static_cast<int>(racegate::internal::dumps(std::vector<int>{1, 2}).size());
}
