# Tests of the reference's sync area (racegate_add_test calls).
racegate_add_test(sync_test
  SOURCES sync_test.cpp sync_mp_test.cpp sync_owner_death_test.cpp
  LABELS unit)
racegate_add_test(sync_model_test SOURCES sync_model_test.cpp LABELS unit)

# The reference under faults: processes killed holding or waiting on a
# semaphore, a queue's internal lock, a pipe; the Manager's private socket,
# its handshake, seeded garbage and malformed requests, a killed server; the
# shared memory left after a SIGKILL (none).
racegate_add_test(reference_faults_test
  SOURCES reference_faults_test.cpp reference_faults_manager_test.cpp
  LABELS unit)
