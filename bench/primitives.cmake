# racegate-bench-primitives: Google Benchmark programs of the reference's
# primitives beside their raw floors (the workloads, implementations and
# placements are in docs/bench-workloads.md). One executable; the sources are
# split by area: bench/primitives_*.cpp, with bench/bench_support.h.
# "bench_support.h" is found beside the sources: bench/ must not be an include
# directory (bench/compare would shadow the standard <compare> header).
# Built -O2 whatever the build type: a benchmark of an unoptimized build
# measures the compiler.
add_executable(racegate_bench_primitives
  ${CMAKE_CURRENT_SOURCE_DIR}/primitives_main.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/primitives_queue.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/primitives_pipe.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/primitives_sync.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/primitives_process.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/primitives_threads.cpp
)
set_target_properties(racegate_bench_primitives PROPERTIES OUTPUT_NAME racegate-bench-primitives)
target_compile_options(racegate_bench_primitives PRIVATE -O2)
target_link_libraries(racegate_bench_primitives PRIVATE
  racegate::reference
  benchmark::benchmark
  Boost::headers
  Threads::Threads
  racegate_warnings)
