# Tests of the reference's manager area (racegate_add_test calls).
racegate_add_test(manager_test
  SOURCES manager_test.cpp manager_model_test.cpp manager_auth_test.cpp
  LABELS unit)

# libFuzzer target for the Manager's request and reply decoders: clang only
# (the tsan and asan presets), as parse_fuzzer. The protocol source is
# compiled into the fuzzer with -fsanitize=fuzzer so that libFuzzer sees its
# coverage. The smoke run starts from an empty corpus in memory and is
# bounded in runs and time; crashing inputs land in the build directory.
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  add_executable(manager_request_fuzzer fuzz/manager_request_fuzzer.cpp
    ${PROJECT_SOURCE_DIR}/reference/src/manager_protocol.cpp)
  target_link_libraries(manager_request_fuzzer PRIVATE racegate::reference racegate_project_options)
  target_compile_options(manager_request_fuzzer PRIVATE -fsanitize=fuzzer)
  target_link_options(manager_request_fuzzer PRIVATE -fsanitize=fuzzer)
  add_test(NAME manager_request_fuzzer_smoke
    COMMAND manager_request_fuzzer -runs=200000 -max_total_time=10 -max_len=4096 -timeout=10
            -rss_limit_mb=2048 -print_final_stats=1
            -artifact_prefix=${CMAKE_CURRENT_BINARY_DIR}/manager_request_fuzzer-)
  set_tests_properties(manager_request_fuzzer_smoke PROPERTIES LABELS "fuzz" TIMEOUT 120)
endif()
