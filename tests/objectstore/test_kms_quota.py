"""The object store calls the KMS by the same in-process path as the console: its data key
requests count against the account's KMS request quota, shared with direct KMS calls."""

from __future__ import annotations

from pathlib import Path

from tests.api.test_request_quotas import at_window_start
from tests.support.errors import aws_error
from tests.support.s3 import kms_bucket, s3_client
from tests.support.servers import in_process_server


def test_s3_data_keys_and_direct_calls_share_the_kms_quota(tmp_path: Path) -> None:
    with in_process_server(
        tmp_path / "data", request_quotas="aws", quota_cryptographic=4
    ) as server:
        kms, s3 = server.client(), s3_client(server)
        key_id = kms.create_key(Description="quota")["KeyMetadata"]["Arn"]
        bucket = kms_bucket(s3, key_id)
        at_window_start(1.0)
        for _ in range(3):
            kms.encrypt(KeyId=key_id, Plaintext=b"direct")
        s3.put_object(Bucket=bucket, Key="fourth", Body=b"x")  # GenerateDataKey: the 4th
        with aws_error("ServiceUnavailable", 503):
            s3.put_object(Bucket=bucket, Key="fifth", Body=b"y")
        with aws_error("ThrottlingException", 400):
            kms.encrypt(KeyId=key_id, Plaintext=b"direct")
        at_window_start(1.0)
        assert s3.get_object(Bucket=bucket, Key="fourth")["Body"].read() == b"x"
        with aws_error("404", 404):
            s3.head_object(Bucket=bucket, Key="fifth")
