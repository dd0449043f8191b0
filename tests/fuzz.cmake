# libFuzzer targets of the other parsers, beside parse_fuzzer
# (tests/parsers.cmake): the result-pipe message judged by the runner, the
# results.jsonl / report.json reader of `racegate report` and `merge`, the
# gate's baseline, and the TSan suppressions and ignore list files. Clang
# only (the tsan and asan presets). Each gets a bounded smoke test; with
# parse_fuzzer's 15 s they stay under a minute in all. A longer campaign:
# docs/fuzzing.md.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  return()
endif()

get_target_property(_rg_reports_dir racegate_reports SOURCE_DIR)

# racegate_add_fuzzer(NAME SOURCES... SEEDS dir [MAX_TIME s])
# The sources under test are compiled into the fuzzer with -fsanitize=fuzzer
# so that libFuzzer sees their coverage.
function(racegate_add_fuzzer name)
  cmake_parse_arguments(ARG "" "SEEDS;MAX_TIME" "SOURCES" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}
    $<TARGET_PROPERTY:racegate_reports,INTERFACE_INCLUDE_DIRECTORIES>)
  target_link_libraries(${name} PRIVATE racegate_project_options nlohmann_json::nlohmann_json fmt::fmt)
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  add_test(NAME ${name}_smoke
    COMMAND ${CMAKE_COMMAND}
      -DFUZZER=$<TARGET_FILE:${name}>
      -DSEEDS=${ARG_SEEDS} "-DSEED_GLOB=*"
      -DWORK=${CMAKE_CURRENT_BINARY_DIR}/${name}_smoke
      -DRUNS=200000 -DMAX_TIME=${ARG_MAX_TIME}
      -P ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run_smoke.cmake)
  set_tests_properties(${name}_smoke PROPERTIES LABELS "fuzz" TIMEOUT 120)
endfunction()

set(_rg_model ${_rg_reports_dir}/src/model_json.cpp ${_rg_reports_dir}/src/results_file.cpp)
racegate_add_fuzzer(result_fuzzer
  SOURCES fuzz/result_fuzzer.cpp ${PROJECT_SOURCE_DIR}/harness/src/runner/verdict.cpp ${_rg_model}
  SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/seeds/result MAX_TIME 7)
racegate_add_fuzzer(results_fuzzer
  SOURCES fuzz/results_fuzzer.cpp ${_rg_model}
  SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/seeds/results MAX_TIME 7)
racegate_add_fuzzer(baseline_fuzzer
  SOURCES fuzz/baseline_fuzzer.cpp ${_rg_reports_dir}/src/baseline.cpp ${_rg_model}
  SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/seeds/baseline MAX_TIME 7)
racegate_add_fuzzer(suppressions_fuzzer
  SOURCES fuzz/suppressions_fuzzer.cpp ${_rg_reports_dir}/src/baseline.cpp ${_rg_model}
  SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/seeds/suppressions MAX_TIME 7)
