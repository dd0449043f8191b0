# Sources of the reference's manager area (appended to RACEGATE_REFERENCE_SOURCES, paths relative to reference/).
list(APPEND RACEGATE_REFERENCE_SOURCES
  src/manager_auth.cpp
  src/manager_client.cpp
  src/manager_process.cpp
  src/manager_protocol.cpp
  src/manager_proxy.cpp
  src/manager_server.cpp
)
