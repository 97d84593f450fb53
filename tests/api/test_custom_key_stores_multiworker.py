"""A custom key store behind a real ``strongroom serve`` with two worker processes.

Each worker logs in to the cluster's SoftHSM2 tokens itself and uses them concurrently; a
disconnect made through one worker is in force in both within a second; and afterwards no file
of the data directory and no line the server printed holds the key.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.kms.keystores.pkcs11 import TokenConnection
from tests.support import softhsm
from tests.support.hsm_clusters import new_cluster_id, trust_anchor_pem
from tests.support.processes import OutputDrain, uvicorn_workers
from tests.support.raw_kms import RawKms, connect_to_each_worker
from tests.support.servers import ServerProcess, server_process
from tests.support.store_disconnect import check_disconnect_reaches_every_worker


@dataclass
class Deployment:
    server: ServerProcess
    workers: list[int]
    output: OutputDrain
    tokens: list[softhsm.SoftHsmToken]
    store_id: str
    key_id: str
    key_arn: str

    def pin(self) -> dict[int, RawKms]:
        return connect_to_each_worker(self.server.endpoint, self.server.admin_key, self.workers)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    # The tokens exist before the server's workers first load the PKCS#11 module.
    tokens = [softhsm.create_token("mw") for _ in range(2)]
    data_dir = tmp_path_factory.mktemp("cks-multiworker") / "data"
    anchor_file = tmp_path_factory.mktemp("anchor") / "customerCA.crt"
    anchor_file.write_text(trust_anchor_pem())
    cluster_id = new_cluster_id()
    with server_process(data_dir, 2) as running:
        assert running.process is not None
        output = OutputDrain(running.process)
        register = [
            sys.executable,
            "-m",
            "strongroom.cli.main",
            "admin",
            "--data-dir",
            str(data_dir),
            "hsm-clusters",
            "register",
            cluster_id,
            "--trust-anchor",
            str(anchor_file),
        ]
        for token in tokens:
            register += ["--token", token.label]
        done = subprocess.run(register, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        client = running.client()
        store_id = client.create_custom_key_store(
            CustomKeyStoreName="shared",
            CloudHsmClusterId=cluster_id,
            TrustAnchorCertificate=anchor_file.read_text(),
            KeyStorePassword=tokens[0].pin,
        )["CustomKeyStoreId"]
        client.connect_custom_key_store(CustomKeyStoreId=store_id)
        meta = client.create_key(CustomKeyStoreId=store_id, Origin="AWS_CLOUDHSM")["KeyMetadata"]
        yield Deployment(
            running,
            uvicorn_workers(running.process.pid),
            output,
            tokens,
            store_id,
            meta["KeyId"],
            meta["Arn"],
        )
    assert "Traceback" not in output.text(), output.text()


def test_both_workers_use_the_same_tokens_concurrently(deployment: Deployment) -> None:
    pinned = deployment.pin()
    first, second = (pinned[pid] for pid in deployment.workers)
    blobs = []
    for conn in (first, second):
        reply = conn.encrypt(deployment.key_id, b"from one worker")
        assert (reply.status, reply.body.get("KeyId")) == (200, deployment.key_arn), reply
        blobs.append(reply.body["CiphertextBlob"])
    for conn, blob in ((first, blobs[1]), (second, blobs[0])):
        reply = conn.call("Decrypt", {"CiphertextBlob": blob})
        assert reply.status == 200, reply
        assert base64.b64decode(reply.body["Plaintext"]) == b"from one worker"

    lock = threading.Lock()

    def work(index: int) -> list[tuple[bytes, bytes]]:
        with lock:
            client = deployment.server.client()
        done = []
        for n in range(20):
            plaintext = f"{index}/{n}".encode()
            blob = client.encrypt(KeyId=deployment.key_id, Plaintext=plaintext)["CiphertextBlob"]
            assert client.decrypt(CiphertextBlob=blob)["Plaintext"] == plaintext
            done.append((plaintext, blob))
        return done

    with ThreadPoolExecutor(12) as pool:
        results = [item for batch in pool.map(work, range(12)) for item in batch]
    assert len({blob for _, blob in results}) == 240
    for conn in pinned.values():
        conn.close()


def test_a_disconnect_reaches_every_worker_within_a_second(deployment: Deployment) -> None:
    check_disconnect_reaches_every_worker(deployment)


def test_no_file_of_the_data_dir_and_no_log_line_holds_the_key(deployment: Deployment) -> None:
    """Every 32-byte window of every file (and of every hex or base64 run in the server's
    output) is tried as the AES key against a ciphertext the token made: none works."""
    token = deployment.tokens[0]
    connection = TokenConnection.open(token.module, token.label, token.pin)
    try:
        ref = connection.find_aes_key(deployment.key_arn)
        assert ref is not None
        iv, aad = os.urandom(12), b"material scan"
        sealed = connection.gcm_encrypt(ref, iv, b"known plaintext", aad)
    finally:
        connection.close()

    def opens(candidate: bytes) -> bool:
        try:
            AESGCM(candidate).decrypt(iv, sealed, aad)
        except InvalidTag:
            return False
        return True

    files = [p for p in deployment.server.data_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" or "sqlite" in p.name for p in files), files
    scanned = 0
    for path in files:
        scanned += _scan(path.read_bytes(), opens, where=str(path))
    log = deployment.output.text().encode()
    scanned += _scan(log, opens, where="server output")
    for encoded in _encoded_runs(deployment.output.text()):
        scanned += _scan(encoded, opens, where="server output (decoded)")
    assert scanned > 10_000  # the database alone has more windows than that


def _scan(data: bytes, opens: Any, *, where: str) -> int:
    windows = max(0, len(data) - 31)
    for start in range(windows):
        assert not opens(data[start : start + 32]), f"the key is in {where} at {start}"
    return windows


def _encoded_runs(text: str) -> Iterator[bytes]:
    for run in re.findall(r"[0-9a-fA-F]{64,}", text):
        yield binascii.unhexlify(run[: len(run) // 2 * 2])
    for run in re.findall(r"[A-Za-z0-9+/]{43,}={0,2}", text):
        try:
            yield base64.b64decode(run + "=" * (-len(run) % 4))
        except binascii.Error:
            continue


def test_the_window_scan_finds_a_key_that_is_there() -> None:
    """The scan above can fail: a key written into a file is found."""
    key = AESGCM.generate_key(bit_length=256)
    iv = os.urandom(12)
    sealed = AESGCM(key).encrypt(iv, b"p", b"a")

    def opens(candidate: bytes) -> bool:
        try:
            AESGCM(candidate).decrypt(iv, sealed, b"a")
        except InvalidTag:
            return False
        return True

    with pytest.raises(AssertionError, match="the key is in blob at 7"):
        _scan(b"\x00" * 7 + key + b"\x01" * 9, opens, where="blob")
    assert key in b"".join(_encoded_runs(f"log line {key.hex()} end"))
