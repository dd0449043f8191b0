# Sources of the report writers (appended to RACEGATE_REPORTS_SOURCES).
# Each write_*.cpp registers one reporter (RG_REGISTER_REPORTER); xml_escape.cpp
# is the escaping markup writer shared by junit and html, write_common.cpp the
# ordering, path and formatting helpers they all share.
list(APPEND RACEGATE_REPORTS_SOURCES
  src/xml_escape.cpp
  src/write_common.cpp
  src/write_json.cpp
  src/write_junit.cpp
  src/write_sarif.cpp
  src/write_md.cpp
  src/write_html.cpp
)
