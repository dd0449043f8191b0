# Tests of the reference's aio area (racegate_add_test calls).
racegate_add_test(aio_test SOURCES aio_test.cpp LABELS unit)
