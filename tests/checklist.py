"""A list of named checks for the script tests: each prints ok/FAIL as it
runs, and the script's exit code says whether any failed."""


class Checklist:
    def __init__(self):
        self.failures = []

    def check(self, ok, what):
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        if not ok:
            self.failures.append(what)

    def exit_code(self):
        if self.failures:
            print(f"{len(self.failures)} check(s) failed", flush=True)
            return 1
        print("all checks passed", flush=True)
        return 0
