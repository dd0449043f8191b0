#!/usr/bin/env bash
# bench/explore_overhead.sh — the instructions one schedule point costs, per
# exploration mode, counted by callgrind (docs/exploration.md, "Overhead per
# schedule point").
#
# usage: bench/explore_overhead.sh [BUILD_DIR]   (default: build/default)
#
# Each row runs build/.../bench/racegate-bench-explore-point under
# `valgrind --tool=callgrind` twice, with N1 and N2 points, and prints
# (Ir(N2) - Ir(N1)) / (N2 - N1): the start-up, the configuration and the exit
# cancel out. Instructions, not time: a noise perturbation's sleep or yield is
# one system call, counted as the few instructions that make it, not as the
# time it waits; the perturbations column says how many points took one.
# Needs valgrind (Debian: valgrind) and a plain (not sanitized) build of the
# targets racegate_bench_explore_point and racegate_explore_preload.
set -euo pipefail

build=${1:-build/default}
prog=$build/bench/racegate-bench-explore-point
preload=$build/harness/libracegate-explore.so
for f in "$prog" "$preload"; do
  if [ ! -e "$f" ]; then
    echo "explore_overhead.sh: $f not found; build the targets racegate_bench_explore_point and racegate_explore_preload in $build" >&2
    exit 2
  fi
done
command -v valgrind >/dev/null || { echo "explore_overhead.sh: valgrind not found" >&2; exit 2; }
preload=$(cd "$(dirname "$preload")" && pwd)/$(basename "$preload")

n1=10000
n2=50000
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run N WRAPPER ENV... -- ARGS...: runs the program with N points in a clean
# environment plus ENV, under WRAPPER (a command, or "" for none).
run() {
  local n=$1 wrapper=$2; shift 2
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  rm -f "$tmp/stats.json"
  # shellcheck disable=SC2086  # WRAPPER is a command and its options
  env -u RACEGATE_EXPLORE -u RACEGATE_EXPLORE_STATS -u LD_PRELOAD "${envs[@]}" \
    $wrapper "$prog" "$@" "$n" >"$tmp/out" 2>"$tmp/err" || {
    echo "explore_overhead.sh: the run failed:" >&2; cat "$tmp/err" >&2; exit 1; }
}

# ir N ENV... -- ARGS...: the program's instruction count (callgrind's
# "totals:" line).
ir() {
  local n=$1; shift
  run "$n" "valgrind --tool=callgrind --callgrind-out-file=$tmp/cg.out" "$@"
  sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$tmp/cg.out"
}

# perturbations N ENV... -- ARGS...: the noise perturbations the engine's
# statistics counted, from a run without valgrind (one thread: the count is a
# function of the seed and N). Under valgrind the preload library would not
# write them: Debian's valgrind is a shell script that starts a dynamically
# linked launcher, both with the client's LD_PRELOAD, so the library loads in
# them first, and the first process to read RACEGATE_EXPLORE_STATS takes the
# file and removes the variable.
perturbations() {
  local n=$1; shift
  run "$n" "" RACEGATE_EXPLORE_STATS="$tmp/stats.json" "$@"
  sed -n 's/.*"noise_delays": *\([0-9]*\).*/\1/p' "$tmp/stats.json"
}

# row LABEL POINTS_PER_CALL ENV... -- ARGS...: one table row (a lock/unlock
# pair is two points).
row() {
  local label=$1 per=$2; shift 2
  local a b noise=""
  a=$(ir "$n1" "$@")
  b=$(ir "$n2" "$@")
  case "$*" in *mode=noise*) noise=$(perturbations "$n2" "$@") ;; esac
  awk -v label="$label" -v per="$per" -v n1="$n1" -v n2="$n2" -v a="$a" -v b="$b" -v noise="$noise" 'BEGIN {
    printf "| %s | %.1f | %s |\n", label, (b - a) / (n2 - n1),
      (noise != "" ? sprintf("%d of %d points (%.1f %%)", noise, n2 * per, 100 * noise / (n2 * per)) : "-");
  }'
}

echo "N1=$n1 N2=$n2; instructions per call = (Ir(N2) - Ir(N1)) / (N2 - N1)"
echo
echo "| what is called, mode | instructions per call | noise perturbations |"
echo "| --- | --- | --- |"
row "racegate::schedule::point, no hook (the reference)" 1 -- reference
row "explore::point, mode=off" 1 -- engine
row "explore::point, mode=noise,level=1" 1 RACEGATE_EXPLORE=mode=noise,level=1 -- engine
row "explore::point, mode=noise,level=3" 1 RACEGATE_EXPLORE=mode=noise,level=3 -- engine
row "explore::point, mode=pct, one thread" 1 RACEGATE_EXPLORE=mode=pct -- engine
row "explore::point, mode=pct, one thread, RACEGATE_EXPLORE_STATS set" 1 RACEGATE_EXPLORE=mode=pct RACEGATE_EXPLORE_STATS="$tmp/pct-stats.json" -- engine
row "pthread_mutex_lock + unlock, no preload" 2 -- mutex
row "lock + unlock, preload, RACEGATE_EXPLORE unset (off)" 2 LD_PRELOAD="$preload" -- mutex
row "lock + unlock, preload, mode=noise,level=1" 2 LD_PRELOAD="$preload" RACEGATE_EXPLORE=mode=noise,level=1 -- mutex
row "lock + unlock, preload, mode=noise,level=3" 2 LD_PRELOAD="$preload" RACEGATE_EXPLORE=mode=noise,level=3 -- mutex
row "lock + unlock, preload, mode=pct, one thread" 2 LD_PRELOAD="$preload" RACEGATE_EXPLORE=mode=pct -- mutex
