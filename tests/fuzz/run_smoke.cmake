# Bounded libFuzzer smoke run of a fuzzer (see tests/parsers.cmake, tests/fuzz.cmake):
#   cmake -DFUZZER=... -DSEEDS=<dir> [-DSEED_GLOB=*.log] -DWORK=<scratch dir> -DRUNS=N -DMAX_TIME=S -P run_smoke.cmake
# Seeds are copied into WORK/corpus so that the source tree is never written.
if(NOT SEED_GLOB)
  set(SEED_GLOB "*.log")
endif()
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/corpus")
file(GLOB seeds "${SEEDS}/${SEED_GLOB}")
if(NOT seeds)
  message(FATAL_ERROR "no seeds ${SEED_GLOB} in ${SEEDS}")
endif()
file(COPY ${seeds} DESTINATION "${WORK}/corpus")
execute_process(
  COMMAND "${FUZZER}" -runs=${RUNS} -max_total_time=${MAX_TIME} -max_len=65536
          -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
          "-artifact_prefix=${WORK}/" "${WORK}/corpus"
  WORKING_DIRECTORY "${WORK}"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (exit ${rc}); crashing inputs are in ${WORK}")
endif()
file(REMOVE_RECURSE "${WORK}")
