# Tests of the reference's pool area (racegate_add_test calls).
