"""Answers that match what AWS sends, member by member (found against real AWS behaviour)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.errors import aws_error


def test_re_encrypt_naming_an_hmac_source_key_is_incorrect_key(kms: Any, key_id: str) -> None:
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"data")["CiphertextBlob"]
    hmac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    with aws_error("IncorrectKeyException", 400):
        kms.re_encrypt(CiphertextBlob=blob, SourceKeyId=hmac_key["KeyId"], DestinationKeyId=key_id)


@pytest.mark.parametrize("prefix", ["aws:", "AWS:", "Aws:", "aWs:"])
def test_reserved_tag_prefix_in_any_case(kms: Any, key_id: str, prefix: str) -> None:
    with aws_error("TagException", 400):
        kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": f"{prefix}team", "TagValue": "x"}])
    with aws_error("TagException", 400):
        kms.create_key(Tags=[{"TagKey": f"{prefix}team", "TagValue": "x"}])
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == []


@pytest.mark.parametrize(
    ("spec", "usage"),
    [
        ("HMAC_256", "GENERATE_VERIFY_MAC"),
        ("RSA_2048", "SIGN_VERIFY"),
        ("ECC_NIST_P256", "SIGN_VERIFY"),
    ],
)
def test_current_key_material_id_only_for_symmetric_encryption_keys(
    kms: Any, spec: str, usage: str
) -> None:
    created = kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]
    described = kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]
    assert "CurrentKeyMaterialId" not in created
    assert "CurrentKeyMaterialId" not in described
    symmetric = kms.create_key()["KeyMetadata"]
    assert len(symmetric["CurrentKeyMaterialId"]) == 64


def test_rotate_key_on_demand_answers_the_key_arn(kms: Any, key_id: str) -> None:
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    assert kms.rotate_key_on_demand(KeyId=key_id)["KeyId"] == arn


def test_state_errors_are_400(kms: Any, key_id: str) -> None:
    kms.disable_key(KeyId=key_id)
    with aws_error("DisabledException", 400):
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    with aws_error("KMSInvalidStateException", 400):
        kms.encrypt(KeyId=key_id, Plaintext=b"x")


def test_verification_failures_carry_no_message(kms: Any) -> None:
    key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    with aws_error("KMSInvalidMacException", 400) as error:
        kms.verify_mac(KeyId=key["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256", Mac=b"0" * 32)
    assert error.message == ""
