"""A node killed mid-load (SIGKILL of its whole process tree): the other node keeps answering,
and everything the killed node acknowledged is there."""

from __future__ import annotations

import os
import shutil
import signal
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from tests.support.postgres import PostgresCluster
from tests.support.servers import ServerProcess, server_process


def _client(node: ServerProcess) -> Any:
    return boto3.client(
        "kms",
        endpoint_url=node.endpoint,
        region_name="us-east-1",
        aws_access_key_id=node.admin_key.access_key_id,
        aws_secret_access_key=node.admin_key.secret_access_key,
    )


def test_killing_a_node_under_load_loses_nothing_it_acknowledged(
    tmp_path: Path, postgres: PostgresCluster
) -> None:
    url = postgres.new_database()
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    with server_process(first_dir, 1, "--database-url", url) as first:
        second_dir.mkdir(mode=0o700)
        (second_dir / "root.key").write_bytes((first_dir / "root.key").read_bytes())
        (second_dir / "root.key").chmod(0o600)
        shutil.copytree(first_dir / "aws", second_dir / "aws")  # the same admin credentials
        with server_process(second_dir, 1, "--database-url", url) as second:
            a, b = _client(first), _client(second)
            acknowledged: list[str] = []
            survivor: Counter[str] = Counter()
            stop = threading.Event()

            def create_on_first() -> None:
                while not stop.is_set():
                    try:
                        acknowledged.append(a.create_key()["KeyMetadata"]["KeyId"])
                    except Exception:
                        return

            def load_second(key_id: str, blob: bytes) -> None:
                while not stop.is_set():
                    try:
                        b.decrypt(CiphertextBlob=blob)
                        survivor["OK"] += 1
                    except ClientError as error:
                        survivor[str(error.response["Error"]["Code"])] += 1

            key_id = b.create_key()["KeyMetadata"]["KeyId"]
            blob = b.encrypt(KeyId=key_id, Plaintext=b"survives")["CiphertextBlob"]
            threads = [
                threading.Thread(target=create_on_first),
                threading.Thread(target=load_second, args=(key_id, blob)),
            ]
            for thread in threads:
                thread.start()
            while len(acknowledged) < 5:
                threading.Event().wait(0.05)
            assert first.process is not None
            os.killpg(first.process.pid, signal.SIGKILL)
            first.process.wait(timeout=30)
            before = survivor["OK"]
            threading.Event().wait(1.0)
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
            assert survivor["OK"] > before  # the other node kept answering
            assert set(survivor) == {"OK"}, survivor
            for made in acknowledged:  # every acknowledged create is committed
                state = b.describe_key(KeyId=made)["KeyMetadata"]["KeyState"]
                assert state == "Enabled"
