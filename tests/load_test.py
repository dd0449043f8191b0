#!/usr/bin/env python3
"""2,000 units in one `racegate run`, at --jobs 1, 2 and 8.

usage: load_test.py RACEGATE MISBEHAVING_CASES

Four quick misbehaving cases (a crash, a shared-memory leak, an unlocked
race, a race the detector cannot see) repeated 500 times each. For every
--jobs value the test checks:

- every one of the 2,000 units is in results.jsonl with the verdict its case
  and variant call for (computed from `racegate list --json`), and the run
  exits 1 (some units fail by design);
- the runner's peak memory (ru_maxrss of the racegate process, from wait4)
  stays under a stated bound;
- the runner has as many open file descriptors when its executor ends as
  when it started (RACEGATE_RESOURCE_REPORT=1 prints both);
- nothing is left behind: no work directory in the run's TMPDIR, no
  shared-memory segment of the cases in /dev/shm.
"""
import collections
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile

from checklist import Checklist
import time

RACEGATE, CASES = sys.argv[1], sys.argv[2]
CASE_IDS = ["misbehave.crash", "misbehave.shm_leak", "misbehave.unexpected_race", "misbehave.hidden_canary"]
REPEAT = 500
UNITS = REPEAT * len(CASE_IDS)
# Bounds stated in docs/reliability.md: the plain runner holds every result
# of the run for the reports; a sanitized runner adds its shadow memory.
RSS_BOUND_KB = {"plain": 256 * 1024, "tsan": 1536 * 1024, "asan": 1536 * 1024}
RUN_TIME_BOUND_S = 180  # a loose upper bound per run on a loaded 2-core machine

CHECKS = Checklist()
check = CHECKS.check


def expected_verdict(case_id, variant):
    if case_id == "misbehave.crash":
        return "CRASH"
    if case_id == "misbehave.shm_leak":
        return "FAIL"
    if case_id == "misbehave.unexpected_race":
        return "RACE" if variant == "tsan" else "PASS"
    if case_id == "misbehave.hidden_canary":
        return "MISSED" if variant == "tsan" else "PASS"
    raise AssertionError(case_id)


def shm_of_cases():
    return sorted(n for n in os.listdir("/dev/shm") if n.startswith("racegate-misbehave-"))


def run_counted(argv, env, timeout):
    """Runs argv; returns (rc, stdout, stderr, ru_maxrss KiB, seconds). Always reaped."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        # The crash case must not leave core files; the limit is inherited.
        p = subprocess.Popen(argv, env=env, stdout=out, stderr=err, start_new_session=True,
                             preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0)))
        deadline = t0 + timeout
        try:
            while True:
                pid, status, ru = os.wait4(p.pid, os.WNOHANG)
                if pid == p.pid:
                    break
                if time.monotonic() > deadline:
                    os.killpg(p.pid, signal.SIGKILL)
                    pid, status, ru = os.wait4(p.pid, 0)
                    raise AssertionError(f"{argv} did not end within {timeout} s")
                time.sleep(0.05)
        finally:
            p.returncode = 0  # reaped by wait4 above; keep Popen from waiting again
        rc = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - t0
        out.seek(0)
        err.seek(0)
        return rc, out.read().decode(errors="replace"), err.read().decode(errors="replace"), ru.ru_maxrss, seconds


def main():
    listing = json.loads(subprocess.run([RACEGATE, "list", "--json", "--binary", CASES],
                                        check=True, capture_output=True, text=True, timeout=60).stdout)
    variant_of = {c["id"]: c["variant"] for c in listing if c["id"] in CASE_IDS}
    check(sorted(variant_of) == sorted(CASE_IDS), f"the case binary lists {CASE_IDS}")
    variant = next(iter(variant_of.values()))
    rss_bound = RSS_BOUND_KB[variant]
    shm_before = shm_of_cases()

    for jobs in (1, 2, 8):
        work = tempfile.mkdtemp(prefix="racegate-load-")
        try:
            tmp = os.path.join(work, "tmp")
            os.mkdir(tmp)
            out = os.path.join(work, "out")
            env = dict(os.environ, RACEGATE_RESOURCE_REPORT="1", TMPDIR=tmp)
            rc, stdout, stderr, maxrss_kb, seconds = run_counted(
                [RACEGATE, "run", "--binary", CASES, "--filter", ":".join(CASE_IDS), "--repeat", str(REPEAT),
                 "--trials", "1", "--jobs", str(jobs), "--seed", "12345", "--quiet", "--no-doctor",
                 "--out", out, "--format", "json,junit"],
                env, RUN_TIME_BOUND_S)
            tag = f"--jobs {jobs}:"
            check(rc == 1, f"{tag} exit 1 (units fail by design), got {rc}; stderr: {stderr[-2000:]}")
            check(f"racegate 0.1.0: {UNITS} units" in stdout, f"{tag} the run plans {UNITS} units")

            lines = open(os.path.join(out, "results.jsonl")).read().splitlines()
            units = [json.loads(line) for line in lines[1:]]
            check(len(units) == UNITS, f"{tag} results.jsonl holds {UNITS} units (got {len(units)})")
            wrong = [(u["case_id"], u["repeat"], u["verdict"], u["message"]) for u in units
                     if u["verdict"] != expected_verdict(u["case_id"], u["variant"])]
            check(not wrong, f"{tag} every unit has its expected verdict (wrong: {len(wrong)}, first: {wrong[:3]})")
            per_case = collections.Counter((u["case_id"], u["repeat"]) for u in units)
            check(len(per_case) == UNITS and set(per_case.values()) == {1},
                  f"{tag} each (case, repeat) appears exactly once")
            report = json.load(open(os.path.join(out, "report.json")))
            check(len(report.get("units", [])) == UNITS, f"{tag} report.json holds {UNITS} units")

            res = dict(re.findall(r"racegate: resources at (start|end): open_fds=(\d+)", stderr))
            check("start" in res and "end" in res, f"{tag} the runner reported its descriptors: {res}")
            if "start" in res and "end" in res:
                check(res["start"] == res["end"],
                      f"{tag} open descriptors at the end ({res['end']}) == at the start ({res['start']})")
            check(0 < maxrss_kb < rss_bound,
                  f"{tag} runner peak RSS {maxrss_kb} KiB < {rss_bound} KiB ({variant} runner)")
            check(os.listdir(tmp) == [], f"{tag} no work directory left in TMPDIR: {os.listdir(tmp)}")
            check(shm_of_cases() == shm_before, f"{tag} no shared-memory segment of the cases left")
            print(f"figures {tag} units={len(units)} seconds={seconds:.1f} maxrss_kb={maxrss_kb} "
                  f"fds_start={res.get('start')} fds_end={res.get('end')}", flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            # A run that failed half-way may leave the leak case's segments.
            for name in set(shm_of_cases()) - set(shm_before):
                os.unlink(os.path.join("/dev/shm", name))

    return CHECKS.exit_code()


if __name__ == "__main__":
    sys.exit(main())
