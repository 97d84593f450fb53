"""The audit trail under the faults a KMS must survive, with real server processes.

- SIGKILL under load: with ``before-response`` durability (the default) every Encrypt that was
  answered has its event in the trail, though the whole process tree died without warning.
- A full disk (a real, small filesystem holding the data directory): changes that cannot be
  written and calls whose event cannot be committed are refused with
  DependencyTimeoutException (503), the server logs one line (no traceback, no record), and
  serves again by itself when space returns.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from botocore.exceptions import BotoCoreError, ClientError

from strongroom.kms.app import open_data_dir
from strongroom.kms.audit.verify import verify_chain
from strongroom.kms.config import load_settings
from tests.support.cli import run
from tests.support.full_disk import fill, small_filesystem
from tests.support.processes import OutputDrain
from tests.support.servers import ServerProcess, server_process

pytestmark = pytest.mark.slow


def stored_request_ids(data_dir: Path) -> set[str]:
    with sqlite3.connect(data_dir / "strongroom.db") as conn:
        rows = conn.execute("SELECT record FROM audit_events").fetchall()
    return {orjson.loads(str(row[0]))["requestID"] for row in rows}


def verify(data_dir: Path) -> str:
    data = open_data_dir(load_settings(data_dir))
    try:
        verdict = verify_chain(data.db, data.store)
    finally:
        data.db.engine.dispose()
    assert verdict.ok, verdict.summary()
    return verdict.summary()


class Load:
    """Client threads that Encrypt in a loop and keep the request id of every answer."""

    def __init__(self, server: ServerProcess, key_id: str, threads: int) -> None:
        self.acknowledged: list[str] = []
        self.refused: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        clients = [server.client() for _ in range(threads)]
        self._threads = [
            threading.Thread(target=self._run, args=(c, key_id), daemon=True) for c in clients
        ]
        for thread in self._threads:
            thread.start()

    def _run(self, client: Any, key_id: str) -> None:
        while not self._stop.is_set():
            try:
                reply = client.encrypt(KeyId=key_id, Plaintext=b"audited")
            except ClientError as error:
                with self._lock:
                    self.refused.append(error.response["Error"]["Code"])
                continue
            except BotoCoreError:  # the server is gone
                return
            with self._lock:
                self.acknowledged.append(reply["ResponseMetadata"]["RequestId"])

    def wait_for(self, acknowledged: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < acknowledged and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def test_acknowledged_events_survive_a_sigkill_under_load(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with server_process(data_dir, 2) as server:
        assert server.process is not None
        output = OutputDrain(server.process)
        key_id = server.client().create_key()["KeyMetadata"]["KeyId"]
        load = Load(server, key_id, threads=8)
        load.wait_for(300, timeout=90)  # a loaded machine answers slowly; enough is enough
        os.killpg(server.process.pid, signal.SIGKILL)  # the whole tree, mid-load
        server.process.wait(timeout=30)
        load.stop()
        output.join()
    acknowledged = set(load.acknowledged)
    assert len(acknowledged) >= 100, f"only {len(acknowledged)} answered before the kill"
    assert load.refused == []
    missing = acknowledged - stored_request_ids(data_dir)
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged events lost"
    assert "chain intact" in verify(data_dir)


def test_a_full_disk_refuses_calls_with_one_log_line_and_recovers(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "small", size_mib=24) as mount:
        data_dir = mount / "data"
        with server_process(data_dir, 1) as server:
            assert server.process is not None
            output = OutputDrain(server.process)
            kms = server.client()
            key_id = kms.create_key()["KeyMetadata"]["KeyId"]
            kms.encrypt(KeyId=key_id, Plaintext=b"before")
            filler = fill(mount)

            # A change that cannot be written is a retryable 503 too, never a bug's 500.
            changes = [create_code(kms) for _ in range(300)]
            assert "DependencyTimeoutException" in changes, changes
            assert set(changes) <= {"ok", "DependencyTimeoutException"}, set(changes)

            # The database may still have room in its write-ahead log for a while; then
            # every call is refused, none served unaudited.
            # The WAL checkpoint job may free pages now and then, so a call may be served
            # between refusals: served only once its event is committed (checked below).
            codes = [encrypt_code(kms, key_id) for _ in range(3000)]
            assert "DependencyTimeoutException" in codes, "the full disk never stopped Encrypt"
            assert set(codes) <= {"ok", "DependencyTimeoutException"}, set(codes)
            status = refused_status(kms, key_id)
            assert status == 503

            filler.unlink()
            deadline = time.monotonic() + 30
            while encrypt_code(kms, key_id) != "ok" and time.monotonic() < deadline:
                time.sleep(0.1)
            assert encrypt_code(kms, key_id) == "ok", "did not recover when space returned"
            account = kms.describe_key(KeyId=key_id)["KeyMetadata"]["AWSAccountId"]
        log = output.join()
        # No call was served unaudited: every Encrypt answered OK has its event in the trail
        # (before the full disk, while it was full, and at least the one after recovery).
        exported, out, err = run(
            "audit", "export", "--data-dir", str(data_dir), "--account", account
        )
        assert exported == 0, err
        served = [
            r
            for r in map(orjson.loads, out.splitlines())
            if r["eventName"] == "Encrypt" and not r.get("errorCode")
        ]
        assert len(served) >= 1 + codes.count("ok") + 1, (len(served), codes.count("ok"))
    failures = [line for line in log.splitlines() if "audit trail: cannot commit" in line]
    # One line at once, rate-limited: a few at most per stretch of failures, however many
    # calls failed (a stretch ends when commits succeed again).
    stretches = max(log.count("commits succeed again"), 1)
    assert 1 <= len(failures) <= 3 * stretches, log[-3000:]
    # A later line either counts the failures it stands for, or starts anew after commits
    # succeeded in between (a checkpoint freed pages, "commits succeed again").
    assert all("disk is full" in line for line in failures)
    assert "commits succeed again" in log
    assert "Traceback" not in log, log[-3000:]
    assert key_id not in log and "requestID" not in log and "eventName" not in log


def create_code(kms: Any) -> str:
    try:
        kms.create_key(Description="on a full disk")
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return "ok"


def encrypt_code(kms: Any, key_id: str) -> str:
    try:
        kms.encrypt(KeyId=key_id, Plaintext=b"during")
    except ClientError as error:
        return str(error.response["Error"]["Code"])
    return "ok"


def refused_status(kms: Any, key_id: str) -> int:
    try:
        kms.encrypt(KeyId=key_id, Plaintext=b"during")
    except ClientError as error:
        return int(error.response["ResponseMetadata"]["HTTPStatusCode"])
    return 200
