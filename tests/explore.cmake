# Schedule exploration: the planted-bug programs (tests/explore/), built in
# this tree's variant, run plain, under noise and under PCT depth 1-3 through
# the preload library by tests/explore_test.py, which prints the table of how
# often each mode found each bug and asserts that PCT finds it and that the
# first failing seed replays.
set(RACEGATE_EXPLORE_BUGS order_violation:1 lost_wakeup:2 check_then_act:2)
# In a sanitized build a thread's code before its first schedule point runs
# as soon as the thread is created (docs/exploration.md, "Determinism"); in
# these two the racy load is there, so every PCT run shows the bug whatever
# the schedule (100 of 100 at every depth, in the TSan tree as in the ASan
# one) and the figures would measure nothing.
if(NOT RACEGATE_SANITIZER)
  list(APPEND RACEGATE_EXPLORE_BUGS atomicity_violation:2 double_checked_init:2)
endif()
# Two bugs TSan reports in every plain run, so that exploring them under TSan
# measures nothing: the producer's read after the hand-off is unsynchronized
# with the consumer's free, and TSan's lock-order detector sees both orders of
# the two mutexes whether or not the threads deadlock.
if(NOT RACEGATE_SANITIZER STREQUAL "thread")
  list(APPEND RACEGATE_EXPLORE_BUGS queue_use_after_free:1 lock_order_deadlock:2)
endif()
set(RACEGATE_EXPLORE_DIR ${CMAKE_CURRENT_BINARY_DIR}/explore-programs)
function(racegate_explore_program name)
  add_executable(explore_${name} explore/${name}.cpp)
  set_target_properties(explore_${name} PROPERTIES OUTPUT_NAME ${name}
                        RUNTIME_OUTPUT_DIRECTORY ${RACEGATE_EXPLORE_DIR})
  target_link_libraries(explore_${name} PRIVATE Threads::Threads racegate_project_options)
endfunction()
# racegate_explore_bugs(ENTRIES LIBS...): builds each bug:depth entry's
# program, linked with LIBS, and registers its explore_<bug> test.
function(racegate_explore_bugs entries)
  foreach(entry ${entries})
    string(REPLACE ":" ";" parts ${entry})
    list(GET parts 0 bug)
    list(GET parts 1 depth)
    racegate_explore_program(${bug})
    if(ARGN)
      target_link_libraries(explore_${bug} PRIVATE ${ARGN})
    endif()
    add_test(NAME explore_${bug}
      COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/explore_test.py bug
              $<TARGET_FILE:racegate_explore_preload> $<TARGET_FILE:explore_${bug}> ${depth}
              $<$<BOOL:${RACEGATE_SANITIZER}>:sanitized>)
    set_tests_properties(explore_${bug} PROPERTIES LABELS explore TIMEOUT 300)
  endforeach()
endfunction()
racegate_explore_bugs("${RACEGATE_EXPLORE_BUGS}")
racegate_explore_program(spin_without_points)

# Timed waits end at their deadline (never earlier) and process-shared
# objects are woken by another process, under PCT, for a few seeds.
racegate_explore_program(timed_and_shared)
foreach(seed 1 2 3)
  add_test(NAME explore_timed_and_shared_${seed}
    COMMAND ${CMAKE_COMMAND} -E env LD_PRELOAD=$<TARGET_FILE:racegate_explore_preload>
            RACEGATE_EXPLORE=mode=pct,seed=${seed},depth=3 ASAN_OPTIONS=detect_leaks=0
            $<TARGET_FILE:explore_timed_and_shared>)
  set_tests_properties(explore_timed_and_shared_${seed} PROPERTIES LABELS explore TIMEOUT 60)
endforeach()

# The same kinds of bug on the reference's own primitives (threading::Lock,
# Condition, Thread), which block on futexes the preload library cannot see:
# PCT finds them only through the reference's schedule points and blocking
# hooks, which the program drives from the engine (explore_bridge.h).
set(RACEGATE_EXPLORE_REF_BUGS ref_order_violation:1 ref_lock_order_deadlock:2 ref_lost_wakeup:2)
racegate_explore_bugs("${RACEGATE_EXPLORE_REF_BUGS}" racegate_harness racegate::reference)

# The preload library itself: the time slice, a TSan-built racy program
# still reported under it (tests/gate/one_race.cpp is built with TSan in
# every tree), bad configuration, and the off mode.
add_test(NAME explore_preload
  COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/explore_test.py preload
          $<TARGET_FILE:racegate_explore_preload> $<TARGET_FILE:explore_spin_without_points>
          $<TARGET_FILE:gate_one_race> $<TARGET_FILE:explore_order_violation>)
set_tests_properties(explore_preload PROPERTIES LABELS explore TIMEOUT 300)

# racegate gate --explore: two planted bugs PCT finds most often in this
# tree's variant, at their depth (docs/exploration.md's tables), and a
# program without a bug. Not in the ASan tree: there a PCT schedule does not
# replay exactly (ASan's thread-start interceptor runs outside the schedule),
# so the test's replay checks would depend on chance; the gate flags such a
# replay as diverged, which explore_gate checks in the other trees.
racegate_explore_program(locked_counter)
if(RACEGATE_SANITIZER STREQUAL "thread")
  set(RACEGATE_EXPLORE_GATE_BUGS order_violation:1 ref_order_violation:1)
elseif(RACEGATE_SANITIZER STREQUAL "address")
  set(RACEGATE_EXPLORE_GATE_BUGS lost_wakeup:2 order_violation:1)
else()
  set(RACEGATE_EXPLORE_GATE_BUGS order_violation:1 queue_use_after_free:1)
endif()
# tests/gate/one_race (TSan-built in every tree): a sanitizer's finding in
# the runs, deduplicated and judged against the baseline.
set(RACEGATE_EXPLORE_GATE_ARGS race=$<TARGET_FILE:gate_one_race>)
# A lock-order deadlock: the scheduler's deadlock as an outcome of the gate
# (in the TSan tree the one on the reference's Locks, whose order TSan does
# not watch).
if(RACEGATE_SANITIZER STREQUAL "thread")
  list(APPEND RACEGATE_EXPLORE_GATE_ARGS hang=$<TARGET_FILE:explore_ref_lock_order_deadlock>)
else()
  list(APPEND RACEGATE_EXPLORE_GATE_ARGS hang=$<TARGET_FILE:explore_lock_order_deadlock>)
endif()
foreach(entry ${RACEGATE_EXPLORE_GATE_BUGS})
  string(REPLACE ":" ";" parts ${entry})
  list(GET parts 0 bug)
  list(GET parts 1 depth)
  list(APPEND RACEGATE_EXPLORE_GATE_ARGS $<TARGET_FILE:explore_${bug}> ${depth})
endforeach()
if(NOT RACEGATE_SANITIZER STREQUAL "address")
  add_test(NAME explore_gate
    COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/explore_gate_test.py
            $<TARGET_FILE:racegate> $<TARGET_FILE:explore_locked_counter> ${RACEGATE_EXPLORE_GATE_ARGS})
  set_tests_properties(explore_gate PROPERTIES LABELS explore TIMEOUT 300)
endif()

# racegate run --explore and racegate replay TOKEN: planted-bug cases (an
# order violation PCT finds at depth 1, and a correct case) in a case binary
# of this tree's variant (RACEGATE_PREBUILT_VARIANT, cmake/RacegateInstall.cmake),
# and one of the project's own cases.
racegate_add_cases(racegate_explore_planted explore/planted_cases.cpp)
set_target_properties(racegate_explore_planted PROPERTIES OUTPUT_NAME racegate-explore-planted)
target_include_directories(racegate_explore_planted PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/explore)
add_test(NAME explore_run
  COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/explore_run_test.py
          $<TARGET_FILE:racegate> $<TARGET_FILE:racegate_explore_planted> ${RACEGATE_PREBUILT_VARIANT}
          $<TARGET_FILE:racegate_cases>)
set_tests_properties(explore_run PROPERTIES LABELS explore TIMEOUT 600)
