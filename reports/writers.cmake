# Sources of the report writers (appended to RACEGATE_REPORTS_SOURCES).
list(APPEND RACEGATE_REPORTS_SOURCES)
