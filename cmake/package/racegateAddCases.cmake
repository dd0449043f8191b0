# racegate_add_cases() for projects that use the installed racegate package
# (included by racegateConfig.cmake; see docs/package.md).
#
#   racegate_add_cases(<target> <source>...
#                      [VARIANTS <plain|tsan|asan>...]   default: RACEGATE_CASE_VARIANTS
#                      [NO_REFERENCE]                    do not link racegate::reference
#                      [SKIP_UNSUPPORTED])               warn and skip a variant the
#                                                        compiler cannot build
#
# builds the case files into one case binary per variant:
#   <target>        plain
#   <target>-tsan   ThreadSanitizer  (-fsanitize=thread -g -O1)
#   <target>-asan   ASan + UBSan     (-fsanitize=address,undefined -fno-sanitize=function
#                                     -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g -O1;
#                                     -fno-sanitize=function only where the compiler has it)
# with the flags of racegate's own presets (racegate's top CMakeLists.txt; keep
# the two in step). Each binary's main() comes from the harness and reports
# its variant in `--list --json`, so `racegate run --binary <target>
# <target>-tsan <target>-asan` runs every case under every variant.
#
# A sanitized binary needs the harness (and the reference) compiled with the
# same sanitizer. The installed libraries are prebuilt in one variant
# (RACEGATE_PREBUILT_VARIANT); that variant links them, and every other
# variant links static libraries compiled once per consumer project from the
# installed sources: racegate_harness_<variant> and racegate_reference_<variant>
# (built only when a case binary links them); the case binaries' main() is
# compiled once per variant (racegate_case_main_<variant>). A sanitized
# prebuilt variant (from an installed tsan or asan tree) is used only when
# the project's compiler is the one that built it (RACEGATE_PREBUILT_CXX_*). With RACEGATE_USE_PREBUILT OFF
# every variant is compiled from the sources (e.g. when the consumer's
# compiler or standard library differs from the one racegate was built with).
#
# Sets <target>_RACEGATE_BINARIES in the caller's scope: $<TARGET_FILE:...> of
# every binary built, for `racegate run --binary ${<target>_RACEGATE_BINARIES}`.
include_guard(GLOBAL)
include(CheckCXXSourceCompiles)
include(CheckCXXCompilerFlag)

set(RACEGATE_CASE_VARIANTS "plain;tsan;asan" CACHE STRING
  "Variants racegate_add_cases() builds when a call names none (plain, tsan, asan)")
option(RACEGATE_USE_PREBUILT
  "racegate_add_cases(): link the installed prebuilt libraries into the variant they were built as" ON)

# The compile options, link options and definitions of a variant.
function(_racegate_variant_flags variant out_compile out_link out_defs)
  set(compile)
  set(link)
  set(defs)
  if(variant STREQUAL "tsan")
    set(compile -fsanitize=thread -g -O1)
    set(link -fsanitize=thread)
    set(defs RACEGATE_SANITIZER_THREAD=1)
  elseif(variant STREQUAL "asan")
    # -fno-sanitize=function: clang 14 cannot compile inline or template
    # coroutines with that check; gcc has no such check and rejects the flag.
    check_cxx_compiler_flag(-fno-sanitize=function RACEGATE_CXX_HAS_FNO_SANITIZE_FUNCTION)
    set(compile -fsanitize=address,undefined)
    if(RACEGATE_CXX_HAS_FNO_SANITIZE_FUNCTION)
      list(APPEND compile -fno-sanitize=function)
    endif()
    list(APPEND compile -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g -O1)
    set(link -fsanitize=address,undefined)
    set(defs RACEGATE_SANITIZER_ADDRESS=1)
  endif()
  set(${out_compile} "${compile}" PARENT_SCOPE)
  set(${out_link} "${link}" PARENT_SCOPE)
  set(${out_defs} "${defs}" PARENT_SCOPE)
endfunction()

# Whether this compiler can compile and link a program with the variant's
# sanitizer (cached per variant in RACEGATE_CXX_CAN_BUILD_<VARIANT>).
function(_racegate_variant_supported variant out)
  if(variant STREQUAL "plain")
    set(${out} TRUE PARENT_SCOPE)
    return()
  endif()
  string(TOUPPER "${variant}" v)
  _racegate_variant_flags(${variant} compile link defs)
  list(JOIN compile " " flags)
  set(CMAKE_REQUIRED_FLAGS "${flags}")
  set(CMAKE_REQUIRED_LINK_OPTIONS ${link})
  set(CMAKE_REQUIRED_DEFINITIONS)
  set(CMAKE_REQUIRED_LIBRARIES)
  set(CMAKE_REQUIRED_QUIET ON)
  check_cxx_source_compiles([[
#include <atomic>
#include <string>
int main() { std::atomic<int> n{0}; std::string s = "racegate"; return n.load() + static_cast<int>(s.size()) - 8; }
]] RACEGATE_CXX_CAN_BUILD_${v})
  set(${out} "${RACEGATE_CXX_CAN_BUILD_${v}}" PARENT_SCOPE)
endfunction()

# racegate_variant_<variant>: an interface target with the variant's flags.
function(_racegate_variant_target variant)
  if(TARGET racegate_variant_${variant})
    return()
  endif()
  _racegate_variant_flags(${variant} compile link defs)
  add_library(racegate_variant_${variant} INTERFACE)
  target_compile_options(racegate_variant_${variant} INTERFACE ${compile})
  target_link_options(racegate_variant_${variant} INTERFACE ${link})
  target_compile_definitions(racegate_variant_${variant} INTERFACE ${defs})
  target_compile_features(racegate_variant_${variant} INTERFACE cxx_std_20)
endfunction()

# The harness (what = harness) or reference (what = reference) library of a
# variant: the installed one when it was built as that variant, else one
# compiled from the installed sources (once per project).
# A sanitized prebuilt library is used only with the compiler that built it:
# its instrumentation calls that compiler's sanitizer runtime.
function(_racegate_variant_library what variant out)
  if(RACEGATE_USE_PREBUILT AND variant STREQUAL RACEGATE_PREBUILT_VARIANT
     AND (variant STREQUAL "plain"
          OR (CMAKE_CXX_COMPILER_ID STREQUAL RACEGATE_PREBUILT_CXX_COMPILER_ID
              AND CMAKE_CXX_COMPILER_VERSION VERSION_EQUAL RACEGATE_PREBUILT_CXX_COMPILER_VERSION)))
    set(${out} racegate::${what} PARENT_SCOPE)
    return()
  endif()
  set(lib racegate_${what}_${variant})
  if(NOT TARGET ${lib})
    string(TOUPPER "${what}" WHAT)
    set(sources)
    foreach(s IN LISTS RACEGATE_${WHAT}_SOURCES)
      list(APPEND sources "${RACEGATE_PACKAGE_SOURCE_DIR}/${s}")
    endforeach()
    add_library(${lib} STATIC EXCLUDE_FROM_ALL ${sources})
    target_include_directories(${lib} SYSTEM PUBLIC "${RACEGATE_INCLUDE_DIR}")
    target_link_libraries(${lib} PUBLIC racegate_variant_${variant})
    if(what STREQUAL "harness")
      target_link_libraries(${lib}
        PUBLIC rapidcheck Threads::Threads ${CMAKE_DL_LIBS}
        PRIVATE nlohmann_json::nlohmann_json CLI11::CLI11)
    else()
      target_link_libraries(${lib} PUBLIC Threads::Threads cereal::cereal)
    endif()
  endif()
  set(${out} ${lib} PARENT_SCOPE)
endfunction()

# racegate_case_main_<variant>: the main() of a case binary (not part of the
# harness library, so that racegate::harness can be linked into a program with
# its own main), compiled once per variant.
function(_racegate_case_main variant harness)
  if(TARGET racegate_case_main_${variant})
    return()
  endif()
  set(sources)
  foreach(s IN LISTS RACEGATE_CASE_MAIN_SOURCES)
    list(APPEND sources "${RACEGATE_PACKAGE_SOURCE_DIR}/${s}")
  endforeach()
  add_library(racegate_case_main_${variant} OBJECT EXCLUDE_FROM_ALL ${sources})
  target_link_libraries(racegate_case_main_${variant} PRIVATE ${harness} racegate_variant_${variant})
endfunction()

function(racegate_add_cases target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "NO_REFERENCE;SKIP_UNSUPPORTED" "" "VARIANTS")
  set(sources ${ARG_UNPARSED_ARGUMENTS})
  if(NOT sources)
    message(FATAL_ERROR "racegate_add_cases(${target}): no case sources given")
  endif()
  if(NOT ARG_VARIANTS)
    set(ARG_VARIANTS ${RACEGATE_CASE_VARIANTS})
  endif()
  list(REMOVE_DUPLICATES ARG_VARIANTS)

  set(binaries)
  foreach(variant IN LISTS ARG_VARIANTS)
    if(NOT variant MATCHES "^(plain|tsan|asan)$")
      message(FATAL_ERROR "racegate_add_cases(${target}): unknown variant '${variant}' "
                          "(VARIANTS takes plain, tsan and asan)")
    endif()
    _racegate_variant_supported(${variant} supported)
    if(NOT supported)
      _racegate_variant_flags(${variant} compile link defs)
      list(JOIN compile " " flags)
      set(others ${ARG_VARIANTS})
      list(REMOVE_ITEM others ${variant})
      list(JOIN others " " others)
      if(others STREQUAL "")
        set(others "<another variant>")
      endif()
      string(CONCAT why "racegate_add_cases(${target}): the ${variant} variant needs `${flags}`, and "
              "${CMAKE_CXX_COMPILER} (${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION}) cannot "
              "compile and link a program with it (see CMakeFiles/CMakeError.log). Install the "
              "sanitizer runtime (Debian: libtsan2 / libasan8 / libubsan1 for g++ 12, "
              "libclang-rt-14-dev for clang 14), use a compiler that has it, or leave the variant "
              "out: VARIANTS ${others} (or -DRACEGATE_CASE_VARIANTS=...).")
      if(ARG_SKIP_UNSUPPORTED)
        message(WARNING "${why} Skipped (SKIP_UNSUPPORTED).")
        continue()
      endif()
      message(FATAL_ERROR "${why}")
    endif()

    if(variant STREQUAL "plain")
      set(name ${target})
    else()
      set(name ${target}-${variant})
    endif()
    _racegate_variant_target(${variant})
    _racegate_variant_library(harness ${variant} harness)
    set(reference)
    if(NOT ARG_NO_REFERENCE)
      _racegate_variant_library(reference ${variant} reference)
    endif()
    _racegate_case_main(${variant} ${harness})
    add_executable(${name} ${sources} $<TARGET_OBJECTS:racegate_case_main_${variant}>)
    # Whole archive: the harness's objects (its shared-memory audit among
    # them) must be linked whether or not a case refers to them.
    target_link_libraries(${name} PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,${harness}>" ${reference}
      racegate_variant_${variant})
    list(APPEND binaries "$<TARGET_FILE:${name}>")
  endforeach()
  set(${target}_RACEGATE_BINARIES "${binaries}" PARENT_SCOPE)
endfunction()
