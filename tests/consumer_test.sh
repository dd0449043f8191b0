#!/usr/bin/env bash
# tests/consumer_test.sh CMAKE BUILD_DIR CONSUMER_DIR CXX GENERATOR [MAKE_PROGRAM]
# — racegate works as an installed CMake package (docs/package.md).
#
# Installs BUILD_DIR (a plain racegate tree, built) into a temporary prefix,
# configures and builds the consumer project CONSUMER_DIR against it with
# find_package(racegate) (its case binaries in the plain, tsan and asan
# variants, compiled with CXX), then runs them with the installed runner and
# checks that every case of the consumer passed in each variant, that each
# binary reported its own variant, and that the sanitized binaries really are
# instrumented. Everything is made under one temporary directory, removed on
# every path out.
set -euo pipefail

usage="usage: consumer_test.sh CMAKE BUILD_DIR CONSUMER_DIR CXX GENERATOR [MAKE_PROGRAM]"
cmake=${1:?$usage}
build_dir=${2:?$usage}
consumer_dir=${3:?$usage}
cxx=${4:?$usage}
generator=${5:?$usage}
make_program=${6:-}

# The consumer's cases; each must PASS in each variant.
cases=(spinlock.mutual_exclusion spinlock.try_lock_one_winner)
target=spinlock_cases

tmp=$(mktemp -d "${TMPDIR:-/tmp}/racegate-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$SECONDS
step() { echo "consumer_test: [$((SECONDS - start))s] $*"; }

step "installing $build_dir into a fresh prefix"
"$cmake" --install "$build_dir" --prefix "$tmp/prefix" >"$tmp/install.log" \
  || { cat "$tmp/install.log"; echo "consumer_test: cmake --install failed" >&2; exit 1; }

step "configuring the consumer with $cxx ($generator)"
configure=("$cmake" -S "$consumer_dir" -B "$tmp/build" -G "$generator"
           -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_CXX_COMPILER="$cxx")
[ -n "$make_program" ] && configure+=(-DCMAKE_MAKE_PROGRAM="$make_program")
"${configure[@]}" >"$tmp/configure.log" 2>&1 \
  || { cat "$tmp/configure.log"; echo "consumer_test: configuring the consumer failed" >&2; exit 1; }

step "building the consumer (-j2)"
"$cmake" --build "$tmp/build" -j2 >"$tmp/build.log" 2>&1 \
  || { cat "$tmp/build.log"; echo "consumer_test: building the consumer failed" >&2; exit 1; }

plain="$tmp/build/$target" tsan="$tmp/build/$target-tsan" asan="$tmp/build/$target-asan"
for b in "$plain" "$tsan" "$asan"; do
  [ -x "$b" ] || { echo "consumer_test: no case binary $b" >&2; exit 1; }
done
# The sanitized binaries carry their runtime; the plain one carries neither.
grep -q __tsan_init "$tsan" || { echo "consumer_test: $tsan is not built with ThreadSanitizer" >&2; exit 1; }
grep -q __asan_init "$asan" || { echo "consumer_test: $asan is not built with AddressSanitizer" >&2; exit 1; }
if grep -q -e __tsan_init -e __asan_init "$plain"; then
  echo "consumer_test: the plain binary $plain is instrumented" >&2; exit 1
fi

step "running the consumer's cases with the installed runner"
set +e
(cd "$tmp" && "$tmp/prefix/bin/racegate" run --binary "$plain" "$tsan" "$asan" --jobs 2 --out "$tmp/out")
rc=$?
set -e
[ -f "$tmp/out/results.jsonl" ] || { echo "consumer_test: no results.jsonl (runner exit $rc)" >&2; exit 1; }

python3 - "$tmp/out/results.jsonl" "$plain" "$tsan" "$asan" "${cases[@]}" <<'PY'
import json, sys
results, plain, tsan, asan, *cases = sys.argv[1:]
expected_binary = {"plain": plain, "tsan": tsan, "asan": asan}
seen = {}
ok = True
with open(results) as f:
    for line in f:
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        if "case_id" not in r:  # the header line describes the run
            continue
        seen.setdefault((r["case_id"], r["variant"]), []).append(r["verdict"])
        if r["variant"] not in expected_binary or r["binary"] != expected_binary[r["variant"]]:
            print(f"FAIL {r['case_id']}: {r['binary']} reported variant {r['variant']}")
            ok = False
        if r["verdict"] != "PASS":
            print(f"FAIL {r['case_id']} [{r['variant']}]: {r['verdict']}: {r.get('message', '')}")
            ok = False
for case in cases:
    for variant in ("plain", "tsan", "asan"):
        verdicts = seen.get((case, variant))
        if not verdicts:
            print(f"FAIL {case} [{variant}]: not run")
            ok = False
        elif verdicts == ["PASS"] * len(verdicts):
            print(f"PASS {case} [{variant}]")
sys.exit(0 if ok else 1)
PY
[ "$rc" -eq 0 ] || { echo "consumer_test: the runner exited $rc, not 0" >&2; exit 1; }
step "passed"
