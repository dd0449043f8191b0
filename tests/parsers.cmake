# Tests of the sanitizer log parsers (racegate_add_test calls).
