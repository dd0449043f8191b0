#!/usr/bin/env python3
"""`racegate gate` end to end over the programs of tests/gate/.

usage: gate_test.py RACEGATE PROGRAM_DIR SOURCE_DIR

For each program: the findings the gate reports (kind, count, processes, the
file and line of the innermost user frame, which the source marks with a
`// gate-test: TAG` comment) and its exit code. Then the baseline round trip
(a new race fails; --update-baseline; the same run passes; the race removed,
the finding is reported fixed), suppressions and the ignore list, and bad
input (corrupt baseline, ignore list and suppressions, a missing command, an
output directory that cannot be written): exit 2, a clear message, nothing
overwritten. Every report file is parsed back.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

RACEGATE, PROGRAMS, SOURCES = sys.argv[1:4]
TMP = tempfile.mkdtemp(prefix="racegate-gate-test-")
FAILURES = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        FAILURES.append(what)


def tagged_lines(tag):
    """{(file name, line)} of the lines marked `// gate-test: TAG`."""
    found = set()
    for name in os.listdir(SOURCES):
        with open(os.path.join(SOURCES, name)) as f:
            for n, line in enumerate(f, 1):
                if re.search(r"//\s*gate-test:\s*" + re.escape(tag) + r"\s*$", line):
                    found.add((name, n))
    assert found, f"no line tagged {tag}"
    return found


def gate(name, command, *options, env=None):
    out = os.path.join(TMP, name)
    argv = [RACEGATE, "gate", "--no-doctor", "--out", out, "--source-root", SOURCES, *options, "--", *command]
    p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    report = None
    if os.path.exists(os.path.join(out, "report.json")):
        with open(os.path.join(out, "report.json")) as f:
            report = json.load(f)
    return p, out, report


def findings(report):
    return report["units"][0]["findings"] if report else []


def program(name):
    return os.path.join(PROGRAMS, name)


def expect_findings(label, p, report, expected_rc, expected):
    """expected: list of (tool, kind, tag, occurrences, processes)."""
    check(p.returncode == expected_rc, f"{label}: exit code {p.returncode}, expected {expected_rc}"
          + ("" if p.returncode == expected_rc else "\n" + p.stdout + p.stderr))
    got = findings(report)
    check(len(got) == len(expected), f"{label}: {len(got)} distinct findings, expected {len(expected)}")
    for tool, kind, tag, occurrences, processes in expected:
        lines = tagged_lines(tag)
        match = [f for f in got if f["tool"] == tool and f["kind"] == kind
                 and (os.path.basename(f["location"]["file"]), f["location"]["line"]) in lines]
        where = ", ".join(f"{os.path.basename(f['location']['file'])}:{f['location']['line']}" for f in got)
        check(len(match) == 1, f"{label}: one {tool} {kind} at the line tagged {tag} {sorted(lines)} (got: {where})")
        if match:
            f = match[0]
            check(f["occurrences"] == occurrences and len(f["pids"]) == processes,
                  f"{label}: {kind} seen {f['occurrences']} times in {len(f['pids'])} processes, "
                  f"expected {occurrences} in {processes}")
            check(f["state"] == "new", f"{label}: {kind} is new (state {f['state']})")


SARIF_SCHEMA = os.path.join(SOURCES, "..", "schemas", "sarif-schema-2.1.0.json")


def check_reports(label, out):
    """Every report parses: JSON, SARIF (JSON, valid against the OASIS 2.1.0
    schema), JUnit (XML); HTML and Markdown exist."""
    with open(os.path.join(out, "racegate.sarif")) as f:
        sarif = json.load(f)
    import jsonschema  # python3-jsonschema, installed by ci/setup
    with open(SARIF_SCHEMA) as f:
        schema = json.load(f)
    errors = [e.message for e in jsonschema.Draft4Validator(schema).iter_errors(sarif)]
    check(not errors, f"{label}: racegate.sarif is valid SARIF 2.1.0 {errors[:3]}")
    ET.parse(os.path.join(out, "junit.xml"))
    for name in ("report.html", "summary.md", "results.jsonl"):
        check(os.path.getsize(os.path.join(out, name)) > 0, f"{label}: {name} written")
    return sarif


# ---------------------------------------------------------------------------
# One real run per program.

p, out, r = gate("race_free", [program("race_free")])
expect_findings("race-free", p, r, 0, [])
check("PASS" in p.stdout, "race-free: verdict PASS printed")

p, out, r = gate("one_race", [program("one_race")])
expect_findings("one race", p, r, 1, [("tsan", "data-race", "one_race", 1, 1)])
sarif = check_reports("one race", out)
results = sarif["runs"][0]["results"]
check(any(res.get("baselineState") == "new" for res in results), "one race: SARIF baselineState new")
check(os.listdir(os.path.join(out, "logs")), "one race: raw logs kept in the output directory")

loop = "for i in 1 2 3 4 5; do \"$0\"; done"
p, out, r = gate("two_races", ["sh", "-c", loop, program("two_races")])
expect_findings("two races x5 processes", p, r, 1, [("tsan", "data-race", "two_races.first", 5, 5),
                                                    ("tsan", "data-race", "two_races.second", 5, 5)])

p, out, r = gate("lock_order", [program("lock_order")])
expect_findings("lock-order inversion", p, r, 1, [("tsan", "lock-order-inversion", "lock_order", 1, 1)])

p, out, r = gate("thread_leak", [program("thread_leak")])
expect_findings("thread leak", p, r, 1, [("tsan", "thread-leak", "thread_leak", 1, 1)])

p, out, r = gate("fork_race", [program("fork_race")])
fork_out = out
expect_findings("race in a forked child", p, r, 1, [("tsan", "data-race", "fork_race.parent", 1, 1),
                                                    ("tsan", "data-race", "fork_race.child", 1, 1)])
if r:
    pids = {f["pids"][0] for f in findings(r)}
    check(len(pids) == 2, f"race in a forked child: reported by two processes ({sorted(pids)})")
    check(len(os.listdir(os.path.join(out, "logs"))) == 2, "race in a forked child: two logs kept")

p, out, r = gate("heap_use_after_free", [program("heap_use_after_free")])
expect_findings("heap-use-after-free", p, r, 1, [("asan", "heap-use-after-free", "heap_use_after_free", 1, 1)])
check("the command failed with exit code" in p.stdout, "heap-use-after-free: the command's failure is said too")

p, out, r = gate("ubsan_overflow", [program("ubsan_overflow")])
expect_findings("UBSan overflow", p, r, 1, [("ubsan", "signed-integer-overflow", "ubsan_overflow", 1, 1)])

# By default the gate first proves (cached per toolchain) that the detectors
# see planted bugs; a blind one is a broken set-up, never a green gate.
p = subprocess.run([RACEGATE, "gate", "--out", os.path.join(TMP, "doctored"), "--", program("one_race")],
                   capture_output=True, text=True, timeout=600)
check(p.returncode == 1 and "1 new finding" in p.stdout, f"with the doctor: the race is found (exit {p.returncode})")
blind_env = dict(os.environ, TSAN_OPTIONS="report_bugs=0")
p = subprocess.run([RACEGATE, "gate", "--out", os.path.join(TMP, "blind"), "--", program("race_free")],
                   capture_output=True, text=True, timeout=600, env=blind_env)
check(p.returncode == 2 and "planted bug" in p.stderr,
      f"a blind TSan (report_bugs=0) fails the gate with exit 2, not a pass (exit {p.returncode}: "
      f"{p.stderr.strip()[-200:]!r})")

# A command that fails without any finding fails the gate; --allow-command-failure lets it through.
p, out, r = gate("false", ["false"])
check(p.returncode == 1 and "exit code 1" in p.stdout, "a failing command fails the gate (exit 1)")
p, out, r = gate("false_allowed", ["false"], "--allow-command-failure")
check(p.returncode == 0, "--allow-command-failure: a failing command with no finding passes")

# ---------------------------------------------------------------------------
# Baseline round trip.

baseline = os.path.join(TMP, "baseline.json")
p, out, r = gate("bl1", [program("one_race")], "--baseline", baseline)
check(p.returncode == 2 and "baseline" in p.stderr and not os.path.exists(baseline),
      "a missing baseline is exit 2 without --update-baseline")
p, out, r = gate("bl2", [program("one_race")], "--baseline", baseline, "--update-baseline",
                 "--reason", "known since the test began")
check(p.returncode == 0 and os.path.exists(baseline), f"--update-baseline creates the baseline (exit {p.returncode})")
with open(baseline) as f:
    entries = json.load(f)["findings"]
check(len(entries) == 1 and entries[0]["reason"] == "known since the test began"
      and entries[0]["location"]["file"] == "one_race.cpp",
      "the baseline holds the race with its reason and a path relative to the source root")
p, out, r = gate("bl3", [program("one_race")], "--baseline", baseline)
check(p.returncode == 0 and findings(r) and findings(r)[0]["state"] == "known",
      f"with the baseline, the same run passes and the race is known (exit {p.returncode})")
sarif = check_reports("baseline", out)
check(all(res.get("baselineState") == "unchanged" for res in sarif["runs"][0]["results"]),
      "SARIF baselineState unchanged for the known race")
p, out, r = gate("bl4", [program("race_free")], "--baseline", baseline)
fixed = r["run"]["fixed"] if r else []
check(p.returncode == 0 and len(fixed) == 1 and "fixed" in p.stdout,
      f"the race removed: the baseline entry is reported fixed (exit {p.returncode})")
sarif = check_reports("fixed", out)
check(any(res.get("baselineState") == "absent" for res in sarif["runs"][0]["results"]),
      "SARIF baselineState absent for the fixed finding")
p, out, r = gate("bl5", ["sh", "-c", loop, program("two_races")], "--baseline", baseline)
check(p.returncode == 1, "a new race beside a known one fails the gate")

def render_html(label, out, needles):
    """report.html in headless Chromium (network off): the page's script ran,
    the expected text is in the DOM, and the console shows nothing."""
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not os.access(chromium, os.X_OK):
        check(False, f"{label}: {chromium} is not installed (ci/setup installs the chromium package)")
        return
    work = tempfile.mkdtemp(prefix="racegate-gate-html-", dir=TMP)
    argv = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-default-apps", "--disable-extensions", "--disable-dev-shm-usage",
            "--disable-crash-reporter", "--no-default-browser-check", "--mute-audio",
            f"--user-data-dir={work}/profile", "--enable-logging=stderr", "--v=0",
            "--dump-dom", "file://" + os.path.join(out, "report.html")]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=dict(os.environ, HOME=work))
    dom, log = p.stdout, p.stderr
    check(p.returncode == 0 and '<body data-ready="true">' in dom,
          f"{label}: report.html renders and its script ran (chromium exit {p.returncode})")
    for needle in needles:
        check(needle in dom, f"{label}: the rendered report.html shows {needle!r}")
    console = [l for l in log.splitlines() if re.search(r"Uncaught|ERROR:CONSOLE|:CONSOLE[:(]|Refused to", l)]
    check(not console, f"{label}: no console message or CSP refusal while rendering {console[:2]}")


render_html("new beside known, one fixed", out,
            ["Fixed: in the baseline, not seen in this run (1)", "Findings (2)", "<dt>state</dt>"])
render_html("race in a forked child", fork_out, ["Findings (2)", "1 in 1 process (", "child_b()", "parent_b()"])

# ---------------------------------------------------------------------------
# Suppressions (TSan's own file) and the ignore list.

supp = os.path.join(TMP, "tsan.supp")
with open(supp, "w") as f:
    f.write("# the test's suppressions\nrace:write_two\n")
p, out, r = gate("supp", [program("one_race")], "--suppressions", supp)
check(p.returncode == 0 and not findings(r), f"a TSan suppression is honoured (exit {p.returncode})")
p, out, r = gate("one_race_sig", [program("one_race")])
signature = findings(r)[0]["signature"] if findings(r) else "0"
ignore = os.path.join(TMP, "ignore.txt")
with open(ignore, "w") as f:
    f.write(f"# ignored findings\n{signature}  a race the test accepts\n")
p, out, r = gate("ignore", [program("one_race")], "--ignore", ignore)
check(p.returncode == 0 and findings(r) and findings(r)[0]["state"] == "suppressed"
      and findings(r)[0]["state_reason"] == "a race the test accepts",
      f"an ignored signature is reported suppressed with its reason (exit {p.returncode})")
sarif = check_reports("ignore", out)
check(all(res.get("suppressions") for res in sarif["runs"][0]["results"]), "SARIF carries the suppression")

# User options are kept, the gate's own replace the user's where it needs them.
env = dict(os.environ, TSAN_OPTIONS="log_path=/nonexistent/x:history_size=3")
p, out, r = gate("user_opts", [program("one_race")], env=env)
check(p.returncode == 1 and len(findings(r)) == 1 and "log_path" in p.stderr,
      "a user log_path is replaced (and said), the race still found")

# ---------------------------------------------------------------------------
# Bad input: exit 2, a clear message, nothing overwritten.

def bad(label, options, command, needle, keep=None):
    before = None
    if keep:
        with open(keep, "rb") as f:
            before = f.read()
    p, out, r = gate(label, command, *options)
    check(p.returncode == 2 and needle in p.stderr,
          f"bad input ({label}): exit {p.returncode}, message {p.stderr.strip()[:160]!r}")
    check(not os.path.exists(os.path.join(out, "report.json")), f"bad input ({label}): no report written")
    if keep:
        with open(keep, "rb") as f:
            check(f.read() == before, f"bad input ({label}): {os.path.basename(keep)} untouched")


corrupt = os.path.join(TMP, "corrupt.json")
with open(corrupt, "w") as f:
    f.write('{"schema": "racegate-baseline/1", "findings": [\n  {"signature": "zz"}\n]}\n')
bad("corrupt_baseline", ["--baseline", corrupt, "--update-baseline"], [program("one_race")], "corrupt.json:2",
    keep=corrupt)
notjson = os.path.join(TMP, "notjson.json")
with open(notjson, "w") as f:
    f.write('{"schema": "racegate-baseline/1",\n "findings": [ oops ]}\n')
bad("baseline_not_json", ["--baseline", notjson], [program("one_race")], "notjson.json:2", keep=notjson)
badsupp = os.path.join(TMP, "bad.supp")
with open(badsupp, "w") as f:
    f.write("race:ok\nrcae:typo\n")
bad("corrupt_suppressions", ["--suppressions", badsupp], [program("one_race")], "bad.supp:2")
badignore = os.path.join(TMP, "bad-ignore.txt")
with open(badignore, "w") as f:
    f.write("0123abcd\n")
bad("ignore_without_reason", ["--ignore", badignore], [program("one_race")], "bad-ignore.txt:1")
bad("missing_command", [], ["/nonexistent/command"], "cannot run")
readonly = os.path.join(TMP, "readonly")
os.makedirs(readonly)
os.chmod(readonly, 0o500)
if os.access(readonly, os.W_OK):  # root ignores the mode: use a path under a file instead
    readonly_out = os.path.join(baseline, "out")
else:
    readonly_out = os.path.join(readonly, "out")
p = subprocess.run([RACEGATE, "gate", "--no-doctor", "--out", readonly_out, "--", program("one_race")],
                   capture_output=True, text=True, timeout=120)
check(p.returncode == 2 and "cannot write to output directory" in p.stderr,
      f"an output directory that cannot be written: exit {p.returncode}, {p.stderr.strip()[:120]!r}")
p = subprocess.run([RACEGATE, "gate"], capture_output=True, text=True, timeout=60)
check(p.returncode == 2, "no command: exit 2")

os.chmod(readonly, 0o700)
shutil.rmtree(TMP)
if FAILURES:
    print(f"\n{len(FAILURES)} check(s) failed")
    sys.exit(1)
print("\nall gate checks passed")
