"""The object store on two nodes of one PostgreSQL database that mount one object data
directory (``s3_data_dir``): any node answers any S3 request, as the KMS API does."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.support.nodes import postgres_nodes
from tests.support.postgres import PostgresCluster
from tests.support.s3 import bucket_name, kms_bucket, s3_client
from tests.support.servers import InProcessServer


@pytest.fixture
def nodes(tmp_path: Path, postgres: PostgresCluster) -> Iterator[list[InProcessServer]]:
    shared = tmp_path / "shared-objects"
    with postgres_nodes(tmp_path, postgres, count=2, s3_data_dir=str(shared)) as running:
        yield running


def test_an_object_put_on_one_node_is_read_on_the_other(
    nodes: list[InProcessServer], tmp_path: Path
) -> None:
    a, b = (s3_client(node) for node in nodes)
    bucket = bucket_name()
    a.create_bucket(Bucket=bucket)
    body = os.urandom(3 * 1024 * 1024 + 17)  # more than one chunk
    a.put_object(Bucket=bucket, Key="doc", Body=body)
    # The data went to the shared directory, none to a node's own data directory.
    assert [p for p in (tmp_path / "shared-objects").rglob("*") if p.is_file()]
    for node in nodes:
        assert not [p for p in (node.data_dir / "objects").rglob("*") if p.is_file()]
    got = b.get_object(Bucket=bucket, Key="doc", Range="bytes=1048570-1048600")
    assert got["Body"].read() == body[1048570:1048601]
    assert b.get_object(Bucket=bucket, Key="doc")["Body"].read() == body
    b.delete_object(Bucket=bucket, Key="doc")
    with pytest.raises(ClientError) as gone:
        a.get_object(Bucket=bucket, Key="doc")
    assert gone.value.response["Error"]["Code"] == "NoSuchKey"


def test_sse_kms_and_multipart_across_nodes(nodes: list[InProcessServer]) -> None:
    a, b = (s3_client(node) for node in nodes)
    key_arn = nodes[1].client().create_key(Description="made on node 1")["KeyMetadata"]["Arn"]
    bucket = kms_bucket(a, key_arn)
    parts = [os.urandom(5 * 1024 * 1024), os.urandom(1234)]
    upload = a.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    etags = [
        client.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=number, Body=data)[
            "ETag"
        ]
        for number, (client, data) in enumerate(zip((a, b), parts, strict=True), start=1)
    ]
    b.complete_multipart_upload(
        Bucket=bucket,
        Key="big",
        UploadId=upload,
        MultipartUpload={
            "Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]
        },
    )
    head = a.head_object(Bucket=bucket, Key="big")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key_arn
    data = b.get_object(Bucket=bucket, Key="big")["Body"].read()
    assert hashlib.sha256(data).digest() == hashlib.sha256(b"".join(parts)).digest()
