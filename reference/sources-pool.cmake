# Sources of the reference's pool area (appended to RACEGATE_REFERENCE_SOURCES, paths relative to reference/).
# mp::Pool (fork server, workers, handler thread), mp::ThreadPool, AsyncResult
# and the imap iterators; headers: include/racegate/mp/{pool,thread_pool,async_result}.h
# and include/racegate/internal/pool_*.h.
list(APPEND RACEGATE_REFERENCE_SOURCES
  src/pool_common.cpp
  src/pool_process.cpp
  src/pool_thread.cpp
)
