"""Every served operation on a key with imported material in PendingImport, against AWS's
key-state table; and the import operations in the other states of such a key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.test_key_state_matrix import DIS, INV, KEY_TYPES, MATRIX, OK
from tests.support.byok import FOREVER, error_of, external_key, import_material, state
from tests.support.byok_openssl import random_bytes

# operation -> the outcome on a key in PendingImport (an EXTERNAL key without its material)
PENDING_IMPORT: dict[str, str | None] = (
    {
        name: INV
        for name in (
            "Encrypt",
            "Decrypt",
            "ReEncrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
            "Sign",
            "Verify",
            "GetPublicKey",
            "GenerateMac",
            "VerifyMac",
            "DeriveSharedSecret",
            "Encapsulate",
            "Decapsulate",
            "EnableKey",
            "DisableKey",
            "EnableKeyRotation",
            "DisableKeyRotation",
            "RotateKeyOnDemand",
            "CancelKeyDeletion",
            "CreateGrant",
            "ReplicateKey",
            "UpdatePrimaryRegion",
        )
    }
    | {
        name: OK
        for name in (
            "DescribeKey",
            "ListResourceTags",
            "ListAliases",
            "ListKeyRotations",
            "GetKeyLastUsage",
            "TagResource",
            "UntagResource",
            "UpdateKeyDescription",
            "CreateAlias",
            "ScheduleKeyDeletion",
            "GetKeyPolicy",
            "ListKeyPolicies",
            "PutKeyPolicy",
            "ListGrants",
            "GetParametersForImport",
            "DeleteImportedKeyMaterial",
        )
    }
    | {
        # Imported keys do not rotate automatically: their status is always false (AWS's API
        # reference), an answer rather than an error.
        "GetKeyRotationStatus": None,
        "RevokeGrant": "InvalidGrantIdException",
        "RetireGrant": "InvalidGrantIdException",
        # The state allows the import; the (made-up) token is what is wrong.
        "ImportKeyMaterial": "InvalidImportTokenException",
    }
)


def _pending_import_key(kms: Any, tmp: Path, key_type: dict[str, str]) -> tuple[str, bytes]:
    """An EXTERNAL key in PendingImport; a symmetric one has had material (and a ciphertext)."""
    key_id = external_key(kms, **key_type)
    blob = b""
    if not key_type:
        import_material(kms, tmp, key_id, random_bytes(32))
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]
        kms.delete_imported_key_material(KeyId=key_id)
    assert state(kms, key_id) == "PendingImport"
    return key_id, blob


def test_every_operation_on_a_key_pending_import(kms: Any, tmp_path: Path) -> None:
    assert set(PENDING_IMPORT) == set(MATRIX)
    mismatches = []
    for name, (call, _) in MATRIX.items():
        key_id, blob = _pending_import_key(kms, tmp_path, KEY_TYPES.get(name, {}))
        try:
            call(kms, key_id, blob)
            got = None
        except ClientError as error:
            got = error.response["Error"]["Code"]
        if got != PENDING_IMPORT[name]:
            mismatches.append(f"{name}: expected {PENDING_IMPORT[name] or 'success'}, got {got}")
    assert mismatches == []


@pytest.mark.parametrize(
    ("prepare", "expected"),
    [
        ("disable", (OK, OK, OK)),
        ("schedule deletion", (INV, INV, OK)),
    ],
)
def test_import_operations_on_imported_keys(
    kms: Any, tmp_path: Path, prepare: str, expected: tuple[str | None, ...]
) -> None:
    key_id = external_key(kms)
    material = random_bytes(32)
    import_material(kms, tmp_path, key_id, material)
    parameters = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    if prepare == "disable":
        kms.disable_key(KeyId=key_id)
    else:
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    before = state(kms, key_id)
    calls: list[Callable[[], object]] = [
        lambda: kms.get_parameters_for_import(
            KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
        ),
        lambda: import_material(kms, tmp_path, key_id, material),
        lambda: kms.delete_imported_key_material(KeyId=key_id),
    ]
    del parameters
    outcomes: list[str | None] = []
    for call in calls:
        try:
            call()
            outcomes.append(None)
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])
    assert tuple(outcomes) == expected
    # Deleting material of a disabled key leaves it PendingImport; pending deletion stays.
    after = state(kms, key_id)
    assert after == ("PendingImport" if before == "Disabled" else "PendingDeletion")


def test_cancelled_deletion_of_a_disabled_imported_key(kms: Any, tmp_path: Path) -> None:
    key_id = external_key(kms)
    import_material(kms, tmp_path, key_id, random_bytes(32))
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert error_of(lambda: kms.encrypt(KeyId=key_id, Plaintext=b"x"))[:2] == (INV, 400)
    kms.cancel_key_deletion(KeyId=key_id)
    assert state(kms, key_id) == "Disabled"
    assert error_of(lambda: kms.encrypt(KeyId=key_id, Plaintext=b"x"))[:2] == (DIS, 400)


def test_cancelled_deletion_of_a_key_without_its_material(kms: Any, tmp_path: Path) -> None:
    never_imported = external_key(kms)
    deleted = external_key(kms)
    import_material(kms, tmp_path, deleted, random_bytes(32))
    for key_id in (never_imported, deleted):
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    kms.delete_imported_key_material(KeyId=deleted)
    assert state(kms, deleted) == "PendingDeletion"
    for key_id in (never_imported, deleted):
        kms.cancel_key_deletion(KeyId=key_id)
        assert state(kms, key_id) == "PendingImport"
    assert FOREVER
