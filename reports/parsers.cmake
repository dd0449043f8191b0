# Sources of the sanitizer log parsers (appended to RACEGATE_REPORTS_SOURCES).
list(APPEND RACEGATE_REPORTS_SOURCES src/parse.cpp src/parse_finalize.cpp)
