"""The object store calls the KMS by the same in-process path as the console: its data key
requests count against the account's KMS request quota, shared with direct KMS calls. One
token per 4 s window, so a loaded machine cannot spread a test's calls over two windows."""

from __future__ import annotations

from pathlib import Path

from tests.api.test_request_quotas import at_window_start
from tests.support.errors import aws_error
from tests.support.s3 import kms_bucket, s3_client
from tests.support.servers import in_process_server

WINDOW = 4.0


def test_s3_data_keys_and_direct_calls_share_the_kms_quota(tmp_path: Path) -> None:
    with in_process_server(
        tmp_path / "data", request_quotas="aws", quota_cryptographic=1 / WINDOW
    ) as server:
        kms, s3 = server.client(), s3_client(server)
        key_id = kms.create_key(Description="quota")["KeyMetadata"]["Arn"]
        bucket = kms_bucket(s3, key_id)
        at_window_start(WINDOW)
        kms.encrypt(KeyId=key_id, Plaintext=b"direct")  # the window's one token
        with aws_error("ServiceUnavailable", 503):
            s3.put_object(Bucket=bucket, Key="refused", Body=b"y")
        with aws_error("404", 404):
            s3.head_object(Bucket=bucket, Key="refused")  # nothing half-written
        at_window_start(WINDOW)
        s3.put_object(Bucket=bucket, Key="stored", Body=b"x")  # GenerateDataKey takes it
        with aws_error("ThrottlingException", 400):
            kms.encrypt(KeyId=key_id, Plaintext=b"direct")
        at_window_start(WINDOW)
        assert s3.get_object(Bucket=bucket, Key="stored")["Body"].read() == b"x"
