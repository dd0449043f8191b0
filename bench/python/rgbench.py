"""Shared helper of the CPython drivers in bench/python/ (see docs/bench.md).

Each driver script maps workload ids to a factory ``make(placement) -> Bench``.
``main()`` parses ``--workload ID --placement P --min-time S`` (or ``--list``),
pins this process, runs the workload like Google Benchmark does (a warm-up
batch, then batches of growing size until one lasts at least the minimum
time; the last batch is the measurement, in real time) and prints one JSON
line::

    {"name": "<workload>/cpython/<placement>", "seconds_per_op": x, "ops": n,
     "bytes_per_op": b}

Placement, as in racegate-bench-primitives (docs/bench-workloads.md):
  one_cpu   this process and the peer (child process or thread) on CPU 0
  two_cpus  this process on CPU 0, the peer on CPU 1
  na        this process on CPU 0, and with it everything it starts (pool
            workers, a Manager's server, threads): a workload with no peer

Pinning uses os.sched_setaffinity(0, ...), which on Linux pins the calling
thread; threads started afterwards (a Queue's feeder thread, a Pool's handler
threads) inherit it.
"""

import argparse
import json
import multiprocessing
import os
import sys
import time

PLACEMENTS = ("one_cpu", "two_cpus", "na")

# multiprocessing with the fork start method, as on Linux before 3.14.
CTX = multiprocessing.get_context("fork")


def parent_cpus(placement):
    """The CPUs of the measuring (parent) process: CPU 0 in every placement."""
    del placement
    return {0}


def peer_cpus(placement):
    """The CPUs of the peer (child process or thread), or None where it
    inherits the parent's (na)."""
    return {"one_cpu": {0}, "two_cpus": {1}}.get(placement)


def pin(cpus):
    if cpus is not None:
        os.sched_setaffinity(0, cpus)


def _peer_main(placement, body, ctrl, args):
    pin(peer_cpus(placement))
    while True:
        n = ctrl.recv()
        if n is None:
            break
        body(n, *args)
        ctrl.send(True)


class Peer:
    """A forked peer process that runs ``body(n, *args)`` once per batch.

    ``start_batch(n)`` tells it to run a batch of n operations; ``wait()``
    blocks until that batch is done. The peer is pinned per placement before
    its first batch.
    """

    def __init__(self, placement, body, *args):
        self._ctrl, child_ctrl = CTX.Pipe()
        self.proc = CTX.Process(target=_peer_main, args=(placement, body, child_ctrl, args),
                                daemon=True)
        self.proc.start()
        child_ctrl.close()

    def start_batch(self, n):
        self._ctrl.send(n)

    def wait(self):
        self._ctrl.recv()

    def close(self):
        try:
            self._ctrl.send(None)
        except OSError:
            pass
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


class Bench:
    """One workload instance. ``run(n)`` does n operations and returns the
    elapsed real time in seconds. ``ops_per_run`` is how many operations one
    unit of n counts (a map of 100,000 tasks is 100,000 operations)."""

    bytes_per_op = 0
    ops_per_run = 1

    def warm_up(self):
        self.run(1)

    def run(self, n):  # pragma: no cover - overridden
        raise NotImplementedError

    def close(self):
        pass


def measure(bench, min_time, max_n=10**9):
    """Google Benchmark's iteration growth: returns (seconds_per_op, ops)."""
    bench.warm_up()
    n = 1
    while True:
        elapsed = bench.run(n)
        if elapsed >= min_time or n >= max_n:
            ops = n * bench.ops_per_run
            return elapsed / ops, ops
        ratio = elapsed / min_time
        mult = 10.0 if ratio <= 0.1 else min_time * 1.4 / max(elapsed, 1e-9)
        n = min(max(n + 1, int(n * mult) + 1), n * 100, max_n)


def main(workloads, argv=None):
    """``workloads``: {id: (make, placements)} where make(placement) -> Bench
    and placements are the placements listed by ``--list --json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", help="workload id (see --list)")
    parser.add_argument("--placement", choices=PLACEMENTS, default="na")
    parser.add_argument("--min-time", type=float, default=0.5,
                        help="minimum seconds of the measured batch (default 0.5)")
    parser.add_argument("--list", action="store_true", help="print the supported workload ids")
    parser.add_argument("--json", action="store_true",
                        help="with --list: one JSON object per workload with its placements")
    args = parser.parse_args(argv)
    if args.list:
        for wid, (_, placements) in workloads.items():
            if args.json:
                print(json.dumps({"workload": wid, "placements": list(placements)}))
            else:
                print(wid)
        return 0
    if args.workload not in workloads:
        parser.error(f"unknown workload {args.workload!r}; --list shows them")
    make, _ = workloads[args.workload]
    pin(parent_cpus(args.placement))
    bench = make(args.placement)
    try:
        seconds_per_op, ops = measure(bench, args.min_time)
    finally:
        bench.close()
    print(json.dumps({"name": f"{args.workload}/cpython/{args.placement}",
                      "seconds_per_op": seconds_per_op, "ops": ops,
                      "bytes_per_op": bench.bytes_per_op}), flush=True)
    return 0


def now():
    return time.perf_counter()


def run_main(workloads):
    sys.exit(main(workloads))
