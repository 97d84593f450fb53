"""Cutting AWS off takes effect in every worker of a multi-process server within a second."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from pathlib import Path

from tests.support import cli
from tests.support.hsm_clusters import register_cluster
from tests.support.processes import uvicorn_workers
from tests.support.raw_kms import connect_to_each_worker
from tests.support.servers import server_process
from tests.support.xks import XksClient


def _admin(data_dir: Path, *argv: str) -> str:
    status, out, err = cli.run("admin", "--data-dir", str(data_dir), *argv)
    assert status == 0, err
    return out


def test_disabling_and_revoking_reach_every_worker(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with server_process(data_dir, 2) as running:
        assert running.process is not None
        cluster = register_cluster(data_dir, hsms=2)
        kms = running.client()
        store = kms.create_custom_key_store(
            CustomKeyStoreName=f"xks-{uuid.uuid4().hex[:8]}",
            CloudHsmClusterId=cluster.cluster_id,
            TrustAnchorCertificate=cluster.trust_anchor,
            KeyStorePassword=cluster.password,
        )["CustomKeyStoreId"]
        kms.connect_custom_key_store(CustomKeyStoreId=store)
        configuration = json.loads(
            _admin(data_dir, "xks", "create-credential", "--custom-key-store", store)
        )
        key = json.loads(_admin(data_dir, "xks", "create-key", "--custom-key-store", store))[
            "XksKeyId"
        ]
        base = XksClient.from_configuration(running.endpoint, configuration)
        workers = uvicorn_workers(running.process.pid)
        assert len(workers) == 2
        pinned = connect_to_each_worker(running.endpoint, running.admin_key, workers)
        try:
            clients = [dataclasses.replace(base, connection=c._conn) for c in pinned.values()]
            sealed = {}
            for number, client in enumerate(clients):
                status, sealed[number] = client.encrypt(key, b"data key", b"ctx")
                assert status == 200, sealed[number]

            _admin(data_dir, "xks", "disable-key", "--custom-key-store", store, key)
            start = time.monotonic()
            for number, client in enumerate(clients):
                while client.decrypt(key, sealed[number], b"ctx")[0] == 200:
                    assert time.monotonic() - start < 2.0, f"worker {number} still decrypts"
                    time.sleep(0.02)
                assert client.key_metadata(key)[1]["keyStatus"] == "DISABLED"

            _admin(data_dir, "xks", "enable-key", "--custom-key-store", store, key)
            _admin(data_dir, "xks", "delete-credential", base.access_key_id)
            start = time.monotonic()
            for client in clients:
                while (answer := client.health())[0] != 401:
                    assert answer[0] == 200, answer
                    assert time.monotonic() - start < 2.0, "a worker still accepts the credential"
                    time.sleep(0.02)
        finally:
            for conn in pinned.values():
                conn.close()
