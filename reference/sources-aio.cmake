# Sources of the reference's aio area (appended to RACEGATE_REFERENCE_SOURCES, paths relative to reference/).
list(APPEND RACEGATE_REFERENCE_SOURCES
  src/aio_future.cpp
  src/aio_loop.cpp
)
