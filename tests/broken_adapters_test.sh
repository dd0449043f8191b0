#!/usr/bin/env bash
# tests/broken_adapters_test.sh RACEGATE BROKEN_BINARY EXPECTED_DIR — the
# suite catches every deliberately broken adapter.
#
# BROKEN_BINARY holds the catalog's cases instantiated over broken adapters
# (ids "<catalog id>@broken.<what>"). EXPECTED_DIR/expected-*.txt name, one
# per line, the cases that must catch a break ("#" starts a comment). The
# test runs every case of the binary through the runner and fails if a named
# case does not end in FAIL (a violated property or a forbidden outcome) or
# RACE — PASS means the break went unseen, TIMEOUT/CRASH/ERROR that the case
# did not catch it as designed — or is missing from the binary, or
# if an expected file names nothing at all. Verdicts of the other cases are
# printed, not judged.
set -euo pipefail

racegate=${1:?usage: broken_adapters_test.sh RACEGATE BROKEN_BINARY EXPECTED_DIR}
binary=${2:?usage: broken_adapters_test.sh RACEGATE BROKEN_BINARY EXPECTED_DIR}
expected_dir=${3:?usage: broken_adapters_test.sh RACEGATE BROKEN_BINARY EXPECTED_DIR}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/racegate-broken.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Exit code 1 (something did not pass) is what we want; 2 is a broken set-up.
set +e
"$racegate" run --binary "$binary" --jobs 2 --quiet --out "$tmp/out" --format json
rc=$?
set -e
if [ "$rc" -eq 2 ]; then echo "broken_adapters_test: the runner failed to run (exit 2)" >&2; exit 1; fi

python3 - "$tmp/out/results.jsonl" "$expected_dir" <<'PY'
import glob, json, os, sys
results, expected_dir = sys.argv[1], sys.argv[2]
verdicts = {}
with open(results) as f:
    for line in f:
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        if "case_id" not in r:  # the header line describes the run
            continue
        verdicts.setdefault(r["case_id"], []).append(r["verdict"])
failed = False
named = 0
for path in sorted(glob.glob(os.path.join(expected_dir, "expected-*.txt"))):
    for lineno, line in enumerate(open(path), 1):
        case = line.split("#", 1)[0].strip()
        if not case:
            continue
        named += 1
        where = f"{os.path.basename(path)}:{lineno}"
        if case not in verdicts:
            print(f"FAIL {case}: named in {where} but not run (not in the broken binary?)")
            failed = True
        elif "PASS" in verdicts[case]:
            print(f"FAIL {case}: the broken adapter went unseen ({verdicts[case]}, {where})")
            failed = True
        elif not set(verdicts[case]) <= {"FAIL", "RACE"}:
            # A crash, hang or error is not the suite catching the break: the
            # case must fail its property or grade a forbidden outcome.
            print(f"FAIL {case}: ended in {verdicts[case]}, not FAIL or RACE ({where})")
            failed = True
        else:
            print(f"caught {case}: {','.join(verdicts[case])}")
expected = set()
for path in glob.glob(os.path.join(expected_dir, "expected-*.txt")):
    expected |= {l.split("#", 1)[0].strip() for l in open(path)} - {""}
for case in sorted(set(verdicts) - expected):
    print(f"(not judged) {case}: {','.join(verdicts[case])}")
if named == 0:
    print("FAIL: the expected files name no case")
    failed = True
sys.exit(1 if failed else 0)
PY
