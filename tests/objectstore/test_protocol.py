"""S3's wire protocol on the live server: signed chunks, trailers, checksums, presigned URLs,
and requests that must be refused without leaving anything behind."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import pytest
from awscrt import checksums as crt
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

from tests.support.errors import aws_error
from tests.support.s3_raw import send, signed_chunked_put, signed_s3_request
from tests.support.servers import InProcessServer


def _crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def _temp_files(server: InProcessServer) -> list[Path]:
    return list((server.data_dir / "objects" / "tmp").iterdir())


def test_signed_chunks(server: InProcessServer, s3: Any, bucket: str) -> None:
    data = os.urandom(200_000)
    reply = signed_chunked_put(server, f"/{bucket}/chunked", data)
    assert reply.status == 200, reply.body
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == data


def test_a_tampered_chunk_is_refused_and_nothing_is_stored(
    server: InProcessServer, s3: Any, bucket: str
) -> None:
    reply = signed_chunked_put(server, f"/{bucket}/tampered", os.urandom(200_000), tamper_chunk=1)
    assert (reply.status, reply.code) == (403, "SignatureDoesNotMatch")
    with aws_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="tampered")
    assert _temp_files(server) == []


def test_signed_chunks_with_a_signed_trailer(server: InProcessServer, s3: Any, bucket: str) -> None:
    data = os.urandom(100_000)
    reply = signed_chunked_put(
        server, f"/{bucket}/trailer", data, trailer=("x-amz-checksum-crc32", _crc32(data))
    )
    assert reply.status == 200, reply.body
    assert reply.headers["x-amz-checksum-crc32"] == _crc32(data)
    got = s3.get_object(Bucket=bucket, Key="trailer", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got["ChecksumCRC32"] == _crc32(data)
    bad = signed_chunked_put(
        server, f"/{bucket}/trailer-bad", data, trailer=("x-amz-checksum-crc32", _crc32(b"other"))
    )
    assert (bad.status, bad.code) == (400, "BadDigest")
    with aws_error("404", 404):
        s3.head_object(Bucket=bucket, Key="trailer-bad")


def test_unsigned_payload_with_trailer_as_botocore_frames_it(
    server: InProcessServer, s3: Any, bucket: str
) -> None:
    data = os.urandom(300_000)
    framed = AwsChunkedWrapper(
        io.BytesIO(data), Crc32Checksum, "x-amz-checksum-crc32", chunk_size=65536
    ).read()
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": "x-amz-checksum-crc32",
    }
    path = f"/{bucket}/unsigned-trailer"
    reply = signed_s3_request(
        server, "PUT", path, framed, headers, payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    )
    assert reply.status == 200, reply.body
    assert reply.headers["x-amz-checksum-crc32"] == _crc32(data)
    assert s3.get_object(Bucket=bucket, Key="unsigned-trailer")["Body"].read() == data


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_checksums_are_verified_and_returned(s3: Any, bucket: str, algorithm: str) -> None:
    data = os.urandom(70_000)
    expected = {
        "CRC32": _crc32(data),
        "CRC32C": base64.b64encode(crt.crc32c(data).to_bytes(4, "big")).decode(),
        "CRC64NVME": base64.b64encode(crt.crc64nvme(data).to_bytes(8, "big")).decode(),
        "SHA1": base64.b64encode(hashlib.sha1(data).digest()).decode(),
        "SHA256": base64.b64encode(hashlib.sha256(data).digest()).decode(),
    }[algorithm]
    put = s3.put_object(Bucket=bucket, Key=algorithm, Body=data, ChecksumAlgorithm=algorithm)
    assert put[f"Checksum{algorithm}"] == expected
    got = s3.get_object(Bucket=bucket, Key=algorithm, ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got[f"Checksum{algorithm}"] == expected


def test_checksum_and_md5_mismatches_are_bad_digest(
    server: InProcessServer, s3: Any, bucket: str
) -> None:
    with aws_error("BadDigest", 400):
        s3.put_object(Bucket=bucket, Key="bad-crc", Body=b"data", ChecksumCRC32=_crc32(b"other"))
    wrong_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with aws_error("BadDigest", 400):
        s3.put_object(Bucket=bucket, Key="bad-md5", Body=b"data", ContentMD5=wrong_md5)
    reply = signed_s3_request(
        server, "PUT", f"/{bucket}/bad-sha", b"data", payload_hash=hashlib.sha256(b"x").hexdigest()
    )
    assert (reply.status, reply.code) == (400, "XAmzContentSHA256Mismatch")
    for key in ("bad-crc", "bad-md5", "bad-sha"):
        with aws_error("NoSuchKey", 404):
            s3.get_object(Bucket=bucket, Key=key)
    assert _temp_files(server) == []


def test_missing_content_length(server: InProcessServer, s3: Any, bucket: str) -> None:
    from tests.support.s3_raw import _sign

    path = f"/{bucket}/no-length"
    headers = _sign(server, "PUT", path, {"Transfer-Encoding": "chunked"}, "UNSIGNED-PAYLOAD")
    reply = send(server, "PUT", path, b"", headers)
    assert (reply.status, reply.code) == (411, "MissingContentLength")
    with aws_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="no-length")


@pytest.mark.parametrize("version", ["s3v4", "s3"])
def test_presigned_get_and_put(server: InProcessServer, bucket: str, version: str) -> None:
    from tests.support.s3 import s3_client

    s3 = s3_client(server, signature_version=version)
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "presigned"}, ExpiresIn=60
    )
    # No Content-Type: it would be part of what a SigV2 URL signs.
    path = put_url[len(server.endpoint) :]
    assert send(server, "PUT", path, b"via presigned PUT", {}).status == 200
    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "presigned"}, ExpiresIn=60
    )
    with urllib.request.urlopen(get_url) as response:
        assert response.read() == b"via presigned PUT"
    tampered = get_url.replace("presigned", "presigneX", 1)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(tampered)
    assert info.value.code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in info.value.read()


def test_wrong_secret_and_unknown_key(server: InProcessServer, bucket: str) -> None:
    from strongroom.kms.service.admin import IssuedAccessKey
    from tests.support.s3 import s3_client

    good = server.admin_key
    wrong = IssuedAccessKey(good.access_key_id, "x" * 40, good.account_id, good.user_name)
    with aws_error("SignatureDoesNotMatch", 403):
        s3_client(server, wrong).list_objects_v2(Bucket=bucket)
    stranger = IssuedAccessKey("AKIAUNKNOWN000000000", "x" * 40, "", "")
    with aws_error("InvalidAccessKeyId", 403):
        s3_client(server, stranger).list_buckets()


def test_anonymous_requests_are_denied(server: InProcessServer, bucket: str) -> None:
    reply = send(server, "GET", f"/{bucket}/anything", b"", {})
    assert (reply.status, reply.code) == (403, "AccessDenied")


def test_virtual_host_style(server: InProcessServer, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="dir/file", Body=b"vhost")
    host = {"Host": f"{bucket}.localhost"}
    reply = signed_s3_request(server, "GET", "/?list-type=2", headers=host)
    assert reply.status == 200, reply.body
    assert f"<Name>{bucket}</Name>".encode() in reply.body
    assert b"<Key>dir/file</Key>" in reply.body
    reply = signed_s3_request(server, "GET", "/dir/file", headers=host)
    assert (reply.status, reply.body) == (200, b"vhost")


def test_kms_requests_still_reach_the_kms(kms: Any) -> None:
    assert kms.generate_random(NumberOfBytes=8)["Plaintext"]
