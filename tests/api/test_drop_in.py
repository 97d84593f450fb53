"""Issue 16's test of done: AWS code that uses two regions, a Multi-Region key and the
well-known development credentials ``test``/``test`` runs against ``strongroom serve --dev``
unchanged: it finds the server only through botocore's standard environment
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``), as it would find AWS.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.support.servers import ServerProcess, server_process

esdk = pytest.importorskip("aws_encryption_sdk")
from aws_encryption_sdk.identifiers import CommitmentPolicy  # type: ignore[import-untyped]  # noqa: E402
from aws_encryption_sdk.key_providers.kms import (  # type: ignore[import-untyped]  # noqa: E402
    MRKAwareStrictAwsKmsMasterKeyProvider,
)

PRIMARY, REPLICA = "us-east-1", "eu-west-1"


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with server_process(tmp_path_factory.mktemp("drop-in") / "data", 1, "--dev") as running:
        yield running


@pytest.fixture
def aws_env(dev_server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a developer exports before running their unchanged code."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL_KMS", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", dev_server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")


def application(bucket: str) -> dict[str, Any]:
    """The "AWS code base": nothing in it knows about Strongroom."""
    kms_us = boto3.client("kms", region_name=PRIMARY)
    kms_eu = boto3.client("kms", region_name=REPLICA)
    account = boto3.client("sts", region_name=PRIMARY).get_caller_identity()["Account"]

    primary = kms_us.create_key(Description="orders", MultiRegion=True)["KeyMetadata"]
    kms_us.create_alias(AliasName="alias/orders", TargetKeyId=primary["KeyId"])
    replica = kms_us.replicate_key(KeyId=primary["KeyId"], ReplicaRegion=REPLICA)[
        "ReplicaKeyMetadata"
    ]
    kms_eu.create_alias(AliasName="alias/orders", TargetKeyId=replica["KeyId"])

    # Envelope encryption with the AWS Encryption SDK: written in us-east-1, read in eu-west-1.
    client = esdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
    )
    writer = MRKAwareStrictAwsKmsMasterKeyProvider(key_ids=[primary["Arn"]])
    message, _ = client.encrypt(
        source=b"order 42", key_provider=writer, encryption_context={"app": "orders"}
    )
    reader = MRKAwareStrictAwsKmsMasterKeyProvider(key_ids=[replica["Arn"]])
    plaintext, header = client.decrypt(source=message, key_provider=reader)

    # A direct ciphertext crosses regions too, by alias.
    blob = kms_eu.encrypt(KeyId="alias/orders", Plaintext=b"eu secret")["CiphertextBlob"]
    back = kms_us.decrypt(CiphertextBlob=blob)

    # Objects in the replica's region, encrypted under it.
    s3 = boto3.client("s3", region_name=REPLICA)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REPLICA})
    s3.put_object(
        Bucket=bucket,
        Key="invoice",
        Body=b"invoice 42",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=replica["Arn"],
    )
    stored = s3.get_object(Bucket=bucket, Key="invoice")
    return {
        "account": account,
        "primary": primary,
        "replica": replica,
        "plaintext": plaintext,
        "context": header.encryption_context,
        "back": back,
        "object": stored["Body"].read(),
        "object_key": stored["SSEKMSKeyId"],
        "eu_described": kms_eu.describe_key(KeyId="alias/orders")["KeyMetadata"],
    }


def test_aws_code_with_two_regions_and_a_multi_region_key_runs_unchanged(
    aws_env: None,
) -> None:
    seen = application("orders-eu-bucket")
    assert seen["account"] == "000000000000"  # `test` is no 12-digit id: the default account
    primary, replica = seen["primary"], seen["replica"]
    assert primary["KeyId"].startswith("mrk-") and replica["KeyId"] == primary["KeyId"]
    assert primary["Arn"].split(":")[3] == PRIMARY and replica["Arn"].split(":")[3] == REPLICA
    assert seen["plaintext"] == b"order 42"
    assert seen["context"]["app"] == "orders"
    assert seen["back"]["Plaintext"] == b"eu secret"
    assert seen["back"]["KeyId"] == replica["Arn"].replace(REPLICA, PRIMARY)
    assert seen["object"] == b"invoice 42" and seen["object_key"] == replica["Arn"]
    described = seen["eu_described"]
    assert described["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert described["MultiRegionConfiguration"]["PrimaryKey"]["Region"] == PRIMARY
