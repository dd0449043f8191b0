# Tests of the reference's data area (racegate_add_test calls).
