"""Answers that match what AWS sends, member by member (found against real AWS behaviour)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.errors import aws_error
from tests.support.raw_kms import RawKms
from tests.support.servers import InProcessServer


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


# --- AWS's message texts (kms/messages.py names the recording each one comes from) ----------


def test_re_encrypt_naming_another_symmetric_key_is_incorrect_key(kms: Any, key_id: str) -> None:
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"data")["CiphertextBlob"]
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    with aws_error("IncorrectKeyException", 400) as error:
        kms.re_encrypt(CiphertextBlob=blob, SourceKeyId=other, DestinationKeyId=key_id)
    assert error.message == (
        "The key ID in the request does not identify a CMK that can perform this operation."
    )


@pytest.mark.parametrize(
    ("spec", "algorithm", "limit"),
    [
        ("RSA_2048", "RSAES_OAEP_SHA_1", 214),
        ("RSA_2048", "RSAES_OAEP_SHA_256", 190),
        ("RSA_3072", "RSAES_OAEP_SHA_256", 318),
    ],
)
def test_rsa_plaintext_too_large(kms: Any, spec: str, algorithm: str, limit: int) -> None:
    key = kms.create_key(KeySpec=spec, KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    kms.encrypt(KeyId=key, Plaintext=b"x" * limit, EncryptionAlgorithm=algorithm)
    with aws_error("ValidationException", 400) as error:
        kms.encrypt(KeyId=key, Plaintext=b"x" * (limit + 1), EncryptionAlgorithm=algorithm)
    assert error.message == (
        f"Algorithm {algorithm} and key spec {spec} cannot encrypt data larger than {limit} bytes."
    )


def test_key_usage_not_valid_for_the_operation(kms: Any, key_id: str) -> None:
    mac_key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    sign_key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    with aws_error("InvalidKeyUsageException", 400) as error:
        kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_256")
    assert (
        error.message == f"{arn} key usage is ENCRYPT_DECRYPT which is not valid for GenerateMac."
    )
    with aws_error("InvalidKeyUsageException", 400) as error:
        kms.sign(KeyId=mac_key["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    assert error.message == (
        f"{mac_key['Arn']} key usage is GENERATE_VERIFY_MAC which is not valid for Sign."
    )
    with aws_error("InvalidKeyUsageException", 400) as error:
        kms.encrypt(KeyId=sign_key["KeyId"], Plaintext=b"x")
    assert (
        error.message
        == f"{sign_key['Arn']} key usage is SIGN_VERIFY which is not valid for Encrypt."
    )


def test_mac_algorithm_incompatible_with_the_key_spec(kms: Any) -> None:
    key = kms.create_key(KeySpec="HMAC_224", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    with aws_error("InvalidKeyUsageException", 400) as error:
        kms.generate_mac(KeyId=key["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256")
    assert error.message == "Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224."


def test_digest_of_the_wrong_length(kms: Any) -> None:
    key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    with aws_error("ValidationException", 400) as error:
        kms.sign(
            KeyId=key["KeyId"],
            Message=b"short",
            MessageType="DIGEST",
            SigningAlgorithm="ECDSA_SHA_256",
        )
    assert error.message == "Digest is invalid length for algorithm ECDSA_SHA_256."


def test_create_key_usage_and_spec_texts(kms: Any) -> None:
    with aws_error("ValidationException", 400) as error:
        kms.create_key(KeySpec="HMAC_256")
    assert error.message == (
        "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys."
    )
    with aws_error("ValidationException", 400) as error:
        kms.create_key(KeyUsage="RANDOM")
    assert error.message.startswith(
        "1 validation error detected: Value 'RANDOM' at 'keyUsage' failed to satisfy "
        "constraint: Member must satisfy enum value set: ["
    )
    with aws_error("ValidationException", 400) as error:
        kms.create_key(KeySpec="HMAC_256", KeyUsage="ENCRYPT_DECRYPT")
    assert error.message == "KeyUsage ENCRYPT_DECRYPT is not compatible with KeySpec HMAC_256."


def test_reserved_tag_prefix_text(kms: Any, key_id: str) -> None:
    with aws_error("TagException", 400) as error:
        kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "AWS:x", "TagValue": "y"}])
    assert error.message == "Tags beginning with aws: are reserved"


def test_not_found_texts(kms: Any, key_id: str) -> None:
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    missing = arn[: -len(key_id)] + "00000000-0000-0000-0000-000000000000"
    with aws_error("NotFoundException", 400) as error:
        kms.describe_key(KeyId="00000000-0000-0000-0000-000000000000")
    assert error.message == f"Key '{missing}' does not exist"
    with aws_error("NotFoundException", 400) as error:
        kms.describe_key(KeyId="fake-key-id")
    assert error.message == "Invalid keyId 'fake-key-id'"
    other_region = arn.replace(arn.split(":")[3], "ap-southeast-1")
    with aws_error("NotFoundException", 400) as error:
        kms.describe_key(KeyId=other_region)
    assert error.message == "Invalid arn ap-southeast-1"
    with aws_error("ValidationException", 400) as error:
        kms.create_alias(AliasName="no-prefix", TargetKeyId=key_id)
    assert error.message.startswith('Alias must start with the prefix "alias/".')


def test_import_texts(kms: Any, key_id: str) -> None:
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    with aws_error("UnsupportedOperationException", 400) as error:
        kms.get_parameters_for_import(
            KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
        )
    assert error.message == f"{arn} origin is AWS_KMS which is not valid for this operation."
    pending = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
    with aws_error("KMSInvalidStateException", 400) as error:
        kms.encrypt(KeyId=pending["KeyId"], Plaintext=b"x")
    assert error.message == f"{pending['Arn']} is pending import."


def test_generate_random_texts(kms: Any) -> None:
    with aws_error("ValidationException", 400) as error:
        kms.generate_random()
    assert error.message == "NumberOfBytes is required."
    with aws_error("ValidationException", 400) as error:
        kms.generate_random(NumberOfBytes=1025)
    assert error.message == (
        "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy "
        "constraint: Member must have value less than or equal to 1024"
    )


@pytest.mark.parametrize(
    ("spec", "usage"),
    [("RSA_2048", "ENCRYPT_DECRYPT"), ("ECC_NIST_P256", "SIGN_VERIFY"), ("HMAC_256", None)],
)
def test_keys_that_do_not_rotate(kms: Any, spec: str, usage: str | None) -> None:
    created = kms.create_key(KeySpec=spec, KeyUsage=usage or "GENERATE_VERIFY_MAC")["KeyMetadata"]
    # "The key rotation status of these KMS keys is always false" (AWS's API reference).
    status = kms.get_key_rotation_status(KeyId=created["KeyId"])
    assert (status["KeyId"], status["KeyRotationEnabled"]) == (created["Arn"], False)
    for call in (kms.enable_key_rotation, kms.disable_key_rotation, kms.rotate_key_on_demand):
        with aws_error("UnsupportedOperationException", 400) as error:
            call(KeyId=created["KeyId"])
        assert error.message == ""


def test_get_public_key_of_a_symmetric_key_has_no_message(
    server: InProcessServer, key_id: str
) -> None:
    raw = RawKms(server.endpoint, server.admin_key)
    try:
        reply = raw.call("GetPublicKey", {"KeyId": key_id})
    finally:
        raw.close()
    assert (reply.status, reply.body) == (400, {"__type": "UnsupportedOperationException"})


def test_encrypting_with_an_algorithm_the_key_lacks(kms: Any) -> None:
    key = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    with aws_error("InvalidKeyUsageException", 400) as error:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    assert error.message == "Algorithm SYMMETRIC_DEFAULT is incompatible with key spec RSA_2048."


def test_more_recorded_texts(kms: Any, key_id: str) -> None:
    """Further answers LocalStack recorded against AWS (kms/messages.py [LS])."""
    for raw in ("134f2428cec14b25a1ae9048164dba47", "mrk-fake-key-id"):
        with aws_error("NotFoundException", 400) as error:
            kms.describe_key(KeyId=raw)
        assert error.message == f"Invalid keyId '{raw}'"
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    mrk = "mrk-d3b95762d3b95762d3b95762d3b95762"
    with aws_error("NotFoundException", 400) as error:
        kms.describe_key(KeyId=mrk)
    assert error.message == f"Key '{arn.rsplit('/', 1)[0]}/{mrk}' does not exist"
    with aws_error("ValidationException", 400) as error:
        kms.encrypt(KeyId=key_id, Plaintext=b"x" * 4097)
    assert error.message == (
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096"
    )
    with aws_error("ValidationException", 400) as error:
        kms.create_key(KeySpec="HMAC_random", KeyUsage="GENERATE_VERIFY_MAC")
    assert error.message.startswith(
        "1 validation error detected: Value 'HMAC_random' at 'keySpec' failed to satisfy "
        "constraint: Member must satisfy enum value set: ["
    )


def test_an_unknown_mac_algorithm_lists_the_values_in_aws_order(kms: Any) -> None:
    key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    with aws_error("ValidationException", 400) as error:
        kms.generate_mac(KeyId=key["KeyId"], Message=b"m", MacAlgorithm="INVALID")
    assert error.message == (
        "1 validation error detected: Value 'INVALID' at 'macAlgorithm' failed to satisfy "
        "constraint: Member must satisfy enum value set: "
        "[HMAC_SHA_384, HMAC_SHA_256, HMAC_SHA_224, HMAC_SHA_512]"
    )
