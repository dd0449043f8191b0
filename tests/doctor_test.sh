#!/usr/bin/env bash
# tests/doctor_test.sh RACEGATE — `racegate doctor` on this machine.
#
# 1. With the real toolchain, clang's tsan, asan and ubsan checks pass (each
#    sanitizer reported its planted bug with a file:line), and the command
#    exits 0.
# 2. The cache: a second run reads clang's results from it; a corrupt cache
#    file is ignored and rewritten.
# 3. The doctor can fail: a fake compiler that drops every -fsanitize flag
#    (and otherwise calls the real clang++) makes every tool FAILED, exit 1.
# 4. A compiler that does not exist gets a clear message and exit 1.
# Every run uses a private TMPDIR and XDG_CACHE_HOME; the doctor must leave
# nothing in that TMPDIR (except with --keep, which must say where).
set -euo pipefail

racegate=${1:?usage: doctor_test.sh RACEGATE}

work=$(mktemp -d "${TMPDIR:-/tmp}/racegate-doctor-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tmp" "$work/cache"
export TMPDIR=$work/tmp XDG_CACHE_HOME=$work/cache

# Runs the doctor; its exit code goes to $rc (set -e would stop at 1).
doctor() {
  set +e
  "$racegate" doctor "$@"
  rc=$?
  set -e
}

expect_rc() {  # WANT WHAT
  if [ "$rc" -ne "$1" ]; then
    echo "doctor_test: $2: exit code $rc, expected $1" >&2
    exit 1
  fi
}

expect_clean_tmp() {  # WHAT
  if [ -n "$(ls -A "$TMPDIR")" ]; then
    echo "doctor_test: $1 left files in TMPDIR:" >&2
    ls -la "$TMPDIR" >&2
    exit 1
  fi
}

# Checks a JSON result: every clang check of TOOLS is ok (and cached or not, as CACHED says).
expect_clang_ok() {  # FILE CACHED(true|false|any)
  python3 - "$1" "$2" <<'PY'
import json, sys
path, cached = sys.argv[1], sys.argv[2]
result = json.load(open(path))
assert result["schema"] == "racegate-doctor/1", result.get("schema")
clang = {c["tool"]: c for c in result["checks"] if c["family"] == "clang"}
for tool in ("tsan", "asan", "ubsan"):
    c = clang.get(tool)
    assert c is not None, f"no clang {tool} check in {path}"
    assert c["ok"], f"clang {tool} FAILED: {c['detail']} -- fix: {c['fix']}"
    assert c["required"], f"clang {tool} is not required"
    if cached != "any":
        assert c["cached"] == (cached == "true"), f"clang {tool}: cached is {c['cached']}, expected {cached}"
    print(f"ok: {c['compiler']} {tool}: {c['detail']}{' (cached)' if c['cached'] else ''}")
assert result["ok"] and result["exit_code"] == 0, "the doctor did not pass"
PY
}

# 1. The real toolchain.
doctor --no-cache --json > "$work/real.json"
expect_rc 0 "racegate doctor --no-cache --json"
expect_clang_ok "$work/real.json" false
expect_clean_tmp "racegate doctor --no-cache --json"

# 2. The cache: results are read back; a corrupt file is ignored and rewritten.
shopt -s nullglob
cache_files=("$XDG_CACHE_HOME"/racegate/doctor-*.json)
if [ "${#cache_files[@]}" -eq 0 ]; then
  echo "doctor_test: no cache file in $XDG_CACHE_HOME/racegate" >&2
  exit 1
fi
doctor --json > "$work/cached.json"
expect_rc 0 "racegate doctor --json (cached)"
expect_clang_ok "$work/cached.json" true
for f in "${cache_files[@]}"; do printf '{"schema": "racegate-doctor-cache/1", "checks": [tru' > "$f"; done
doctor --json > "$work/corrupt.json"
expect_rc 0 "racegate doctor --json (corrupt cache)"
expect_clang_ok "$work/corrupt.json" false
for f in "${cache_files[@]}"; do
  python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); assert j["checks"], sys.argv[1]' "$f" ||
    { echo "doctor_test: the corrupt cache file $f was not rewritten" >&2; exit 1; }
done
expect_clean_tmp "racegate doctor with a cache"

# 3. A compiler that silently drops the sanitizer flags: nothing is reported.
real_cxx=$(command -v clang++) || { echo "doctor_test: no clang++ in PATH" >&2; exit 1; }
fake="$work/bin/fake-clang++"
mkdir -p "$work/bin"
cat > "$fake" <<EOF
#!/usr/bin/env bash
# Compiles like clang++ but without any -fsanitize flag.
args=()
for a in "\$@"; do
  case "\$a" in -fsanitize=*|-fno-sanitize=*) ;; *) args+=("\$a") ;; esac
done
exec "$real_cxx" "\${args[@]}"
EOF
chmod +x "$fake"

doctor --compiler "$fake" --no-cache --json > "$work/fake.json"
expect_rc 1 "racegate doctor --compiler fake-clang++ --json"
python3 - "$work/fake.json" "$fake" <<'PY'
import json, sys
result, fake = json.load(open(sys.argv[1])), sys.argv[2]
assert not result["ok"] and result["exit_code"] == 1
checks = {c["tool"]: c for c in result["checks"]}
assert set(checks) == {"tsan", "asan", "ubsan"}, checks.keys()
for tool, c in checks.items():
    assert c["compiler"] == fake, c["compiler"]
    assert not c["ok"], f"the fake compiler's {tool} check passed: {c['detail']}"
    assert c["required"] and not c["cached"]
    assert "ignored -fsanitize" in c["detail"], c["detail"]
    assert c["fix"], f"no fix for {tool}"
    print(f"ok: fake {tool} FAILED: {c['detail']}")
PY
doctor --compiler "$fake" --no-cache > "$work/fake.txt"
expect_rc 1 "racegate doctor --compiler fake-clang++"
cat "$work/fake.txt"
for tool in tsan asan ubsan; do
  grep -Eq "^  .*fake-clang\+\+ +$tool +FAILED " "$work/fake.txt" ||
    { echo "doctor_test: $tool is not reported FAILED for the fake compiler" >&2; exit 1; }
done
grep -q "fix: " "$work/fake.txt" || { echo "doctor_test: no fix printed" >&2; exit 1; }
grep -q "required check(s) FAILED" "$work/fake.txt" || { echo "doctor_test: no failure summary" >&2; exit 1; }
expect_clean_tmp "racegate doctor with a fake compiler"

# 4. A compiler that does not exist.
doctor --compiler /nonexistent > "$work/missing.txt" 2>&1
expect_rc 1 "racegate doctor --compiler /nonexistent"
cat "$work/missing.txt"
grep -q "/nonexistent not found" "$work/missing.txt" ||
  { echo "doctor_test: no clear message for a missing compiler" >&2; exit 1; }

# --keep keeps the temporary directory and says where.
doctor --compiler "$fake" --keep > "$work/keep.txt"
expect_rc 1 "racegate doctor --keep"
kept=$(sed -n 's/^kept the planted programs, binaries and logs in //p' "$work/keep.txt")
if [ -z "$kept" ] || [ ! -f "$kept/compiler-0-tsan/doctor_race.cpp" ]; then
  echo "doctor_test: --keep did not keep (or name) the temporary directory: '$kept'" >&2
  exit 1
fi
rm -rf "$kept"
expect_clean_tmp "racegate doctor --keep (after removing the kept directory)"

echo "doctor_test: passed"
