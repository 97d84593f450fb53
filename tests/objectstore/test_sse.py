"""Server-side encryption modes and their keys: SSE-KMS, SSE-C, bucket keys, SSE-S3."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

import pytest

from tests.support.errors import aws_error
from tests.support.policies import allow, iam_statement, key_policy, root_arn
from tests.support.s3 import bucket_name, kms_bucket, managed_keys_available, new_user, s3_client
from tests.support.servers import InProcessServer


def _ssec(key: bytes) -> dict[str, str]:
    return {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": base64.b64encode(key).decode(),
        "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(key).digest()).decode(),
    }


def test_sse_kms_by_id_alias_and_arn(s3: Any, kms: Any, key_arn: str) -> None:
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    alias = f"alias/s3-{name}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_arn)
    for i, named in enumerate((key_arn, key_arn.rsplit("/", 1)[1], alias)):
        put = s3.put_object(
            Bucket=name,
            Key=f"o{i}",
            Body=b"secret",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=named,
        )
        assert (put["ServerSideEncryption"], put["SSEKMSKeyId"]) == ("aws:kms", key_arn)
        got = s3.get_object(Bucket=name, Key=f"o{i}")
        assert got["Body"].read() == b"secret"
        assert (got["ServerSideEncryption"], got["SSEKMSKeyId"]) == ("aws:kms", key_arn)


def test_sse_kms_context_is_the_object_arn_plus_the_users(
    server: InProcessServer, s3: Any, bucket: str
) -> None:
    context = base64.b64encode(json.dumps({"project": "x"}).encode()).decode()
    server.audit.events.clear()
    s3.put_object(
        Bucket=bucket,
        Key="ctx",
        Body=b"v",
        ServerSideEncryption="aws:kms",
        SSEKMSEncryptionContext=context,
    )
    assert s3.get_object(Bucket=bucket, Key="ctx")["Body"].read() == b"v"
    events = [e for e in server.audit.events if e.operation in ("GenerateDataKey", "Decrypt")]
    assert [e.operation for e in events] == ["GenerateDataKey", "Decrypt"]
    for event in events:
        assert event.error_code is None
        assert event.request_parameters is not None
        assert event.request_parameters["EncryptionContext"] == {
            "project": "x",
            "aws:s3:arn": f"arn:aws:s3:::{bucket}/ctx",
        }


def test_sse_c_round_trip_and_wrong_keys(s3: Any, bucket: str) -> None:
    key = os.urandom(32)
    put = s3.put_object(Bucket=bucket, Key="c", Body=b"customer data", **_ssec(key))
    assert put["SSECustomerAlgorithm"] == "AES256"
    assert "ServerSideEncryption" not in put
    got = s3.get_object(Bucket=bucket, Key="c", **_ssec(key))
    assert got["Body"].read() == b"customer data"
    assert got["SSECustomerKeyMD5"] == _ssec(key)["SSECustomerKeyMD5"]
    with aws_error("AccessDenied", 403):
        s3.get_object(Bucket=bucket, Key="c", **_ssec(os.urandom(32)))
    with aws_error("InvalidRequest", 400):
        s3.get_object(Bucket=bucket, Key="c")
    with aws_error("400", 400):
        s3.head_object(Bucket=bucket, Key="c")
    assert s3.head_object(Bucket=bucket, Key="c", **_ssec(key))["ContentLength"] == 13


def test_sse_c_md5_must_match(s3: Any, bucket: str) -> None:
    headers = _ssec(os.urandom(32))
    headers["SSECustomerKeyMD5"] = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with aws_error("InvalidArgument", 400):
        s3.put_object(Bucket=bucket, Key="bad", Body=b"x", **headers)
    with aws_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="bad")


def test_bucket_keys_make_one_kms_call_per_period(
    server: InProcessServer, s3: Any, key_arn: str
) -> None:
    name = kms_bucket(s3, key_arn, bucket_key=True)
    server.audit.events.clear()
    for i in range(20):
        put = s3.put_object(Bucket=name, Key=f"k{i}", Body=f"object {i}".encode())
        assert put["BucketKeyEnabled"] is True
    for i in range(20):
        assert s3.get_object(Bucket=name, Key=f"k{i}")["Body"].read() == f"object {i}".encode()
    calls = [e for e in server.audit.events if e.operation in ("GenerateDataKey", "Decrypt")]
    assert [e.operation for e in calls] == ["GenerateDataKey"]
    assert calls[0].request_parameters is not None
    assert calls[0].request_parameters["EncryptionContext"] == {
        "aws:s3:arn": f"arn:aws:s3:::{name}"
    }
    per_object = kms_bucket(s3, key_arn)
    server.audit.events.clear()
    for i in range(5):
        s3.put_object(Bucket=per_object, Key=f"k{i}", Body=b"x")
    assert len([e for e in server.audit.events if e.operation == "GenerateDataKey"]) == 5


def test_no_decrypt_permission_is_access_denied(server: InProcessServer, kms: Any, s3: Any) -> None:
    account = server.admin_key.account_id
    reader_name = f"reader-{bucket_name()}"
    reader_arn = f"arn:aws:iam::{account}:user/{reader_name}"
    reader_key = new_user(server, reader_name, iam_statement("Allow", ["s3:*", "kms:*"]))
    policy = key_policy(
        allow(root_arn(account), "kms:*", sid="Admin"),
        {
            "Sid": "NoDecryptForReader",
            "Effect": "Deny",
            "Principal": {"AWS": reader_arn},
            "Action": "kms:Decrypt",
            "Resource": "*",
        },
    )
    key = kms.create_key(Policy=policy)["KeyMetadata"]["Arn"]
    name = kms_bucket(s3, key)
    s3.put_object(Bucket=name, Key="k", Body=b"secret")
    reader = s3_client(server, reader_key)
    assert [o["Key"] for o in reader.list_objects_v2(Bucket=name)["Contents"]] == ["k"]
    with aws_error("AccessDenied", 403):
        reader.get_object(Bucket=name, Key="k")
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"secret"


def test_identity_policy_decides_s3_actions(server: InProcessServer, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="public/a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="private/b", Body=b"b")
    user = new_user(
        server,
        f"limited-{bucket}",
        iam_statement("Allow", "s3:GetObject", f"arn:aws:s3:::{bucket}/public/*"),
        iam_statement("Allow", "kms:Decrypt"),
    )
    limited = s3_client(server, user)
    assert limited.get_object(Bucket=bucket, Key="public/a")["Body"].read() == b"a"
    with aws_error("AccessDenied", 403):
        limited.get_object(Bucket=bucket, Key="private/b")
    with aws_error("AccessDenied", 403):
        limited.put_object(Bucket=bucket, Key="public/c", Body=b"c")
    with aws_error("AccessDenied", 403):
        limited.list_objects_v2(Bucket=bucket)
    with aws_error("AccessDenied", 403):
        limited.delete_object(Bucket=bucket, Key="public/a")


def test_disabled_key_makes_objects_unreadable_until_enabled(
    server: InProcessServer, kms: Any, s3: Any, key_arn: str, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    kms.disable_key(KeyId=key_arn)
    with aws_error("KMS.DisabledException", 400):
        s3.get_object(Bucket=bucket, Key="k")
    with aws_error("KMS.DisabledException", 400):
        s3.put_object(Bucket=bucket, Key="k2", Body=b"data")
    kms.enable_key(KeyId=key_arn)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"
    kms.schedule_key_deletion(KeyId=key_arn, PendingWindowInDays=7)
    with aws_error("KMS.KMSInvalidStateException", 400):
        s3.get_object(Bucket=bucket, Key="k")
    kms.cancel_key_deletion(KeyId=key_arn)
    kms.enable_key(KeyId=key_arn)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"data"


def test_unknown_kms_key(s3: Any, bucket: str) -> None:
    with aws_error("KMS.NotFoundException", 400):
        s3.put_object(
            Bucket=bucket,
            Key="k",
            Body=b"x",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId="alias/nope",
        )


@pytest.mark.parametrize(
    "headers",
    [
        {"ServerSideEncryption": "aws:kms:dsse"},
        {"SSEKMSKeyId": "alias/x"},
    ],
)
def test_bad_sse_requests(s3: Any, bucket: str, headers: dict[str, str]) -> None:
    with pytest.raises(Exception) as info:
        s3.put_object(Bucket=bucket, Key="bad", Body=b"x", **headers)
    assert "NotImplemented" in str(info.value) or "InvalidArgument" in str(info.value)
    with aws_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="bad")


def test_sse_s3_uses_the_managed_key(s3: Any, kms: Any) -> None:
    if not managed_keys_available(kms):
        pytest.skip("the KMS does not serve AWS managed keys (alias/aws/s3) yet")
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    put = s3.put_object(Bucket=name, Key="k", Body=b"default")
    assert put["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"default"
    managed = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert managed["KeyManager"] == "AWS"


def test_delete_objects_checks_each_key(server: InProcessServer, s3: Any, bucket: str) -> None:
    for key in ("tmp/a", "keep/b"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    user = new_user(
        server,
        f"cleaner-{bucket}",
        iam_statement("Allow", "s3:DeleteObject", f"arn:aws:s3:::{bucket}/tmp/*"),
    )
    reply = s3_client(server, user).delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "tmp/a"}, {"Key": "keep/b"}]}
    )
    assert [d["Key"] for d in reply["Deleted"]] == ["tmp/a"]
    assert [(e["Key"], e["Code"]) for e in reply["Errors"]] == [("keep/b", "AccessDenied")]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["keep/b"]


def _forwarded(s3: Any, headers: dict[str, str]) -> None:
    """Requests as a TLS-terminating proxy on this host forwards them (uvicorn trusts it)."""

    def add(request: Any, **_: Any) -> None:
        for name, value in headers.items():
            request.headers[name] = value

    s3.meta.events.register("before-send.s3", add)


def test_sse_c_in_the_clear_from_another_host_is_refused(
    server: InProcessServer, s3: Any, bucket: str
) -> None:
    key = os.urandom(32)
    s3.put_object(Bucket=bucket, Key="clear", Body=b"x", **_ssec(key))  # loopback: allowed
    remote = s3_client(server)
    _forwarded(remote, {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "http"})
    with aws_error("InvalidRequest", 400) as error:
        remote.put_object(Bucket=bucket, Key="clear2", Body=b"secret", **_ssec(key))
    assert error.message == (
        "Requests specifying Server Side Encryption with Customer provided keys must be made "
        "over a secure connection."
    )
    with aws_error("404", 404):
        s3.head_object(Bucket=bucket, Key="clear2")
    with aws_error("InvalidRequest", 400):
        remote.copy_object(
            Bucket=bucket,
            Key="clear3",
            CopySource=f"{bucket}/clear",
            CopySourceSSECustomerAlgorithm="AES256",
            CopySourceSSECustomerKey=_ssec(key)["SSECustomerKey"],
            CopySourceSSECustomerKeyMD5=_ssec(key)["SSECustomerKeyMD5"],
        )
    assert remote.put_object(Bucket=bucket, Key="plain", Body=b"no sse-c")["ETag"]
    tls = s3_client(server)
    _forwarded(tls, {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    assert tls.get_object(Bucket=bucket, Key="clear", **_ssec(key))["Body"].read() == b"x"
