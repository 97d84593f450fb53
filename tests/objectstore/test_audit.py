"""The KMS calls the object store makes are in the tenant's hash-chained audit trail, committed
before the S3 response (the KMS's default ``before-response`` durability)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.s3 import kms_bucket, s3_client
from tests.support.servers import InProcessServer, in_process_server


@pytest.fixture(scope="module")
def chained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with in_process_server(tmp_path_factory.mktemp("s3-audit"), chained_audit=True) as running:
        yield running


def _records(server: InProcessServer) -> list[dict[str, Any]]:
    with sqlite3.connect(server.data_dir / "strongroom.db") as db:
        rows = db.execute("SELECT record FROM audit_events ORDER BY seq").fetchall()
    return [json.loads(r[0]) for r in rows]


def test_kms_calls_of_s3_requests_are_committed_before_the_response(
    chained: InProcessServer,
) -> None:
    s3 = s3_client(chained)
    key = chained.client().create_key()["KeyMetadata"]["Arn"]
    bucket = kms_bucket(s3, key)
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=b"audited")
        arn = f"arn:aws:s3:::{bucket}/k{i}"
        found = [
            r
            for r in _records(chained)
            if r["eventName"] == "GenerateDataKey"
            and r["requestParameters"]["EncryptionContext"] == {"aws:s3:arn": arn}
        ]
        assert len(found) == 1, f"no committed GenerateDataKey event for k{i}"
        assert found[0]["resources"][0]["ARN"] == key
        assert found[0]["userIdentity"]["arn"].endswith(":user/admin")
    assert s3.get_object(Bucket=bucket, Key="k0")["Body"].read() == b"audited"
    decrypts = [json.dumps(r) for r in _records(chained) if "Decrypt" in json.dumps(r)]
    assert any(f"{bucket}/k0" in d for d in decrypts)
