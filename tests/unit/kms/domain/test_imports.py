"""BYOK rules: wrapping choices per key spec, token payloads, expiry, import and rotation plans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from strongroom.kms.domain.enums import KeyMaterialState, KeySpec, KeyState, Origin
from strongroom.kms.domain.imports import (
    ExpirationModel,
    ImportedMaterial,
    ImportParameters,
    ImportRequest,
    ImportType,
    WrappingAlgorithm,
    WrappingKeySpec,
    check_material_length,
    expiration,
    metadata,
    plan_import,
    plan_rotation,
    state_after_removal,
    wrapping_choice,
)
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.errors import (
    ExpiredImportTokenException,
    IncorrectKeyMaterialException,
    InvalidImportTokenException,
    KmsError,
    KMSInvalidStateException,
    LimitExceededException,
    ValidationException,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
FOREVER = ExpirationModel.KEY_MATERIAL_DOES_NOT_EXPIRE


def key(**changes: object) -> KeyRecord:
    values: dict[str, object] = {
        "key_id": "1234abcd-12ab-34cd-56ef-1234567890ab",
        "account_id": "111122223333",
        "region": "us-east-1",
        "created_at": NOW,
        "state": KeyState.PENDING_IMPORT,
        "origin": Origin.EXTERNAL,
    }
    values.update(changes)
    return KeyRecord(**values)  # type: ignore[arg-type]


def request(material_id: str, **changes: object) -> ImportRequest:
    values: dict[str, object] = {
        "material_id": material_id,
        "import_type": None,
        "requested_id": None,
        "description": None,
        "expiration_model": FOREVER,
        "valid_to": None,
        "at": NOW,
    }
    values.update(changes)
    return ImportRequest(**values)  # type: ignore[arg-type]


A, B, C = "a" * 64, "b" * 64, "c" * 64


@pytest.mark.parametrize(
    ("spec", "algorithm", "wrapping", "refused"),
    [
        (KeySpec.SYMMETRIC_DEFAULT, "RSAES_OAEP_SHA_1", "RSA_2048", False),
        (KeySpec.SYMMETRIC_DEFAULT, "RSA_AES_KEY_WRAP_SHA_256", "RSA_4096", False),
        (KeySpec.HMAC_512, "RSAES_OAEP_SHA_256", "RSA_2048", False),
        (KeySpec.ECC_NIST_P384, "RSAES_OAEP_SHA_256", "RSA_2048", False),
        (KeySpec.ECC_NIST_P521, "RSAES_OAEP_SHA_256", "RSA_2048", True),
        (KeySpec.ECC_NIST_P521, "RSAES_OAEP_SHA_256", "RSA_3072", False),
        (KeySpec.RSA_2048, "RSAES_OAEP_SHA_256", "RSA_4096", True),
        (KeySpec.RSA_4096, "RSAES_OAEP_SHA_1", "RSA_4096", True),
        (KeySpec.RSA_4096, "RSA_AES_KEY_WRAP_SHA_1", "RSA_2048", False),
        (KeySpec.SYMMETRIC_DEFAULT, "RSAES_PKCS1_V1_5", "RSA_2048", True),
        (KeySpec.SYMMETRIC_DEFAULT, "SM2PKE", "SM2", True),
        (KeySpec.SYMMETRIC_DEFAULT, "RSAES_OAEP_SHA_256", "SM2", True),
    ],
)
def test_wrapping_choices(spec: KeySpec, algorithm: str, wrapping: str, refused: bool) -> None:
    if refused:
        with pytest.raises(ValidationException):
            wrapping_choice(spec, algorithm, wrapping)
    else:
        chosen, wrapping_spec = wrapping_choice(spec, algorithm, wrapping)
        assert (chosen.value, wrapping_spec.value) == (algorithm, wrapping)


def test_token_payload_round_trip_and_expiry() -> None:
    parameters = ImportParameters(
        WrappingAlgorithm.RSA_AES_KEY_WRAP_SHA_1,
        WrappingKeySpec.RSA_3072,
        ImportParameters.expiry(NOW + timedelta(microseconds=123_456)),
        Secret(b"private key der"),
    )
    decoded = ImportParameters.decode(parameters.encode())
    assert decoded == parameters
    assert decoded.valid_to == NOW + timedelta(hours=24, microseconds=123_000)
    assert "private key der" not in repr(decoded)
    decoded.check_valid(NOW + timedelta(hours=24, microseconds=122_999))
    with pytest.raises(ExpiredImportTokenException):
        decoded.check_valid(NOW + timedelta(hours=24, microseconds=123_000))
    for broken in (b"", b"\x02" + parameters.encode()[1:], b"\x01\x09\x00" + b"\0" * 9):
        with pytest.raises(InvalidImportTokenException):
            ImportParameters.decode(broken)


def test_expiration_rules() -> None:
    assert expiration("KEY_MATERIAL_DOES_NOT_EXPIRE", None, NOW) == (FOREVER, None)
    later = NOW + timedelta(days=365)
    assert expiration(None, later, NOW) == (ExpirationModel.KEY_MATERIAL_EXPIRES, later)
    refused: list[tuple[str | None, datetime | None]] = [
        (None, None),
        ("KEY_MATERIAL_EXPIRES", None),
        ("KEY_MATERIAL_EXPIRES", NOW),
        ("KEY_MATERIAL_EXPIRES", NOW + timedelta(days=365, seconds=1)),
        ("KEY_MATERIAL_DOES_NOT_EXPIRE", later),
    ]
    for model, valid_to in refused:
        with pytest.raises(ValidationException):
            expiration(model, valid_to, NOW)


@pytest.mark.parametrize(
    ("spec", "good", "bad"),
    [
        (KeySpec.SYMMETRIC_DEFAULT, (32,), (0, 16, 31, 33)),
        (KeySpec.HMAC_224, (28, 64), (27, 65)),
        (KeySpec.HMAC_256, (32, 64), (31, 65)),
        (KeySpec.HMAC_384, (48, 128), (47, 129)),
        (KeySpec.HMAC_512, (64, 128), (63, 129)),
    ],
)
def test_material_lengths(spec: KeySpec, good: tuple[int, ...], bad: tuple[int, ...]) -> None:
    for size in good:
        check_material_length(spec, b"k" * size)
    for size in bad:
        with pytest.raises(IncorrectKeyMaterialException):
            check_material_length(spec, b"k" * size)


def material(material_id: str, sequence: int, **changes: object) -> ImportedMaterial:
    values: dict[str, object] = {
        "material_id": material_id,
        "key_id": key().key_id,
        "sequence": sequence,
        "expiration_model": FOREVER,
        "valid_to": None,
        "imported": True,
        "imported_at": NOW,
    }
    values.update(changes)
    return ImportedMaterial(**values)  # type: ignore[arg-type]


def test_first_import_enables_the_key_and_makes_the_material_current() -> None:
    updated, record = plan_import(key(), [], request(A, description="first"))
    assert updated.state is KeyState.ENABLED
    assert updated.current_material_id == A
    assert (record.sequence, record.description, record.imported) == (1, "first", True)
    assert record.state(updated) is KeyMaterialState.CURRENT


def expect(error: type[KmsError], *args: object) -> None:
    with pytest.raises(error):
        plan_import(*args)  # type: ignore[arg-type]


def test_import_types() -> None:
    enabled = key(state=KeyState.ENABLED, current_material_id=A)
    first = material(A, 1)
    # Later imports default to EXISTING: other material is refused, the same accepted.
    expect(IncorrectKeyMaterialException, enabled, [first], request(B))
    expect(
        IncorrectKeyMaterialException,
        enabled,
        [],
        request(A, import_type=ImportType.EXISTING_KEY_MATERIAL),
    )
    expect(IncorrectKeyMaterialException, enabled, [first], request(A, requested_id=B))
    expect(
        ValidationException,
        enabled,
        [first],
        request(B, import_type=ImportType.NEW_KEY_MATERIAL, requested_id=B),
    )
    expect(
        IncorrectKeyMaterialException,
        enabled,
        [first],
        request(A, import_type=ImportType.NEW_KEY_MATERIAL),
    )
    new = ImportType.NEW_KEY_MATERIAL
    _, pending = plan_import(enabled, [first], request(B, import_type=new))
    assert pending.sequence == 2
    assert pending.state(enabled) is KeyMaterialState.PENDING_ROTATION
    expect(KMSInvalidStateException, enabled, [first, pending], request(C, import_type=new))
    hmac_key = key(state=KeyState.ENABLED, current_material_id=A, key_spec=KeySpec.HMAC_256)
    expect(IncorrectKeyMaterialException, hmac_key, [first], request(B, import_type=new))
    # Re-importing keeps the description unless a new one is given, and takes the new expiry.
    described = material(A, 1, description="kept", imported=False)
    later = NOW + timedelta(days=1)
    pending_import = key(current_material_id=A)
    updated, again = plan_import(
        pending_import,
        [described],
        request(A, expiration_model=ExpirationModel.KEY_MATERIAL_EXPIRES, valid_to=later),
    )
    assert (again.description, again.valid_to, again.imported) == ("kept", later, True)
    assert updated.state is KeyState.ENABLED


def test_a_key_missing_any_needed_material_stays_pending_import() -> None:
    pending = key(current_material_id=B)
    old = material(A, 1, imported=False, rotated_at=None)
    current = material(B, 2, imported=False, rotated_at=NOW)
    updated, _ = plan_import(pending, [old, current], request(B))
    assert updated.state is KeyState.PENDING_IMPORT
    updated, _ = plan_import(updated, [old, replace_imported(current)], request(A))
    assert updated.state is KeyState.ENABLED


def replace_imported(found: ImportedMaterial) -> ImportedMaterial:
    from dataclasses import replace

    return replace(found, imported=True)


def test_removal_states() -> None:
    current = material(A, 1)
    pending = material(B, 2)
    for state, after in (
        (KeyState.ENABLED, KeyState.PENDING_IMPORT),
        (KeyState.DISABLED, KeyState.PENDING_IMPORT),
        (KeyState.PENDING_DELETION, KeyState.PENDING_DELETION),
    ):
        owner = key(state=state, current_material_id=A)
        assert state_after_removal(owner, current) is after
        assert state_after_removal(owner, pending) is state


def test_rotation_plans() -> None:
    enabled = key(state=KeyState.ENABLED, current_material_id=A)
    first = material(A, 1)
    with pytest.raises(KMSInvalidStateException, match="No available key material pending"):
        plan_rotation(enabled, [first], NOW, 25)
    with pytest.raises(KMSInvalidStateException):
        plan_rotation(enabled, [first, material(B, 2, imported=False)], NOW, 25)
    rotated_key, rotated = plan_rotation(enabled, [first, material(B, 2)], NOW, 25)
    assert rotated_key.current_material_id == B
    assert rotated.rotated_at == NOW
    assert first.state(rotated_key) is KeyMaterialState.NON_CURRENT
    with pytest.raises(LimitExceededException):
        plan_rotation(enabled, [first, material(C, 2, rotated_at=NOW), material(B, 3)], NOW, 1)


def test_metadata_reports_the_earliest_expiry_the_key_depends_on() -> None:
    owner = key(state=KeyState.ENABLED, current_material_id=B)
    soon, later = NOW + timedelta(days=1), NOW + timedelta(days=9)
    materials = [
        material(A, 1, valid_to=later, expiration_model=ExpirationModel.KEY_MATERIAL_EXPIRES),
        material(B, 2, rotated_at=NOW),
        # Pending rotation: the key does not depend on it yet.
        material(C, 3, valid_to=soon, expiration_model=ExpirationModel.KEY_MATERIAL_EXPIRES),
    ]
    assert metadata(materials, owner) == {
        "ExpirationModel": "KEY_MATERIAL_EXPIRES",
        "ValidTo": later.timestamp(),
    }
    assert metadata(materials[1:2], owner) == {"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}
    assert metadata([], key()) == {}
