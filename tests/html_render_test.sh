#!/usr/bin/env bash
# tests/html_render_test.sh WRITERS_TEST — report.html in a real browser.
#
# Writes the sample run's reports (writers_test --racegate-child=
# write_sample_reports DIR), loads report.html in Debian's headless Chromium
# with the network off, and checks the DOM after the page's script ran:
#   * the page's script ran to its end (body data-ready="true"),
#   * the verdict table, an inline <svg> histogram and both stacks of the
#     race are there, and the filters' count line was filled in,
#   * the injected <script> of the sample run is text, not an element,
#   * the console shows nothing (no "Uncaught", no ERROR:CONSOLE line, no
#     console message at all: the page logs nothing when it works).
# Fails, never skips, when Chromium is missing: ci/setup installs it.
set -euo pipefail

writers_test=${1:?usage: html_render_test.sh WRITERS_TEST}
chromium=${CHROMIUM:-/usr/bin/chromium}

fail() { echo "html_render_test: FAIL: $*" >&2; exit 1; }

[ -x "$chromium" ] || fail "$chromium is not installed (ci/setup installs the chromium package)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/racegate-html.XXXXXX")
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

mkdir -p "$tmp/out" "$tmp/profile" "$tmp/home"
"$writers_test" --racegate-child=write_sample_reports "$tmp/out" >/dev/null
[ -s "$tmp/out/report.html" ] || fail "report.html was not written"

# --dump-dom prints the DOM after the load event (the page's script has run);
# console messages go to stderr with --enable-logging=stderr.
status=0
HOME="$tmp/home" timeout --kill-after=10 90 "$chromium" \
  --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --disable-default-apps --disable-extensions --disable-dev-shm-usage \
  --disable-crash-reporter --no-default-browser-check --mute-audio \
  --user-data-dir="$tmp/profile" \
  --enable-logging=stderr --v=0 \
  --dump-dom "file://$tmp/out/report.html" \
  >"$tmp/dom.html" 2>"$tmp/chromium.log" || status=$?
if [ "$status" -ne 0 ]; then
  cat "$tmp/chromium.log" >&2
  fail "chromium exited with status $status"
fi

dom="$tmp/dom.html"
expect() {  # expect DESCRIPTION FIXED-STRING
  grep -qF -- "$2" "$dom" || { cat "$tmp/chromium.log" >&2; fail "the rendered DOM lacks $1 ($2)"; }
}
expect "the mark that the page's script ran" '<body data-ready="true">'
expect "the verdict table" '<table id="verdict-table">'
expect "a row of the verdict table" '<tr data-verdict="RACE" data-variant="tsan" data-details="u-5">'
expect "the filter count" '<span id="filter-count">11 of 11 units shown</span>'
expect "the outcome histogram" '<svg class="histogram"'
expect "a histogram bar" '<rect x="230" y="4" width="320.0"'
expect "the race's access stack" 'Write of size 4 at 0x55d0c0a3e154 by thread T2:'
expect "the race's previous-access stack" 'Previous read of size 4 at 0x55d0c0a3e154 by thread T1:'
expect "a source snippet" '<span class="ln">14</span>  g_counter = g_counter + 1;'
expect "the injected script, as text" '&lt;script&gt;alert("pwned")&lt;/script&gt;'

scripts=$(grep -o '<script' "$dom" | wc -l)
[ "$scripts" -eq 1 ] || fail "the DOM has $scripts <script> elements, expected only the report's own"

# The page logs nothing itself, so any console line is a problem. Chromium
# writes them as ...:INFO:CONSOLE:675] "Uncaught ReferenceError: ...", source: ...
# (older builds: INFO:CONSOLE(675)); console.error() is not told apart from
# console.log() there, hence no filter on the level.
if grep -E 'Uncaught|ERROR:CONSOLE|:CONSOLE[:(]' "$tmp/chromium.log" >&2; then
  fail "console messages while rendering report.html (above)"
fi
if grep -E 'Refused to (load|execute|apply)' "$tmp/chromium.log" >&2; then
  fail "the page tried to load something its Content-Security-Policy forbids (above)"
fi

echo "html_render_test: report.html renders in $("$chromium" --version 2>/dev/null | head -1):" \
     "table, histogram, both race stacks, no console error"
