// racegate/harness/explore_api.h — the exploration engine's C entry points,
// as the preload library (libracegate-explore.so) exports them.
//
// A program linked with the reference finds the engine of the preload
// library it runs under with dlsym(RTLD_DEFAULT, kExploreApiSymbol) and
// drives it from the reference's schedule points and blocking hooks
// (racegate/schedule.h). There is one engine per process: the preload
// library's, which also sees the program's pthread calls. Without the
// preload library the symbol is absent and nothing is explored.
//
// The table is immutable and lives as long as the process. Its functions
// may be called from any thread; they keep errno.
#pragma once

#include <atomic>
#include <cstdint>

namespace racegate::explore {

inline constexpr const char* kExploreApiSymbol = "racegate_explore_api_v1";

struct ExploreApi {
  std::uint32_t version;  // 1
  // 0 off, 1 noise, 2 pct (explore::Mode).
  int (*mode)() noexcept;
  // explore::point, with an explore::Kind.
  void (*point)(int kind, const void* object) noexcept;
  // explore::wait_word; returns an explore::WordWait.
  int (*wait_word)(const std::atomic<std::uint32_t>* word, std::uint32_t expected, std::uint64_t deadline_ns,
                   bool can_idle) noexcept;
  void (*wake_all)(const void* object) noexcept;
  void (*leave)() noexcept;
  void (*enter)() noexcept;
};

using ExploreApiFn = const ExploreApi* (*)() noexcept;

}  // namespace racegate::explore
