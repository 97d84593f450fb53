"""Key lifecycle through boto3: CreateKey, DescribeKey, ListKeys, Enable/Disable, descriptions."""

from __future__ import annotations

import time
from typing import Any

from tests.support.errors import aws_error
from tests.support.servers import InProcessServer


def test_create_key_returns_complete_metadata(kms: Any, server: InProcessServer) -> None:
    before = time.time()
    meta = kms.create_key(Description="payments")["KeyMetadata"]
    account = meta["AWSAccountId"]
    assert len(account) == 12 and account.isdigit()
    assert meta["Arn"] == f"arn:aws:kms:us-east-1:{account}:key/{meta['KeyId']}"
    assert meta["Description"] == "payments"
    assert meta["Enabled"] is True
    assert meta["KeyState"] == "Enabled"
    assert meta["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert meta["KeySpec"] == meta["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert meta["Origin"] == "AWS_KMS"
    assert meta["KeyManager"] == "CUSTOMER"
    assert meta["MultiRegion"] is False
    assert len(meta["CurrentKeyMaterialId"]) == 64
    assert before - 1 <= meta["CreationDate"].timestamp() <= time.time() + 1
    assert "DeletionDate" not in meta


def test_describe_key_accepts_every_identifier_form(kms: Any, key_id: str) -> None:
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    alias = f"alias/describe-{key_id[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    alias_arn = arn.split(":key/")[0] + ":" + alias
    for ref in (key_id, arn, alias, alias_arn):
        assert kms.describe_key(KeyId=ref)["KeyMetadata"]["KeyId"] == key_id


def test_describe_unknown_key_and_alias(kms: Any, key_id: str) -> None:
    account = kms.describe_key(KeyId=key_id)["KeyMetadata"]["AWSAccountId"]
    missing = "00000000-0000-4000-8000-000000000000"
    with aws_error("NotFoundException", 400) as error:
        kms.describe_key(KeyId=missing)
    assert error.message == f"Key 'arn:aws:kms:us-east-1:{account}:key/{missing}' does not exist"
    with aws_error("NotFoundException") as error:
        kms.describe_key(KeyId="alias/does-not-exist")
    assert error.message == (
        f"Alias arn:aws:kms:us-east-1:{account}:alias/does-not-exist is not found."
    )
    with aws_error("NotFoundException") as error:
        kms.describe_key(KeyId="not-a-key-id")
    assert error.message == "Invalid keyId 'not-a-key-id'"
    with aws_error("InvalidArnException"):
        kms.describe_key(KeyId="arn:aws:s3:::bucket")


def test_create_key_refuses_what_it_cannot_serve(kms: Any, raw_kms: Any) -> None:
    with aws_error("ValidationException") as error:
        kms.create_key(KeyUsage="SIGN_VERIFY")
    assert "SIGN_VERIFY" in error.message
    with aws_error("ValidationException") as error:
        kms.create_key(KeySpec="SYMMETRIC_DEFAULT", CustomerMasterKeySpec="RSA_2048")
    with aws_error("UnsupportedOperationException"):
        kms.create_key(MultiRegion=True, Origin="EXTERNAL")  # not yet (docs/architecture.md)
    with aws_error("UnsupportedOperationException"):
        kms.create_key(Origin="EXTERNAL_KEY_STORE")
    with aws_error("CustomKeyStoreNotFoundException"):
        kms.create_key(CustomKeyStoreId="cks-1234567890abcdef0")
    with aws_error("MalformedPolicyDocumentException"):
        kms.create_key(Policy="not json")
    with aws_error("ValidationException") as error:
        raw_kms.create_key(KeySpec="AES_512")
    assert "Member must satisfy enum value set" in error.message


def test_list_keys_pages_with_marker(kms: Any) -> None:
    created = {kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(5)}
    seen: list[str] = []
    marker = None
    pages = 0
    while True:
        kwargs = {"Limit": 2} if marker is None else {"Limit": 2, "Marker": marker}
        page = kms.list_keys(**kwargs)
        pages += 1
        assert len(page["Keys"]) <= 2
        for entry in page["Keys"]:
            assert entry["KeyArn"].endswith(":key/" + entry["KeyId"])
        seen.extend(entry["KeyId"] for entry in page["Keys"])
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        marker = page["NextMarker"]
    assert created <= set(seen)
    assert len(seen) == len(set(seen))
    assert pages >= 3
    with aws_error("InvalidMarkerException"):
        kms.list_keys(Marker="%%%not-a-marker")


def test_disable_and_enable(kms: Any, key_id: str) -> None:
    kms.disable_key(KeyId=key_id)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (meta["KeyState"], meta["Enabled"]) == ("Disabled", False)
    with aws_error("DisabledException", 400) as error:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert error.message == f"{meta['Arn']} is disabled."
    kms.disable_key(KeyId=key_id)  # idempotent
    kms.enable_key(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.encrypt(KeyId=key_id, Plaintext=b"x")["KeyId"] == meta["Arn"]


def test_management_operations_refuse_aliases(kms: Any, key_id: str) -> None:
    kms.create_alias(AliasName=f"alias/manage-{key_id[:8]}", TargetKeyId=key_id)
    with aws_error("NotFoundException"):
        kms.disable_key(KeyId=f"alias/manage-{key_id[:8]}")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


def test_update_key_description(kms: Any, raw_kms: Any, key_id: str) -> None:
    kms.update_key_description(KeyId=key_id, Description="renamed")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "renamed"
    with aws_error("ValidationException") as error:
        raw_kms.update_key_description(KeyId=key_id, Description="x" * 8193)
    assert "8192" in error.message


def test_default_key_policy_is_written_as_aws_writes_it(kms: Any, key_id: str) -> None:
    account = kms.describe_key(KeyId=key_id)["KeyMetadata"]["AWSAccountId"]
    policy = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    assert policy == (
        "{\n"
        '  "Version" : "2012-10-17",\n'
        '  "Id" : "key-default-1",\n'
        '  "Statement" : [ {\n'
        '    "Sid" : "Enable IAM User Permissions",\n'
        '    "Effect" : "Allow",\n'
        '    "Principal" : {\n'
        f'      "AWS" : "arn:aws:iam::{account}:root"\n'
        "    },\n"
        '    "Action" : "kms:*",\n'
        '    "Resource" : "*"\n'
        "  } ]\n"
        "}"
    )
    assert kms.list_key_policies(KeyId=key_id)["PolicyNames"] == ["default"]
