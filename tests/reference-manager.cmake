# Tests of the reference's manager area (racegate_add_test calls).
racegate_add_test(manager_test
  SOURCES manager_test.cpp manager_model_test.cpp manager_auth_test.cpp
  LABELS unit)
