# Schedule exploration: the engine (noise and PCT) as a small static library
# with no dependency on the runner, and the preload library that turns a
# program's pthread calls into its schedule points. Neither is instrumented:
# a sanitizer would otherwise see the scheduler's own synchronization.
add_library(racegate_explore STATIC src/explore/config.cpp src/explore/engine.cpp)
add_library(racegate::explore ALIAS racegate_explore)
target_include_directories(racegate_explore PUBLIC
  $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
  $<INSTALL_INTERFACE:include>)
target_compile_features(racegate_explore PUBLIC cxx_std_20)
set_target_properties(racegate_explore PROPERTIES POSITION_INDEPENDENT_CODE ON)
target_link_libraries(racegate_explore PRIVATE racegate_warnings)

add_library(racegate_explore_preload SHARED src/explore/preload.cpp)
set_target_properties(racegate_explore_preload PROPERTIES OUTPUT_NAME racegate-explore PREFIX lib)
target_link_libraries(racegate_explore_preload PRIVATE racegate_explore ${CMAKE_DL_LIBS} racegate_warnings)
target_link_options(racegate_explore_preload PRIVATE
  -Wl,--version-script=${CMAKE_CURRENT_SOURCE_DIR}/src/explore/preload.map)
set_property(TARGET racegate_explore_preload APPEND PROPERTY LINK_DEPENDS
  ${CMAKE_CURRENT_SOURCE_DIR}/src/explore/preload.map)
