"""The HAProxy configuration of docs/deployment.md, in front of two nodes on one PostgreSQL:
requests are spread over both, and a stopped node is taken out by the /readyz check."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from tests.support.postgres import PostgresCluster
from tests.support.servers import InProcessServer, free_port, in_process_server

DEPLOYMENT = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"


def documented_config(listen: int, nodes: list[InProcessServer]) -> str:
    """The HAProxy block of docs/deployment.md with this test's ports put in."""
    blocks = re.findall(r"```\n(global\n.*?)```", DEPLOYMENT.read_text(), re.DOTALL)
    assert len(blocks) == 1, "docs/deployment.md has one HAProxy configuration"
    config = str(blocks[0]).replace("127.0.0.1:8443", f"127.0.0.1:{listen}")
    for i, node in enumerate(nodes, start=1):
        address = node.endpoint.removeprefix("http://")
        config, count = re.subn(rf"(server node{i}) \S+", rf"\1 {address}", config)
        assert count == 1
    return config


@pytest.fixture
def haproxy_binary() -> str:
    found = shutil.which("haproxy") or "/usr/sbin/haproxy"
    assert Path(found).exists(), "scripts/test.sh installs haproxy"
    return found


def _metric(endpoint: str, operation: str) -> float:
    with urllib.request.urlopen(endpoint + "/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("strongroom_requests_total{")
        and f'operation="{operation}"' in line
        and 'code="OK"' in line
    )


def test_two_nodes_behind_the_documented_haproxy(
    tmp_path: Path, postgres: PostgresCluster, haproxy_binary: str
) -> None:
    url = postgres.new_database()
    with ExitStack() as stack:
        first = stack.enter_context(in_process_server(tmp_path / "a", database_url=url))
        second_stack = stack.enter_context(ExitStack())
        second = second_stack.enter_context(
            in_process_server(tmp_path / "b", database_url=url, join=first)
        )
        listen = free_port()
        config = tmp_path / "haproxy.cfg"
        config.write_text(documented_config(listen, [first, second]))
        proxy = subprocess.Popen(
            [haproxy_binary, "-db", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        stack.callback(proxy.wait, 10)
        stack.callback(proxy.terminate)
        kms = boto3.client(
            "kms",
            endpoint_url=f"http://127.0.0.1:{listen}",
            region_name="us-east-1",
            aws_access_key_id=first.admin_key.access_key_id,
            aws_secret_access_key=first.admin_key.secret_access_key,
            config=Config(retries={"max_attempts": 1}),
        )
        deadline = time.monotonic() + 20
        while True:  # until HAProxy's first health checks pass
            try:
                key_id = kms.create_key()["KeyMetadata"]["KeyId"]
                break
            except Exception:
                assert proxy.poll() is None, proxy.stderr.read() if proxy.stderr else ""
                assert time.monotonic() < deadline, "HAProxy never forwarded a request"
                time.sleep(0.2)
        for _ in range(20):
            blob = kms.encrypt(KeyId=key_id, Plaintext=b"balanced")["CiphertextBlob"]
            assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"balanced"
        # Round robin, request by request: each node served about half of the 40 calls.
        served = [
            _metric(n.endpoint, "Encrypt") + _metric(n.endpoint, "Decrypt") for n in (first, second)
        ]
        assert sum(served) == 40 and min(served) >= 10, served

        second_stack.close()  # node b stops; /readyz checks take it out
        deadline = time.monotonic() + 15
        streak = 0
        while streak < 20:
            try:
                kms.encrypt(KeyId=key_id, Plaintext=b"one node left")
                streak += 1
            except Exception:
                streak = 0
                assert time.monotonic() < deadline, "HAProxy kept sending to the stopped node"
                time.sleep(0.1)
