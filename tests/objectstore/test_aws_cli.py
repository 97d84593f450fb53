"""The AWS CLI's high-level ``aws s3`` commands and ``aws s3api``, unchanged, against the store."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.support.s3 import bucket_name, kms_bucket
from tests.support.s3_cli import S3Cli
from tests.support.servers import InProcessServer


@pytest.fixture
def cli(server: InProcessServer, tmp_path: Path) -> S3Cli:
    return S3Cli(server, tmp_path)


def test_cp_ls_sync_rm(cli: S3Cli, s3: Any, key_arn: str, tmp_path: Path) -> None:
    bucket = kms_bucket(s3, key_arn)
    large = tmp_path / "large.bin"
    large.write_bytes(os.urandom(20 * 1024 * 1024 + 12345))  # multipart: 8 MiB parts
    cli("s3", "cp", str(large), f"s3://{bucket}/big/large.bin").ok()
    head = s3.head_object(Bucket=bucket, Key="big/large.bin")
    assert head["ContentLength"] == large.stat().st_size
    assert head["ETag"].endswith('-3"')
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key_arn
    back = tmp_path / "back.bin"
    cli("s3", "cp", f"s3://{bucket}/big/large.bin", str(back)).ok()
    assert back.read_bytes() == large.read_bytes()

    tree = tmp_path / "tree"
    for name in ("a.txt", "sub/b.txt", "sub/deeper/c.txt"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(f"content of {name}")
    cli("s3", "sync", str(tree), f"s3://{bucket}/tree").ok()
    listing = cli("s3", "ls", f"s3://{bucket}/tree/", "--recursive").ok()
    assert sorted(line.split()[-1] for line in listing.splitlines()) == [
        "tree/a.txt",
        "tree/sub/b.txt",
        "tree/sub/deeper/c.txt",
    ]
    top = cli("s3", "ls", f"s3://{bucket}/").ok()
    assert "PRE big/" in top and "PRE tree/" in top
    assert "upload:" not in cli("s3", "sync", str(tree), f"s3://{bucket}/tree").ok()
    mirror = tmp_path / "mirror"
    cli("s3", "sync", f"s3://{bucket}/tree", str(mirror)).ok()
    assert (mirror / "sub/deeper/c.txt").read_text() == "content of sub/deeper/c.txt"
    cli("s3", "rm", f"s3://{bucket}/", "--recursive").ok()
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    assert bucket in cli("s3", "ls").ok()
    cli("s3", "rb", f"s3://{bucket}").ok()
    assert bucket not in cli("s3", "ls").ok()


def test_s3api_with_sse_kms_and_context(cli: S3Cli, s3: Any, key_arn: str, tmp_path: Path) -> None:
    bucket = bucket_name()
    cli("s3api", "create-bucket", "--bucket", bucket).ok()
    source = tmp_path / "in.txt"
    source.write_text("encrypted by the CLI")
    context = base64.b64encode(json.dumps({"team": "blue"}).encode()).decode()
    put = cli(
        "s3api",
        "put-object",
        "--bucket",
        bucket,
        "--key",
        "doc.txt",
        "--body",
        str(source),
        "--server-side-encryption",
        "aws:kms",
        "--ssekms-key-id",
        key_arn,
        "--ssekms-encryption-context",
        context,
    ).json()
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"]) == ("aws:kms", key_arn)
    out = tmp_path / "out.txt"
    got = cli("s3api", "get-object", "--bucket", bucket, "--key", "doc.txt", str(out)).json()
    assert got["ServerSideEncryption"] == "aws:kms"
    assert out.read_text() == "encrypted by the CLI"
    encryption = cli("s3api", "get-bucket-encryption", "--bucket", bucket).json()
    assert encryption["ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    missing = cli("s3api", "get-object", "--bucket", bucket, "--key", "nope", str(out))
    assert missing.returncode != 0 and "NoSuchKey" in missing.stderr
