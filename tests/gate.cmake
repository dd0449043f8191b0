# `racegate gate` over the project's own small programs (tests/gate/): each
# built with the sanitizer it needs, whatever the preset, then gated by
# tests/gate_test.py (expected findings, counts, locations, exit codes, the
# baseline round trip and bad input).
set(RACEGATE_GATE_TSAN_PROGRAMS race_free one_race two_races lock_order thread_leak fork_race)
set(RACEGATE_GATE_PROGRAM_TARGETS)
function(racegate_gate_program name sanitizers)
  add_executable(gate_${name} gate/${name}.cpp)
  set_target_properties(gate_${name} PROPERTIES OUTPUT_NAME ${name} RUNTIME_OUTPUT_DIRECTORY
                        ${CMAKE_CURRENT_BINARY_DIR}/gate-programs)
  target_compile_options(gate_${name} PRIVATE -fsanitize=${sanitizers} -g -O1 -fno-omit-frame-pointer)
  target_link_options(gate_${name} PRIVATE -fsanitize=${sanitizers})
  target_link_libraries(gate_${name} PRIVATE Threads::Threads)
endfunction()
foreach(p ${RACEGATE_GATE_TSAN_PROGRAMS})
  racegate_gate_program(${p} thread)
endforeach()
racegate_gate_program(heap_use_after_free address)
racegate_gate_program(ubsan_overflow undefined)

add_test(NAME gate
  COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/gate_test.py $<TARGET_FILE:racegate>
          ${CMAKE_CURRENT_BINARY_DIR}/gate-programs ${CMAKE_CURRENT_SOURCE_DIR}/gate)
set_tests_properties(gate PROPERTIES LABELS unit TIMEOUT 600)

racegate_add_test(baseline_test SOURCES baseline_test.cpp LABELS unit
  LIBS "$<LINK_LIBRARY:WHOLE_ARCHIVE,racegate_reports>")
