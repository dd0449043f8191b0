#!/usr/bin/env python3
"""CPython drivers: multiprocessing Lock, RLock, Semaphore, Event and Value
(fork). See docs/bench.md."""

import threading

from rgbench import CTX, Bench, Peer, now, run_main

CROSS = ("one_cpu", "two_cpus")
ALONE = ("na",)


class Uncontended(Bench):
    """acquire() + release() of an mp.Lock / mp.RLock nobody else holds, while
    a second thread of the process is alive and idle, as racegate's benchmark
    does (per acquire+release)."""

    def __init__(self, placement, kind):
        self.lock = kind()
        self.stop = threading.Event()
        self.idle = threading.Thread(target=self.stop.wait, daemon=True)
        self.idle.start()

    def close(self):
        self.stop.set()
        self.idle.join()

    def run(self, n):
        acquire, release = self.lock.acquire, self.lock.release
        t0 = now()
        for _ in range(n):
            acquire()
            release()
        return now() - t0


def _lock_loop(n, lock):
    acquire, release = lock.acquire, lock.release
    for _ in range(n):
        acquire()
        release()


class Contended2p(Bench):
    """Two processes (parent and peer) each do n acquire+release of one
    mp.Lock at once; per acquire+release (2n operations in the batch)."""

    ops_per_run = 2

    def __init__(self, placement):
        self.lock = CTX.Lock()
        self.peer = Peer(placement, _lock_loop, self.lock)

    def run(self, n):
        self.peer.start_batch(n)
        t0 = now()
        _lock_loop(n, self.lock)
        self.peer.wait()
        return now() - t0

    def close(self):
        self.peer.close()


def _sem_echo(n, ping, pong):
    for _ in range(n):
        ping.acquire()
        pong.release()


class SemaphoreHandoff(Bench):
    """Ping-pong with two mp.Semaphore(0): the parent releases A and acquires
    B, the peer acquires A and releases B. Per round trip (two hand-offs)."""

    def __init__(self, placement):
        self.ping, self.pong = CTX.Semaphore(0), CTX.Semaphore(0)
        self.peer = Peer(placement, _sem_echo, self.ping, self.pong)

    def run(self, n):
        self.peer.start_batch(n)
        release, acquire = self.ping.release, self.pong.acquire
        t0 = now()
        for _ in range(n):
            release()
            acquire()
        self.peer.wait()
        return now() - t0


def _event_echo(n, ping, pong):
    for _ in range(n):
        ping.wait()
        ping.clear()
        pong.set()


class EventHandoff(Bench):
    """Ping-pong with two mp.Event: the parent sets A, waits for B, clears
    B; the peer waits for A, clears A, sets B. Per round trip (two
    hand-offs)."""

    def __init__(self, placement):
        self.ping, self.pong = CTX.Event(), CTX.Event()
        self.peer = Peer(placement, _event_echo, self.ping, self.pong)

    def run(self, n):
        self.peer.start_batch(n)
        ping, pong = self.ping, self.pong
        t0 = now()
        for _ in range(n):
            ping.set()
            pong.wait()
            pong.clear()
        self.peer.wait()
        return now() - t0


class ValueIncrementLocked(Bench):
    """``with v.get_lock(): v.value += 1`` on an mp.Value('q') (per
    increment)."""

    def __init__(self, placement):
        self.value = CTX.Value("q", 0)

    def run(self, n):
        v = self.value
        lock = v.get_lock()
        t0 = now()
        for _ in range(n):
            with lock:
                v.value += 1
        return now() - t0


WORKLOADS = {
    "lock.uncontended": (lambda p: Uncontended(p, CTX.Lock), ALONE),
    "rlock.uncontended": (lambda p: Uncontended(p, CTX.RLock), ALONE),
    "lock.contended2p": (Contended2p, CROSS),
    "semaphore.handoff": (SemaphoreHandoff, CROSS),
    "event.handoff": (EventHandoff, CROSS),
    "value.increment_locked": (ValueIncrementLocked, ALONE),
}

if __name__ == "__main__":
    run_main(WORKLOADS)
