"""The software key store: material wrapped with AES-256-GCM under a root key held in memory."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from strongroom.kms.domain.enums import KeySpec
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.errors import InvalidCiphertextException, KMSInternalException
from strongroom.kms.keystores.asymmetric import (
    HMAC_SPECS,
    AsymmetricMaterial,
    HmacMaterial,
    new_secret_material,
)
from strongroom.kms.keystores.base import MaterialHandle

_NONCE = 12
MATERIAL_BYTES = 32


class AesGcmMaterial:
    """A MaterialCipher over material held in this process's memory."""

    __slots__ = ("_aead",)

    def __init__(self, material: bytes) -> None:
        self._aead = AESGCM(material)

    def encrypt(self, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        nonce = os.urandom(_NONCE)
        return nonce, self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise InvalidCiphertextException() from None

    def __repr__(self) -> str:
        return "AesGcmMaterial(<redacted>)"


class SoftwareKeyStore:
    def __init__(self, store_id: str, root_key: Secret) -> None:
        self._store_id = store_id
        self._root = AESGCM(root_key.reveal())
        # BYOK: the key of the imported-material fingerprints (material ids), derived from the
        # root key for this one purpose and this store.
        self._fingerprint_key = HKDF(
            hashes.SHA256(), 32, salt=None, info=b"strongroom/fingerprint/v1\0" + store_id.encode()
        ).derive(root_key.reveal())

    @property
    def store_id(self) -> str:
        return self._store_id

    def _material_aad(self, key_arn: str, material_id: str, key_spec: KeySpec) -> bytes:
        parts = [
            b"strongroom/material/v1",
            self._store_id.encode(),
            key_arn.encode(),
            material_id.encode(),
        ]
        if key_spec is not KeySpec.SYMMETRIC_DEFAULT:
            # Other specs bind the spec too (symmetric AAD predates them and stays as it was).
            parts.append(key_spec.value.encode())
        return b"\0".join(parts)

    def new_material(
        self, key_arn: str, material_id: str, key_spec: KeySpec = KeySpec.SYMMETRIC_DEFAULT
    ) -> bytes:
        material = (
            secrets.token_bytes(MATERIAL_BYTES)
            if key_spec is KeySpec.SYMMETRIC_DEFAULT
            else new_secret_material(key_spec.value)
        )
        return self._wrap(material, self._material_aad(key_arn, material_id, key_spec))

    def open_material(self, key_arn: str, material_id: str, wrapped: bytes) -> AesGcmMaterial:
        aad = self._material_aad(key_arn, material_id, KeySpec.SYMMETRIC_DEFAULT)
        return AesGcmMaterial(self._unwrap(wrapped, aad))

    def open_handle(
        self, key_arn: str, material_id: str, wrapped: bytes, key_spec: KeySpec
    ) -> MaterialHandle:
        material = self._unwrap(wrapped, self._material_aad(key_arn, material_id, key_spec))
        if key_spec is KeySpec.SYMMETRIC_DEFAULT:
            return AesGcmMaterial(material)
        if key_spec.value in HMAC_SPECS:
            return HmacMaterial(key_spec.value, material)
        return AsymmetricMaterial.from_der(material)

    # --- BYOK: imported material (issue #7) ---------------------------------------------

    def import_material(
        self, key_arn: str, material_id: str, key_spec: KeySpec, material: bytes
    ) -> bytes:
        """Wrap imported material exactly as generated material: it opens the same way."""
        return self._wrap(material, self._material_aad(key_arn, material_id, key_spec))

    def imported_material_id(self, key_arn: str, material: bytes) -> str:
        """64 hex characters naming imported material: HMAC-SHA256 of key and material.

        Not a plain hash: without the store's key nobody can test a guess of the material
        against the id (which appears in every ciphertext blob).
        """
        message = b"\0".join((b"strongroom/imported-material/v1", key_arn.encode(), material))
        return hmac.new(self._fingerprint_key, message, hashlib.sha256).hexdigest()

    def seal_secret(self, purpose: str, name: str, secret: bytes) -> bytes:
        return self._wrap(secret, self._secret_aad(purpose, name))

    def unseal_secret(self, purpose: str, name: str, sealed: bytes) -> bytes:
        return self._unwrap(sealed, self._secret_aad(purpose, name))

    def _secret_aad(self, purpose: str, name: str) -> bytes:
        return b"\0".join(
            (b"strongroom/secret/v1", self._store_id.encode(), purpose.encode(), name.encode())
        )

    def _wrap(self, data: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._root.encrypt(nonce, data, aad)

    def _unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        try:
            return self._root.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], aad)
        except InvalidTag:
            # Stored material that does not unwrap is corruption or a wrong root key, not a
            # client error; say so without detail.
            raise KMSInternalException("Stored key material failed its integrity check.") from None

    def __repr__(self) -> str:
        return f"SoftwareKeyStore({self._store_id!r})"
