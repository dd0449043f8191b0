# Bad input and a broken output directory (racegate_add_test calls).

# Reports are safe to open: a run whose every text field is hostile (markup,
# quotes, "]]>", NUL, ESC, U+2028, bytes that are not UTF-8) through every
# writer, each output checked by a real parser (nlohmann, xmllint) ...
racegate_add_test(report_safety_test SOURCES report_safety_test.cpp LABELS unit
  LIBS "$<LINK_LIBRARY:WHOLE_ARCHIVE,racegate_reports>")
# ... and its report.html in headless Chromium: no payload runs.
add_test(NAME report_safety_html
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/report_safety_html.sh $<TARGET_FILE:report_safety_test>)
set_tests_properties(report_safety_html PROPERTIES LABELS unit TIMEOUT 180)

# Malformed input files and command lines, and a full, read-only, replaced or
# vanished output directory, through the racegate CLI: exit 2, file:line in
# the message, earlier reports byte for byte as they were. As root (CI) it
# also mounts a small tmpfs and uses chattr +i.
add_test(NAME bad_input_cli
  COMMAND python3 ${CMAKE_CURRENT_SOURCE_DIR}/bad_input_test.py $<TARGET_FILE:racegate>
          $<TARGET_FILE:racegate_misbehaving>)
set_tests_properties(bad_input_cli PROPERTIES LABELS unit TIMEOUT 300 RESOURCE_LOCK misbehaving_processes)
