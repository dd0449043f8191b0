// The bridge from the reference's schedule points and blocking hooks
// (racegate/schedule.h) to the exploration engine of the preload library
// (racegate/harness/explore_api.h), installed by every case binary.
#include "racegate/harness/explore_bridge.h"

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

#include "racegate/harness/explore.h"
#include "racegate/harness/explore_api.h"
#include "racegate/schedule.h"

namespace racegate::harness {
namespace {

namespace ex = racegate::explore;
using schedule::Op;

const ex::ExploreApi* g_api = nullptr;

ex::Kind kind_of(Op op) noexcept {
  switch (op) {
    case Op::kLockAcquire:
    case Op::kRLockAcquire:
      return ex::Kind::kLock;
    case Op::kLockRelease:
    case Op::kRLockRelease:
      return ex::Kind::kUnlock;
    case Op::kSemaphoreAcquire:
      return ex::Kind::kSemWait;
    case Op::kSemaphoreRelease:
      return ex::Kind::kSemPost;
    case Op::kConditionWait:
    case Op::kEventWait:
    case Op::kBarrierWait:
      return ex::Kind::kCondWait;
    case Op::kConditionNotify:
    case Op::kEventSet:
      return ex::Kind::kCondBroadcast;
    case Op::kThreadStart:
    case Op::kProcessStart:
      return ex::Kind::kThreadStart;
    case Op::kThreadJoin:
    case Op::kProcessJoin:
      return ex::Kind::kThreadJoin;
    default:
      return ex::Kind::kOther;
  }
}

void on_point(Op op, const void* object) noexcept { g_api->point(static_cast<int>(kind_of(op)), object); }

schedule::WaitOutcome on_wait(const std::atomic<std::uint32_t>* word, std::uint32_t expected,
                              std::uint64_t deadline_ns, bool can_idle) noexcept {
  switch (static_cast<ex::WordWait>(g_api->wait_word(word, expected, deadline_ns, can_idle))) {
    case ex::WordWait::kChanged:
      return schedule::WaitOutcome::kRecheck;
    case ex::WordWait::kTimedOut:
      return schedule::WaitOutcome::kTimedOut;
    case ex::WordWait::kKernel:
      break;
  }
  return schedule::WaitOutcome::kKernel;
}

void on_wake(const void* word) noexcept { g_api->wake_all(word); }
void on_leave() noexcept { g_api->leave(); }
void on_enter() noexcept { g_api->enter(); }

constexpr schedule::Blocking kBlocking{on_wait, on_wake, on_leave, on_enter};

}  // namespace

ExploreBridge install_explore_bridge() noexcept {
  const char* config = std::getenv("RACEGATE_EXPLORE");
  const bool wanted = config != nullptr && *config != '\0' && std::strncmp(config, "mode=off", 8) != 0;
  auto fn = reinterpret_cast<ex::ExploreApiFn>(dlsym(RTLD_DEFAULT, ex::kExploreApiSymbol));
  const ex::ExploreApi* api = fn != nullptr ? fn() : nullptr;
  if (api == nullptr || api->version != 1) {
    return wanted ? ExploreBridge::kMissingLibrary : ExploreBridge::kOff;
  }
  const auto mode = static_cast<ex::Mode>(api->mode());
  if (mode == ex::Mode::kOff) return ExploreBridge::kOff;
  g_api = api;
  if (mode == ex::Mode::kPct) schedule::set_blocking(&kBlocking);
  schedule::set_hook(on_point);
  return ExploreBridge::kInstalled;
}

}  // namespace racegate::harness
