# `racegate doctor` (harness/src/runner/doctor.cpp): the sanitizers of this
# machine's clang see their planted bugs, the cache works, and the doctor
# fails for a compiler that drops -fsanitize flags and for a missing one.
add_test(NAME doctor COMMAND ${CMAKE_CURRENT_LIST_DIR}/doctor_test.sh $<TARGET_FILE:racegate>)
set_tests_properties(doctor PROPERTIES LABELS unit TIMEOUT 300)
