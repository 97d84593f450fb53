"""HMAC keys through boto3: CreateKey, GenerateMac, VerifyMac, and the wrong-key errors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.errors import aws_error

SPECS = {"HMAC_224": 28, "HMAC_256": 32, "HMAC_384": 48, "HMAC_512": 64}


def _hmac_key(kms: Any, spec: str = "HMAC_256") -> str:
    meta = kms.create_key(KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    return str(meta["KeyId"])


@pytest.mark.parametrize("spec", sorted(SPECS))
def test_generate_and_verify(kms: Any, spec: str) -> None:
    meta = kms.create_key(KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    algorithm = "HMAC_SHA_" + spec.split("_")[1]
    assert meta["KeySpec"] == spec and meta["KeyUsage"] == "GENERATE_VERIFY_MAC"
    assert meta["MacAlgorithms"] == [algorithm]
    assert "EncryptionAlgorithms" not in meta
    key_id = meta["KeyId"]
    out = kms.generate_mac(KeyId=key_id, Message=b"message", MacAlgorithm=algorithm)
    assert len(out["Mac"]) == SPECS[spec] and out["MacAlgorithm"] == algorithm
    again = kms.generate_mac(KeyId=key_id, Message=b"message", MacAlgorithm=algorithm)
    assert again["Mac"] == out["Mac"]  # deterministic
    verified = kms.verify_mac(
        KeyId=key_id, Message=b"message", MacAlgorithm=algorithm, Mac=out["Mac"]
    )
    assert verified["MacValid"] is True and verified["KeyId"] == meta["Arn"]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["MacAlgorithms"] == [algorithm]


def test_mismatch_is_an_error(kms: Any) -> None:
    key_id = _hmac_key(kms)
    mac = kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    for message, wrong in (
        (b"other", mac),
        (b"m", bytes([mac[0] ^ 1]) + mac[1:]),
        (b"m", mac[:-1]),
    ):
        with aws_error("KMSInvalidMacException"):
            kms.verify_mac(KeyId=key_id, Message=message, MacAlgorithm="HMAC_SHA_256", Mac=wrong)
    other = _hmac_key(kms)
    with aws_error("KMSInvalidMacException"):
        kms.verify_mac(KeyId=other, Message=b"m", MacAlgorithm="HMAC_SHA_256", Mac=mac)


def test_keys_differ(kms: Any) -> None:
    macs = {
        kms.generate_mac(KeyId=_hmac_key(kms), Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
        for _ in range(3)
    }
    assert len(macs) == 3


def test_key_usage_must_be_given(kms: Any) -> None:
    with aws_error("ValidationException"):
        kms.create_key(KeySpec="HMAC_256")
    with aws_error("ValidationException"):
        kms.create_key(KeySpec="HMAC_256", KeyUsage="ENCRYPT_DECRYPT")
    with aws_error("ValidationException"):
        kms.create_key(KeySpec="HMAC_256", KeyUsage="SIGN_VERIFY")


def test_wrong_algorithm_and_wrong_key(kms: Any, key_id: str) -> None:
    hmac_key = _hmac_key(kms, "HMAC_384")
    with aws_error("InvalidKeyUsageException"):
        kms.generate_mac(KeyId=hmac_key, Message=b"m", MacAlgorithm="HMAC_SHA_256")
    with aws_error("InvalidKeyUsageException"):
        kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_256")
    with aws_error("InvalidKeyUsageException"):
        kms.encrypt(KeyId=hmac_key, Plaintext=b"m")
    with aws_error("InvalidKeyUsageException"):
        kms.generate_data_key(KeyId=hmac_key, KeySpec="AES_256")
    with aws_error("UnsupportedOperationException"):
        kms.get_public_key(KeyId=hmac_key)
    with aws_error("UnsupportedOperationException"):
        kms.enable_key_rotation(KeyId=hmac_key)
    with aws_error("UnsupportedOperationException"):
        kms.rotate_key_on_demand(KeyId=hmac_key)


def test_disabled_key_and_dry_run(kms: Any) -> None:
    key_id = _hmac_key(kms)
    with aws_error("DryRunOperationException"):
        kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_256", DryRun=True)
    kms.disable_key(KeyId=key_id)
    with aws_error("DisabledException"):
        kms.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_256")


def test_grants_take_mac_operations(kms: Any) -> None:
    key_id = _hmac_key(kms)
    grantee = "arn:aws:iam::111122223333:user/mac"
    kms.create_grant(
        KeyId=key_id, GranteePrincipal=grantee, Operations=["GenerateMac", "VerifyMac"]
    )
    with aws_error("ValidationException"):
        kms.create_grant(KeyId=key_id, GranteePrincipal=grantee, Operations=["Encrypt"])
