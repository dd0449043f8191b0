#!/usr/bin/env python3
"""CPython drivers: multiprocessing.Process start+join and multiprocessing.Pool
(fork), placement na: this process on CPU 0 and every process it forks with
it, as racegate-bench-primitives does. See docs/bench.md."""

from rgbench import CTX, Bench, now, run_main

ALONE = ("na",)
MAP_TASKS = 100_000
WORKERS = 2


def _nothing():
    pass


def _trivial(x):
    return x


class StartJoin(Bench):
    """Process(target=f) whose f does nothing, start(), join() (per process)."""

    def __init__(self, placement):
        del placement

    def run(self, n):
        t0 = now()
        for _ in range(n):
            p = CTX.Process(target=_nothing)
            p.start()
            p.join()
        return now() - t0


class PoolMap(Bench):
    """pool.map(identity, range(100_000), chunksize) on a Pool(2) made
    beforehand (per task)."""

    ops_per_run = MAP_TASKS

    def __init__(self, placement, chunksize):
        del placement
        self.chunksize = chunksize
        self.pool = CTX.Pool(WORKERS)
        self.items = range(MAP_TASKS)

    def warm_up(self):
        self.pool.map(_trivial, range(1000), self.chunksize)

    def run(self, n):
        pool_map, items, chunksize = self.pool.map, self.items, self.chunksize
        t0 = now()
        for _ in range(n):
            pool_map(_trivial, items, chunksize)
        return now() - t0

    def close(self):
        self.pool.terminate()
        self.pool.join()


class ApplyAsyncRoundTrip(Bench):
    """pool.apply_async(identity, (i,)).get() on a Pool(2) (per call)."""

    def __init__(self, placement):
        self.pool = CTX.Pool(WORKERS)

    def run(self, n):
        apply_async = self.pool.apply_async
        t0 = now()
        for i in range(n):
            apply_async(_trivial, (i,)).get()
        return now() - t0

    def close(self):
        self.pool.terminate()
        self.pool.join()


WORKLOADS = {
    "process.start_join": (StartJoin, ALONE),
    "pool.map.chunksize1": (lambda p: PoolMap(p, 1), ALONE),
    "pool.map.default": (lambda p: PoolMap(p, None), ALONE),
    "pool.apply_async.roundtrip": (ApplyAsyncRoundTrip, ALONE),
}

if __name__ == "__main__":
    run_main(WORKLOADS)
