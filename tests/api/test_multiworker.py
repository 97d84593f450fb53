"""``strongroom serve`` with two worker processes: both serve, and state changes reach both.

Each worker caches keys and aliases and learns about changes made through the other from the
change feed. A change must be in force everywhere within one second: these tests make it
through one worker and watch both, over connections whose worker is known (read from /proc),
and over new connections the kernel hands to either worker.
"""

from __future__ import annotations

import base64
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.processes import (
    OutputDrain,
    children,
    cmdline,
    connection_owner,
    tcp_table,
    uvicorn_workers,
)
from tests.support.raw_kms import RawKms, Reply, connect_to_each_worker
from tests.support.servers import ServerProcess, server_process

DEADLINE = 1.0  # seconds within which a change must be in force in every worker
WATCH = 1.6  # seconds of requests after a change
FRESH_THREADS = 4


@dataclass
class Cluster:
    server: ServerProcess
    pid: int
    workers: list[int]
    output: OutputDrain
    _client_lock: threading.Lock

    def fresh_client(self) -> Any:
        """A new boto3 client, so a new connection (clients share no connection pool)."""
        with self._client_lock:  # creating clients from the default session is not thread-safe
            return self.server.client()

    def pin(self) -> dict[int, RawKms]:
        return connect_to_each_worker(self.server.endpoint, self.server.admin_key, self.workers)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with server_process(tmp_path_factory.mktemp("multiworker") / "data", 2) as running:
        assert running.process is not None
        output = OutputDrain(running.process)  # keeps the server's stdout pipe from filling
        workers = uvicorn_workers(running.process.pid)
        yield Cluster(running, running.process.pid, workers, output, threading.Lock())
    assert "Traceback" not in output.join(), output.text()


def test_two_worker_processes_serve_requests(cluster: Cluster) -> None:
    kids = children(cluster.pid)
    assert len(cluster.workers) == 2, "\n".join(f"{pid}: {cmdline(pid)}" for pid in kids)
    assert set(cluster.workers) <= set(kids)

    kms = cluster.server.client()
    meta = kms.create_key()["KeyMetadata"]
    key_id, arn = meta["KeyId"], meta["Arn"]

    # Each worker encrypts, and decrypts what the other one encrypted.
    pinned = cluster.pin()
    first, second = (pinned[pid] for pid in cluster.workers)
    blobs = []
    for conn in (first, second):
        reply = conn.encrypt(key_id, b"from one worker")
        assert (reply.status, reply.body.get("KeyId")) == (200, arn), reply
        blobs.append(reply.body["CiphertextBlob"])
    for conn, blob in ((first, blobs[1]), (second, blobs[0])):
        reply = conn.call("Decrypt", {"CiphertextBlob": blob})
        assert reply.status == 200, reply
        assert base64.b64decode(reply.body["Plaintext"]) == b"from one worker"

    # 400 Encrypt calls from 16 threads, each with its own client (and connection).
    clients = [cluster.fresh_client() for _ in range(16)]

    def work(index: int) -> list[tuple[str, bytes, bytes]]:
        client = clients[index]
        done = []
        for n in range(25):
            plaintext = f"{index}/{n}".encode()
            response = client.encrypt(KeyId=key_id, Plaintext=plaintext)
            done.append((response["KeyId"], plaintext, response["CiphertextBlob"]))
        return done

    with ThreadPoolExecutor(16) as pool:
        results = [item for batch in pool.map(work, range(16)) for item in batch]
    assert len(results) == 400
    assert {key for key, _, _ in results} == {arn}
    assert len({blob for _, _, blob in results}) == 400
    for _, plaintext, blob in results[::40]:
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == plaintext

    # The clients' connections are still open: see which worker holds each.
    port = int(cluster.server.endpoint.rsplit(":", 1)[1])
    client_ports = {
        e.local_port for e in tcp_table() if e.remote_port == port and e.state == "01"
    } - {c.local_port for c in pinned.values()}
    owners = Counter(connection_owner(port, p, cluster.workers) for p in client_ports)
    assert set(owners) == set(cluster.workers), f"connections per worker: {owners}"
    for conn in pinned.values():
        conn.close()


# --- changes reach every worker within DEADLINE ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Attempt:
    at: float  # when the request was sent, in seconds after the change was acknowledged
    worker: int | None  # the worker of a pinned connection; None for a new connection
    outcome: str  # the KeyId of a success, or the error code


def watch(
    cluster: Cluster, pinned: dict[int, RawKms], key_ref: str, change: Callable[[], Reply]
) -> list[Attempt]:
    """Make ``change``, then Encrypt under ``key_ref`` from several threads for WATCH s."""
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
            reply = conn.encrypt(key_ref)
            record(Attempt(at, pid, reply.error_code or str(reply.body["KeyId"])))

    def on_new_connections() -> None:
        go.wait()
        while True:
            client = cluster.fresh_client()
            at = time.monotonic() - started
            if at >= WATCH:
                return
            try:
                outcome = str(client.encrypt(KeyId=key_ref, Plaintext=b"x")["KeyId"])
            except ClientError as error:
                outcome = str(error.response["Error"]["Code"])
            record(Attempt(at, None, outcome))

    with ThreadPoolExecutor(len(pinned) + FRESH_THREADS) as pool:
        futures = [pool.submit(on_worker, pid) for pid in pinned]
        futures += [pool.submit(on_new_connections) for _ in range(FRESH_THREADS)]
        try:
            reply = change()
        finally:
            started = time.monotonic()
            go.set()
        for future in futures:
            future.result()
    assert reply.status == 200, reply
    return sorted(attempts, key=lambda a: a.at)


def warm(cluster: Cluster, pinned: dict[int, RawKms], key_ref: str, expected: str) -> None:
    """Use ``key_ref`` in every worker (pinned) and over many new connections."""
    for pid, conn in pinned.items():
        for _ in range(10):
            reply = conn.encrypt(key_ref)
            assert (reply.status, reply.body.get("KeyId")) == (200, expected), (pid, reply)

    def fresh(_: int) -> str:
        return str(cluster.fresh_client().encrypt(KeyId=key_ref, Plaintext=b"w")["KeyId"])

    with ThreadPoolExecutor(FRESH_THREADS) as pool:
        assert set(pool.map(fresh, range(40))) == {expected}


def check_deadline(attempts: list[Attempt], pinned: dict[int, RawKms], old: str, new: str) -> None:
    summary = summarize(attempts)
    assert {a.outcome for a in attempts} <= {old, new}, summary
    late_old = [a for a in attempts if a.outcome == old and a.at >= DEADLINE]
    assert late_old == [], f"old outcome {DEADLINE} s after the change:\n{summary}"
    for pid in pinned:  # every worker was watched past the deadline, and had switched
        late = [a for a in attempts if a.worker == pid and a.at >= DEADLINE]
        assert late, f"worker {pid} was not asked after {DEADLINE} s:\n{summary}"
        assert {a.outcome for a in late} == {new}
    assert any(a.worker is None and a.at >= DEADLINE for a in attempts), summary


def summarize(attempts: list[Attempt]) -> str:
    lines = []
    for who in sorted({a.worker or 0 for a in attempts}):
        mine = [a for a in attempts if (a.worker or 0) == who]
        by_outcome = Counter(a.outcome for a in mine)
        last = {o: max(a.at for a in mine if a.outcome == o) for o in by_outcome}
        first = {o: min(a.at for a in mine if a.outcome == o) for o in by_outcome}
        lines.append(
            f"  {'new connections' if who == 0 else f'worker {who}'}: "
            + ", ".join(f"{o}: {n} ({first[o]:.3f}-{last[o]:.3f} s)" for o, n in by_outcome.items())
        )
    return "\n".join(lines)


def test_disable_key_reaches_every_worker_within_a_second(cluster: Cluster) -> None:
    kms = cluster.server.client()
    meta = kms.create_key()["KeyMetadata"]
    pinned, control = cluster.pin(), cluster.pin()
    warm(cluster, pinned, meta["KeyId"], meta["Arn"])
    # The change goes through one worker; the other one has to learn about it.
    attempts = watch(
        cluster,
        pinned,
        meta["KeyId"],
        lambda: control[cluster.workers[0]].call("DisableKey", {"KeyId": meta["KeyId"]}),
    )
    check_deadline(attempts, pinned, meta["Arn"], "DisabledException")
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"


def test_scheduled_deletion_reaches_every_worker_within_a_second(cluster: Cluster) -> None:
    kms = cluster.server.client()
    meta = kms.create_key()["KeyMetadata"]
    pinned, control = cluster.pin(), cluster.pin()
    warm(cluster, pinned, meta["KeyId"], meta["Arn"])
    attempts = watch(
        cluster,
        pinned,
        meta["KeyId"],
        lambda: control[cluster.workers[1]].call(
            "ScheduleKeyDeletion", {"KeyId": meta["KeyId"], "PendingWindowInDays": 7}
        ),
    )
    check_deadline(attempts, pinned, meta["Arn"], "KMSInvalidStateException")
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["KeyState"] == ("PendingDeletion")


def test_retargeted_alias_reaches_every_worker_within_a_second(cluster: Cluster) -> None:
    kms = cluster.server.client()
    old, new = (kms.create_key()["KeyMetadata"] for _ in range(2))
    alias = f"alias/moving-{old['KeyId'][:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=old["KeyId"])
    pinned, control = cluster.pin(), cluster.pin()
    warm(cluster, pinned, alias, old["Arn"])
    attempts = watch(
        cluster,
        pinned,
        alias,
        lambda: control[cluster.workers[0]].call(
            "UpdateAlias", {"AliasName": alias, "TargetKeyId": new["KeyId"]}
        ),
    )
    check_deadline(attempts, pinned, old["Arn"], new["Arn"])
