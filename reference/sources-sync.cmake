# Sources of the reference's sync area (appended to RACEGATE_REFERENCE_SOURCES, paths relative to reference/).
list(APPEND RACEGATE_REFERENCE_SOURCES
  src/sync_barrier.cpp
  src/sync_condition.cpp
  src/sync_ids.cpp
  src/sync_local.cpp
  src/sync_rlock.cpp
  src/sync_semaphore.cpp
  src/sync_timer.cpp
)
