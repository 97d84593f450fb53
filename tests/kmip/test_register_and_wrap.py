"""Register (AES, HMAC, RSA private keys) and Get with key wrapping (NIST Key Wrap), checked
with ``cryptography``'s RFC 3394 implementation."""

from __future__ import annotations

import os
from typing import Any

import pytest
from cryptography.hazmat.primitives import keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from kmip.core import enums
from kmip.pie.exceptions import KmipOperationFailure
from kmip.pie.objects import PrivateKey, SymmetricKey

M = enums.CryptographicUsageMask


def test_a_registered_aes_key_comes_back_byte_for_byte(proxy: Any, tenant: Any) -> None:
    material = os.urandom(32)
    uid = proxy.register(SymmetricKey(enums.CryptographicAlgorithm.AES, 256, material, name="byok"))
    assert proxy.get(uid).value == material
    metadata = tenant.kms.describe_key(KeyId=uid)["KeyMetadata"]
    assert metadata["Description"] == "KMIP byok"
    assert metadata["KeyState"] == "Disabled"


def test_a_registered_rsa_private_key_signs_and_exports_as_pkcs8(proxy: Any) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    uid = proxy.register(
        PrivateKey(
            enums.CryptographicAlgorithm.RSA, 2048, der, enums.KeyFormatType.PKCS_8, [M.SIGN]
        )
    )
    got = proxy.get(uid)
    assert got.key_format_type == enums.KeyFormatType.PKCS_8
    assert got.value == der
    public = proxy.get(uid + "/public")
    loaded = serialization.load_der_public_key(public.value)
    assert loaded.public_numbers() == private.public_key().public_numbers()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("algorithm", "length", "reason"),
    [
        (enums.CryptographicAlgorithm.AES, 128, enums.ResultReason.INVALID_FIELD),
        (enums.CryptographicAlgorithm.AES, 192, enums.ResultReason.INVALID_FIELD),
    ],
    ids=["aes-128", "aes-192"],
)
def test_registering_lengths_the_kms_does_not_hold_is_refused(
    proxy: Any, algorithm: Any, length: int, reason: Any
) -> None:
    with pytest.raises(KmipOperationFailure) as failure:
        proxy.register(SymmetricKey(algorithm, length, os.urandom(length // 8)))
    assert failure.value.reason == reason


def _wrapping_key(proxy: Any) -> tuple[str, bytes]:
    material = os.urandom(32)
    uid = proxy.register(
        SymmetricKey(enums.CryptographicAlgorithm.AES, 256, material, [M.WRAP_KEY, M.UNWRAP_KEY])
    )
    proxy.activate(uid)
    return uid, material


def _spec(wrapping_uid: str, encoding: Any | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "wrapping_method": enums.WrappingMethod.ENCRYPT,
        "encryption_key_information": {
            "unique_identifier": wrapping_uid,
            "cryptographic_parameters": {"block_cipher_mode": enums.BlockCipherMode.NIST_KEY_WRAP},
        },
    }
    if encoding is not None:
        spec["encoding_option"] = encoding
    return spec


def test_get_wraps_the_key_material_with_nist_key_wrap(proxy: Any) -> None:
    wrapping_uid, wrapping_material = _wrapping_key(proxy)
    target = proxy.create(enums.CryptographicAlgorithm.AES, 256)
    plain = proxy.get(target).value
    wrapped = proxy.get(
        target, key_wrapping_specification=_spec(wrapping_uid, enums.EncodingOption.NO_ENCODING)
    )
    assert wrapped.value != plain
    assert keywrap.aes_key_unwrap(wrapping_material, wrapped.value) == plain
    assert wrapped.key_wrapping_data["wrapping_method"] == enums.WrappingMethod.ENCRYPT
    info = wrapped.key_wrapping_data["encryption_key_information"]
    assert info["unique_identifier"] == wrapping_uid


def test_by_default_the_ttlv_key_value_is_wrapped(proxy: Any) -> None:
    wrapping_uid, wrapping_material = _wrapping_key(proxy)
    target = proxy.create(enums.CryptographicAlgorithm.AES, 256)
    plain = proxy.get(target).value
    wrapped = proxy.get(target, key_wrapping_specification=_spec(wrapping_uid))
    key_value = keywrap.aes_key_unwrap(wrapping_material, wrapped.value)
    # Key Value (0x420045, structure, 40 bytes) holding Key Material (0x420043, 32 bytes).
    assert key_value == bytes.fromhex("42004501000000284200430800000020") + plain


def test_a_wrapping_key_of_another_account_is_not_found(proxy: Any, world: Any, other: Any) -> None:
    stranger = world.proxy(other.pair)
    try:
        foreign_uid, _ = _wrapping_key(stranger)
    finally:
        stranger.close()
    target = proxy.create(enums.CryptographicAlgorithm.AES, 256)
    with pytest.raises(KmipOperationFailure) as failure:
        proxy.get(target, key_wrapping_specification=_spec(foreign_uid))
    assert failure.value.reason == enums.ResultReason.ITEM_NOT_FOUND


def test_a_pre_active_wrapping_key_does_not_wrap(proxy: Any) -> None:
    wrapping_uid = proxy.create(enums.CryptographicAlgorithm.AES, 256)
    target = proxy.create(enums.CryptographicAlgorithm.AES, 256)
    with pytest.raises(KmipOperationFailure) as failure:
        proxy.get(target, key_wrapping_specification=_spec(wrapping_uid))
    assert failure.value.reason == enums.ResultReason.PERMISSION_DENIED
