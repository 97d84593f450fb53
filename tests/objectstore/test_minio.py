"""The MinIO Python SDK, a client independent of botocore, against the store."""

from __future__ import annotations

import io
import os
from typing import Any
from urllib.parse import urlsplit

import pytest
from minio import Minio
from minio.commonconfig import CopySource
from minio.error import S3Error
from minio.sse import SseKMS
from minio.sseconfig import Rule, SSEConfig

from tests.support.s3 import bucket_name
from tests.support.servers import InProcessServer


@pytest.fixture
def minio_client(server: InProcessServer) -> Minio:
    key = server.admin_key
    return Minio(
        urlsplit(server.endpoint).netloc,
        access_key=key.access_key_id,
        secret_key=key.secret_access_key,
        secure=False,
        region=server.region,
    )


def test_minio_round_trip(minio_client: Minio, s3: Any, key_arn: str) -> None:
    bucket = bucket_name()
    minio_client.make_bucket(bucket)
    assert minio_client.bucket_exists(bucket)
    minio_client.set_bucket_encryption(bucket, SSEConfig(Rule.new_sse_kms_rule(key_arn)))
    config = minio_client.get_bucket_encryption(bucket)
    assert config is not None and config.rule.kms_master_key_id == key_arn
    data = os.urandom(300_000)
    sse = SseKMS(key_arn, {"app": "minio"})
    minio_client.put_object(bucket, "dir/one", io.BytesIO(data), len(data), sse=sse)
    minio_client.put_object(bucket, "two", io.BytesIO(b"small"), 5, metadata={"x-amz-meta-k": "v"})
    response = minio_client.get_object(bucket, "dir/one")
    try:
        assert response.read() == data
        assert response.headers["x-amz-server-side-encryption"] == "aws:kms"
    finally:
        response.close()
        response.release_conn()
    ranged = minio_client.get_object(bucket, "dir/one", offset=65_000, length=2_000)
    try:
        assert ranged.read() == data[65_000:67_000]
    finally:
        ranged.close()
        ranged.release_conn()
    stat = minio_client.stat_object(bucket, "two")
    assert stat.size == 5
    assert stat.metadata is not None and stat.metadata["x-amz-meta-k"] == "v"
    names = sorted(o.object_name for o in minio_client.list_objects(bucket, recursive=True))
    assert names == ["dir/one", "two"]
    top = sorted(o.object_name for o in minio_client.list_objects(bucket))
    assert top == ["dir/", "two"]
    minio_client.copy_object(bucket, "copy", CopySource(bucket, "two"))
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"small"
    for name in ("dir/one", "two", "copy"):
        minio_client.remove_object(bucket, name)
    with pytest.raises(S3Error) as info:
        minio_client.stat_object(bucket, "two")
    assert info.value.code == "NoSuchKey"
    minio_client.remove_bucket(bucket)
    assert not minio_client.bucket_exists(bucket)


def test_minio_multipart(minio_client: Minio, s3: Any, key_arn: str) -> None:
    bucket = bucket_name()
    minio_client.make_bucket(bucket)
    data = os.urandom(12 * 1024 * 1024)
    minio_client.put_object(
        bucket,
        "multi",
        io.BytesIO(data),
        len(data),
        part_size=5 * 1024 * 1024,
        sse=SseKMS(key_arn, {}),
    )
    head = s3.head_object(Bucket=bucket, Key="multi")
    assert head["ETag"].endswith('-3"') and head["ContentLength"] == len(data)
    response = minio_client.get_object(bucket, "multi")
    try:
        assert response.read() == data
    finally:
        response.close()
        response.release_conn()
