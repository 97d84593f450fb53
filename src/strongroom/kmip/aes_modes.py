"""AES as KMIP's Encrypt and Decrypt ask for it: CBC (padding PKCS5 or none), CTR, and GCM
(tag 4-16 bytes, additional authenticated data). ECB is refused (it shows equal blocks). The
IV is the client's, or made here (12 bytes for GCM, 16 for CBC and CTR) and returned."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from strongroom.kmip.enums import BlockCipherMode, PaddingMethod
from strongroom.kmip.errors import (
    KmipCryptographicFailure,
    KmipFeatureNotSupported,
    KmipInvalidField,
)

BLOCK = 16
_IV_BYTES = {BlockCipherMode.CBC: 16, BlockCipherMode.CTR: 16, BlockCipherMode.GCM: 12}


def _plain_mode(mode: int, iv: bytes | None) -> modes.CBC | modes.CTR:
    assert iv is not None
    return modes.CBC(iv) if mode == BlockCipherMode.CBC else modes.CTR(iv)


def _check(mode: int, pad: int | None, iv: bytes | None) -> None:
    if mode not in _IV_BYTES:
        raise KmipFeatureNotSupported(f"Block Cipher Mode {mode:#x} is not supported.")
    if pad not in (None, PaddingMethod.NONE, PaddingMethod.PKCS5):
        raise KmipFeatureNotSupported("Padding Method is None or PKCS5.")
    if pad == PaddingMethod.PKCS5 and mode != BlockCipherMode.CBC:
        raise KmipInvalidField("PKCS5 padding goes with CBC.")
    if iv is not None:
        if mode == BlockCipherMode.GCM and not 1 <= len(iv) <= 128:
            raise KmipInvalidField("A GCM IV is 1 to 128 bytes.")
        if mode != BlockCipherMode.GCM and len(iv) != BLOCK:
            raise KmipInvalidField("The IV is 16 bytes.")


def encrypt(
    key: bytes,
    mode: int,
    pad: int | None,
    data: bytes,
    *,
    iv: bytes | None,
    aad: bytes | None,
    tag_length: int,
) -> tuple[bytes, bytes | None, bytes | None]:
    """(ciphertext, the IV made here or None, GCM tag or None)."""
    _check(mode, pad, iv)
    made = None
    if iv is None:
        iv = made = os.urandom(_IV_BYTES[BlockCipherMode(mode)])
    if pad == PaddingMethod.PKCS5:
        padder = padding.PKCS7(128).padder()
        data = padder.update(data) + padder.finalize()
    elif mode == BlockCipherMode.CBC and len(data) % BLOCK:
        raise KmipInvalidField("Without padding, data is a multiple of 16 bytes.")
    if mode == BlockCipherMode.GCM:
        assert iv is not None
        sealing = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
        if aad:
            sealing.authenticate_additional_data(aad)
        ciphertext = sealing.update(data) + sealing.finalize()
        return ciphertext, made, sealing.tag[:tag_length]
    encryptor = Cipher(algorithms.AES(key), _plain_mode(mode, iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize(), made, None


def decrypt(
    key: bytes,
    mode: int,
    pad: int | None,
    data: bytes,
    *,
    iv: bytes | None,
    aad: bytes | None,
    tag: bytes | None,
) -> bytes:
    _check(mode, pad, iv)
    if iv is None:
        raise KmipInvalidField("IV/Counter/Nonce is required to decrypt.")
    if mode == BlockCipherMode.GCM and (tag is None or not 4 <= len(tag) <= 16):
        raise KmipInvalidField("GCM decryption needs the Authenticated Encryption Tag.")
    if mode == BlockCipherMode.CBC and len(data) % BLOCK:
        raise KmipCryptographicFailure("The ciphertext is not a multiple of 16 bytes.")
    if mode == BlockCipherMode.GCM:
        assert iv is not None and tag is not None
        opening = Cipher(algorithms.AES(key), modes.GCM(iv, tag, min_tag_length=4)).decryptor()
        if aad:
            opening.authenticate_additional_data(aad)
        try:
            return opening.update(data) + opening.finalize()
        except InvalidTag:
            raise KmipCryptographicFailure("The authentication tag does not match.") from None
    decryptor = Cipher(algorithms.AES(key), _plain_mode(mode, iv)).decryptor()
    plaintext = decryptor.update(data) + decryptor.finalize()
    if pad == PaddingMethod.PKCS5:
        unpadder = padding.PKCS7(128).unpadder()
        try:
            plaintext = unpadder.update(plaintext) + unpadder.finalize()
        except ValueError:
            raise KmipCryptographicFailure("The padding is invalid.") from None
    return plaintext
