# racegate as an installed CMake package (docs/package.md): installs this
# tree into a temporary prefix, builds tests/consumer/ against it with
# find_package(racegate) in the plain, tsan and asan variants and runs its
# cases with the installed runner (tests/consumer_test.sh). Once, in the
# plain tree: the consumer builds its own sanitized variants.
#
# The consumer is compiled with clang 14 when there is one (the compiler of
# the sanitizer presets; it builds the consumer in about two thirds of gcc's
# time, and links the gcc-built plain libraries unchanged), else with this
# tree's compiler. It builds with -j2, so it declares both processors.
if(NOT RACEGATE_SANITIZER)
  find_program(RACEGATE_CONSUMER_CXX NAMES clang++-14
    DOC "C++ compiler of the consumer_package test's consumer project")
  set(_racegate_consumer_cxx ${RACEGATE_CONSUMER_CXX})
  if(NOT _racegate_consumer_cxx)
    set(_racegate_consumer_cxx ${CMAKE_CXX_COMPILER})
  endif()
  add_test(NAME consumer_package
    COMMAND ${CMAKE_CURRENT_LIST_DIR}/consumer_test.sh ${CMAKE_COMMAND} ${PROJECT_BINARY_DIR}
            ${CMAKE_CURRENT_LIST_DIR}/consumer ${_racegate_consumer_cxx} ${CMAKE_GENERATOR}
            ${CMAKE_MAKE_PROGRAM})
  set_tests_properties(consumer_package PROPERTIES LABELS package TIMEOUT 900 PROCESSORS 2)
endif()
