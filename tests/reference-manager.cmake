# Tests of the reference's manager area (racegate_add_test calls).
