# Tests of the report writers (racegate_add_test calls).
