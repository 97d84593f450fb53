"""Watching a change reach every worker of a server: requests on pinned and new connections.

A test warms every worker with a request (so each caches what the request needs), makes a
change, and then sends the same request from several threads for a while: over one
connection per worker (whose worker is known) and over new connections, which the kernel hands
to either worker. Each attempt is recorded with the time it was sent, counted from the moment
the change was acknowledged.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from strongroom.kms.service.admin import IssuedAccessKey
from tests.support.raw_kms import RawKms, Reply, kept_alive

DEADLINE = 1.0  # seconds within which a change must be in force in every worker
WATCH = 1.6  # seconds of requests after a change
FRESH_THREADS = 4
OK = "OK"

Request = Callable[[RawKms], Reply]
Reader = Callable[[Reply], str]  # what a reply counts as: OK, an error code, a key ARN...


def outcome(reply: Reply) -> str:
    return reply.error_code or (OK if reply.status == 200 else f"HTTP {reply.status}")


@dataclass(frozen=True, slots=True)
class Attempt:
    at: float  # when the request was sent, in seconds after the change was acknowledged
    worker: int | None  # the worker of a pinned connection; None for a new connection
    outcome: str  # OK, or the error code


def fresh_outcome(
    endpoint: str, key: IssuedAccessKey, request: Request, read: Reader = outcome
) -> str:
    """The request over a new connection (to whichever worker accepts it)."""
    conn = RawKms(endpoint, key)
    try:
        return read(request(conn))
    finally:
        conn.close()


def warm(
    pinned: dict[int, RawKms],
    endpoint: str,
    key: IssuedAccessKey,
    request: Request,
    expected: str,
    *,
    read: Reader = outcome,
) -> None:
    """Make the request in every worker (pinned) and over many new connections."""
    for pid, conn in pinned.items():
        for _ in range(10):
            reply = request(conn)
            assert read(reply) == expected, (pid, reply)
    with ThreadPoolExecutor(FRESH_THREADS) as pool:
        outcomes = set(pool.map(lambda _: fresh_outcome(endpoint, key, request, read), range(20)))
    assert outcomes == {expected}


def watch(
    pinned: dict[int, RawKms],
    endpoint: str,
    key: IssuedAccessKey,
    request: Request,
    change: Callable[[], None],
    *,
    read: Reader = outcome,
) -> list[Attempt]:
    """Make ``change``, then send ``request`` from several threads for WATCH seconds."""
    attempts: list[Attempt] = []
    lock = threading.Lock()
    go = threading.Event()
    started = 0.0

    def record(attempt: Attempt) -> None:
        with lock:
            attempts.append(attempt)

    def on_worker(pid: int) -> None:
        conn = pinned[pid]
        go.wait()
        while (at := time.monotonic() - started) < WATCH:
            record(Attempt(at, pid, read(request(conn))))

    def on_new_connections() -> None:
        go.wait()
        while (at := time.monotonic() - started) < WATCH:
            record(Attempt(at, None, fresh_outcome(endpoint, key, request, read)))

    with ThreadPoolExecutor(len(pinned) + FRESH_THREADS) as pool:
        futures = [pool.submit(on_worker, pid) for pid in pinned]
        futures += [pool.submit(on_new_connections) for _ in range(FRESH_THREADS)]
        try:
            with kept_alive(pinned.values()):
                change()
        finally:
            started = time.monotonic()
            go.set()
        for future in futures:
            future.result()
    return sorted(attempts, key=lambda a: a.at)


def check_deadline(attempts: list[Attempt], workers: list[int], old: str, new: str) -> None:
    """Every request sent DEADLINE s or more after the change had the new outcome, in every
    worker (each of which was asked then), and over new connections."""
    summary = summarize(attempts)
    assert {a.outcome for a in attempts} <= {old, new}, summary
    late_old = [a for a in attempts if a.outcome == old and a.at >= DEADLINE]
    assert late_old == [], f"old outcome {DEADLINE} s after the change:\n{summary}"
    for pid in workers:
        late = [a for a in attempts if a.worker == pid and a.at >= DEADLINE]
        assert late, f"worker {pid} was not asked after {DEADLINE} s:\n{summary}"
        assert {a.outcome for a in late} == {new}, summary
    assert any(a.worker is None and a.at >= DEADLINE for a in attempts), summary


def summarize(attempts: list[Attempt]) -> str:
    lines = []
    for who in sorted({a.worker or 0 for a in attempts}):
        mine = [a for a in attempts if (a.worker or 0) == who]
        by_outcome = Counter(a.outcome for a in mine)
        first = {o: min(a.at for a in mine if a.outcome == o) for o in by_outcome}
        last = {o: max(a.at for a in mine if a.outcome == o) for o in by_outcome}
        lines.append(
            f"  {'new connections' if who == 0 else f'worker {who}'}: "
            + ", ".join(f"{o}: {n} ({first[o]:.3f}-{last[o]:.3f} s)" for o, n in by_outcome.items())
        )
    return "\n".join(lines)
