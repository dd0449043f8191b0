#!/usr/bin/env python3
"""The runner and the gate in a broken environment.

usage: env_faults_test.py RACEGATE MISBEHAVING_CASES SHARED_RUNTIME_PROGRAM TSAN_PROGRAM

SHARED_RUNTIME_PROGRAM is a ThreadSanitizer program whose runtime is a shared
library (tests/reliability.cmake); TSAN_PROGRAM is tests/gate/one_race.cpp
built with TSan (one data race, exits 0).

Faults, each with what must happen:
- `racegate run --binary` of a missing file, of a file that is not
  executable: exit 2 naming the file, before anything runs, earlier reports
  untouched.
- A case binary that disappears, or loses its execute bit, after it was
  listed: every unit ERROR ("cannot start ..."), never PASS.
- A sanitizer runtime the loader cannot load (a broken library of the
  runtime's name first in LD_LIBRARY_PATH): for the listing, exit 2 with the
  loader's message, earlier reports untouched; for a unit, ERROR naming the
  loader's message; under `racegate gate`, ERROR (exit 1) naming it, even
  with --allow-command-failure; so is a program a shell cannot find (127).
- No symbolizer (TSAN_OPTIONS=symbolize=0, PATH without llvm-symbolizer):
  the finding is still reported with its kind, its frames kept as
  module+offset, and both the runner and the gate warn that the stacks are
  unsymbolized; with the symbolizer, no warning.
"""
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile

from checklist import Checklist

RACEGATE, CASES, SHARED_RUNTIME_PROGRAM, TSAN_PROGRAM = sys.argv[1:5]
CHECKS = Checklist()
check = CHECKS.check


def run(argv, env=None, timeout=120):
    """Runs argv in a session of its own; kills the whole session on timeout."""
    p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         errors="replace", start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise
    return p.returncode, out, err


def units_of(out_dir):
    lines = open(os.path.join(out_dir, "results.jsonl")).read().splitlines()
    return [json.loads(line) for line in lines[1:] if line.strip()]


def snapshot(d):
    return {name: open(os.path.join(d, name), "rb").read() for name in sorted(os.listdir(d))}


def earlier_reports(work):
    """An output directory holding an earlier run's reports."""
    out = os.path.join(work, "earlier-out")
    os.makedirs(out, exist_ok=True)
    for name, text in (("results.jsonl", '{"schema":"racegate-results/1"}\n'), ("report.json", '{"earlier":1}\n')):
        with open(os.path.join(out, name), "w") as f:
            f.write(text)
    return out


def runtime_library():
    """The sanitizer runtime SHARED_RUNTIME_PROGRAM needs the loader to find."""
    dyn = subprocess.run(["readelf", "-d", SHARED_RUNTIME_PROGRAM], check=True, capture_output=True,
                         text=True).stdout
    for line in dyn.splitlines():
        if "(NEEDED)" in line and "san" in line:
            return line.split("[", 1)[1].rstrip("]")
    raise AssertionError(f"{SHARED_RUNTIME_PROGRAM} needs no sanitizer runtime library:\n{dyn}")


def write_script(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


def run_cmd(case_binary, out, filt, env=None):
    # --max-memory 0: the launchers list the plain cases but some run a
    # ThreadSanitizer program, whose runtime cannot start under the address
    # space limit the runner sets on plain units.
    return run([RACEGATE, "run", "--binary", case_binary, "--filter", filt, "--trials", "1", "--jobs", "1",
                "--no-doctor", "--max-memory", "0", "--out", out, "--format", "json,junit"], env)


def test_missing_and_not_executable(work):
    out = earlier_reports(work)
    before = snapshot(out)
    missing = os.path.join(work, "no-such-cases")
    rc, _, err = run_cmd(missing, out, "*")
    check(rc == 2 and missing in err and "missing" in err,
          f"missing case binary: exit 2 naming it (rc={rc}, stderr={err.strip()!r})")
    check(snapshot(out) == before, "missing case binary: earlier reports untouched")

    not_exec = os.path.join(work, "cases-not-executable")
    shutil.copy(CASES, not_exec)
    os.chmod(not_exec, 0o644)
    rc, _, err = run_cmd(not_exec, out, "*")
    check(rc == 2 and not_exec in err and "not executable" in err,
          f"non-executable case binary: exit 2 naming it (rc={rc}, stderr={err.strip()!r})")
    check(snapshot(out) == before, "non-executable case binary: earlier reports untouched")

    directory = os.path.join(work, "a-directory")
    os.mkdir(directory)
    rc, _, err = run_cmd(directory, out, "*")
    check(rc == 2 and directory in err and "is a directory" in err, f"a directory as case binary: exit 2 naming it (rc={rc}, stderr={err.strip()!r})")
    check(snapshot(out) == before, "a directory as case binary: earlier reports untouched")


def test_gone_after_listing(work):
    # The case binary answers its listing, then removes itself (or its
    # execute bit): the units cannot be started.
    for how, action in (("removed", 'rm -f "$0"'), ("made non-executable", 'chmod a-x "$0"')):
        launcher = os.path.join(work, f"vanishing-{how.split()[0]}")
        write_script(launcher, f'#!/bin/sh\n"{CASES}" "$@"\nrc=$?\n{action}\nexit $rc\n')
        out = os.path.join(work, f"out-vanishing-{how.split()[0]}")
        rc, stdout, err = run_cmd(launcher, out, "misbehave.unexpected_race:misbehave.hidden_canary")
        units = units_of(out)
        check(rc == 1 and len(units) == 2, f"case binary {how} after listing: exit 1, 2 units (rc={rc}, {len(units)})")
        check(all(u["verdict"] == "ERROR" and "cannot start" in u["message"] for u in units),
              f"case binary {how} after listing: every unit ERROR 'cannot start' "
              f"({[(u['verdict'], u['message']) for u in units]})")


def test_broken_runtime(work):
    lib = runtime_library()
    fake = os.path.join(work, "broken-runtime")
    os.mkdir(fake)
    with open(os.path.join(fake, lib), "w") as f:
        f.write("not a shared object\n")
    broken_env = dict(os.environ, LD_LIBRARY_PATH=fake)

    # The whole binary: its listing cannot load.
    out = earlier_reports(work)
    before = snapshot(out)
    rc, _, err = run_cmd(SHARED_RUNTIME_PROGRAM, out, "*", broken_env)
    check(rc == 2 and "could not be loaded" in err and lib in err and "error while loading shared libraries" in err,
          f"broken runtime at listing: exit 2 with the loader's message (rc={rc}, stderr={err.strip()[-600:]!r})")
    check(snapshot(out) == before, "broken runtime at listing: earlier reports untouched")

    # A unit: the case binary lists, but what runs the unit cannot load.
    launcher = os.path.join(work, "launcher-broken-runtime")
    write_script(launcher, f'#!/bin/sh\ncase "$1" in --list) exec "{CASES}" "$@";; esac\n'
                           f'LD_LIBRARY_PATH="{fake}" exec "{SHARED_RUNTIME_PROGRAM}" "$@"\n')
    out = os.path.join(work, "out-unit-broken-runtime")
    rc, stdout, err = run_cmd(launcher, out, "misbehave.unexpected_race")
    units = units_of(out)
    ok = rc == 1 and len(units) == 1 and units[0]["verdict"] == "ERROR"
    msg = units[0]["message"] if units else ""
    check(ok and "could not be loaded" in msg and lib in msg,
          f"broken runtime in a unit: ERROR naming the loader's message (rc={rc}, message={msg!r})")

    # The gate: the command's runtime cannot load; never green, not even
    # with --allow-command-failure.
    for extra in ([], ["--allow-command-failure"]):
        out = os.path.join(work, "out-gate-broken-runtime" + "".join(extra))
        rc, stdout, err = run([RACEGATE, "gate", "--no-doctor", "--out", out, "--format", "json", *extra, "--",
                               SHARED_RUNTIME_PROGRAM], broken_env)
        units = units_of(out)
        verdict = units[0]["verdict"] if units else None
        message = units[0]["message"] if units else ""
        check(rc == 1 and verdict == "ERROR" and "code 127" in message and lib in message
              and "error while loading shared libraries" in message,
              f"gate {' '.join(extra) or '(plain)'} with a broken runtime: ERROR, exit 1 "
              f"naming the loader's message (rc={rc}, verdict={verdict}, message={message!r})")
        check(lib in err and "error while loading shared libraries" in err,
              f"gate {' '.join(extra) or '(plain)'}: the loader's message is passed on to stderr")


def test_gate_program_not_found(work):
    # A shell that cannot find a program exits 127 as the loader does: not a
    # failure --allow-command-failure may excuse.
    out = os.path.join(work, "out-gate-not-found")
    rc, stdout, err = run([RACEGATE, "gate", "--no-doctor", "--allow-command-failure", "--out", out, "--format",
                           "json", "--", "sh", "-c", "racegate-no-such-program"])
    units = units_of(out)
    message = units[0]["message"] if units else ""
    check(rc == 1 and units and units[0]["verdict"] == "ERROR" and "code 127" in message,
          f"gate --allow-command-failure, a program not found (127): ERROR, exit 1 (rc={rc}, message={message!r})")
    check("racegate-no-such-program" in err, "gate: the shell's message is passed on to stderr")


def stripped_path(work):
    """A PATH in which no symbolizer can be found."""
    bare = os.path.join(work, "bare-path")
    os.makedirs(bare, exist_ok=True)
    return bare


def no_symbolizer_env(work):
    env = {k: v for k, v in os.environ.items() if not k.endswith("SYMBOLIZER_PATH")}
    env["PATH"] = stripped_path(work)
    env["TSAN_OPTIONS"] = "symbolize=0"
    return env


def all_frames(finding):
    return [fr for s in finding["stacks"] for fr in s["frames"]]


def check_unsymbolized(finding, where):
    frames = all_frames(finding)
    module = os.path.basename(TSAN_PROGRAM)
    check(finding["kind"] == "data-race", f"{where}: the finding is a data-race ({finding['kind']})")
    check(bool(frames) and all(not fr["function"] and not fr["file"] for fr in frames),
          f"{where}: frames carry no function or file:line")
    check(any(fr["module"] == module and fr["module_offset"] > 0 for fr in frames),
          f"{where}: frames kept as module+offset ({module}+0x...)")


def test_no_symbolizer(work):
    launcher = os.path.join(work, "launcher-tsan-program")
    write_script(launcher, f'#!/bin/sh\ncase "$1" in --list) exec "{CASES}" "$@";; esac\nexec "{TSAN_PROGRAM}"\n')
    for symbolized in (False, True):
        label = "with symbolizer" if symbolized else "no symbolizer"
        env = dict(os.environ) if symbolized else no_symbolizer_env(work)

        out = os.path.join(work, f"out-run-{int(symbolized)}")
        rc, _, err = run_cmd(launcher, out, "misbehave.unexpected_race", env)
        units = units_of(out)
        check(rc == 1 and len(units) == 1 and units[0]["verdict"] == "RACE",
              f"run, {label}: the race is reported, RACE (rc={rc}, {[u['verdict'] for u in units]})")
        findings = units[0]["findings"] if units else []
        warned = "unsymbolized stacks" in err
        if symbolized:
            check(not warned, f"run, {label}: no warning")
            check(any(fr["function"] for f in findings for fr in all_frames(f)), f"run, {label}: functions named")
        else:
            check(warned, f"run, {label}: the runner warns that stacks are unsymbolized (stderr={err.strip()[-400:]!r})")
            check(len(findings) == 1, f"run, {label}: one finding ({len(findings)})")
            if findings:
                check_unsymbolized(findings[0], f"run, {label}")

        out = os.path.join(work, f"out-gate-{int(symbolized)}")
        rc, stdout, err = run([RACEGATE, "gate", "--no-doctor", "--out", out, "--format", "json", "--",
                               TSAN_PROGRAM], env)
        units = units_of(out)
        findings = units[0]["findings"] if units else []
        check(rc == 1 and units and units[0]["verdict"] == "RACE" and len(findings) == 1,
              f"gate, {label}: one new finding, RACE (rc={rc})")
        warned = "unsymbolized stacks" in err
        if symbolized:
            check(not warned, f"gate, {label}: no warning")
        else:
            check(warned, f"gate, {label}: the gate warns that stacks are unsymbolized (stderr={err.strip()[-400:]!r})")
            if findings:
                check_unsymbolized(findings[0], f"gate, {label}")


def main():
    work = tempfile.mkdtemp(prefix="racegate-envfaults-")
    try:
        test_missing_and_not_executable(work)
        test_gone_after_listing(work)
        test_broken_runtime(work)
        test_gate_program_not_found(work)
        test_no_symbolizer(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return CHECKS.exit_code()


if __name__ == "__main__":
    sys.exit(main())
