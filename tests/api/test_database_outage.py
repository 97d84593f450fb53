"""PostgreSQL restarted under load: cached keys keep encrypting, what needs the database fails
with a retryable DependencyTimeoutException (503), and the node recovers by itself."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from tests.support.postgres import PostgresCluster
from tests.support.servers import in_process_server


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_postgresql_restart_under_load(tmp_path: Path, postgres: PostgresCluster) -> None:
    with in_process_server(tmp_path / "n", database_url=postgres.new_database()) as node:
        kms = node.client()
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"cached")["CiphertextBlob"]
        outcomes: Counter[str] = Counter()
        stop = threading.Event()

        def load() -> None:
            client = node.client()
            while not stop.is_set():
                try:
                    client.decrypt(CiphertextBlob=blob)
                    outcomes["OK"] += 1
                except ClientError as error:
                    outcomes[str(error.response["Error"]["Code"])] += 1

        worker = threading.Thread(target=load)
        worker.start()
        try:
            time.sleep(0.3)
            postgres.stop()
            try:
                before = outcomes["OK"]
                time.sleep(0.5)
                # The hot path needs no database: a cached key keeps working.
                assert kms.encrypt(KeyId=key_id, Plaintext=b"x")["KeyId"].endswith(key_id)
                try:
                    kms.create_key()
                    raise AssertionError("CreateKey succeeded with the database down")
                except ClientError as error:
                    assert error.response["Error"]["Code"] == "DependencyTimeoutException"
                    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 503
                assert outcomes["OK"] > before
                status, ready = _get(node.endpoint + "/readyz")
                assert status == 503 and ready["checks"]["keyStore"] == "ok"
                assert "unavailable" in ready["checks"]["database"]
            finally:
                postgres.start()
            deadline = time.monotonic() + 20
            while True:  # the node reconnects by itself
                try:
                    new_key = kms.create_key()["KeyMetadata"]["KeyId"]
                    break
                except ClientError as error:
                    assert error.response["Error"]["Code"] == "DependencyTimeoutException"
                    assert time.monotonic() < deadline, "the node did not recover"
                    time.sleep(0.2)
            assert kms.describe_key(KeyId=new_key)["KeyMetadata"]["Enabled"] is True
            assert _get(node.endpoint + "/readyz")[0] == 200
        finally:
            stop.set()
            worker.join(timeout=10)
        assert set(outcomes) == {"OK"}, outcomes  # no decrypt failed during the restart
