# The runner and the gate under a broken environment and under load
# (tests/env_faults_test.py, tests/load_test.py).

# A ThreadSanitizer program whose runtime is a shared library the loader must
# find (g++ links libtsan.so dynamically; clang needs -shared-libsan): the
# fault test shadows that library with a broken one.
add_executable(reliability_shared_runtime gate/one_race.cpp)
set_target_properties(reliability_shared_runtime PROPERTIES OUTPUT_NAME one_race_shared_runtime
                      RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/reliability-programs)
set(_shared_runtime_flags -fsanitize=thread)
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  list(APPEND _shared_runtime_flags -shared-libsan)
endif()
target_compile_options(reliability_shared_runtime PRIVATE -fsanitize=thread -g -O1 -fno-omit-frame-pointer)
target_link_options(reliability_shared_runtime PRIVATE ${_shared_runtime_flags})
target_link_libraries(reliability_shared_runtime PRIVATE Threads::Threads)

# A missing or non-executable case binary, a sanitizer runtime that cannot
# be loaded (run and gate), a missing symbolizer (run and gate).
add_test(NAME env_faults
  COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/env_faults_test.py $<TARGET_FILE:racegate>
          $<TARGET_FILE:racegate_misbehaving> $<TARGET_FILE:reliability_shared_runtime>
          $<TARGET_FILE:gate_one_race>)
set_tests_properties(env_faults PROPERTIES LABELS unit TIMEOUT 300 RESOURCE_LOCK misbehaving_processes)

# 2,000 units at --jobs 1, 2 and 8: verdicts, the runner's memory and its
# file descriptors. In the plain tree only: there the three runs take about
# 25 s; with the TSan-built runner and cases one run of 2,000 units alone
# took over 3 minutes on the 2-core CI machine.
if(RACEGATE_SANITIZER STREQUAL "")
  add_test(NAME load_2000_units
    COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/load_test.py $<TARGET_FILE:racegate>
            $<TARGET_FILE:racegate_misbehaving>)
  set_tests_properties(load_2000_units PROPERTIES LABELS unit TIMEOUT 600 RESOURCE_LOCK misbehaving_processes)
endif()
