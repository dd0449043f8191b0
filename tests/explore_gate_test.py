#!/usr/bin/env python3
"""racegate gate --explore and --replay-token, end to end.

usage: explore_gate_test.py RACEGATE BUG_FREE_PROGRAM race=TSAN_RACE_PROGRAM [hang=DEADLOCK_PROGRAM]
                             [BUG_PROGRAM DEPTH]...

For each planted BUG_PROGRAM (two that PCT finds often at their DEPTH in this
tree's variant): `gate --explore pct --runs 30 --depth DEPTH` exits 1, its
report's run.explore counts the failing runs and names the first failing
token, which is in explore-tokens.txt and replays to the same outcome; a
replay compared with a tampered record is reported as diverged (exit 1);
--stop-on-first stops at the first failing run; --allow-command-failure lets
an exit code through but never a deadlock or a signal.

On BUG_FREE_PROGRAM: `--explore pct --runs 20` exits 0 with no failing run
and a miss bound in (0, 1]; noise mode passes too; each run's token is in
explore-tokens.txt before the run starts (the command itself reads it).
Bad options exit 2. With hang=DEADLOCK_PROGRAM (the planted lock-order
deadlock, where this tree explores it): the scheduler's deadlock (exit 86) is
an outcome of its own, and --allow-command-failure does not let it through.
With race=TSAN_RACE_PROGRAM (TSan-built, one data race): the race reported
in every run is one finding, deduplicated across the runs, and judged
against the baseline as without exploration.
Every gate call is bounded by a timeout.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from checklist import Checklist

GATE_TIMEOUT = 120  # seconds for one gate call (30 short runs)
TMP = tempfile.mkdtemp(prefix="racegate-explore-gate-test-")
CHECKS = Checklist()
check = CHECKS.check
FAILURES = CHECKS.failures


def gate(racegate, args, command):
    env = dict(os.environ)
    env["TMPDIR"] = TMP
    for var in ("RACEGATE_EXPLORE", "RACEGATE_EXPLORE_STATS"):
        env.pop(var, None)
    p = subprocess.run([racegate, "gate", "--no-doctor", "--timeout", "60"] + args + ["--"] + command,
                       cwd=TMP, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       errors="replace", timeout=GATE_TIMEOUT)
    return p


def explore_of(out):
    with open(os.path.join(out, "report.json")) as f:
        return json.load(f)["run"].get("explore")


def token_lines(path):
    """label -> (token, recorded outcome) of a tokens file."""
    runs, results = {}, {}
    with open(path) as f:
        for line in f:
            words = line.split()
            if len(words) >= 4 and words[0] == "run" and words[2] == "token":
                runs[words[1]] = words[3]
            elif len(words) >= 4 and words[0] == "result" and words[2] == "outcome":
                results[words[1]] = words[3]
    return runs, results


def tamper(tokens, label, outcome, into):
    """A copy of the tokens file whose result for `label` says `outcome`."""
    with open(tokens) as f, open(into, "w") as g:
        for line in f:
            words = line.split()
            if len(words) >= 4 and words[0] == "result" and words[1] == label:
                words[3] = outcome
                line = " ".join(words) + "\n"
            g.write(line)


def replay(racegate, name, token, tokens, program, expect_rc, expect_same):
    """A replay that should reproduce and diverged after a time-slice
    preemption (the machine's load: the gate flags it, the schedule is not
    reproducible then) is retried, at most three times in all."""
    out = os.path.join(TMP, name)
    for attempt in range(1, 4):
        p = gate(racegate, ["--replay-token", token, "--tokens", tokens, "--out", out], [program])
        if not expect_same or p.returncode == 2:
            break
        r = (explore_of(out) or {}).get("replay", {})
        if r.get("same") or "preemption" not in r.get("trace_hash_check", ""):
            break
        print(f"note  {name}: replay attempt {attempt} diverged after a time-slice preemption ({r}); retried",
              flush=True)
    check(p.returncode == expect_rc, f"{name}: replay of {token} exits {expect_rc} (got {p.returncode}: "
          f"{p.stderr.strip().splitlines()[-1:] if p.returncode == 2 else ''})")
    if p.returncode == 2:
        return None
    r = (explore_of(out) or {}).get("replay", {})
    check(r.get("same") is expect_same, f"{name}: replay says same={expect_same} ({r})")
    said = "replay reproduced" if expect_same else "replay diverged"
    check(said in p.stdout, f"{name}: the console says '{said}'")
    return r


def bug_test(racegate, program, depth):
    name = os.path.basename(program)
    out = os.path.join(TMP, name)
    p = gate(racegate, ["--explore", "pct", "--runs", "30", "--depth", str(depth), "--out", out], [program])
    check(p.returncode == 1, f"{name}: gate --explore pct --runs 30 --depth {depth} exits 1 (got {p.returncode})")
    e = explore_of(out) if os.path.exists(os.path.join(out, "report.json")) else None
    check(e is not None, f"{name}: report.json has run.explore")
    if e is None:
        return
    check(e["mode"] == "pct" and e["depth"] == depth and e["runs"] == 30, f"{name}: mode, depth and runs recorded")
    check(e["failed_runs"] > 0, f"{name}: failed_runs > 0 ({e['failed_runs']} of 30)")
    check(sum(e["outcomes"].values()) == 30 and e["failed_runs"] == 30 - e["outcomes"].get("pass", 0),
          f"{name}: the outcomes histogram counts every run ({e['outcomes']})")
    check(e["threads_max"] >= 2 and e["steps_max"] > 0 and e["steps"] > 0,
          f"{name}: n and k measured (n {e['threads_max']}, k {e['steps_max']}, steps {e['steps']})")
    bound = e.get("miss_bound")
    check(isinstance(bound, float) and 0 <= bound <= 1, f"{name}: the miss bound is a probability ({bound})")
    tokens = os.path.join(out, "explore-tokens.txt")
    runs, results = token_lines(tokens)
    token = e["first_failing_token"]
    label = e["first_failing_run"]
    check(runs.get(label) == token, f"{name}: the first failing token {token} is in explore-tokens.txt")
    check(len(results) == 31, f"{name}: 30 runs and the probe have their result lines ({len(results)})")
    print(f"info  {name}: depth {depth}: {e['failed_runs']} of 30 runs failed, the first at run "
          f"{int(label) + 1} ({token}: {e['first_failing_outcome']}); n {e['threads_max']}, "
          f"k {e['steps_max']}, miss bound {bound:.3g}", flush=True)
    replay(racegate, name + "-replay", token, tokens, program, 1, True)
    tampered = os.path.join(TMP, name + "-tampered.txt")
    tamper(tokens, label, "pass", tampered)
    replay(racegate, name + "-diverged", token, tampered, program, 1, False)

    # --stop-on-first: the runs end with the first failing one.
    stop = os.path.join(TMP, name + "-stop")
    p = gate(racegate, ["--explore", "pct", "--runs", "30", "--depth", str(depth), "--stop-on-first",
                        "--out", stop], [program])
    # Judged by the stopped gate's own runs: a sanitized tree does not give
    # each seed exactly the same schedule twice, so the first failing run may
    # differ from the one above.
    s = explore_of(stop) if p.returncode != 2 else None
    stopped_at = str(s.get("first_failing_run")) if s else ""
    check(p.returncode == 1 and s is not None and s["failed_runs"] == 1 and stopped_at.isdigit()
          and s["runs"] == int(stopped_at) + 1 and s["stopped_early"] == (s["runs"] < 30),
          f"{name}: --stop-on-first stops after its first failing run (exit {p.returncode}, "
          f"{s and s['runs']} runs, first failing {stopped_at})")

    # --allow-command-failure excuses an exit code, never a deadlock, a signal
    # or a timeout: the exit code follows the outcomes of the gate's own runs.
    allowed = os.path.join(TMP, name + "-allowed")
    p = gate(racegate, ["--explore", "pct", "--runs", "30", "--depth", str(depth),
                        "--allow-command-failure", "--out", allowed], [program])
    a = explore_of(allowed) if p.returncode != 2 else None
    # The probe run that measured k counts too (a deadlock there is not excused either).
    outcomes = sorted(set(a["outcomes"]) | {(a.get("probe") or {}).get("outcome", "pass")}) if a else []
    hard = any(o == "deadlock" or o.startswith("signal:") or o == "timeout" for o in outcomes)
    check(a is not None and p.returncode == (1 if hard else 0),
          f"{name}: --allow-command-failure with outcomes {outcomes}: exit {1 if hard else 0} "
          f"(got {p.returncode})")


def bug_free_test(racegate, program):
    name = os.path.basename(program)
    out = os.path.join(TMP, name)
    p = gate(racegate, ["--explore", "pct", "--runs", "20", "--out", out], [program])
    check(p.returncode == 0, f"{name}: gate --explore pct --runs 20 exits 0 (got {p.returncode})")
    if p.returncode == 2:
        print(p.stderr)
        return
    e = explore_of(out)
    check(e["failed_runs"] == 0 and e["outcomes"] == {"pass": 20} and e["first_failing_token"] is None,
          f"{name}: no failing run ({e['outcomes']})")
    bound = e.get("miss_bound")
    check(isinstance(bound, float) and 0 < bound <= 1, f"{name}: miss bound in (0, 1] ({bound})")
    check(e["depth"] == 3 and e["steps_from_probe"], f"{name}: depth 3 by default, k measured by the probe")
    check("missed by all 20 runs with probability" in p.stdout,
          f"{name}: the console states the bound")
    with open(os.path.join(out, "summary.md")) as f:
        check("### Exploration" in f.read(), f"{name}: summary.md has the exploration section")
    print(f"info  {name}: n {e['threads_max']}, k {e['steps_max']}, miss bound after 20 runs {bound}", flush=True)
    tokens = os.path.join(out, "explore-tokens.txt")
    runs, results = token_lines(tokens)
    check(len(runs) == 21 and all(results.get(k) == "pass" for k in runs if k != "probe"),
          f"{name}: 20 runs and the probe in explore-tokens.txt, each with its result")
    replay(racegate, name + "-replay", runs["0"], tokens, program, 0, True)
    tampered = os.path.join(TMP, name + "-tampered.txt")
    tamper(tokens, "0", "exit:1", tampered)
    replay(racegate, name + "-diverged", runs["0"], tampered, program, 1, False)

    noise = os.path.join(TMP, name + "-noise")
    p = gate(racegate, ["--explore", "noise", "--runs", "5", "--out", noise], [program])
    e = explore_of(noise) if p.returncode != 2 else {}
    check(p.returncode == 0 and e.get("mode") == "noise" and e.get("runs") == 5 and e.get("miss_bound") is None,
          f"{name}: --explore noise --runs 5 passes, no bound (exit {p.returncode}, {e})")

    # The token is written before the run starts: the command reads it itself.
    early = os.path.join(TMP, "early")
    seen = os.path.join(TMP, "seen.txt")
    p = gate(racegate, ["--explore", "noise", "--runs", "1", "--explore-seed", "41", "--out", early],
             ["sh", "-c", f"cat {early}/explore-tokens.txt > {seen}"])
    with open(seen) as f:
        text = f.read()
    check(p.returncode == 0 and "run 0 token mode=noise,seed=41 command sh -c" in text and "result 0" not in text,
          f"{name}: a run's token line is in explore-tokens.txt before the run starts, its result after")


def bad_options_test(racegate, program):
    for args, what in ((["--explore", "pct", "--runs", "0"], "--runs 0"),
                       (["--explore", "pct", "--depth", "0"], "--depth 0"),
                       (["--explore", "pct", "--depth", "17"], "--depth 17"),
                       (["--explore", "foo"], "--explore foo"),
                       (["--explore", "noise", "--depth", "2"], "--depth with noise"),
                       (["--runs", "5"], "--runs without --explore"),
                       (["--explore", "pct", "--preload", os.path.join(TMP, "missing.so")], "a missing preload"),
                       (["--replay-token", "mode=pct,seed=1", "--tokens", os.path.join(TMP, "none.txt")],
                        "a replay without a tokens file"),
                       (["--replay-token", "mode=pct,seed=999,depth=3,steps=1", "--tokens",
                         os.path.join(TMP, os.path.basename(program), "explore-tokens.txt")],
                        "a replay of a token not recorded")):
        out = os.path.join(TMP, "bad")
        p = gate(racegate, args + ["--out", out], [program])
        check(p.returncode == 2 and "racegate" in p.stderr and not os.path.exists(os.path.join(out, "report.json")),
              f"bad option {what}: exit 2, nothing written (got {p.returncode}: "
              f"{p.stderr.strip().splitlines()[-1:]})")


def hang_test(racegate, program):
    name = os.path.basename(program)
    out = os.path.join(TMP, name)
    p = gate(racegate, ["--explore", "pct", "--runs", "20", "--depth", "3", "--stop-on-first",
                        "--allow-command-failure", "--out", out], [program])
    e = explore_of(out) if p.returncode != 2 else {}
    check(p.returncode == 1 and e.get("first_failing_outcome") == "deadlock" and "deadlock" in e.get("outcomes", {}),
          f"{name}: the scheduler's deadlock is an outcome, not excused by --allow-command-failure "
          f"(exit {p.returncode}, {e.get('outcomes')})")
    if e.get("first_failing_token"):
        print(f"info  {name}: depth 3: first deadlock at run {int(e['first_failing_run']) + 1} "
              f"({e['first_failing_token']})", flush=True)
        replay(racegate, name + "-replay", e["first_failing_token"], os.path.join(out, "explore-tokens.txt"),
               program, 1, True)


def race_test(racegate, program):
    name = os.path.basename(program)
    out = os.path.join(TMP, name)
    p = gate(racegate, ["--explore", "noise", "--runs", "2", "--out", out], [program])
    report = json.load(open(os.path.join(out, "report.json"))) if p.returncode != 2 else {}
    findings = report.get("units", [{}])[0].get("findings", [])
    e = report.get("run", {}).get("explore", {})
    check(p.returncode == 1 and report.get("verdict") == "RACE" and len(findings) == 1
          and findings[0]["occurrences"] == 2 and e.get("outcomes") == {"findings": 2},
          f"{name}: the race of the 2 runs is one new finding with 2 reports, each run "
          f"'findings' (exit {p.returncode}, {[(f['kind'], f['occurrences']) for f in findings]}, {e.get('outcomes')})")
    baseline = os.path.join(TMP, "baseline.json")
    gate(racegate, ["--explore", "noise", "--runs", "1", "--baseline", baseline, "--update-baseline",
                    "--out", out + "-adopt"], [program])
    p = gate(racegate, ["--explore", "noise", "--runs", "1", "--baseline", baseline, "--out", out + "-known"],
             [program])
    check(p.returncode == 0 and "1 known" in p.stdout,
          f"{name}: with the race in the baseline the exploration passes (exit {p.returncode})")


def main():
    racegate, bug_free = sys.argv[1], sys.argv[2]
    rest = sys.argv[3:]
    hangs = [a[len("hang="):] for a in rest if a.startswith("hang=")]
    races = [a[len("race="):] for a in rest if a.startswith("race=")]
    rest = [a for a in rest if not a.startswith(("hang=", "race="))]
    bugs = list(zip(rest[0::2], (int(d) for d in rest[1::2])))
    try:
        bug_free_test(racegate, bug_free)
        bad_options_test(racegate, bug_free)
        for program in races:
            race_test(racegate, program)
        for program in hangs:
            hang_test(racegate, program)
        for program, depth in bugs:
            bug_test(racegate, program, depth)
        left = [n for n in os.listdir(TMP) if n.startswith("racegate-gate-")]
        check(not left, f"every gate removed its work directory ({left})")
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print(f"{len(FAILURES)} failed" if FAILURES else "all checks passed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
