"""BYOK end to end with boto3: create an EXTERNAL key, wrap material with the OpenSSL command
line (the independent party), import, use, expire, delete, re-import, rotate."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.byok import (
    AES_WRAP_256,
    FOREVER,
    OAEP_256,
    error_of,
    external_key,
    import_material,
    state,
    wrapped,
)
from tests.support.byok_openssl import random_bytes
from tests.support.servers import InProcessServer, in_process_server

ALGORITHMS = ("RSAES_OAEP_SHA_1", OAEP_256, "RSA_AES_KEY_WRAP_SHA_1", AES_WRAP_256)


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[InProcessServer]:
    """A server of this test alone: its clock moves."""
    with in_process_server(tmp_path / "data") as running:
        yield running


def wait_for_state(kms: Any, key_id: str, wanted: str) -> None:
    deadline = time.monotonic() + 10
    while state(kms, key_id) != wanted:
        assert time.monotonic() < deadline, f"key never reached {wanted}"
        time.sleep(0.05)


def test_an_external_key_waits_for_its_material(kms: Any) -> None:
    key_id = external_key(kms, Description="byok")
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["Origin"] == "EXTERNAL"
    assert meta["KeyState"] == "PendingImport"
    assert meta["Enabled"] is False
    assert "CurrentKeyMaterialId" not in meta
    assert "ExpirationModel" not in meta


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_material_wrapped_by_openssl_imports_and_works(
    kms: Any, tmp_path: Path, algorithm: str
) -> None:
    key_id = external_key(kms)
    material = random_bytes(32)
    response = import_material(kms, tmp_path, key_id, material, algorithm)
    assert response["KeyId"].endswith(f":key/{key_id}")
    assert re.fullmatch(r"[0-9a-f]{64}", response["KeyMaterialId"])
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Enabled"
    assert meta["CurrentKeyMaterialId"] == response["KeyMaterialId"]
    assert meta["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    assert "ValidTo" not in meta
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"imported")["CiphertextBlob"]
    decrypted = kms.decrypt(CiphertextBlob=blob)
    assert decrypted["Plaintext"] == b"imported"
    assert decrypted["KeyMaterialId"] == response["KeyMaterialId"]


def test_parameters_are_an_rsa_key_and_a_token_valid_24_hours(
    server: InProcessServer, kms: Any
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key_id = external_key(kms)
    before = server.clock.now()
    for spec, bits in (("RSA_2048", 2048), ("RSA_3072", 3072)):
        parameters = kms.get_parameters_for_import(
            KeyId=key_id, WrappingAlgorithm=OAEP_256, WrappingKeySpec=spec
        )
        public = serialization.load_der_public_key(parameters["PublicKey"])
        assert isinstance(public, rsa.RSAPublicKey) and public.key_size == bits
        valid = parameters["ParametersValidTo"] - before
        assert timedelta(hours=24, milliseconds=-1) <= valid < timedelta(hours=24, minutes=1)
        assert parameters["KeyId"].endswith(key_id)
        # The token never shows the wrapping private key.
        assert public.public_numbers().n.to_bytes(bits // 8, "big") not in parameters["ImportToken"]


def test_expired_material_is_deleted_and_the_same_material_restores_the_key(
    own_server: InProcessServer, tmp_path: Path
) -> None:
    kms = own_server.client()
    key_id = external_key(kms)
    material = random_bytes(32)
    valid_to = own_server.clock.now() + timedelta(hours=1)
    imported = import_material(
        kms, tmp_path, key_id, material, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to
    )
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert abs(meta["ValidTo"].timestamp() - valid_to.timestamp()) < 1
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"before expiry")["CiphertextBlob"]

    own_server.clock.advance(timedelta(minutes=59))
    time.sleep(0.3)  # several scheduler runs: nothing is due yet
    assert state(kms, key_id) == "Enabled"
    own_server.clock.advance(timedelta(minutes=2))
    wait_for_state(kms, key_id, "PendingImport")
    code, status, message = error_of(lambda: kms.decrypt(CiphertextBlob=blob))
    assert (code, status) == ("KMSInvalidStateException", 400)
    assert "pending import" in message
    listed = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")
    (entry,) = listed["Rotations"]
    assert entry["ImportState"] == "PENDING_IMPORT"
    assert entry["KeyMaterialState"] == "CURRENT"
    assert entry["KeyMaterialId"] == imported["KeyMaterialId"]

    again = import_material(kms, tmp_path, key_id, material, AES_WRAP_256)
    assert again["KeyMaterialId"] == imported["KeyMaterialId"]
    assert state(kms, key_id) == "Enabled"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before expiry"
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    assert "ValidTo" not in meta


def test_deleted_material_is_gone_at_once_until_imported_again(kms: Any, tmp_path: Path) -> None:
    key_id = external_key(kms)
    material = random_bytes(32)
    imported = import_material(kms, tmp_path, key_id, material)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
    deleted = kms.delete_imported_key_material(KeyId=key_id)
    assert deleted["KeyMaterialId"] == imported["KeyMaterialId"]
    assert deleted["KeyId"].endswith(key_id)
    assert state(kms, key_id) == "PendingImport"
    assert error_of(lambda: kms.decrypt(CiphertextBlob=blob))[:2] == (
        "KMSInvalidStateException",
        400,
    )
    assert error_of(lambda: kms.encrypt(KeyId=key_id, Plaintext=b"x"))[0] == (
        "KMSInvalidStateException"
    )
    # Deleting again changes nothing.
    kms.delete_imported_key_material(KeyId=key_id)
    assert state(kms, key_id) == "PendingImport"

    other = random_bytes(32)
    code, status, _ = error_of(lambda: import_material(kms, tmp_path, key_id, other))
    assert (code, status) == ("IncorrectKeyMaterialException", 400)
    assert state(kms, key_id) == "PendingImport"
    import_material(kms, tmp_path, key_id, material)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"


def test_token_errors(own_server: InProcessServer, tmp_path: Path) -> None:
    kms = own_server.client()
    key_id, other_key = external_key(kms), external_key(kms)
    material = random_bytes(32)
    token, encrypted = wrapped(kms, tmp_path, key_id, material)

    def attempt(key: str = key_id, token: bytes = token, blob: bytes = encrypted) -> Any:
        return lambda: kms.import_key_material(
            KeyId=key, ImportToken=token, EncryptedKeyMaterial=blob, **FOREVER
        )

    assert error_of(attempt(key=other_key))[:2] == ("InvalidImportTokenException", 400)
    forged = bytes([token[0]]) + bytes([token[1] ^ 1]) + token[2:]
    assert error_of(attempt(token=forged))[:2] == ("InvalidImportTokenException", 400)
    assert error_of(attempt(token=b"\x01" * 40))[:2] == ("InvalidImportTokenException", 400)
    # Material wrapped for other parameters (another wrapping key) does not unwrap.
    _, foreign = wrapped(kms, tmp_path, key_id, material)
    assert error_of(attempt(blob=foreign))[:2] == ("InvalidCiphertextException", 400)
    assert error_of(attempt(blob=b"\x00" * 256))[:2] == ("InvalidCiphertextException", 400)
    assert state(kms, key_id) == "PendingImport"

    own_server.clock.advance(timedelta(hours=24, seconds=1))
    code, status, _ = error_of(attempt())
    assert (code, status) == ("ExpiredImportTokenException", 400)
    assert state(kms, key_id) == "PendingImport"


def test_material_of_the_wrong_size_or_kind(kms: Any, tmp_path: Path) -> None:
    from tests.support.byok_openssl import private_key

    symmetric = external_key(kms)
    for size in (16, 31, 33, 64):
        code, status, _ = error_of(
            lambda size=size: import_material(kms, tmp_path, symmetric, random_bytes(size))
        )
        assert (code, status) == ("IncorrectKeyMaterialException", 400)
    mac = external_key(kms, KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    for size in (31, 65):
        assert error_of(lambda size=size: import_material(kms, tmp_path, mac, random_bytes(size)))[
            0
        ] == ("IncorrectKeyMaterialException")
    signing = external_key(kms, KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")
    p256 = private_key(tmp_path, "ECC_NIST_P256")
    for material in (p256, random_bytes(48)):
        assert error_of(
            lambda material=material: import_material(kms, tmp_path, signing, material)
        )[0] == ("IncorrectKeyMaterialException")
    assert {state(kms, k) for k in (symmetric, mac, signing)} == {"PendingImport"}


def test_expiration_arguments(server: InProcessServer, kms: Any, tmp_path: Path) -> None:
    key_id = external_key(kms)
    token, encrypted = wrapped(kms, tmp_path, key_id, random_bytes(32))
    now = server.clock.now()
    cases: list[dict[str, Any]] = [
        {},  # KEY_MATERIAL_EXPIRES is the default, and needs ValidTo
        {"ExpirationModel": "KEY_MATERIAL_EXPIRES"},
        {"ExpirationModel": "KEY_MATERIAL_EXPIRES", "ValidTo": now - timedelta(minutes=1)},
        {"ExpirationModel": "KEY_MATERIAL_EXPIRES", "ValidTo": now + timedelta(days=366)},
        {"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE", "ValidTo": now + timedelta(days=1)},
    ]
    for options in cases:
        code, status, message = error_of(
            lambda options=options: kms.import_key_material(
                KeyId=key_id, ImportToken=token, EncryptedKeyMaterial=encrypted, **options
            )
        )
        assert (code, status) == ("ValidationException", 400), options
        if "ValidTo" not in options:  # AWS's text (kms/messages.py)
            assert message == (
                "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES"
            )
    assert state(kms, key_id) == "PendingImport"


@pytest.mark.parametrize(
    ("key_spec", "usage", "algorithm", "wrapping_spec"),
    [
        ("RSA_2048", "SIGN_VERIFY", OAEP_256, "RSA_4096"),
        ("RSA_3072", "ENCRYPT_DECRYPT", "RSAES_OAEP_SHA_1", "RSA_4096"),
        ("ECC_NIST_P521", "SIGN_VERIFY", OAEP_256, "RSA_2048"),
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "RSAES_PKCS1_V1_5", "RSA_2048"),
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "SM2PKE", "SM2"),
    ],
)
def test_wrapping_choices_aws_refuses(
    kms: Any, key_spec: str, usage: str, algorithm: str, wrapping_spec: str
) -> None:
    key_id = external_key(kms, KeySpec=key_spec, KeyUsage=usage)
    code, status, _ = error_of(
        lambda: kms.get_parameters_for_import(
            KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=wrapping_spec
        )
    )
    assert (code, status) == ("ValidationException", 400)


def test_keys_with_generated_material_take_no_import(kms: Any, key_id: str) -> None:
    calls = [
        lambda: kms.get_parameters_for_import(
            KeyId=key_id, WrappingAlgorithm=OAEP_256, WrappingKeySpec="RSA_2048"
        ),
        lambda: kms.import_key_material(
            KeyId=key_id, ImportToken=b"t" * 40, EncryptedKeyMaterial=b"m" * 256, **FOREVER
        ),
        lambda: kms.delete_imported_key_material(KeyId=key_id),
    ]
    for call in calls:
        assert error_of(call)[:2] == ("UnsupportedOperationException", 400)
    assert state(kms, key_id) == "Enabled"


def test_imported_keys_do_not_rotate_automatically(kms: Any, tmp_path: Path) -> None:
    key_id = external_key(kms)
    import_material(kms, tmp_path, key_id, random_bytes(32))
    for call in (kms.enable_key_rotation, kms.disable_key_rotation):
        assert error_of(lambda call=call: call(KeyId=key_id)) == (
            "UnsupportedOperationException",
            400,
            "",
        )
    # "The key rotation status of these KMS keys is always false" (AWS's API reference).
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False


def test_several_materials_and_on_demand_rotation(kms: Any, tmp_path: Path) -> None:
    key_id = external_key(kms)
    first_material, second_material = random_bytes(32), random_bytes(32)
    first = import_material(kms, tmp_path, key_id, first_material)["KeyMaterialId"]
    old_blob = kms.encrypt(KeyId=key_id, Plaintext=b"old")["CiphertextBlob"]
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    assert error_of(lambda: kms.rotate_key_on_demand(KeyId=key_id)) == (
        "KMSInvalidStateException",
        400,
        f"No available key material pending rotation for the key: {arn}.",
    )
    # A second NEW import waits for the rotation; encryption keeps the current material.
    second = import_material(
        kms,
        tmp_path,
        key_id,
        second_material,
        ImportType="NEW_KEY_MATERIAL",
        KeyMaterialDescription="second generation",
        **FOREVER,
    )["KeyMaterialId"]
    assert second != first
    listed = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")
    assert [(r["KeyMaterialId"], r["KeyMaterialState"]) for r in listed["Rotations"]] == [
        (first, "CURRENT"),
        (second, "PENDING_ROTATION"),
    ]
    assert listed["Rotations"][1]["KeyMaterialDescription"] == "second generation"
    assert "RotationDate" not in listed["Rotations"][1]
    assert kms.list_key_rotations(KeyId=key_id)["Rotations"] == []
    code, status, message = error_of(
        lambda: import_material(
            kms, tmp_path, key_id, random_bytes(32), ImportType="NEW_KEY_MATERIAL", **FOREVER
        )
    )
    assert (code, status) == ("KMSInvalidStateException", 400)
    assert f"Key material {second} is pending rotation for the key: {arn}." in message

    assert kms.rotate_key_on_demand(KeyId=key_id)["KeyId"].endswith(f":key/{key_id}")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"] == second
    new_blob = kms.encrypt(KeyId=key_id, Plaintext=b"new")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=new_blob)["KeyMaterialId"] == second
    assert kms.decrypt(CiphertextBlob=old_blob)["Plaintext"] == b"old"
    (rotation,) = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert rotation["KeyMaterialId"] == second
    assert rotation["RotationType"] == "ON_DEMAND"
    assert "RotationDate" in rotation

    # Re-importing names the material; a wrong id is refused; NEW may not name one.
    assert (
        error_of(
            lambda: import_material(
                kms, tmp_path, key_id, first_material, KeyMaterialId=second, **FOREVER
            )
        )[0]
        == "IncorrectKeyMaterialException"
    )
    assert (
        error_of(
            lambda: import_material(
                kms,
                tmp_path,
                key_id,
                random_bytes(32),
                ImportType="NEW_KEY_MATERIAL",
                KeyMaterialId=first,
                **FOREVER,
            )
        )[0]
        == "ValidationException"
    )
    again = import_material(
        kms,
        tmp_path,
        key_id,
        first_material,
        ImportType="EXISTING_KEY_MATERIAL",
        KeyMaterialId=first,
        **FOREVER,
    )
    assert again["KeyMaterialId"] == first

    # Deleting a non-current material the key needs makes it PendingImport.
    kms.delete_imported_key_material(KeyId=key_id, KeyMaterialId=first)
    assert state(kms, key_id) == "PendingImport"
    assert error_of(lambda: kms.decrypt(CiphertextBlob=new_blob))[0] == "KMSInvalidStateException"
    import_material(kms, tmp_path, key_id, first_material)
    assert state(kms, key_id) == "Enabled"
    assert kms.decrypt(CiphertextBlob=old_blob)["Plaintext"] == b"old"


def test_deleting_material_pending_rotation_forgets_it(kms: Any, tmp_path: Path) -> None:
    key_id = external_key(kms)
    import_material(kms, tmp_path, key_id, random_bytes(32))
    pending = import_material(
        kms, tmp_path, key_id, random_bytes(32), ImportType="NEW_KEY_MATERIAL", **FOREVER
    )["KeyMaterialId"]
    deleted = kms.delete_imported_key_material(KeyId=key_id, KeyMaterialId=pending)
    assert deleted["KeyMaterialId"] == pending
    assert state(kms, key_id) == "Enabled"
    listed = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")
    assert [r["KeyMaterialState"] for r in listed["Rotations"]] == ["CURRENT"]
    unknown = "0" * 64
    assert error_of(lambda: kms.delete_imported_key_material(KeyId=key_id, KeyMaterialId=unknown))[
        :2
    ] == ("NotFoundException", 400)


def test_imported_hmac_key_macs_with_the_imported_bytes(kms: Any, tmp_path: Path) -> None:
    key_id = external_key(kms, KeySpec="HMAC_384", KeyUsage="GENERATE_VERIFY_MAC")
    material = random_bytes(100)
    import_material(kms, tmp_path, key_id, material)
    mac = kms.generate_mac(KeyId=key_id, Message=b"message", MacAlgorithm="HMAC_SHA_384")["Mac"]
    assert mac == hmac.new(material, b"message", hashlib.sha384).digest()
    assert (
        error_of(
            lambda: import_material(
                kms, tmp_path, key_id, random_bytes(64), ImportType="NEW_KEY_MATERIAL", **FOREVER
            )
        )[0]
        == "IncorrectKeyMaterialException"
    )
    assert (
        error_of(
            lambda: import_material(
                kms, tmp_path, key_id, material, KeyMaterialDescription="x", **FOREVER
            )
        )[0]
        == "ValidationException"
    )


@pytest.mark.parametrize(
    ("key_spec", "algorithm"),
    [
        ("ECC_NIST_P256", OAEP_256),
        ("ECC_NIST_P521", AES_WRAP_256),
        ("ECC_NIST_EDWARDS25519", "RSAES_OAEP_SHA_1"),
    ],
)
def test_imported_signing_key_signs_as_openssl_checks(
    kms: Any, tmp_path: Path, key_spec: str, algorithm: str
) -> None:
    from cryptography.hazmat.primitives import serialization

    from tests.support.byok_openssl import private_key
    from tests.support.openssl import verify

    key_id = external_key(kms, KeySpec=key_spec, KeyUsage="SIGN_VERIFY")
    material = private_key(tmp_path, key_spec)
    import_material(kms, tmp_path, key_id, material, algorithm)
    ours = serialization.load_der_private_key(material, password=None)
    expected = ours.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public = kms.get_public_key(KeyId=key_id)
    assert public["PublicKey"] == expected
    signing = public["SigningAlgorithms"][0]
    signature = kms.sign(
        KeyId=key_id, Message=b"signed", MessageType="RAW", SigningAlgorithm=signing
    )["Signature"]
    assert verify(tmp_path, expected, signing, b"signed", signature, digest=False)


def test_imported_rsa_key_decrypts_what_openssl_encrypts(kms: Any, tmp_path: Path) -> None:
    from tests.support.byok_openssl import private_key
    from tests.support.openssl import oaep_encrypt

    key_id = external_key(kms, KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")
    import_material(
        kms, tmp_path, key_id, private_key(tmp_path, "RSA_2048"), "RSA_AES_KEY_WRAP_SHA_1"
    )
    public = kms.get_public_key(KeyId=key_id)["PublicKey"]
    blob = oaep_encrypt(tmp_path, public, OAEP_256, b"to the imported key")
    plain = kms.decrypt(KeyId=key_id, CiphertextBlob=blob, EncryptionAlgorithm=OAEP_256)
    assert plain["Plaintext"] == b"to the imported key"


def test_an_imported_key_is_destroyed_at_the_end_of_its_window(
    own_server: InProcessServer, tmp_path: Path
) -> None:
    kms = own_server.client()
    key_id = external_key(kms)
    import_material(kms, tmp_path, key_id, random_bytes(32))
    import_material(
        kms, tmp_path, key_id, random_bytes(32), ImportType="NEW_KEY_MATERIAL", **FOREVER
    )
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    own_server.clock.advance(timedelta(days=7, minutes=1))
    deadline = time.monotonic() + 10
    while True:
        try:
            kms.describe_key(KeyId=key_id)
        except ClientError as error:
            assert error.response["Error"]["Code"] == "NotFoundException"
            break
        assert time.monotonic() < deadline, "the key was never destroyed"
        time.sleep(0.05)
