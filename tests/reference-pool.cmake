# Tests of the reference's pool area (racegate_add_test calls).
racegate_add_test(pool_test SOURCES pool_test.cpp LABELS unit)
