// racegate/harness/explore_bridge.h — drives the reference's schedule points
// (racegate/schedule.h) from the exploration engine.
//
// Under `racegate run --explore` (or `racegate gate --explore`) a program
// runs with libracegate-explore.so preloaded and RACEGATE_EXPLORE set. The
// preload library turns the program's pthread calls into schedule points by
// itself; the reference's own primitives block on futexes and sockets it
// cannot see, so a program built on the reference calls
// install_explore_bridge() once, before it starts threads: every schedule
// point of the reference then becomes a point of the engine and, under PCT,
// every futex wait of the reference a wait in the scheduler (and every
// kernel wait a leave()/enter() pair). Case binaries call it in main().
#pragma once

namespace racegate::harness {

enum class ExploreBridge {
  kOff,             // nothing to explore (no preload library, or mode=off)
  kInstalled,       // the hooks are installed
  kMissingLibrary,  // RACEGATE_EXPLORE asks for exploration, but the preload library is not loaded
};

ExploreBridge install_explore_bridge() noexcept;

}  // namespace racegate::harness
