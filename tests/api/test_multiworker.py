"""``strongroom serve`` with two worker processes: both serve, and state changes reach both.

Each worker caches keys and aliases and learns about changes made through the other from the
change feed. A change must be in force everywhere within one second: these tests make it
through one worker and watch both, over connections whose worker is known (read from /proc),
and over new connections the kernel hands to either worker.
"""

from __future__ import annotations

import base64
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support import propagation
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


# --- changes reach every worker within DEADLINE (tests/support/propagation.py) --------------


def key_or_error(reply: Reply) -> str:
    """The KeyId of a success, or the error code: an alias change shows as a new KeyId."""
    return reply.error_code or str(reply.body["KeyId"])


def encrypt_under(key_ref: str) -> Callable[[RawKms], Reply]:
    return lambda conn: conn.encrypt(key_ref)


def succeeds(send: Callable[[], Reply]) -> Callable[[], None]:
    def change() -> None:
        reply = send()
        assert reply.status == 200, reply

    return change


def watch_change(
    cluster: Cluster, key_ref: str, expected: str, change: Callable[[RawKms], Reply], via: int
) -> list[propagation.Attempt]:
    """Warm both workers with Encrypt under ``key_ref``; make ``change`` through worker ``via``
    (the other one has to learn about it); watch Encrypt from every worker and new connections."""
    pinned, control = cluster.pin(), cluster.pin()
    server, request = cluster.server, encrypt_under(key_ref)
    propagation.warm(
        pinned, server.endpoint, server.admin_key, request, expected, read=key_or_error
    )
    return propagation.watch(
        pinned,
        server.endpoint,
        server.admin_key,
        request,
        succeeds(lambda: change(control[cluster.workers[via]])),
        read=key_or_error,
    )


def test_disable_key_reaches_every_worker_within_a_second(cluster: Cluster) -> None:
    kms = cluster.server.client()
    meta = kms.create_key()["KeyMetadata"]
    attempts = watch_change(
        cluster,
        meta["KeyId"],
        meta["Arn"],
        lambda conn: conn.call("DisableKey", {"KeyId": meta["KeyId"]}),
        via=0,
    )
    propagation.check_deadline(attempts, cluster.workers, meta["Arn"], "DisabledException")
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"


def test_scheduled_deletion_reaches_every_worker_within_a_second(cluster: Cluster) -> None:
    kms = cluster.server.client()
    meta = kms.create_key()["KeyMetadata"]
    attempts = watch_change(
        cluster,
        meta["KeyId"],
        meta["Arn"],
        lambda conn: conn.call(
            "ScheduleKeyDeletion", {"KeyId": meta["KeyId"], "PendingWindowInDays": 7}
        ),
        via=1,
    )
    propagation.check_deadline(attempts, cluster.workers, meta["Arn"], "KMSInvalidStateException")
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"


def test_retargeted_alias_reaches_every_worker_within_a_second(cluster: Cluster) -> None:
    kms = cluster.server.client()
    old, new = (kms.create_key()["KeyMetadata"] for _ in range(2))
    alias = f"alias/moving-{old['KeyId'][:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=old["KeyId"])
    attempts = watch_change(
        cluster,
        alias,
        old["Arn"],
        lambda conn: conn.call("UpdateAlias", {"AliasName": alias, "TargetKeyId": new["KeyId"]}),
        via=0,
    )
    propagation.check_deadline(attempts, cluster.workers, old["Arn"], new["Arn"])
