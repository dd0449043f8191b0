#!/usr/bin/env python3
"""CPython driver: a multiprocessing.Manager dict used from a child process
(fork). See docs/bench.md."""

from rgbench import CTX, Bench, Peer, now, run_main

CROSS = ("one_cpu", "two_cpus")


def _setget(n, d):
    for i in range(n):
        d["k"] = i
        d["k"]


class DictSetGetChild(Bench):
    """The Manager's server is started by the parent (so pinned with it, CPU
    0); the peer child does n times ``d["k"] = i; d["k"]`` on a dict proxy.
    Per set+get pair; the child's connection is opened in the untimed warm-up
    batch."""

    def __init__(self, placement):
        self.manager = CTX.Manager()
        self.d = self.manager.dict()
        self.peer = Peer(placement, _setget, self.d)

    def run(self, n):
        self.peer.start_batch(n)
        t0 = now()
        self.peer.wait()
        return now() - t0

    def close(self):
        self.peer.close()
        self.manager.shutdown()


WORKLOADS = {
    "manager.dict.setget_child": (DictSetGetChild, CROSS),
}

if __name__ == "__main__":
    run_main(WORKLOADS)
