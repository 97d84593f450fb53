"""Grants and policy conditions for signing, MAC and key agreement keys."""

from __future__ import annotations

from typing import Any

from tests.api.test_authorization import World, world  # noqa: F401 - the module's fixture
from tests.support.errors import aws_error
from tests.support.policies import allow, enable_iam, key_policy


def test_a_grant_allows_sign_but_not_verify(world: World) -> None:  # noqa: F811
    meta = world.kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    world.kms.create_grant(
        KeyId=meta["KeyId"], GranteePrincipal=world.arn("nobody"), Operations=["Sign"]
    )
    nobody = world.client("nobody")
    reply = nobody.sign(KeyId=meta["Arn"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    with aws_error("AccessDeniedException"):
        nobody.verify(
            KeyId=meta["Arn"],
            Message=b"m",
            Signature=reply["Signature"],
            SigningAlgorithm="ECDSA_SHA_256",
        )
    with aws_error("AccessDeniedException"):
        nobody.get_public_key(KeyId=meta["Arn"])


def test_a_grant_allows_mac_operations(world: World) -> None:  # noqa: F811
    meta = world.kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    world.kms.create_grant(
        KeyId=meta["KeyId"],
        GranteePrincipal=world.arn("nobody"),
        Operations=["GenerateMac", "VerifyMac"],
    )
    nobody = world.client("nobody")
    mac = nobody.generate_mac(KeyId=meta["Arn"], Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert len(mac) == 32
    verified = nobody.verify_mac(
        KeyId=meta["Arn"], Message=b"m", Mac=mac, MacAlgorithm="HMAC_SHA_256"
    )
    assert verified["MacValid"] is True
    with aws_error("KMSInvalidMacException"):
        nobody.verify_mac(KeyId=meta["Arn"], Message=b"n", Mac=mac, MacAlgorithm="HMAC_SHA_256")


def test_signing_algorithm_condition(world: World) -> None:  # noqa: F811
    policy = key_policy(
        enable_iam(world.a),
        allow(
            world.arn("keyuser"),
            "kms:Sign",
            {"StringEquals": {"kms:SigningAlgorithm": "RSASSA_PSS_SHA_256"}},
        ),
    )
    meta: dict[str, Any] = world.kms.create_key(
        KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY", Policy=policy
    )["KeyMetadata"]
    keyuser = world.client("keyuser")
    keyuser.sign(KeyId=meta["Arn"], Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")
    with aws_error("AccessDeniedException"):
        keyuser.sign(KeyId=meta["Arn"], Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_512")
