# Tests of the report writers (racegate_add_test calls).
#
# writers_test: approval tests against tests/golden/*.approved and targeted
# checks of each format (RACEGATE_UPDATE_GOLDEN=1 rewrites the goldens).
racegate_add_test(writers_test SOURCES writers_test.cpp LABELS unit
  LIBS "$<LINK_LIBRARY:WHOLE_ARCHIVE,racegate_reports>")
target_compile_definitions(writers_test PRIVATE
  RACEGATE_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
  RACEGATE_TEST_BINARY_DIR="${CMAKE_CURRENT_BINARY_DIR}")

# The sample run's racegate.sarif against the OASIS SARIF 2.1.0 schema and its
# junit.xml against Jenkins' JUnit XSD (tests/schemas/README.md).
add_test(NAME writers_schema_check
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/schema_check.sh $<TARGET_FILE:writers_test>
          ${CMAKE_CURRENT_SOURCE_DIR}/schemas)
set_tests_properties(writers_schema_check PROPERTIES LABELS unit TIMEOUT 120)

# The sample run's report.html rendered by headless Chromium: it must render
# the table, the histogram and both race stacks, with no console error.
add_test(NAME writers_html_render
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/html_render_test.sh $<TARGET_FILE:writers_test>)
set_tests_properties(writers_html_render PROPERTIES LABELS unit TIMEOUT 180)
