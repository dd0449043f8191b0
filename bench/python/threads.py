#!/usr/bin/env python3
"""CPython drivers: multiprocessing.pool.ThreadPool and queue.Queue between
two threads, as racegate-bench-primitives measures mp::ThreadPool and
racegate::queue::Queue. See docs/bench.md."""

import queue
import threading
from multiprocessing.pool import ThreadPool

from rgbench import Bench, now, peer_cpus, pin, run_main

CROSS = ("one_cpu", "two_cpus")
ALONE = ("na",)
MAP_TASKS = 100_000
WORKERS = 2


def _trivial(x):
    return x


class ThreadPoolMap(Bench):
    """pool.map(identity, range(100_000)) with the default chunksize on a
    ThreadPool(2) made beforehand; its threads inherit CPU 0 (per task)."""

    ops_per_run = MAP_TASKS

    def __init__(self, placement):
        del placement
        self.pool = ThreadPool(WORKERS)
        self.items = range(MAP_TASKS)

    def warm_up(self):
        self.pool.map(_trivial, range(1000))

    def run(self, n):
        pool_map, items = self.pool.map, self.items
        t0 = now()
        for _ in range(n):
            pool_map(_trivial, items)
        return now() - t0

    def close(self):
        self.pool.terminate()
        self.pool.join()


def _produce(placement, go, n, q):
    pin(peer_cpus(placement))
    go.wait()
    put = q.put
    for i in range(n):
        put(i)


class ThreadQueueHandoff(Bench):
    """A producer thread (pinned: CPU 0 for one_cpu, CPU 1 for two_cpus) puts
    n ints on a queue.Queue(); this thread gets them. The clock runs from the
    producer's start signal to the last get (per item)."""

    def __init__(self, placement):
        self.placement = placement
        self.q = queue.Queue()

    def run(self, n):
        go = threading.Event()
        producer = threading.Thread(target=_produce, args=(self.placement, go, n, self.q))
        producer.start()
        get = self.q.get
        t0 = now()
        go.set()
        for _ in range(n):
            get()
        elapsed = now() - t0
        producer.join()
        return elapsed


WORKLOADS = {
    "threadpool.map": (ThreadPoolMap, ALONE),
    "tqueue.handoff_threads": (ThreadQueueHandoff, CROSS),
}

if __name__ == "__main__":
    run_main(WORKLOADS)
