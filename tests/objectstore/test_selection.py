"""versionId, partNumber and ListMultipartUploads paging, as S3 answers them (boto3)."""

from __future__ import annotations

import os
from typing import Any

from tests.support.errors import aws_error

MiB = 1024 * 1024


def _multipart(s3: Any, bucket: str, key: str, parts: list[bytes]) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = []
    for number, data in enumerate(parts, start=1):
        etag = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
        )["ETag"]
        done.append({"PartNumber": number, "ETag": etag})
    s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done}
    )


def test_the_null_version_is_the_object_and_other_ids_are_refused(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="v", Body=b"versioned?")
    got = s3.get_object(Bucket=bucket, Key="v", VersionId="null")
    assert got["Body"].read() == b"versioned?"
    assert got["VersionId"] == "null"
    assert "VersionId" not in s3.get_object(Bucket=bucket, Key="v")
    assert s3.head_object(Bucket=bucket, Key="v", VersionId="null")["ContentLength"] == 10
    tagging = s3.get_object_tagging(Bucket=bucket, Key="v", VersionId="null")
    assert tagging["TagSet"] == []
    with aws_error("InvalidArgument", 400) as error:
        s3.get_object(Bucket=bucket, Key="v", VersionId="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
    assert error.message == "Invalid version id specified"
    with aws_error("400", 400):  # HEAD: no body, so botocore reports the status
        s3.head_object(Bucket=bucket, Key="v", VersionId="not-a-version")
    with aws_error("InvalidArgument", 400):
        s3.delete_object(Bucket=bucket, Key="v", VersionId="other")
    with aws_error("InvalidArgument", 400):
        s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/v?versionId=other")
    assert s3.get_object(Bucket=bucket, Key="v")["Body"].read() == b"versioned?"
    copied = s3.copy_object(Bucket=bucket, Key="copy", CopySource=f"{bucket}/v?versionId=null")
    assert copied["CopyObjectResult"]["ETag"]
    deleted = s3.delete_object(Bucket=bucket, Key="v", VersionId="null")
    assert deleted["VersionId"] == "null"
    with aws_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="v")


def test_part_numbers_of_a_multipart_object(s3: Any, bucket: str) -> None:
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB + 7), os.urandom(4321)]
    _multipart(s3, bucket, "mp", parts)
    offset = 0
    for number, data in enumerate(parts, start=1):
        got = s3.get_object(Bucket=bucket, Key="mp", PartNumber=number)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["PartsCount"] == 3
        assert got["ContentLength"] == len(data)
        end = offset + len(data) - 1
        assert got["ContentRange"] == f"bytes {offset}-{end}/{sum(map(len, parts))}"
        assert got["Body"].read() == data
        offset += len(data)
    head = s3.head_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert (head["ContentLength"], head["PartsCount"]) == (len(parts[1]), 3)
    with aws_error("InvalidPartNumber", 416) as error:
        s3.get_object(Bucket=bucket, Key="mp", PartNumber=4)
    assert error.message == "The requested partnumber is not satisfiable"
    with aws_error("InvalidRequest", 400) as error:
        s3.get_object(Bucket=bucket, Key="mp", PartNumber=1, Range="bytes=0-1")
    assert error.message == "Cannot specify both Range header and partNumber query parameter"
    with aws_error("InvalidArgument", 400):
        s3.get_object(Bucket=bucket, Key="mp", PartNumber=10001)


def test_part_one_of_a_single_put_object_is_the_whole_object(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="one", Body=b"0123456789")
    got = s3.get_object(Bucket=bucket, Key="one", PartNumber=1)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == "bytes 0-9/10"
    assert "PartsCount" not in got
    assert got["Body"].read() == b"0123456789"
    with aws_error("InvalidPartNumber", 416):
        s3.get_object(Bucket=bucket, Key="one", PartNumber=2)


def test_list_multipart_uploads_pages_with_key_and_upload_id_markers(s3: Any, bucket: str) -> None:
    made = []
    for key in ("a/1", "a/2", "a/2", "a/2", "b/1", "c"):
        made.append((key, s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]))
    expected = sorted(made, key=lambda pair: pair[0])  # same key: in the order initiated
    seen: list[tuple[str, str]] = []
    markers: dict[str, str] = {}
    pages = 0
    while True:
        page = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2, **markers)
        pages += 1
        seen += [(u["Key"], u["UploadId"]) for u in page["Uploads"]]
        assert page["MaxUploads"] == 2
        if not page["IsTruncated"]:
            assert "NextKeyMarker" not in page or page["NextKeyMarker"] == ""
            break
        assert (page["NextKeyMarker"], page["NextUploadIdMarker"]) == seen[-1]
        markers = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]}
    assert seen == expected
    assert pages == 3
    only_after_key = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="a/2")
    assert [u["Key"] for u in only_after_key["Uploads"]] == ["b/1", "c"]
    prefixed = s3.list_multipart_uploads(Bucket=bucket, Prefix="a/", KeyMarker="a/1")
    assert [u["Key"] for u in prefixed["Uploads"]] == ["a/2", "a/2", "a/2"]
    with aws_error("InvalidArgument", 400):
        s3.list_multipart_uploads(Bucket=bucket, MaxUploads=-1)


def test_list_multipart_uploads_rolls_keys_up_under_a_delimiter(s3: Any, bucket: str) -> None:
    for key in ("logs/2026/a", "logs/2026/b", "logs/2027/a", "logs/top", "other"):
        s3.create_multipart_upload(Bucket=bucket, Key=key)
    listed = s3.list_multipart_uploads(Bucket=bucket, Prefix="logs/", Delimiter="/")
    assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["logs/2026/", "logs/2027/"]
    assert [u["Key"] for u in listed["Uploads"]] == ["logs/top"]
    first = s3.list_multipart_uploads(Bucket=bucket, Prefix="logs/", Delimiter="/", MaxUploads=1)
    assert first["IsTruncated"] and first["NextKeyMarker"] == "logs/2026/"
    assert [p["Prefix"] for p in first["CommonPrefixes"]] == ["logs/2026/"]
    rest = s3.list_multipart_uploads(
        Bucket=bucket, Prefix="logs/", Delimiter="/", KeyMarker=first["NextKeyMarker"]
    )
    assert [p["Prefix"] for p in rest["CommonPrefixes"]] == ["logs/2027/"]
    assert [u["Key"] for u in rest["Uploads"]] == ["logs/top"]
    assert not rest["IsTruncated"]
