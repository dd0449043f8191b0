# Tests of the reference's sync area (racegate_add_test calls).
