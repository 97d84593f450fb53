"""The exposure report covers buckets: which keys protect each bucket's objects, and who could
be compelled to reveal them. boto3 stores objects in a fresh tenant's buckets under SSE-S3,
SSE-KMS (with and without an S3 Bucket Key) and SSE-C; the tenant fetches its report with
GetExposureReport, the provider prints it with ``strongroom report exposure``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from typing import Any

from tests.support.cli import run
from tests.support.raw_kms import RawKms
from tests.support.s3 import bucket_name, kms_bucket, new_account_admin, s3_client
from tests.support.servers import InProcessServer


def report(server: InProcessServer, tenant: Any) -> dict[str, Any]:
    conn = RawKms(server.endpoint, tenant)
    try:
        reply = conn.call("GetExposureReport", {})
    finally:
        conn.close()
    assert reply.status == 200, reply
    return dict(reply.body["ExposureReport"])


def sse_c(key: bytes) -> dict[str, str]:
    return {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": base64.b64encode(key).decode(),
        "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(key).digest()).decode(),
    }


def test_each_bucket_shows_its_keys_and_who_could_reveal_them(server: InProcessServer) -> None:
    tenant = new_account_admin(server, f"exposure-{uuid.uuid4().hex[:8]}")
    kms, s3 = server.client(tenant), s3_client(server, tenant)
    cmk = kms.create_key(Description="bucket key")["KeyMetadata"]["Arn"]

    plain = bucket_name("plain")
    s3.create_bucket(Bucket=plain)
    s3.put_object(Bucket=plain, Key="a", Body=b"x" * 10)
    s3.put_object(Bucket=plain, Key="b", Body=b"y" * 20)
    managed = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["Arn"]

    mixed = kms_bucket(s3, cmk, bucket_key=True)
    s3.put_object(Bucket=mixed, Key="k1", Body=b"1" * 5)
    s3.put_object(Bucket=mixed, Key="k2", Body=b"2" * 7)
    s3.put_object(Bucket=mixed, Key="c", Body=b"3" * 9, **sse_c(secrets.token_bytes(32)))

    empty = bucket_name("empty")
    s3.create_bucket(Bucket=empty)

    seen = {b["Bucket"]: b for b in report(server, tenant)["Buckets"]}
    assert set(seen) == {plain, mixed, empty}

    assert (seen[plain]["Objects"], seen[plain]["Bytes"]) == (2, 30)
    assert seen[plain]["Exposures"] == ["provider-under-quorum"]
    (under_managed,) = seen[plain]["Keys"]
    assert under_managed["KeyArn"] == managed
    assert (under_managed["SSE"], under_managed["KeyManager"]) == ("AES256", "AWS")
    assert under_managed["Flags"][0].startswith("AWS managed")
    assert len(under_managed["KeyVersions"]) == 1
    assert (under_managed["Objects"], under_managed["Bytes"]) == (2, 30)

    assert seen[mixed]["Exposures"] == ["provider-under-quorum", "customer-key-only"]
    assert seen[mixed]["DefaultEncryption"] == f"aws:kms ({cmk})"
    by_key = {k["KeyArn"]: k for k in seen[mixed]["Keys"]}
    assert set(by_key) == {cmk, None}
    assert by_key[cmk]["BucketKey"] is True
    assert (by_key[cmk]["Objects"], by_key[cmk]["Bytes"]) == (2, 12)
    assert by_key[cmk]["KeyManager"] == "CUSTOMER"
    assert by_key[None]["Exposure"] == "customer-key-only"
    assert by_key[None]["SSE"] == "SSE-C"
    assert by_key[None]["How"].startswith("only the customer")
    assert (by_key[None]["Objects"], by_key[None]["Bytes"]) == (1, 9)

    assert (seen[empty]["Objects"], seen[empty]["Keys"], seen[empty]["Exposures"]) == (0, [], [])
    assert seen[empty]["DefaultEncryption"] == "AES256"

    # Another tenant sees none of these buckets.
    other = new_account_admin(server, f"other-{uuid.uuid4().hex[:8]}")
    assert report(server, other)["Buckets"] == []

    # The provider's command shows the same, per bucket.
    status, out, err = run(
        "report", "exposure", "--data-dir", str(server.data_dir), "--account", tenant.account_id
    )
    assert (status, err) == (0, "")
    assert f"Bucket {mixed} ({tenant.account_id}): 3 objects, 21 bytes" in out
    assert "SSE-C customer-provided keys (SSE-C): 1 objects, 9 bytes" in out
    assert f"aws:kms via bucket key {cmk}: 2 objects, 12 bytes, 1 key versions" in out
