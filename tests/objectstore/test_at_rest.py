"""Nothing readable at rest: the data directory and the database hold no plaintext object data,
no data key and no SSE-C key, in every encryption mode."""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
from pathlib import Path
from typing import Any

from tests.support.s3 import kms_bucket
from tests.support.servers import InProcessServer


def _all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_no_plaintext_or_key_on_disk(
    server: InProcessServer, s3: Any, kms: Any, key_arn: str
) -> None:
    marker = b"PLAINTEXT-MARKER-" + os.urandom(8).hex().encode()
    body = marker * 5000  # spans several chunks
    plain = kms_bucket(s3, key_arn)
    with_bucket_key = kms_bucket(s3, key_arn, bucket_key=True)
    customer = os.urandom(32)
    ssec = {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": base64.b64encode(customer).decode(),
        "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(customer).digest()).decode(),
    }
    s3.put_object(Bucket=plain, Key="kms", Body=body)
    s3.put_object(Bucket=with_bucket_key, Key="bucket-key", Body=body)
    s3.put_object(Bucket=plain, Key="ssec", Body=body, **ssec)
    with sqlite3.connect(server.data_dir / "strongroom.db") as db:
        (wrapped,) = db.execute(
            "SELECT wrapped_key FROM s3_objects WHERE bucket = ? AND key = 'kms'", (plain,)
        ).fetchone()
    context = {"aws:s3:arn": f"arn:aws:s3:::{plain}/kms"}
    data_key = kms.decrypt(CiphertextBlob=wrapped, EncryptionContext=context)["Plaintext"]
    assert len(data_key) == 32
    stored = _all_bytes(server.data_dir)
    assert (server.data_dir / "objects").is_dir()
    assert marker not in stored
    assert customer not in stored
    assert base64.b64encode(customer) not in stored
    assert data_key not in stored
    assert wrapped in stored  # the data key is there, but only as the KMS's ciphertext
    for bucket, key, extra in (
        (plain, "kms", {}),
        (with_bucket_key, "bucket-key", {}),
        (plain, "ssec", ssec),
    ):
        assert s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read() == body


def test_changed_ciphertext_is_never_served(server: InProcessServer, s3: Any, bucket: str) -> None:
    import pytest
    from botocore.exceptions import BotoCoreError

    body = os.urandom(200_000)
    s3.put_object(Bucket=bucket, Key="tampered", Body=body)
    with sqlite3.connect(server.data_dir / "strongroom.db") as db:
        (blobs,) = db.execute(
            "SELECT blobs FROM s3_objects WHERE bucket = ? AND key = 'tampered'", (bucket,)
        ).fetchone()
    blob_id = blobs.split('"')[1]
    path = server.data_dir / "objects" / blob_id[:2] / blob_id[2:4] / blob_id
    data = bytearray(path.read_bytes())
    data[100_000] ^= 1  # inside the second chunk
    path.write_bytes(bytes(data))
    assert (
        s3.get_object(Bucket=bucket, Key="tampered", Range="bytes=0-999")["Body"].read()
        == (body[:1000])
    )
    with pytest.raises(BotoCoreError):
        s3.get_object(Bucket=bucket, Key="tampered")["Body"].read()
