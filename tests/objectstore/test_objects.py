"""Object operations through boto3: data, metadata, ranges, conditions, tags, deletes."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.errors import aws_error

CHUNK = 64 * 1024


def test_put_get_head_delete(s3: Any, bucket: str) -> None:
    data = os.urandom(3 * CHUNK + 17)
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/file.bin",
        Body=data,
        ContentType="application/x-test",
        Metadata={"colour": "blue", "owner": "team-a"},
        CacheControl="no-cache",
        ContentDisposition="attachment",
    )
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/file.bin")
    assert got["Body"].read() == data
    assert got["ContentLength"] == len(data)
    assert got["ContentType"] == "application/x-test"
    assert got["Metadata"] == {"colour": "blue", "owner": "team-a"}
    assert (got["CacheControl"], got["ContentDisposition"]) == ("no-cache", "attachment")
    assert got["ETag"] == put["ETag"]
    head = s3.head_object(Bucket=bucket, Key="dir/file.bin")
    assert head["ContentLength"] == len(data)
    assert head["Metadata"] == {"colour": "blue", "owner": "team-a"}
    s3.delete_object(Bucket=bucket, Key="dir/file.bin")
    with aws_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="dir/file.bin")
    with aws_error("404", 404):
        s3.head_object(Bucket=bucket, Key="dir/file.bin")
    s3.delete_object(Bucket=bucket, Key="dir/file.bin")  # deleting nothing succeeds, as in S3


def test_empty_object_and_overwrite(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="k")
    assert (got["Body"].read(), got["ContentLength"]) == (b"", 0)
    s3.put_object(Bucket=bucket, Key="k", Body=b"second")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"second"


def test_keys_with_special_characters(s3: Any, bucket: str) -> None:
    keys = ["a b/c+d", "ünïcödé/ключ", "x?y=z&w", "percent%20literal", "a//b/../c"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    for key in keys:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == sorted(keys, key=lambda k: k.encode())


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-0", 0, 0),
        (f"bytes={CHUNK - 5}-{CHUNK + 5}", CHUNK - 5, CHUNK + 5),
        (f"bytes={CHUNK}-{2 * CHUNK - 1}", CHUNK, 2 * CHUNK - 1),
        (f"bytes={CHUNK - 1}-{3 * CHUNK}", CHUNK - 1, 3 * CHUNK),
        (f"bytes={2 * CHUNK + 3}-", 2 * CHUNK + 3, 3 * CHUNK + 99),
        ("bytes=-100", 3 * CHUNK, 3 * CHUNK + 99),
        ("bytes=10-999999999", 10, 3 * CHUNK + 99),
    ],
)
def test_ranges_across_chunk_boundaries(
    s3: Any, bucket: str, header: str, first: int, last: int
) -> None:
    data = os.urandom(3 * CHUNK + 100)
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    got = s3.get_object(Bucket=bucket, Key="r", Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == f"bytes {first}-{last}/{len(data)}"
    assert got["Body"].read() == data[first : last + 1]


def test_unsatisfiable_range(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="r", Body=b"0123456789")
    with aws_error("InvalidRange", 416):
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=10-20")
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=9-20")["Body"].read() == b"9"


def test_conditional_requests(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"data")["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="c")["LastModified"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"data"
    with aws_error("PreconditionFailed", 412):
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0000"')
    with aws_error("304", 304):
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    with aws_error("304", 304):
        s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=modified + timedelta(seconds=5))
    earlier = modified - timedelta(days=1)
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=earlier)["Body"].read() == b"data"
    with aws_error("PreconditionFailed", 412):
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=earlier)
    # If-Match that holds wins over If-Unmodified-Since that does not (RFC 7232, as S3).
    got = s3.get_object(Bucket=bucket, Key="c", IfMatch=etag, IfUnmodifiedSince=earlier)
    assert got["Body"].read() == b"data"
    with aws_error("412", 412):
        s3.head_object(Bucket=bucket, Key="c", IfMatch='"0000"')
    assert datetime.now(UTC) - modified < timedelta(days=1)


def test_tags(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="team=blue&tier=gold")
    assert s3.get_object(Bucket=bucket, Key="t")["TagCount"] == 2
    tags = s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]
    assert tags == [{"Key": "team", "Value": "blue"}, {"Key": "tier", "Value": "gold"}]
    s3.put_object_tagging(
        Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "only", "Value": "one"}]}
    )
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [
        {"Key": "only", "Value": "one"}
    ]
    s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []
    with aws_error("NoSuchKey", 404):
        s3.get_object_tagging(Bucket=bucket, Key="missing")
    with aws_error("InvalidTag", 400):
        s3.put_object_tagging(
            Bucket=bucket,
            Key="t",
            Tagging={"TagSet": [{"Key": f"k{i}", "Value": "v"} for i in range(11)]},
        )


def test_delete_objects(s3: Any, bucket: str) -> None:
    for key in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    reply = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "zz"}]}
    )
    assert sorted(d["Key"] for d in reply["Deleted"]) == ["a", "b", "zz"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["c"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "c"}], "Quiet": True})
    assert "Deleted" not in quiet
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_list_objects_v2(s3: Any, bucket: str) -> None:
    keys = ["a/1", "a/2", "a/b/3", "b/1", "c", "d/x/y"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    root = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in root["Contents"]] == ["c"]
    assert [p["Prefix"] for p in root["CommonPrefixes"]] == ["a/", "b/", "d/"]
    under_a = s3.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in under_a["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in under_a["CommonPrefixes"]] == ["a/b/"]
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="a/b/3")
    assert [o["Key"] for o in after["Contents"]] == ["b/1", "c", "d/x/y"]
    seen: list[str] = []
    arguments: dict[str, Any] = {"Bucket": bucket, "MaxKeys": 2, "Delimiter": "/"}
    while True:
        page = s3.list_objects_v2(**arguments)
        assert page["KeyCount"] <= 2
        seen += [o["Key"] for o in page.get("Contents", [])]
        seen += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        if not page["IsTruncated"]:
            break
        arguments["ContinuationToken"] = page["NextContinuationToken"]
    assert seen == ["a/", "b/", "c", "d/"]
    paginator = s3.get_paginator("list_objects_v2")
    flat = [
        o["Key"]
        for p in paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 4})
        for o in p["Contents"]
    ]
    assert flat == keys
    v1 = s3.list_objects(Bucket=bucket, Prefix="a/")
    assert [o["Key"] for o in v1["Contents"]] == ["a/1", "a/2", "a/b/3"]


def test_missing_bucket_and_key_errors(s3: Any, bucket: str) -> None:
    with aws_error("NoSuchBucket", 404):
        s3.put_object(Bucket="no-such-bucket-here", Key="k", Body=b"x")
    with aws_error("NoSuchBucket", 404):
        s3.list_objects_v2(Bucket="no-such-bucket-here")
    with aws_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="nothing")
