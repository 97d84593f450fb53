"""A node with two worker processes: every scrape counts the requests of both workers, and
per-request log lines name each request without anything secret."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError

from strongroom.kms.api.node_metrics import decode
from strongroom.kms.config import config_file
from tests.support.metrics import sample, samples, scrape
from tests.support.s3 import s3_client
from tests.support.servers import server_process

CALLS = 3  # Encrypt calls per client: each client is a new connection, to either worker


def _published_encrypts(data_dir: Path) -> list[float]:
    """Encrypt calls each worker counted in its last published snapshot."""
    counts = []
    for path in sorted((data_dir / "metrics").glob("worker-*.json")):
        snapshot = decode(path.read_bytes())
        counts.append(
            sum(
                value
                for family in snapshot.families
                for name, labels, value in family.samples
                if name == "strongroom_requests_total" and labels["operation"] == "Encrypt"
            )
        )
    return counts


@pytest.mark.slow
def test_every_scrape_counts_the_whole_node(tmp_path: Path) -> None:
    with server_process(tmp_path / "node", 2) as server:
        key_id = server.client().create_key()["KeyMetadata"]["KeyId"]
        sent = 0
        for _ in range(6):  # until both workers have served some (the kernel picks)
            for _ in range(8):
                client = server.client()
                for _ in range(CALLS):
                    client.encrypt(KeyId=key_id, Plaintext=b"counted once")
                sent += CALLS
            time.sleep(2.5)  # each worker publishes its snapshot once a second
            served = _published_encrypts(server.data_dir)
            if len(served) == 2 and min(served) > 0:
                break
        assert len(served) == 2 and min(served) > 0 and sum(served) == sent, served
        for _ in range(8):  # new connections: either worker answers, each for the node
            text = scrape(server.endpoint)
            counted = sample(text, "strongroom_requests_total", operation="Encrypt", code="OK")
            assert counted == sent, text
            assert (
                sample(text, "strongroom_request_seconds_count", operation="Encrypt", code="OK")
                == sent
            )
            assert sample(text, "strongroom_node_workers") == 2, text
            workers = {
                line.split('worker="', 1)[1].split('"', 1)[0]
                for line in text.splitlines()
                if line.startswith("strongroom_audit_queue_depth{")
            }
            assert len(workers) == 2, text
            assert len(samples(text, "strongroom_cache_hits_total", cache="key")) == 1


def _lines(output: str) -> list[dict[str, Any]]:
    found = []
    for line in output.splitlines():
        if line.startswith("{") and '"requestId"' in line:
            found.append(orjson.loads(line))
    return found


@pytest.mark.slow
def test_request_lines_name_each_request_and_nothing_secret(tmp_path: Path) -> None:
    data_dir = tmp_path / "node"
    data_dir.mkdir(mode=0o700)
    config_file(data_dir).write_text('request_log = "json"\nnode_name = "node-7"\n')
    plaintext = b"never in a log line"
    with server_process(data_dir, 2) as server:
        client = server.client()
        arn = client.create_key()["KeyMetadata"]["Arn"]
        blob = client.encrypt(KeyId=arn, Plaintext=plaintext)["CiphertextBlob"]
        assert client.decrypt(CiphertextBlob=blob)["Plaintext"] == plaintext
        with pytest.raises(ClientError):
            client.describe_key(KeyId="alias/no-such-alias")
        forged = server.client()
        forged._request_signer._credentials.secret_key = "not-the-secret"
        with pytest.raises(ClientError) as refused:
            forged.list_keys()
        s3_client(server).list_buckets()  # the object store's requests are logged too
        time.sleep(0.3)
    assert server.process is not None and server.process.stdout is not None
    output = server.process.stdout.read()
    lines = _lines(output)
    by_operation = {(line["operation"], line["code"]): line for line in lines}
    encrypt = by_operation[("Encrypt", "OK")]
    assert encrypt["keyId"] == arn
    assert encrypt["status"] == 200
    assert encrypt["node"] == "node-7"
    assert encrypt["principal"].startswith("arn:aws:iam::")
    assert encrypt["account"] == arn.split(":")[4]
    assert int(encrypt["worker"]) > 0
    assert 0 < encrypt["latencyMs"] < 10_000
    assert by_operation[("Decrypt", "OK")]["keyId"] == arn  # the key the response names
    missing = by_operation[("DescribeKey", "NotFoundException")]
    assert (missing["keyId"], missing["status"]) == ("alias/no-such-alias", 400)
    code = refused.value.response["Error"]["Code"]
    rejected = [line for line in lines if line["code"] == code]
    assert rejected and rejected[0]["principal"] is None
    listing = by_operation[("ListBuckets", "OK")]
    assert (listing["service"], listing["status"]) == ("s3", 200)
    assert listing["account"] == encrypt["account"] and listing["keyId"] is None
    assert encrypt["service"] == "kms"
    assert len({line["requestId"] for line in lines}) == len(lines) >= 6
    for secret in (
        plaintext.decode(),
        base64.b64encode(plaintext).decode(),
        base64.b64encode(blob).decode(),
        server.admin_key.secret_access_key,
        "Signature=",
    ):
        assert secret not in output
