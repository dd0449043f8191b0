#!/usr/bin/env python3
"""Bad input and a broken output directory, through the racegate CLI.

    bad_input_test.py RACEGATE MISBEHAVING_CASES

Each malformed results.jsonl / report.json (given to `racegate report` and
`racegate merge`), baseline, suppressions and ignore-list file (given to
`racegate gate`) and each bad command line must end in exit 2 with a message
naming the file and the line, and must leave a pre-existing output directory
byte for byte as it was (and, for the gate, the command not run).

The output directory on a full filesystem (RLIMIT_FSIZE: EFBIG; a 64 KiB
tmpfs: ENOSPC), read-only (chattr +i: EPERM even for root), replaced by a
file, or deleted during the run, for `racegate run`, `report`, `merge` and
`gate`: exit 2 with a clear error, and earlier reports are never truncated or
half-written (no file changed, no temporary file left).
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

RACEGATE = ""
CASES = ""
FORMATS = "json,junit,sarif,md,html"
REPORT_FILES = ["report.json", "junit.xml", "racegate.sarif", "summary.md", "report.html", "results.jsonl"]

HEADER = '{"schema":"racegate-results/1","run":{"tool_version":"0.1.0","run_seed":1}}'
UNIT = '{"case_id":"a.b","variant":"plain","verdict":"PASS","trials_run":1}'


def run(args, limit_fsize=None, timeout=120, cwd=None):
    def pre():
        if limit_fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_fsize, limit_fsize))
    return subprocess.run([RACEGATE] + args, capture_output=True, text=True, errors="replace",
                          timeout=timeout, preexec_fn=pre if limit_fsize is not None else None, cwd=cwd)


def snapshot(directory):
    """Every file under directory (relative name -> bytes)."""
    out = {}
    for root, _, files in os.walk(directory):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, directory)] = fh.read()
    return out


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="racegate-badinput-")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        # A good earlier run's reports, which nothing below may change.
        self.good = self.write("good.jsonl", HEADER + "\n" + UNIT + "\n")
        self.out = os.path.join(self.tmp, "out")
        r = run(["report", "--from", self.good, "--out", self.out, "--format", FORMATS])
        self.assertEqual(r.returncode, 0, r.stderr)
        shutil.copy(self.good, os.path.join(self.out, "results.jsonl"))
        self.before = snapshot(self.out)
        self.assertEqual(sorted(self.before), sorted(REPORT_FILES))

    def write(self, name, text, mode="w"):
        p = os.path.join(self.tmp, name)
        with open(p, mode) as f:
            f.write(text)
        return p

    def assertRefused(self, r, *needles):
        """Exit 2, each needle in stderr, the earlier reports unchanged."""
        self.assertEqual(r.returncode, 2, "exit %d\nstdout: %s\nstderr: %s" % (r.returncode, r.stdout, r.stderr))
        for n in needles:
            self.assertIn(n, r.stderr)
        self.assertEqual(snapshot(self.out), self.before, "the earlier reports changed")


class MalformedResults(Base):
    CASES = {
        "not_json_in_middle.jsonl": (HEADER + "\n" + UNIT + "\n{oops\n" + UNIT + "\n", 3, "not JSON"),
        "unknown_verdict.jsonl": (HEADER + "\n" + UNIT.replace("PASS", "GREEN") + "\n", 2, "verdict"),
        "no_case_id.jsonl": (HEADER + "\n" + '{"verdict":"PASS"}' + "\n", 2, "case_id"),
        "wrong_type.jsonl": (HEADER + "\n\n" + UNIT[:-1] + ',"findings":"none"}\n', 3, "a.b"),
        "wrong_header_type.jsonl": ('{"schema":"racegate-results/1","run":{"run_seed":"x"}}\n', 1, "run"),
        "no_header.jsonl": (UNIT + "\n", 1, "header"),
        "other_schema.jsonl": ('{"schema":"something-else/9"}\n', 1, "schema"),
        "empty.jsonl": ("", 1, "empty"),
        "array.jsonl": (HEADER + "\n[1,2]\n", 2, "object"),
        # Found by results_fuzzer: a float out of an int's range (undefined
        # behaviour to convert), and a number too large for a double.
        "float_out_of_range.jsonl": (HEADER + "\n" + UNIT[:-1] + ',"signal":2.5e70}\n', 2, "does not fit"),
        "negative_unsigned.jsonl": (HEADER + "\n" + UNIT[:-1] + ',"seed":-1.5}\n', 2, "does not fit"),
        "number_overflow.json": ('{\n  "schema": "racegate-run/1",\n  "run": {},\n  "units": [\n    {"signal": 1E99999}]\n}\n',
                                 5, "number overflow"),
        "binary.jsonl": (HEADER + "\n\x00\x01\x02garbage\xff\n", 2, "not JSON"),
        "report_broken.json": ('{\n  "schema": "racegate-run/1",\n  "run": {},\n  "units": [\n    {"case_id": }\n  ]\n}\n',
                               5, "not valid JSON"),
        # Found by results_fuzzer: a schema that is not a string.
        "report_schema_object.json": ('{\n  "schema": {"x": 1},\n  "units": []\n}\n', 1, "not a racegate report.json"),
        "report_bad_unit.json": ('{\n  "schema": "racegate-run/1",\n  "run": {},\n  "units": [{"case_id": "x"}]\n}\n',
                                 1, "verdict"),
    }

    def test_report_and_merge_refuse_each_with_file_and_line(self):
        for name, (text, line, what) in self.CASES.items():
            with self.subTest(name=name):
                path = self.write(name, text.encode("latin-1"), "wb")
                where = "%s:%d:" % (path, line)
                self.assertRefused(run(["report", "--from", path, "--out", self.out, "--format", FORMATS]),
                                   where, what)
                # merge: the bad file after a good one; still nothing written.
                self.assertRefused(run(["merge", self.good, path, "--out", self.out, "--format", FORMATS]),
                                   where, what)

    def test_missing_and_directory_inputs(self):
        missing = os.path.join(self.tmp, "no-such.jsonl")
        self.assertRefused(run(["report", "--from", missing, "--out", self.out]), missing, "cannot read")
        self.assertRefused(run(["merge", self.good, self.tmp, "--out", self.out]), self.tmp, "directory")

    def test_unterminated_last_line_is_skipped_with_a_warning(self):
        # What a run killed while writing a line leaves: read, with a warning.
        path = self.write("killed.jsonl", HEADER + "\n" + UNIT + "\n" + UNIT[:20])
        out = os.path.join(self.tmp, "out2")
        r = run(["report", "--from", path, "--out", out, "--format", "json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(path + ":3:", r.stderr)
        self.assertIn("skipped", r.stderr)
        import json
        with open(os.path.join(out, "report.json")) as f:
            self.assertEqual(len(json.load(f)["units"]), 1)

    def test_report_json_is_read_back(self):
        # report.json is accepted as input too: the same units come back.
        out = os.path.join(self.tmp, "out3")
        r = run(["report", "--from", os.path.join(self.out, "report.json"), "--out", out, "--format", "json"])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(out, "report.json"), "rb") as f:
            self.assertEqual(f.read(), self.before["report.json"])


class MalformedGateFiles(Base):
    def gate(self, *options):
        marker = os.path.join(self.tmp, "command-ran")
        r = run(["gate", "--no-doctor", "--out", self.out, "--format", FORMATS] + list(options) +
                ["--", "/bin/sh", "-c", "touch '%s'" % marker])
        self.assertFalse(os.path.exists(marker), "the command ran despite the bad file")
        return r

    def test_baseline(self):
        cases = {
            "syntax.json": ('{\n  "schema": "racegate-baseline/1",\n  "findings": [\n    {"signature": ]\n}\n', 4),
            "schema_number.json": ('{"schema": 1, "findings": []}\n', 1),
            "bad_signature.json": ('{"schema": "racegate-baseline/1", "findings": [\n'
                                   '  {"signature": "0123456789abcdef", "reason": "a"},\n'
                                   '  {"signature": "not-hex!", "reason": "b"}]}\n', 3),
            "duplicate.json": ('{"schema": "racegate-baseline/1", "findings": [\n'
                               '  {"signature": "0123456789abcdef"},\n  {"signature": "0123456789abcdef"}]}\n', 3),
            "wrong_type.json": ('{"schema": "racegate-baseline/1", "findings": [\n  {"signature": 12}]}\n', 2),
            "number_overflow.json": ('{"schema": "racegate-baseline/1",\n "findings": [\n  {"x": 3E99999}]}\n', 3),
            "float_line.json": ('{"schema": "racegate-baseline/1", "findings": [\n'
                                '  {"signature": "0123456789abcdef", "location": {"line": 1e300}}]}\n', 2),
        }
        for name, (text, line) in cases.items():
            with self.subTest(name=name):
                path = self.write(name, text)
                self.assertRefused(self.gate("--baseline", path), "%s:%d:" % (path, line))

    def test_suppressions(self):
        cases = {
            "no_colon.supp": ("# fine\nrace:Foo\nthis is not a rule\n", 3, "not a suppression"),
            "unknown_type.supp": ("racy:Foo\n", 1, "unknown suppression type"),
            "empty_pattern.supp": ("\n\nrace:   \n", 3, "no pattern"),
            "binary.supp": ("race:ok\n\x00\xff\xfe\n", 2, "'\\x00\\xff\\xfe' is not a suppression"),
        }
        for name, (text, line, what) in cases.items():
            with self.subTest(name=name):
                path = self.write(name, text.encode("latin-1"), "wb")
                self.assertRefused(self.gate("--suppressions", path), "%s:%d:" % (path, line), what)

    def test_ignore_list(self):
        cases = {
            "not_hex.txt": ("0123456789abcdef known\nzz reason\n", 2, "not a finding signature"),
            "no_reason.txt": ("# x\n0123456789abcdef\n", 2, "no reason"),
        }
        for name, (text, line, what) in cases.items():
            with self.subTest(name=name):
                path = self.write(name, text)
                self.assertRefused(self.gate("--ignore", path), "%s:%d:" % (path, line), what)


class BadArguments(Base):
    def test_each_is_exit_2_and_writes_nothing(self):
        base = ["run", "--no-doctor", "--binary", CASES, "--out", self.out]
        cases = [
            (["run", "--no-such-option"], "no-such-option"),
            (base + ["--jobs", "0"], "jobs"),
            (base + ["--format", "json,pdf"], "unknown format 'pdf'"),
            (base + ["--shard", "3/2"], "invalid shard"),
            (base + ["--shard", "one/two"], "--shard takes I/N"),
            (base + ["--shard", "99999999999999999999/2"], "--shard takes I/N"),
            (base + ["--variants", "plain,quantum"], "unknown variant"),
            (base + ["--filter", "no.such.case*"], "no case matches"),
            (["report", "--from", self.good, "--out", self.out, "--format", "xml"], "unknown format"),
            (["gate", "--no-doctor", "--out", self.out, "--timeout", "-1", "--", "true"], "timeout"),
            (["replay", "x", "--variant", "plain", "--seed", "notanumber"], "seed"),
        ]
        for args, what in cases:
            with self.subTest(args=" ".join(args)):
                self.assertRefused(run(args), what)


class BrokenOutputDirectory(Base):
    """The output directory full, read-only, a file, or deleted mid-run."""

    def assertNoTemporaries(self):
        left = [f for f in os.listdir(self.out) if f not in REPORT_FILES + ["logs"]]
        self.assertEqual(left, [], "temporary files left in the output directory")

    def commands(self, out):
        return {
            "report": ["report", "--from", self.good, "--out", out, "--format", FORMATS],
            "merge": ["merge", self.good, self.good, "--out", out, "--format", FORMATS],
            "run": ["run", "--no-doctor", "--binary", CASES, "--filter", "misbehave.property_fails",
                    "--trials", "5", "--jobs", "1", "--out", out, "--format", FORMATS],
            "gate": ["gate", "--no-doctor", "--out", out, "--format", FORMATS, "--", "true"],
        }

    def test_file_size_limit_is_a_full_disk(self):
        # RLIMIT_FSIZE of 300 bytes: the header line of results.jsonl fits,
        # nothing else does (EFBIG, as on a full disk).
        for name, args in self.commands(self.out).items():
            with self.subTest(command=name):
                r = run(args, limit_fsize=300)
                self.assertRefused(r, "cannot write", "File too large")
                self.assertNoTemporaries()

    def test_small_tmpfs_is_full(self):
        # A 256 KiB tmpfs holding the earlier reports, then filled: ENOSPC
        # for the new ones.
        mnt = os.path.join(self.tmp, "mnt")
        os.mkdir(mnt)
        m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt], capture_output=True, text=True)
        if m.returncode != 0:
            self.skipTest("cannot mount a tmpfs here: " + m.stderr.strip())
        self.addCleanup(subprocess.run, ["umount", "-l", mnt])
        shutil.copytree(self.out, os.path.join(mnt, "out"))
        self.out = os.path.join(mnt, "out")
        # Fill it, in 4 KiB then 1-byte steps, until a write fails.
        fd = os.open(os.path.join(mnt, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for block in (4096, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * block)
                except OSError:
                    pass
        finally:
            os.close(fd)
        for name, args in self.commands(self.out).items():
            with self.subTest(command=name):
                self.assertRefused(run(args), "cannot write", "No space left on device")
                self.assertNoTemporaries()

    def test_immutable_directory_is_read_only_even_for_root(self):
        c = subprocess.run(["chattr", "+i", self.out], capture_output=True, text=True)
        if c.returncode != 0:
            self.skipTest("chattr +i is not supported here: " + c.stderr.strip())
        self.addCleanup(subprocess.run, ["chattr", "-i", self.out])
        for name, args in self.commands(self.out).items():
            with self.subTest(command=name):
                self.assertRefused(run(args), self.out)

    def test_a_file_in_place_of_the_directory(self):
        blocker = self.write("blocker", "not a directory\n")
        for name, args in self.commands(blocker).items():
            with self.subTest(command=name):
                r = run(args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("blocker", r.stderr)
                with open(blocker) as f:
                    self.assertEqual(f.read(), "not a directory\n")
        for name, args in self.commands(os.path.join(blocker, "below")).items():
            with self.subTest(command=name + " below a file"):
                self.assertEqual(run(args).returncode, 2)

    def test_directory_deleted_during_the_run(self):
        # misbehave.hang blocks until its 3 s timeout: the directory is removed
        # as soon as results.jsonl.partial shows the run has started, which is
        # before the unit can end.
        out = os.path.join(self.tmp, "doomed")
        p = subprocess.Popen([RACEGATE, "run", "--no-doctor", "--binary", CASES, "--filter", "misbehave.hang",
                              "--jobs", "1", "--out", out, "--format", FORMATS],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while not os.path.exists(os.path.join(out, "results.jsonl.partial")):
                self.assertIsNone(p.poll(), "the run ended before it started a unit")
                self.assertLess(time.monotonic(), deadline, "no results.jsonl.partial after 60 s")
                time.sleep(0.02)
            shutil.rmtree(out)
            _, err = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertEqual(p.returncode, 2, err)
        self.assertIn("cannot write " + out, err)
        self.assertIn("No such file or directory", err)
        self.assertFalse(os.path.exists(out), "the deleted directory came back")

    def assertComplete(self, out):
        """Every report of FORMATS in `out`, each whole (the JSON parses)."""
        for f in ["report.json", "junit.xml", "racegate.sarif", "summary.md", "report.html"]:
            self.assertTrue(os.path.isfile(os.path.join(out, f)), f + " missing")
        with open(os.path.join(out, "report.json")) as fh:
            json.load(fh)
        with open(os.path.join(out, "racegate.sarif")) as fh:
            json.load(fh)

    def test_directory_deleted_while_the_gate_runs_its_command(self):
        # The gated command itself deletes the output directory: nothing of
        # the gate is in it until the command ends, so the gate writes every
        # report whole into a new directory, and says nothing was lost.
        r = run(["gate", "--no-doctor", "--out", self.out, "--format", FORMATS, "--",
                 "sh", "-c", 'rm -rf "$0"', self.out])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertComplete(self.out)
        self.assertNoTemporaries()

    def test_directory_deleted_while_report_and_merge_read(self):
        # The input is a FIFO: the command blocks reading it, the test deletes
        # the output directory, then feeds the input. The order is forced by
        # the FIFO (opening it for writing waits for the reader), not by time.
        for name in ("report", "merge"):
            with self.subTest(command=name):
                out = os.path.join(self.tmp, "doomed-" + name)
                shutil.copytree(self.out, out)
                fifo = os.path.join(self.tmp, "input-" + name + ".jsonl")
                os.mkfifo(fifo)
                args = (["report", "--from", fifo] if name == "report" else ["merge", fifo]) + \
                    ["--out", out, "--format", FORMATS]
                p = subprocess.Popen([RACEGATE] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                try:
                    with open(fifo, "w") as w:  # returns once the command opened it
                        shutil.rmtree(out)
                        w.write(HEADER + "\n" + UNIT + "\n")
                    _, err = p.communicate(timeout=120)
                finally:
                    if p.poll() is None:
                        p.kill()
                        p.wait()
                self.assertEqual(p.returncode, 0, err)
                self.assertComplete(out)


if __name__ == "__main__":
    RACEGATE, CASES = sys.argv[1], sys.argv[2]
    del sys.argv[1:3]
    unittest.main(verbosity=2)
