"""Multipart uploads through boto3: parts, listing, copying parts, completion rules, aborts."""

from __future__ import annotations

import hashlib
import http.client
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.errors import aws_error
from tests.support.s3_raw import _sign
from tests.support.servers import InProcessServer

MiB = 1024 * 1024


def _upload(s3: Any, bucket: str, key: str, parts: list[bytes]) -> tuple[str, list[dict[str, Any]]]:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    done = []
    for number, data in enumerate(parts, start=1):
        etag = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
        )["ETag"]
        done.append({"PartNumber": number, "ETag": etag})
    return upload_id, done


def test_multipart_round_trip(s3: Any, bucket: str, key_arn: str) -> None:
    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB + 3), os.urandom(1234)]
    upload_id, done = _upload(s3, bucket, "mp", parts)
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [
        (1, 5 * MiB),
        (2, 5 * MiB + 3),
        (3, 1234),
    ]
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("mp", upload_id)]
    result = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": done}
    )
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    assert result["ETag"] == f'"{hashlib.md5(digests).hexdigest()}-3"'
    assert result["ServerSideEncryption"] == "aws:kms" and result["SSEKMSKeyId"] == key_arn
    data = b"".join(parts)
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == data
    # A range across the boundary between parts 1 and 2, and across chunks inside part 2.
    first, last = 5 * MiB - 70_000, 5 * MiB + 200_000
    got = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={first}-{last}")
    assert got["Body"].read() == data[first : last + 1]
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)
    with aws_error("NoSuchUpload", 404):
        s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)


def test_completion_rules(s3: Any, bucket: str) -> None:
    upload_id, done = _upload(s3, bucket, "rules", [os.urandom(1000), os.urandom(1000)])
    with aws_error("EntityTooSmall", 400):
        s3.complete_multipart_upload(
            Bucket=bucket, Key="rules", UploadId=upload_id, MultipartUpload={"Parts": done}
        )
    with aws_error("InvalidPartOrder", 400):
        s3.complete_multipart_upload(
            Bucket=bucket, Key="rules", UploadId=upload_id, MultipartUpload={"Parts": done[::-1]}
        )
    wrong = [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]
    with aws_error("InvalidPart", 400):
        s3.complete_multipart_upload(
            Bucket=bucket, Key="rules", UploadId=upload_id, MultipartUpload={"Parts": wrong}
        )
    # The last part alone may be small.
    s3.complete_multipart_upload(
        Bucket=bucket, Key="rules", UploadId=upload_id, MultipartUpload={"Parts": done[:1]}
    )
    assert s3.head_object(Bucket=bucket, Key="rules")["ContentLength"] == 1000


def test_abort_removes_parts(server: InProcessServer, s3: Any, bucket: str) -> None:
    before = {p for p in (server.data_dir / "objects").rglob("*") if p.is_file()}
    upload_id, _ = _upload(s3, bucket, "aborted", [os.urandom(100_000)])
    s3.abort_multipart_upload(Bucket=bucket, Key="aborted", UploadId=upload_id)
    after = {p for p in (server.data_dir / "objects").rglob("*") if p.is_file()}
    assert after == before
    with aws_error("NoSuchUpload", 404):
        s3.upload_part(Bucket=bucket, Key="aborted", UploadId=upload_id, PartNumber=1, Body=b"x")
    with aws_error("NoSuchUpload", 404):
        s3.abort_multipart_upload(Bucket=bucket, Key="aborted", UploadId=upload_id)
    with aws_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="aborted")


def test_upload_part_copy_and_bad_part_numbers(s3: Any, bucket: str) -> None:
    source = os.urandom(6 * MiB)
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="assembled")["UploadId"]
    first = s3.upload_part_copy(
        Bucket=bucket,
        Key="assembled",
        UploadId=upload_id,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "source"},
        CopySourceRange=f"bytes=0-{5 * MiB - 1}",
    )["CopyPartResult"]["ETag"]
    second = s3.upload_part(
        Bucket=bucket, Key="assembled", UploadId=upload_id, PartNumber=2, Body=b"tail"
    )["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="assembled",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": first}, {"PartNumber": 2, "ETag": second}]
        },
    )
    got = s3.get_object(Bucket=bucket, Key="assembled")["Body"].read()
    assert got == source[: 5 * MiB] + b"tail"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="numbers")["UploadId"]
    for number in (0, 10001):
        with aws_error("InvalidArgument", 400):
            s3.upload_part(
                Bucket=bucket, Key="numbers", UploadId=upload_id, PartNumber=number, Body=b"x"
            )


def test_oversized_part_is_refused_before_its_body(
    server: InProcessServer, s3: Any, bucket: str
) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="huge")["UploadId"]
    path = f"/{bucket}/huge?partNumber=1&uploadId={upload_id}"
    length = str(6 * 1024**3)
    headers = _sign(
        server,
        "PUT",
        path,
        {"Content-Length": length, "Expect": "100-continue"},
        "UNSIGNED-PAYLOAD",
    )
    parts = urlsplit(server.endpoint)
    assert parts.hostname is not None
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest("PUT", path, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 400 and b"<Code>EntityTooLarge</Code>" in body
    assert s3.list_parts(Bucket=bucket, Key="huge", UploadId=upload_id).get("Parts", []) == []


@pytest.mark.slow
def test_a_few_hundred_mib_in_constant_memory(tmp_path: Path) -> None:
    """300 MiB through a separate server process whose peak memory is measured."""
    from boto3.s3.transfer import TransferConfig

    from tests.support.s3 import kms_bucket, s3_client
    from tests.support.servers import server_process

    size = 300 * MiB
    source = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with source.open("wb") as handle:
        block = os.urandom(MiB)
        for i in range(size // MiB):
            piece = block[:-4] + i.to_bytes(4, "big")
            digest.update(piece)
            handle.write(piece)
    with server_process(tmp_path / "data", 1) as running:
        s3 = s3_client(running)
        key = running.client().create_key()["KeyMetadata"]["Arn"]
        bucket = kms_bucket(s3, key)
        config = TransferConfig(
            multipart_threshold=64 * MiB, multipart_chunksize=64 * MiB, max_concurrency=2
        )
        s3.upload_file(str(source), bucket, "big", Config=config)
        head = s3.head_object(Bucket=bucket, Key="big")
        assert head["ContentLength"] == size and head["ETag"].endswith('-5"')
        back = hashlib.sha256()
        body = s3.get_object(Bucket=bucket, Key="big")["Body"]
        for piece in body.iter_chunks(MiB):
            back.update(piece)
        assert back.digest() == digest.digest()
        assert running.process is not None
        status = Path(f"/proc/{running.process.pid}/status").read_text()
        peak_kib = int(
            next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]
        )
        assert peak_kib < 250 * 1024, f"server peak RSS {peak_kib} KiB for a 300 MiB object"


@pytest.mark.parametrize(
    "body",
    [
        b"<CompleteMultipartUpload><Part><PartNumber>1</Part>",
        b"<Wrong/>",
        b"<CompleteMultipartUpload></CompleteMultipartUpload>",
        b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag></Part>"
        b"</CompleteMultipartUpload>",
    ],
)
def test_bad_completion_xml_changes_nothing(
    server: InProcessServer, s3: Any, bucket: str, body: bytes
) -> None:
    from tests.support.s3_raw import signed_s3_request

    upload_id, _ = _upload(s3, bucket, "xml", [b"part"])
    reply = signed_s3_request(server, "POST", f"/{bucket}/xml?uploadId={upload_id}", body)
    assert (reply.status, reply.code) == (400, "MalformedXML")
    assert [
        p["PartNumber"]
        for p in s3.list_parts(Bucket=bucket, Key="xml", UploadId=upload_id)["Parts"]
    ] == [1]
    with aws_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="xml")


def test_bad_delete_objects_xml(server: InProcessServer, s3: Any, bucket: str) -> None:
    from tests.support.s3_raw import signed_s3_request

    s3.put_object(Bucket=bucket, Key="kept", Body=b"x")
    for body in (b"<Delete><Object><Key>kept</Key>", b"<Delete></Delete>", b"not xml"):
        reply = signed_s3_request(server, "POST", f"/{bucket}?delete", body)
        assert (reply.status, reply.code) == (400, "MalformedXML")
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"x"
