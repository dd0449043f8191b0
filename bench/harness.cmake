# racegate-bench-harness: Google Benchmark of the harness's own costs that are
# worth a C++ benchmark (the sanitizer-log parser on a ~50 MB TSan log made
# from the real fixture logs in tests/fixtures/). The runner's and the gate's
# overheads are measured end to end by bench/compare (docs/bench.md).
add_executable(racegate_bench_harness harness_parse.cpp)
set_target_properties(racegate_bench_harness PROPERTIES OUTPUT_NAME racegate-bench-harness)
target_link_libraries(racegate_bench_harness PRIVATE
  "$<LINK_LIBRARY:WHOLE_ARCHIVE,racegate_reports>" benchmark::benchmark racegate_warnings)
target_compile_definitions(racegate_bench_harness PRIVATE
  RACEGATE_FIXTURES_DIR="${PROJECT_SOURCE_DIR}/tests/fixtures")

# racegate-bench-spawn: N posix_spawn+waitpid of a command, as the runner
# starts a unit; the floor bench/compare subtracts from the runner's cost.
add_executable(racegate_bench_spawn spawn_loop.cpp)
set_target_properties(racegate_bench_spawn PROPERTIES OUTPUT_NAME racegate-bench-spawn)
target_link_libraries(racegate_bench_spawn PRIVATE racegate_warnings)

# racegate-bench-explore-point: N schedule points in one thread (the
# reference's hook check, the engine's point in each mode, or pthread mutex
# pairs for a run under the preload library), counted by
# bench/explore_overhead.sh under callgrind. Instructions, not time: the
# figures do not depend on the machine's load.
add_executable(racegate_bench_explore_point explore_point_cost.cpp)
set_target_properties(racegate_bench_explore_point PROPERTIES OUTPUT_NAME racegate-bench-explore-point)
target_compile_options(racegate_bench_explore_point PRIVATE -O2)
target_link_libraries(racegate_bench_explore_point PRIVATE
  racegate::explore racegate::reference Threads::Threads racegate_warnings)
