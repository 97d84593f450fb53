"""Every served operation on a key in every state a customer key can reach, against AWS's
key-state table (Developer Guide, "Key states and KMS key types")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

OK = None
DIS = "DisabledException"
INV = "KMSInvalidStateException"
UNS = "UnsupportedOperationException"
STATES = ("Enabled", "Disabled", "PendingDeletion")
GRANTEE = "arn:aws:iam::111122223333:user/grantee"

Call = Callable[[Any, str, bytes], object]
PEER = (
    ec.generate_private_key(ec.SECP256R1())
    .public_key()
    .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
)
SIGNING = {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}
MAC = {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}
AGREEMENT = {"KeySpec": "ECC_NIST_P256", "KeyUsage": "KEY_AGREEMENT"}
KEM = {"KeySpec": "ML_KEM_768", "KeyUsage": "ENCAPSULATE_DECAPSULATE"}
# operation -> CreateKey arguments of the key it needs (a symmetric key when absent)
KEY_TYPES: dict[str, dict[str, str]] = {
    "Sign": SIGNING,
    "Verify": SIGNING,
    "GetPublicKey": SIGNING,
    "GenerateMac": MAC,
    "VerifyMac": MAC,
    "DeriveSharedSecret": AGREEMENT,
    "Encapsulate": KEM,
    "Decapsulate": KEM,
}

# operation -> (call, expected outcome in Enabled, Disabled, PendingDeletion)
MATRIX: dict[str, tuple[Call, tuple[str | None, str | None, str | None]]] = {
    "Encrypt": (lambda k, key, blob: k.encrypt(KeyId=key, Plaintext=b"x"), (OK, DIS, INV)),
    "Decrypt": (lambda k, key, blob: k.decrypt(CiphertextBlob=blob), (OK, DIS, INV)),
    "ReEncrypt": (
        lambda k, key, blob: k.re_encrypt(CiphertextBlob=blob, DestinationKeyId=key),
        (OK, DIS, INV),
    ),
    "GenerateDataKey": (
        lambda k, key, blob: k.generate_data_key(KeyId=key, KeySpec="AES_256"),
        (OK, DIS, INV),
    ),
    "GenerateDataKeyWithoutPlaintext": (
        lambda k, key, blob: k.generate_data_key_without_plaintext(KeyId=key, KeySpec="AES_128"),
        (OK, DIS, INV),
    ),
    "GenerateDataKeyPair": (
        lambda k, key, blob: k.generate_data_key_pair(KeyId=key, KeyPairSpec="ECC_NIST_P256"),
        (OK, DIS, INV),
    ),
    "GenerateDataKeyPairWithoutPlaintext": (
        lambda k, key, blob: k.generate_data_key_pair_without_plaintext(
            KeyId=key, KeyPairSpec="ECC_NIST_P256"
        ),
        (OK, DIS, INV),
    ),
    "Sign": (
        lambda k, key, blob: k.sign(KeyId=key, Message=b"m", SigningAlgorithm="ECDSA_SHA_256"),
        (OK, DIS, INV),
    ),
    # The state is checked before the signature (or MAC), which is deliberately wrong here.
    "Verify": (
        lambda k, key, blob: k.verify(
            KeyId=key, Message=b"m", Signature=b"0" * 70, SigningAlgorithm="ECDSA_SHA_256"
        ),
        ("KMSInvalidSignatureException", DIS, INV),
    ),
    "GetPublicKey": (lambda k, key, blob: k.get_public_key(KeyId=key), (OK, DIS, INV)),
    "GenerateMac": (
        lambda k, key, blob: k.generate_mac(KeyId=key, Message=b"m", MacAlgorithm="HMAC_SHA_256"),
        (OK, DIS, INV),
    ),
    "VerifyMac": (
        lambda k, key, blob: k.verify_mac(
            KeyId=key, Message=b"m", Mac=b"0" * 32, MacAlgorithm="HMAC_SHA_256"
        ),
        ("KMSInvalidMacException", DIS, INV),
    ),
    "DeriveSharedSecret": (
        lambda k, key, blob: k.derive_shared_secret(
            KeyId=key, KeyAgreementAlgorithm="ECDH", PublicKey=PEER
        ),
        (OK, DIS, INV),
    ),
    "Encapsulate": (
        lambda k, key, blob: k.encapsulate(KeyId=key, EncapsulationAlgorithm="ML_KEM"),
        (OK, DIS, INV),
    ),
    # The state is checked before the (malformed) ciphertext.
    "Decapsulate": (
        lambda k, key, blob: k.decapsulate(
            KeyId=key, SharedSecretCiphertextBlob=b"x", EncapsulationAlgorithm="ML_KEM"
        ),
        ("InvalidCiphertextException", DIS, INV),
    ),
    "DescribeKey": (lambda k, key, blob: k.describe_key(KeyId=key), (OK, OK, OK)),
    "ListResourceTags": (lambda k, key, blob: k.list_resource_tags(KeyId=key), (OK, OK, OK)),
    "ListAliases": (lambda k, key, blob: k.list_aliases(KeyId=key), (OK, OK, OK)),
    "GetKeyRotationStatus": (
        lambda k, key, blob: k.get_key_rotation_status(KeyId=key),
        (OK, OK, OK),
    ),
    "ListKeyRotations": (lambda k, key, blob: k.list_key_rotations(KeyId=key), (OK, OK, OK)),
    "GetKeyLastUsage": (lambda k, key, blob: k.get_key_last_usage(KeyId=key), (OK, OK, OK)),
    "TagResource": (
        lambda k, key, blob: k.tag_resource(KeyId=key, Tags=[{"TagKey": "t", "TagValue": "v"}]),
        (OK, OK, INV),
    ),
    "UntagResource": (
        lambda k, key, blob: k.untag_resource(KeyId=key, TagKeys=["t"]),
        (OK, OK, INV),
    ),
    "UpdateKeyDescription": (
        lambda k, key, blob: k.update_key_description(KeyId=key, Description="d"),
        (OK, OK, INV),
    ),
    "CreateAlias": (
        lambda k, key, blob: k.create_alias(AliasName=f"alias/matrix-{key}", TargetKeyId=key),
        (OK, OK, INV),
    ),
    "EnableKey": (lambda k, key, blob: k.enable_key(KeyId=key), (OK, OK, INV)),
    "DisableKey": (lambda k, key, blob: k.disable_key(KeyId=key), (OK, OK, INV)),
    "EnableKeyRotation": (lambda k, key, blob: k.enable_key_rotation(KeyId=key), (OK, DIS, INV)),
    "DisableKeyRotation": (lambda k, key, blob: k.disable_key_rotation(KeyId=key), (OK, DIS, INV)),
    "RotateKeyOnDemand": (lambda k, key, blob: k.rotate_key_on_demand(KeyId=key), (OK, DIS, INV)),
    "ScheduleKeyDeletion": (
        lambda k, key, blob: k.schedule_key_deletion(KeyId=key, PendingWindowInDays=7),
        (OK, OK, INV),
    ),
    "CancelKeyDeletion": (lambda k, key, blob: k.cancel_key_deletion(KeyId=key), (INV, INV, OK)),
    "GetKeyPolicy": (lambda k, key, blob: k.get_key_policy(KeyId=key), (OK, OK, OK)),
    "ListKeyPolicies": (lambda k, key, blob: k.list_key_policies(KeyId=key), (OK, OK, OK)),
    "PutKeyPolicy": (
        lambda k, key, blob: k.put_key_policy(
            KeyId=key, Policy=k.get_key_policy(KeyId=key)["Policy"]
        ),
        (OK, OK, OK),
    ),
    "CreateGrant": (
        lambda k, key, blob: k.create_grant(
            KeyId=key, GranteePrincipal=GRANTEE, Operations=["Decrypt"]
        ),
        (OK, DIS, INV),
    ),
    "ListGrants": (lambda k, key, blob: k.list_grants(KeyId=key), (OK, OK, OK)),
    "RevokeGrant": (
        lambda k, key, blob: k.revoke_grant(KeyId=key, GrantId="0" * 64),
        ("InvalidGrantIdException",) * 3,
    ),
    "RetireGrant": (
        lambda k, key, blob: k.retire_grant(KeyId=key, GrantId="0" * 64),
        ("InvalidGrantIdException",) * 3,
    ),
    # BYOK: these keys have generated material (origin AWS_KMS); test_import_states.py has
    # keys with imported material, in PendingImport too.
    "GetParametersForImport": (
        lambda k, key, blob: k.get_parameters_for_import(
            KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
        ),
        (UNS, UNS, INV),
    ),
    "ImportKeyMaterial": (
        lambda k, key, blob: k.import_key_material(
            KeyId=key,
            ImportToken=b"t" * 40,
            EncryptedKeyMaterial=b"m" * 256,
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        ),
        (UNS, UNS, INV),
    ),
    "DeleteImportedKeyMaterial": (
        lambda k, key, blob: k.delete_imported_key_material(KeyId=key),
        (UNS, UNS, UNS),
    ),
    # Single-Region keys: the state is checked first, then that the key is multi-Region
    # (tests/api/test_multi_region_keys.py has multi-Region keys).
    "ReplicateKey": (
        lambda k, key, blob: k.replicate_key(KeyId=key, ReplicaRegion="eu-west-1"),
        (UNS, DIS, INV),
    ),
    "UpdatePrimaryRegion": (
        lambda k, key, blob: k.update_primary_region(KeyId=key, PrimaryRegion="eu-west-1"),
        (UNS, DIS, INV),
    ),
}


def _key_in_state(kms: Any, state: str, key_type: dict[str, str]) -> tuple[str, bytes]:
    key_id = kms.create_key(**key_type)["KeyMetadata"]["KeyId"]
    blob = b"" if key_type else kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
    if state == "Disabled":
        kms.disable_key(KeyId=key_id)
    elif state == "PendingDeletion":
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == state
    return key_id, blob


@pytest.mark.parametrize("state", STATES)
def test_every_operation_in_every_state(kms: Any, state: str) -> None:
    index = STATES.index(state)
    mismatches = []
    for name, (call, outcomes) in MATRIX.items():
        expected = outcomes[index]
        key_id, blob = _key_in_state(kms, state, KEY_TYPES.get(name, {}))
        try:
            call(kms, key_id, blob)
            got = None
        except ClientError as error:
            got = error.response["Error"]["Code"]
        if got != expected:
            mismatches.append(f"{name} in {state}: expected {expected or 'success'}, got {got}")
    assert mismatches == []


def test_the_matrix_covers_every_served_key_operation() -> None:
    from strongroom.kms.service.registry import OPERATIONS

    keyed = {name for name, op in OPERATIONS.items() if op.keys}
    assert keyed - set(MATRIX) <= {"DeleteAlias", "UpdateAlias"}  # they name an alias
    assert len(MATRIX) >= 39
