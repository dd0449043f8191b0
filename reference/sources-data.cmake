# Sources of the reference's data area (appended to RACEGATE_REFERENCE_SOURCES, paths relative to reference/).
# Queues (mp::Queue, JoinableQueue, SimpleQueue share data_ring.cpp) and Pipe/Connection.
list(APPEND RACEGATE_REFERENCE_SOURCES
  src/data_connection.cpp
  src/data_ring.cpp
)
