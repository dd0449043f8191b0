# Sources of the reference's manager area (appended to RACEGATE_REFERENCE_SOURCES, paths relative to reference/).
list(APPEND RACEGATE_REFERENCE_SOURCES)
