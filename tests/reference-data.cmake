# Tests of the reference's data area (racegate_add_test calls).
#
# data_test: mp::Queue / JoinableQueue / SimpleQueue across forked processes,
# mp::Pipe / Connection, mp::Value / Array, the thread-level racegate::queue
# types, and model-based (rc::state) tests of all of them.
racegate_add_test(data_test
  SOURCES
    data_test.cpp
    data_pipe_test.cpp
    data_value_test.cpp
    data_thread_queue_test.cpp
    data_model_test.cpp
  LABELS unit)

# Compile-time rejection of inherit-only values: each snippet in
# data_compile_fail/ serializes a Lock, Event, Connection, Queue or Value and
# must fail to compile with serialize.h's message (CPython raises the same
# text at run time). serialize_ok.cpp is the control: the same command line
# compiles ordinary values. The compiler is this tree's, without sanitizers.
set(_data_cf_dir ${CMAKE_CURRENT_SOURCE_DIR}/data_compile_fail)
set(_data_cf_command
  ${CMAKE_CXX_COMPILER} -std=c++20 -fsyntax-only
  -I${PROJECT_SOURCE_DIR}/reference/include
  "-I$<JOIN:$<TARGET_PROPERTY:cereal::cereal,INTERFACE_INCLUDE_DIRECTORIES>,;-I>")
foreach(snippet serialize_lock serialize_event serialize_connection serialize_queue serialize_value)
  add_test(NAME data_compile_fail.${snippet}
    COMMAND ${_data_cf_command} ${_data_cf_dir}/${snippet}.cpp
    COMMAND_EXPAND_LISTS)
  # Passes only when the output carries the message (a successful compile
  # prints nothing; a compile that fails for another reason lacks it).
  set_tests_properties(data_compile_fail.${snippet} PROPERTIES
    PASS_REGULAR_EXPRESSION "should only be shared between processes through inheritance"
    LABELS unit TIMEOUT 120)
endforeach()
add_test(NAME data_compile_fail.serialize_ok_control
  COMMAND ${_data_cf_command} ${_data_cf_dir}/serialize_ok.cpp
  COMMAND_EXPAND_LISTS)
set_tests_properties(data_compile_fail.serialize_ok_control PROPERTIES LABELS unit TIMEOUT 120)
