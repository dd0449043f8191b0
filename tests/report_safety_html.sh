#!/usr/bin/env bash
# tests/report_safety_html.sh REPORT_SAFETY_TEST — the hostile run's
# report.html (every text field carries <script>, <img onerror>, quotes, "]]>",
# NUL, ESC, U+2028 and bytes that are not UTF-8; see report_safety_test.cpp)
# loaded in Debian's headless Chromium with the network off. After the page's
# own script ran (body data-ready="true"):
#   * no payload ran: each would set data-pwned on <html>, and none did,
#   * the DOM has the report's one <script> and no <img>,
#   * the payload is on the page as text,
#   * the console shows nothing.
# Fails, never skips, when Chromium is missing: ci/setup installs it.
set -euo pipefail

test_binary=${1:?usage: report_safety_html.sh REPORT_SAFETY_TEST}
chromium=${CHROMIUM:-/usr/bin/chromium}
fail() { echo "report_safety_html: FAIL: $*" >&2; exit 1; }
[ -x "$chromium" ] || fail "$chromium is not installed (ci/setup installs the chromium package)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/racegate-safety-html.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/out" "$tmp/profile" "$tmp/home"
"$test_binary" --racegate-child=write_hostile_reports "$tmp/out" >/dev/null
[ -s "$tmp/out/report.html" ] || fail "report.html was not written"

status=0
HOME="$tmp/home" timeout --kill-after=10 90 "$chromium" --headless --no-sandbox --disable-gpu \
  --no-first-run --disable-background-networking --disable-component-update --disable-sync \
  --disable-extensions --disable-dev-shm-usage --disable-crash-reporter --mute-audio \
  --user-data-dir="$tmp/profile" --enable-logging=stderr --v=0 \
  --dump-dom "file://$tmp/out/report.html" >"$tmp/dom.html" 2>"$tmp/chromium.log" || status=$?
[ "$status" -eq 0 ] || { cat "$tmp/chromium.log" >&2; fail "chromium exited with status $status"; }

dom="$tmp/dom.html"
grep -qF '<body data-ready="true">' "$dom" || fail "the page's own script did not run to its end"
if grep -qF 'data-pwned=' "$dom"; then
  grep -oE '<html[^>]*>' "$dom" >&2
  fail "a payload ran: data-pwned is set on the page"
fi
scripts=$(grep -o '<script' "$dom" | wc -l)
[ "$scripts" -eq 1 ] || fail "the DOM has $scripts <script> elements, expected only the report's own"
if grep -q '<img' "$dom"; then fail "the DOM has an <img> element from the payload"; fi
grep -qF '&lt;script&gt;document.documentElement.setAttribute(' "$dom" ||
  fail "the payload is not on the page as text"
grep -qF '&lt;img src=x onerror=' "$dom" || fail "the <img> payload is not on the page as text"
if grep -E 'Uncaught|ERROR:CONSOLE|:CONSOLE[:(]|Refused to' "$tmp/chromium.log" >&2; then
  fail "console messages while rendering the hostile report.html (above)"
fi
echo "report_safety_html: hostile report.html rendered; no payload ran, all of it shown as text"
