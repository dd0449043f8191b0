#!/usr/bin/env python3
"""racegate run --explore and racegate replay TOKEN, end to end.

usage: explore_run_test.py RACEGATE PLANTED_CASES VARIANT PROJECT_CASES

PLANTED_CASES (tests/explore/planted_cases.cpp, built in this tree's VARIANT)
holds planted.order_violation (an order violation PCT shows at depth 1 about
one run in two), planted.ordered (correct) and planted.join_holding_lock (a
deadlock in every schedule).

`run --explore pct --runs 50 --depth 1` gives FAIL for the order violation,
with a first failing token, and PASS for the correct case; every report
shows the unit's exploration; each run's 'run' line is in explore-tokens.txt
before its 'result' line. `replay TOKEN` reproduces the failure (outcome and
exit code) and a passing run, and says "replay diverged" (exit 1) against a
tampered record; with no record it says so and reports the outcome.
--stop-on-first stops a unit at its first failing run. The scheduler's
deadlock is FAIL, quoting the engine. Bad option combinations exit 2 and
leave the earlier results as they were. One of the project's own cases
(PROJECT_CASES, filter counter.locked_exact) PASSes under PCT and under noise;
its time per run is printed.

In the ASan tree a PCT schedule does not replay exactly (ASan's thread-start
interceptor runs outside the schedule, docs/exploration.md), nor does a run
that needed a time-slice preemption (a loaded machine): there the replay
checks accept a diverged replay only when it is flagged as such.
Every racegate call is bounded by a timeout.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from checklist import Checklist

CALL_TIMEOUT = 300  # seconds for one racegate call
TMP = tempfile.mkdtemp(prefix="racegate-explore-run-test-")
CHECKS = Checklist()
check = CHECKS.check


def racegate(exe, args):
    env = dict(os.environ)
    env["TMPDIR"] = TMP
    for var in ("RACEGATE_EXPLORE", "RACEGATE_EXPLORE_STATS", "GTEST_TOTAL_SHARDS", "GTEST_SHARD_INDEX"):
        env.pop(var, None)
    started = time.monotonic()
    p = subprocess.run([exe] + args, cwd=TMP, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       errors="replace", timeout=CALL_TIMEOUT)
    p.seconds = time.monotonic() - started
    return p


def units_of(out):
    with open(os.path.join(out, "results.jsonl")) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    return {u["case_id"]: u for u in lines[1:]}


def token_file(path):
    """The tokens file's lines: (kind, label, token or outcome, the line's words)."""
    out = []
    with open(path) as f:
        for line in f:
            words = line.split()
            if len(words) >= 4 and words[0] in ("run", "result"):
                out.append((words[0], words[1], words[3], words))
    return out


def say(p):
    print(p.stdout[-3000:])
    print(p.stderr[-3000:])


def main():
    exe, planted, variant, project = sys.argv[1:5]
    exact_replay = variant != "asan"
    base = ["--binary", planted, "--variants", variant, "--no-doctor", "--timeout", "60", "-j", "2"]

    # --- PCT depth 1, 50 runs: the order violation fails, the correct case passes.
    out = os.path.join(TMP, "pct")
    p = racegate(exe, ["run"] + base + ["--filter", "planted.order_violation:planted.ordered", "--explore", "pct",
                       "--runs", "50", "--depth", "1", "--out", out])
    print(f"run --explore pct --runs 50 --depth 1: {p.seconds:.1f} s")
    check(p.returncode == 1, f"run --explore pct exits 1 (got {p.returncode})")
    if p.returncode not in (0, 1):
        say(p)
        return
    units = units_of(out)
    bug, good = units.get("planted.order_violation"), units.get("planted.ordered")
    check(bug is not None and good is not None, "both planted units are in results.jsonl")
    if bug is None or good is None:
        return
    bx, gx = bug.get("explore") or {}, good.get("explore") or {}
    check(bug["verdict"] == "FAIL", f"the order violation is FAIL (got {bug['verdict']}: {bug['message']})")
    token = bx.get("first_failing_token")
    check(isinstance(token, str) and token.startswith("case=planted.order_violation,variant=" + variant + ","),
          f"its explore object names the first failing token ({token})")
    check(token is not None and token in bug["message"], "the message names the failing token")
    check(bx.get("runs") == 50 and 0 < bx.get("failed_runs", 0) < 50 and sum(bx.get("outcomes", {}).values()) == 50,
          f"50 runs, some failed: {bx.get('outcomes')}")
    check(bx.get("first_failing_outcome") == "fail" and bx.get("mode") == "pct" and bx.get("depth") == 1
          and bx.get("threads", 0) >= 2 and bx.get("steps", 0) >= 1 and bx.get("steps_from_probe") is True,
          f"mode, depth, threads, steps and outcome are recorded: {bx}")
    check(good["verdict"] == "PASS" and gx.get("failed_runs") == 0 and gx.get("outcomes") == {"pass": 50}
          and gx.get("first_failing_token") is None, f"the correct case is PASS in all 50 runs: {gx}")
    mb = gx.get("miss_bound")
    check(isinstance(mb, float) and 0 < mb <= 1, f"the correct case has a miss bound in (0, 1] ({mb})")
    check(bug["replay_command"].startswith("racegate replay " + token), "the replay command replays the token")
    with open(os.path.join(out, "report.json")) as f:
        report = json.load(f)
    check(all("explore" in u for u in report["units"]), "report.json's units carry their explore object")
    for name in ("summary.md", "report.html", "junit.xml", "racegate.sarif"):
        with open(os.path.join(out, name)) as f:
            text = f.read()
        check(token in text and "miss" in text.lower(), f"{name} shows the exploration (its token, the miss bound)")

    # The tokens file: each run's line before its result line.
    tokens_path = os.path.join(out, "explore-tokens.txt")
    lines = token_file(tokens_path)
    first_run = {}
    ordered = True
    for i, (kind, label, _, _) in enumerate(lines):
        if kind == "run":
            first_run.setdefault(label, i)
        elif first_run.get(label, len(lines)) > i:
            ordered = False
    check(ordered and len([k for k, *_ in lines if k == "result"]) == 102,
          "explore-tokens.txt: 102 results (2 probes, 100 runs), each after its run's line")
    label = next((lab for kind, lab, tok, _ in lines if kind == "run" and tok == token), None)
    recorded = next((w for kind, lab, _, w in lines if kind == "result" and lab == label), None)
    check(recorded is not None and recorded[3] == "fail", f"the failing token's result is recorded: {recorded}")
    recorded_exit = recorded[recorded.index("exit_code") + 1] if recorded and "exit_code" in recorded else None

    def preempted(words):
        """A run with a time-slice preemption (a loaded machine) may not replay step for step."""
        return words is not None and "slice_preemptions" in words and words[words.index("slice_preemptions") + 1] != "0"

    # --- replay TOKEN: the failure comes back.
    p = racegate(exe, ["replay", token, "--out", out])
    replayed = units_of(os.path.join(out, "replay")).get("planted.order_violation", {})
    if exact_replay and not preempted(recorded):
        check(p.returncode == 1 and "replay reproduced the recorded outcome fail" in p.stdout,
              f"replay TOKEN reproduces the failure (exit {p.returncode})")
        check(str(replayed.get("exit_code")) == recorded_exit and replayed.get("verdict") == "FAIL",
              f"with the recorded exit code {recorded_exit} (got {replayed.get('exit_code')})")
    else:
        check(p.returncode == 1 and ("replay reproduced" in p.stdout or "replay diverged" in p.stdout),
              f"replay TOKEN exits 1, reproduced or flagged as diverged (exit {p.returncode})")
    check(replayed.get("explore", {}).get("replay", {}).get("token") == token, "the replay's report names its token")
    check(os.path.exists(os.path.join(out, "report.json")) and units_of(out).get("planted.ordered") is not None,
          "the replay leaves the exploration's reports as they were (its own are in <out>/replay)")

    # A passing run replays as a pass (exit 0).
    pass_words = next(w for kind, lab, o, w in lines if kind == "result" and o == "pass" and not lab.endswith("probe"))
    pass_token = next(tok for kind, lab, tok, _ in lines if kind == "run" and lab == pass_words[1])
    p = racegate(exe, ["replay", pass_token, "--tokens", tokens_path, "--out", os.path.join(TMP, "rp")])
    if exact_replay and not preempted(pass_words):
        check(p.returncode == 0 and "replay reproduced the recorded outcome pass" in p.stdout,
              f"a passing run's token replays as a pass (exit {p.returncode})")
    else:
        check((p.returncode == 0 and "replay reproduced the recorded outcome pass" in p.stdout)
              or (p.returncode == 1 and "replay diverged" in p.stdout),
              f"a passing run's token replays as a pass, or is flagged as diverged (exit {p.returncode})")

    # A tampered record: the replay diverges, never silently trusted.
    tampered = os.path.join(TMP, "tampered-tokens.txt")
    with open(tokens_path) as f, open(tampered, "w") as g:
        for line in f:
            w = line.split()
            if len(w) > 3 and w[0] == "result" and w[1] == label:
                line = line.replace(" outcome fail ", " outcome timeout ", 1)  # an outcome no replay gives
            g.write(line)
    p = racegate(exe, ["replay", token, "--tokens", tampered, "--out", os.path.join(TMP, "rt")])
    check(p.returncode == 1 and "replay diverged" in p.stdout and "recorded timeout" in p.stdout,
          f"a tampered record: 'replay diverged', exit 1 (exit {p.returncode})")

    # No record: said, and the outcome reported.
    p = racegate(exe, ["replay", token, "--binary", planted, "--out", os.path.join(TMP, "norecord")])
    check(p.returncode == 1 and "no record of this token" in p.stderr + p.stdout,
          f"no record: said, and the outcome reported (exit {p.returncode})")

    # --- --stop-on-first, one job: the unit stops at its first failing run.
    out = os.path.join(TMP, "first")
    p = racegate(exe, ["run"] + base[:-2] + ["-j", "1", "--filter", "planted.order_violation", "--explore", "pct",
                       "--runs", "50", "--depth", "1", "--stop-on-first", "--out", out])
    x = units_of(out).get("planted.order_violation", {}).get("explore", {})
    check(p.returncode == 1 and x.get("first_failing_run") is not None and x.get("first_failing_run") != "probe"
          and x.get("runs") == int(x["first_failing_run"]) + 1 and x.get("stopped_early") == (x.get("runs") < 50),
          f"--stop-on-first: the runs end at the first failing one: {x.get('runs')} runs, first failing "
          f"{x.get('first_failing_run')}")

    # --- the scheduler's deadlock.
    out = os.path.join(TMP, "deadlock")
    p = racegate(exe, ["run"] + base + ["--filter", "planted.join_holding_lock", "--explore", "pct", "--runs", "3",
                       "--depth", "1", "--steps", "10", "--out", out])
    u = units_of(out).get("planted.join_holding_lock", {}) if os.path.exists(os.path.join(out, "results.jsonl")) else {}
    check(p.returncode == 1 and u.get("verdict") == "FAIL" and "the scheduler found a deadlock" in u.get("message", "")
          and "racegate-explore: deadlock" in u.get("message", "")
          and u.get("explore", {}).get("outcomes") == {"deadlock": 3},
          f"the scheduler's deadlock is FAIL quoting the engine: {u.get('message')}")

    # --- noise mode on the correct case.
    out = os.path.join(TMP, "noise")
    p = racegate(exe, ["run"] + base + ["--filter", "planted.ordered", "--explore", "noise", "--runs", "5",
                       "--out", out])
    x = units_of(out).get("planted.ordered", {}).get("explore", {}) if p.returncode in (0, 1) else {}
    check(p.returncode == 0 and x.get("mode") == "noise" and x.get("outcomes") == {"pass": 5}
          and x.get("depth") is None and x.get("miss_bound") is None, f"noise: the correct case passes: {x}")

    # --- bad usage: exit 2, the earlier results as they were.
    keep = os.path.join(TMP, "pct", "results.jsonl")
    with open(keep) as f:
        before = f.read()
    bad = [
        (["run"] + base + ["--explore", "random", "--out", os.path.join(TMP, "pct")], "the mode is noise or pct"),
        (["run"] + base + ["--runs", "5", "--out", os.path.join(TMP, "pct")], "need --explore"),
        (["run"] + base + ["--explore", "noise", "--depth", "2", "--out", os.path.join(TMP, "pct")], "PCT's"),
        (["run"] + base + ["--explore", "pct", "--runs", "0", "--out", os.path.join(TMP, "pct")], "from 1 to"),
        (["run"] + base + ["--explore", "pct", "--depth", "17", "--out", os.path.join(TMP, "pct")], "from 1 to 16"),
        (["run"] + base + ["--explore", "pct", "--explore-seed", "-1", "--out", os.path.join(TMP, "pct")],
         "not negative"),
        (["run"] + base + ["--preload", planted, "--out", os.path.join(TMP, "pct")], "goes with --explore"),
        (["run"] + base + ["--explore", "pct", "--preload", os.path.join(TMP, "none.so"), "--out",
                           os.path.join(TMP, "pct")], "--preload"),
        (["replay", token, "--variant", variant, "--out", os.path.join(TMP, "pct")], "go with racegate replay CASE"),
        (["replay", "planted.ordered", "--variant", variant, "--out", os.path.join(TMP, "pct")], "needs --variant"),
        (["replay", "case=planted.ordered,variant=plain", "--out", os.path.join(TMP, "pct")], "mode="),
        (["replay", token + "x", "--out", os.path.join(TMP, "pct")], "steps"),
        (["replay", token, "--tokens", os.path.join(TMP, "missing.txt"), "--out", os.path.join(TMP, "pct")],
         "cannot read the tokens file"),
    ]
    for args, says in bad:
        p = racegate(exe, args)
        ok = p.returncode == 2 and (says is None or says in p.stderr)
        check(ok, f"{' '.join(a if a != token else 'TOKEN' for a in args[:6])}...: exit 2"
                  f"{', says ' + repr(says) if says else ''} (exit {p.returncode}: {p.stderr.strip()[-200:]})")
    with open(keep) as f:
        check(f.read() == before, "the bad calls left the earlier results.jsonl as it was")

    # --- one of the project's own cases under PCT and noise (2 trials, generous timeout: a thread blocked in
    # the reference's futex holds the scheduler's token until the time slice preempts it).
    for mode in ("pct", "noise"):
        out = os.path.join(TMP, "project-" + mode)
        p = racegate(exe, ["run", "--binary", project, "--variants", variant, "--no-doctor", "--filter",
                           "counter.locked_exact", "--trials", "2", "--timeout", "120", "-j", "2", "--explore", mode,
                           "--runs", "5", "--out", out])
        u = units_of(out).get("counter.locked_exact", {}) if p.returncode in (0, 1) else {}
        per_run = u.get("wall_seconds", 0) / 6 if mode == "pct" else u.get("wall_seconds", 0) / 5
        print(f"counter.locked_exact [{variant}] --explore {mode} --runs 5 --trials 2: {p.seconds:.1f} s in all, "
              f"about {per_run:.2f} s per run")
        check(p.returncode == 0 and u.get("verdict") == "PASS" and u.get("explore", {}).get("outcomes") == {"pass": 5},
              f"counter.locked_exact passes under --explore {mode} (exit {p.returncode}: {u.get('message')})")
        if p.returncode != 0:
            say(p)


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(CHECKS.exit_code())
