#!/usr/bin/env bash
# tests/schema_check.sh WRITERS_TEST SCHEMA_DIR — the writers' output against
# the published schemas.
#
# Writes the sample run's reports (writers_test --racegate-child=
# write_sample_reports DIR), then validates
#   racegate.sarif  against the OASIS SARIF 2.1.0 JSON schema (python3 -m jsonschema)
#   junit.xml       against Jenkins' JUnit XSD (xmllint --schema)
#   report.json     as JSON whose "schema" is racegate-run/1
# and checks that each validator really rejects a broken document, so that a
# validator that accepts anything cannot make this test pass.
# Needs python3-jsonschema and libxml2-utils (ci/setup installs both).
set -euo pipefail

writers_test=${1:?usage: schema_check.sh WRITERS_TEST SCHEMA_DIR}
schemas=${2:?usage: schema_check.sh WRITERS_TEST SCHEMA_DIR}
fail() { echo "schema_check: FAIL: $*" >&2; exit 1; }

command -v xmllint >/dev/null || fail "xmllint is missing (Debian package libxml2-utils)"
python3 -c 'import jsonschema' 2>/dev/null || fail "python3 jsonschema is missing (Debian package python3-jsonschema)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/racegate-schema.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$writers_test" --racegate-child=write_sample_reports "$tmp" >/dev/null

# python3 -m jsonschema is deprecated in favour of check-jsonschema but is what
# Debian's python3-jsonschema ships; silence only its deprecation warning.
validate_sarif() {
  PYTHONWARNINGS=ignore::DeprecationWarning python3 -m jsonschema \
    -i "$1" "$schemas/sarif-schema-2.1.0.json"
}

validate_sarif "$tmp/racegate.sarif" || fail "racegate.sarif does not validate against SARIF 2.1.0"
xmllint --noout --schema "$schemas/junit-10.xsd" "$tmp/junit.xml" ||
  fail "junit.xml does not validate against junit-10.xsd"
python3 - "$tmp/report.json" <<'PY' || fail "report.json is not racegate-run/1 JSON"
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
assert doc["schema"] == "racegate-run/1", doc.get("schema")
assert isinstance(doc["units"], list) and doc["units"], "no units"
assert doc["verdict"] in ("PASS", "FAIL", "RACE", "MISSED", "TIMEOUT", "CRASH", "ERROR")
PY

# The validators must reject what is wrong.
python3 - "$tmp/racegate.sarif" "$tmp/bad.sarif" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
doc["runs"][0]["results"][0]["level"] = "fatal"   # not a SARIF level
json.dump(doc, open(sys.argv[2], "w", encoding="utf-8"))
PY
if validate_sarif "$tmp/bad.sarif" >/dev/null 2>&1; then
  fail "the SARIF validator accepted a result with level \"fatal\""
fi
sed 's/<testcase /<testcase bogus="1" /' "$tmp/junit.xml" >"$tmp/bad.xml"
if xmllint --noout --schema "$schemas/junit-10.xsd" "$tmp/bad.xml" >/dev/null 2>&1; then
  fail "the JUnit validator accepted an unknown testcase attribute"
fi

echo "schema_check: racegate.sarif is valid SARIF 2.1.0, junit.xml is valid JUnit (junit-10.xsd)," \
     "report.json is racegate-run/1; broken documents are rejected"
