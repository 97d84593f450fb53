"""``strongroom backup`` carries the object store: its tables and the encrypted blobs they
reference, consistent while objects are overwritten and deleted; the restored objects decrypt
under every SSE mode, and an upload in progress can be completed after the restore."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from strongroom.kms.storage.engine import make_engine, sqlite_url
from strongroom.objectstore.blobs import FileBlobStore
from strongroom.objectstore.storage.metadata import Metadata
from tests.support.cli import run
from tests.support.s3 import bucket_name, kms_bucket, s3_client
from tests.support.servers import server_process

MiB = 1024 * 1024
KEY = os.urandom(32)
SSEC = {
    "SSECustomerAlgorithm": "AES256",
    "SSECustomerKey": base64.b64encode(KEY).decode(),
    "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(KEY).digest()).decode(),
}


def _churn(s3: Any, bucket: str, stop: threading.Event, written: dict[str, bytes]) -> None:
    """Overwrites and deletes while the backup runs: their old blobs must not vanish from it."""
    n = 0
    while not stop.is_set():
        key = f"churn-{n % 5}"
        data = os.urandom(70_000 + n)
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        written[key] = data
        if n % 7 == 3:
            s3.delete_object(Bucket=bucket, Key=key)
            written.pop(key)
        n += 1


def test_objects_come_back_from_a_backup_and_decrypt(tmp_path: Path) -> None:
    source = tmp_path / "source"
    made: dict[tuple[str, str], bytes] = {}
    with server_process(source, workers=1) as server:
        s3, kms = s3_client(server), server.client()
        key_arn = kms.create_key(Description="objects backup")["KeyMetadata"]["Arn"]
        plain, by_kms, keyed = bucket_name("bk"), kms_bucket(s3, key_arn), bucket_name("bkc")
        with_bucket_key = kms_bucket(s3, key_arn, bucket_key=True)
        s3.create_bucket(Bucket=plain)
        s3.create_bucket(Bucket=keyed)
        for bucket in (plain, by_kms, with_bucket_key):
            for key, data in (("small", b"hello"), ("empty", b""), ("big", os.urandom(MiB + 5))):
                s3.put_object(Bucket=bucket, Key=key, Body=data)
                made[(bucket, key)] = data
        s3.put_object(Bucket=keyed, Key="mine", Body=b"customer key", **SSEC)
        parts = [os.urandom(5 * MiB), os.urandom(1000)]
        upload = s3.create_multipart_upload(Bucket=plain, Key="mp")["UploadId"]
        done = [
            {
                "PartNumber": n,
                "ETag": s3.upload_part(
                    Bucket=plain, Key="mp", UploadId=upload, PartNumber=n, Body=data
                )["ETag"],
            }
            for n, data in enumerate(parts, start=1)
        ]
        s3.complete_multipart_upload(
            Bucket=plain, Key="mp", UploadId=upload, MultipartUpload={"Parts": done}
        )
        made[(plain, "mp")] = b"".join(parts)
        pending = s3.create_multipart_upload(Bucket=plain, Key="pending")["UploadId"]
        pending_part = os.urandom(2000)
        pending_etag = s3.upload_part(
            Bucket=plain, Key="pending", UploadId=pending, PartNumber=1, Body=pending_part
        )["ETag"]
        stop, written = threading.Event(), dict[str, bytes]()
        churner = threading.Thread(target=_churn, args=(s3_client(server), plain, stop, written))
        churner.start()
        try:
            while len(written) < 3:
                threading.Event().wait(0.02)
            status, out, err = run(
                "backup", "--data-dir", str(source), "--out", str(tmp_path / "all.backup")
            )
        finally:
            stop.set()
            churner.join()
        assert (status, err) == (0, ""), err
        assert "object store blobs" in out
    target = tmp_path / "restored"
    status, out, err = run(
        "restore", "--backup", str(tmp_path / "all.backup"), "--data-dir", str(target),
        "--root-key-file", str(source / "root.key"),
    )  # fmt: skip
    assert status == 0, err
    assert "object store blobs" in out
    (target / "aws").mkdir(mode=0o700)
    shutil.copy(source / "aws" / "credentials", target / "aws" / "credentials")
    with server_process(target, workers=1) as restored:
        s3 = s3_client(restored)
        for (bucket, key), data in made.items():
            assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data, (bucket, key)
        got = s3.get_object(Bucket=keyed, Key="mine", **SSEC)
        assert got["Body"].read() == b"customer key"
        # Whatever of the churn the snapshot caught is whole (its blobs were pinned).
        churned = [o["Key"] for o in s3.list_objects_v2(Bucket=plain, Prefix="churn-")
                   .get("Contents", [])]  # fmt: skip
        for key in churned:
            assert len(s3.get_object(Bucket=plain, Key=key)["Body"].read()) >= 70_000
        uploads = s3.list_multipart_uploads(Bucket=plain)["Uploads"]
        assert [(u["Key"], u["UploadId"]) for u in uploads] == [("pending", pending)]
        s3.complete_multipart_upload(
            Bucket=plain,
            Key="pending",
            UploadId=pending,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": pending_etag}]},
        )
        assert s3.get_object(Bucket=plain, Key="pending")["Body"].read() == pending_part
    # Exactly the referenced blobs were carried (no orphan), private like every blob.
    store = FileBlobStore(target / "objects")
    restored_files = [f for f in store.files() if not f.temporary]
    engine = make_engine(sqlite_url(target))
    try:
        referenced = Metadata(engine).referenced_blobs()
    finally:
        engine.dispose()
    assert {f.blob_id for f in restored_files} == referenced
    assert all(f.path.stat().st_mode & 0o077 == 0 for f in restored_files)
