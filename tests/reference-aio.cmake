# Tests of the reference's aio area (racegate_add_test calls).
