# Tests of the reference's sync area (racegate_add_test calls).
racegate_add_test(sync_test
  SOURCES sync_test.cpp sync_mp_test.cpp sync_owner_death_test.cpp
  LABELS unit)
racegate_add_test(sync_model_test SOURCES sync_model_test.cpp LABELS unit)
