# Sources of the reference's sync area (appended to RACEGATE_REFERENCE_SOURCES, paths relative to reference/).
list(APPEND RACEGATE_REFERENCE_SOURCES)
