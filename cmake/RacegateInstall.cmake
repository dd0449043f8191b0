# Install rules: racegate as a CMake package (docs/package.md).
#
# `cmake --install <tree>` puts in the prefix:
#   bin/racegate                              the runner (racegate::racegate)
#   bin/libracegate-explore.so                the exploration's preload library
#   lib/libracegate_{reference,harness}.a     this tree's libraries, in this
#                                             tree's variant (racegate::reference,
#                                             racegate::harness)
#   include/racegate/...                      the public headers of both
#   share/racegate/src/{reference,harness}/   their sources, from which a
#                                             consumer's racegate_add_cases()
#                                             compiles the other variants
#   lib/cmake/racegate/                       the package config
#
# A sanitized case binary needs the harness and reference compiled with its
# sanitizer, so one prebuilt library cannot serve all three variants: the
# prebuilt one serves the variant it was built as, the sources every other.
# racegate::reports is not installed: the runner links it statically and case
# binaries do not need it.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

if(RACEGATE_SANITIZER STREQUAL "thread")
  set(RACEGATE_PREBUILT_VARIANT tsan)
elseif(RACEGATE_SANITIZER STREQUAL "address")
  set(RACEGATE_PREBUILT_VARIANT asan)
else()
  set(RACEGATE_PREBUILT_VARIANT plain)
endif()

set(RACEGATE_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/racegate)
set(RACEGATE_INSTALL_SRCDIR ${CMAKE_INSTALL_DATADIR}/racegate/src)
set(RACEGATE_PACKAGE_DIR ${CMAKE_CURRENT_LIST_DIR}/package)

set_target_properties(racegate_reference PROPERTIES EXPORT_NAME reference)
set_target_properties(racegate_harness PROPERTIES EXPORT_NAME harness)
set_target_properties(racegate PROPERTIES EXPORT_NAME racegate)

# A sanitized tree's libraries carry their sanitizer to whoever links the
# installed targets directly (in the build tree racegate_project_options does).
if(RACEGATE_PREBUILT_VARIANT STREQUAL "tsan")
  foreach(t racegate_reference racegate_harness)
    target_compile_options(${t} INTERFACE $<INSTALL_INTERFACE:-fsanitize=thread>)
    target_link_options(${t} INTERFACE $<INSTALL_INTERFACE:-fsanitize=thread>)
    target_compile_definitions(${t} INTERFACE $<INSTALL_INTERFACE:RACEGATE_SANITIZER_THREAD=1>)
  endforeach()
elseif(RACEGATE_PREBUILT_VARIANT STREQUAL "asan")
  foreach(t racegate_reference racegate_harness)
    target_compile_options(${t} INTERFACE
      $<INSTALL_INTERFACE:-fsanitize=address$<COMMA>undefined>
      $<INSTALL_INTERFACE:-fno-omit-frame-pointer>)
    target_link_options(${t} INTERFACE $<INSTALL_INTERFACE:-fsanitize=address$<COMMA>undefined>)
    target_compile_definitions(${t} INTERFACE $<INSTALL_INTERFACE:RACEGATE_SANITIZER_ADDRESS=1>)
  endforeach()
endif()

install(TARGETS racegate_reference racegate_harness racegate
  EXPORT racegateTargets
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The exploration's preload library, beside the runner: `racegate gate
# --explore` looks for it there.
install(TARGETS racegate_explore_preload LIBRARY DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/reference/include/ ${PROJECT_SOURCE_DIR}/harness/include/
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h" PATTERN "*.hpp")
install(EXPORT racegateTargets
  NAMESPACE racegate::
  DESTINATION ${RACEGATE_INSTALL_CMAKEDIR}
  FILE racegateTargets.cmake)

# The sources of a target, installed under share/racegate/src/<subdir>/ with
# the layout they have in the tree; <outvar> gets their installed paths
# relative to share/racegate/src. Read from the target, so that a source
# added to reference/ or harness/ is installed without touching this file.
function(_racegate_install_target_sources target subdir outvar)
  get_target_property(sources ${target} SOURCES)
  get_target_property(dir ${target} SOURCE_DIR)
  set(installed)
  foreach(s IN LISTS sources)
    if(s MATCHES "^\\$<")
      message(WARNING "racegate: ${target} has a generator-expression source (${s}); "
                      "the installed package cannot compile it from source")
      continue()
    endif()
    if(NOT IS_ABSOLUTE "${s}")
      set(s "${dir}/${s}")
    endif()
    file(RELATIVE_PATH rel "${dir}" "${s}")
    get_filename_component(reldir "${rel}" DIRECTORY)
    install(FILES "${s}" DESTINATION "${RACEGATE_INSTALL_SRCDIR}/${subdir}/${reldir}")
    if(rel MATCHES "\\.(c|cc|cpp|cxx)$")
      list(APPEND installed "${subdir}/${rel}")
    endif()
  endforeach()
  set(${outvar} "${installed}" PARENT_SCOPE)
endfunction()

_racegate_install_target_sources(racegate_reference reference RACEGATE_PKG_REFERENCE_SOURCES)
_racegate_install_target_sources(racegate_harness harness RACEGATE_PKG_HARNESS_SOURCES)
_racegate_install_target_sources(racegate_case_main harness RACEGATE_PKG_CASE_MAIN_SOURCES)

set(_racegate_sources_file ${PROJECT_BINARY_DIR}/racegate-package/racegateSources.cmake)
file(CONFIGURE OUTPUT ${_racegate_sources_file} CONTENT
"# Generated by racegate's cmake/RacegateInstall.cmake: the installed sources,
# relative to RACEGATE_PACKAGE_SOURCE_DIR (share/racegate/src).
set(RACEGATE_REFERENCE_SOURCES \"@RACEGATE_PKG_REFERENCE_SOURCES@\")
set(RACEGATE_HARNESS_SOURCES \"@RACEGATE_PKG_HARNESS_SOURCES@\")
set(RACEGATE_CASE_MAIN_SOURCES \"@RACEGATE_PKG_CASE_MAIN_SOURCES@\")
" @ONLY)

configure_package_config_file(${RACEGATE_PACKAGE_DIR}/racegateConfig.cmake.in
  ${PROJECT_BINARY_DIR}/racegate-package/racegateConfig.cmake
  INSTALL_DESTINATION ${RACEGATE_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR RACEGATE_INSTALL_SRCDIR)
# 0.x: a minor version may break the package's interface.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/racegate-package/racegateConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/racegate-package/racegateConfig.cmake
  ${PROJECT_BINARY_DIR}/racegate-package/racegateConfigVersion.cmake
  ${_racegate_sources_file}
  ${RACEGATE_PACKAGE_DIR}/racegateAddCases.cmake
  DESTINATION ${RACEGATE_INSTALL_CMAKEDIR})
