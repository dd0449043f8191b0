# Tests of the sanitizer log parsers (racegate_add_test calls).
#
# parse_test reads the real sanitizer logs in tests/fixtures/ (made by
# tests/fixtures/regenerate.sh; the fixture programs are not built here).
racegate_add_test(parse_test SOURCES parse_test.cpp LABELS unit
  LIBS "$<LINK_LIBRARY:WHOLE_ARCHIVE,racegate_reports>")
target_compile_definitions(parse_test PRIVATE
  RACEGATE_FIXTURES_DIR="${CMAKE_CURRENT_SOURCE_DIR}/fixtures")

# libFuzzer target for the parsers: clang only (the tsan and asan presets).
# The parser sources are compiled into the fuzzer itself with
# -fsanitize=fuzzer so that libFuzzer sees their coverage; the preset's own
# sanitizer (thread or address+undefined) comes with racegate_project_options.
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  get_target_property(_racegate_reports_sources racegate_reports SOURCES)
  get_target_property(_racegate_reports_dir racegate_reports SOURCE_DIR)
  set(_racegate_parse_sources)
  foreach(_src IN LISTS _racegate_reports_sources)
    if(_src MATCHES "(^|/)src/parse[^/]*\\.cpp$")
      list(APPEND _racegate_parse_sources "${_racegate_reports_dir}/${_src}")
    endif()
  endforeach()
  add_executable(parse_fuzzer fuzz/parse_fuzzer.cpp ${_racegate_parse_sources})
  target_include_directories(parse_fuzzer PRIVATE
    $<TARGET_PROPERTY:racegate_reports,INTERFACE_INCLUDE_DIRECTORIES>)
  target_link_libraries(parse_fuzzer PRIVATE racegate_project_options nlohmann_json::nlohmann_json)
  target_compile_options(parse_fuzzer PRIVATE -fsanitize=fuzzer)
  target_link_options(parse_fuzzer PRIVATE -fsanitize=fuzzer)

  # Bounded smoke run: the fixtures as seed corpus, copied to a scratch
  # directory so that libFuzzer's new inputs never land in the source tree.
  add_test(NAME parse_fuzzer_smoke
    COMMAND ${CMAKE_COMMAND}
      -DFUZZER=$<TARGET_FILE:parse_fuzzer>
      -DSEEDS=${CMAKE_CURRENT_SOURCE_DIR}/fixtures
      -DWORK=${CMAKE_CURRENT_BINARY_DIR}/parse_fuzzer_smoke
      -DRUNS=50000 -DMAX_TIME=15
      -P ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/run_smoke.cmake)
  set_tests_properties(parse_fuzzer_smoke PROPERTIES LABELS "fuzz" TIMEOUT 120)
endif()
