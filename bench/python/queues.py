#!/usr/bin/env python3
"""CPython drivers: multiprocessing.Queue and multiprocessing.Pipe between
two processes (fork), one way and round trip, as racegate-bench-primitives
measures mp::Queue and mp::Pipe (docs/bench-workloads.md, docs/bench.md).

8 B items are ints (racegate sends std::uint64_t), 64 KiB items are bytes
(racegate: std::string). One way, the child (the peer) produces and the
parent consumes; the clock runs from the start signal to the parent's last
get / recv. Round trip, the parent sends i and the child sends it back.
"""

from rgbench import CTX, Bench, Peer, now, run_main

CROSS = ("one_cpu", "two_cpus")
KIB64 = 64 * 1024


def _items(size):
    """The n-th item of a batch: an int for 8 B, 64 KiB of bytes otherwise."""
    if size == 8:
        return None
    return b"x" * size


def _queue_fill(n, q, blob):
    put = q.put
    if blob is None:
        for i in range(n):
            put(i)
    else:
        for _ in range(n):
            put(blob)


def _queue_echo(n, q_in, q_out):
    get, put = q_in.get, q_out.put
    for _ in range(n):
        put(get())


def _pipe_fill(n, conn, blob):
    send = conn.send
    if blob is None:
        for i in range(n):
            send(i)
    else:
        for _ in range(n):
            send(blob)


def _pipe_echo(n, conn):
    recv, send = conn.recv, conn.send
    for _ in range(n):
        send(recv())


class QueueOneWay(Bench):
    """The child puts n items on an mp.Queue(), the parent gets them (per item)."""

    def __init__(self, placement, size):
        self.bytes_per_op = size
        self.q = CTX.Queue()
        self.peer = Peer(placement, _queue_fill, self.q, _items(size))

    def run(self, n):
        get = self.q.get
        t0 = now()
        self.peer.start_batch(n)
        for _ in range(n):
            get()
        elapsed = now() - t0
        self.peer.wait()
        return elapsed

    def close(self):
        self.peer.close()
        self.q.close()
        self.q.join_thread()


class QueueRoundTrip(Bench):
    """The parent puts i on queue A, the child gets it and puts it on queue B,
    the parent gets it (per round trip)."""

    bytes_per_op = 8

    def __init__(self, placement):
        self.a, self.b = CTX.Queue(), CTX.Queue()
        self.peer = Peer(placement, _queue_echo, self.a, self.b)

    def run(self, n):
        put, get = self.a.put, self.b.get
        self.peer.start_batch(n)
        t0 = now()
        for i in range(n):
            put(i)
            get()
        elapsed = now() - t0
        self.peer.wait()
        return elapsed

    def close(self):
        self.peer.close()
        for q in (self.a, self.b):
            q.close()
            q.join_thread()


class PipeOneWay(Bench):
    """The child send()s n items on the write end of mp.Pipe(duplex=False)
    (an os.pipe), the parent recv()s them (per message)."""

    def __init__(self, placement, size):
        self.bytes_per_op = size
        self.reader, writer = CTX.Pipe(duplex=False)
        self.peer = Peer(placement, _pipe_fill, writer, _items(size))
        writer.close()

    def run(self, n):
        recv = self.reader.recv
        t0 = now()
        self.peer.start_batch(n)
        for _ in range(n):
            recv()
        elapsed = now() - t0
        self.peer.wait()
        return elapsed

    def close(self):
        self.peer.close()
        self.reader.close()


class PipeRoundTrip(Bench):
    """send(i) on one end of a duplex mp.Pipe() (a socketpair), the child
    recv()s it and sends it back, recv() (per round trip)."""

    bytes_per_op = 8

    def __init__(self, placement):
        self.here, there = CTX.Pipe()
        self.peer = Peer(placement, _pipe_echo, there)
        there.close()

    def run(self, n):
        send, recv = self.here.send, self.here.recv
        self.peer.start_batch(n)
        t0 = now()
        for i in range(n):
            send(i)
            recv()
        elapsed = now() - t0
        self.peer.wait()
        return elapsed

    def close(self):
        self.peer.close()
        self.here.close()


WORKLOADS = {
    "queue.oneway.8B": (lambda p: QueueOneWay(p, 8), CROSS),
    "queue.oneway.64KiB": (lambda p: QueueOneWay(p, KIB64), CROSS),
    "queue.roundtrip.8B": (QueueRoundTrip, CROSS),
    "pipe.oneway.8B": (lambda p: PipeOneWay(p, 8), CROSS),
    "pipe.oneway.64KiB": (lambda p: PipeOneWay(p, KIB64), CROSS),
    "pipe.roundtrip.8B": (PipeRoundTrip, CROSS),
}

if __name__ == "__main__":
    run_main(WORKLOADS)
