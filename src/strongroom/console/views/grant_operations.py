"""The operations a grant may allow on a key, by the key's usage (AWS's CreateGrant rules)."""

from __future__ import annotations

GRANT_OPERATIONS = {
    "ENCRYPT_DECRYPT": (
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "ReEncryptFrom",
        "ReEncryptTo",
    ),
    "SIGN_VERIFY": ("Sign", "Verify", "GetPublicKey"),
    "GENERATE_VERIFY_MAC": ("GenerateMac", "VerifyMac"),
    "KEY_AGREEMENT": ("DeriveSharedSecret", "GetPublicKey"),
}
COMMON_GRANT_OPERATIONS = ("DescribeKey", "CreateGrant", "RetireGrant")


def grant_operations(key_usage: str) -> tuple[str, ...]:
    return GRANT_OPERATIONS.get(key_usage, ()) + COMMON_GRANT_OPERATIONS
