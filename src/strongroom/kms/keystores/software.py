"""The default key store: material made in software, wrapped with AES-256-GCM under a root key.

The root key is a :class:`~strongroom.kms.rootkey.providers.RootKeyProvider`: held in memory
(the embedded default, from ``root.key``) or inside a PKCS#11 token (``rootkey.hsm``). Either
way the wrapped blobs have one layout and one AAD scheme (:func:`material_aad`,
:func:`secret_aad`), which is what lets ``migrate-root-key`` re-wrap them from one to the other.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.kms.domain.enums import KeySpec
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.errors import (
    InvalidCiphertextException,
    KeyUnavailableException,
    KMSInternalException,
)
from strongroom.kms.keystores.asymmetric import (
    HMAC_SPECS,
    AsymmetricMaterial,
    HmacMaterial,
    new_secret_material,
)
from strongroom.kms.keystores.base import MaterialHandle
from strongroom.kms.rootkey.providers import (
    FileRootKey,
    RootKeyProvider,
    RootKeyUnavailable,
    RootKeyUnwrapFailed,
)

_NONCE = 12
MATERIAL_BYTES = 32


class AesGcmMaterial:
    """A MaterialCipher over material held in this process's memory."""

    __slots__ = ("_aead",)

    def __init__(self, material: bytes) -> None:
        self._aead = AESGCM(material)

    def encrypt(self, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        # A fresh random nonce from the kernel for every Encrypt, never drawn ahead: a
        # process (or a VM) restored twice from one snapshot must not hand out the same
        # nonces twice under a key (docs/adr/0040).
        nonce = os.urandom(_NONCE)
        return nonce, self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise InvalidCiphertextException() from None

    def __repr__(self) -> str:
        return "AesGcmMaterial(<redacted>)"


def material_aad(store_id: str, key_arn: str, material_id: str, key_spec: KeySpec) -> bytes:
    """What a material blob is bound to: store, key, material version (and spec if not AES)."""
    parts = [b"strongroom/material/v1", store_id.encode(), key_arn.encode(), material_id.encode()]
    if key_spec is not KeySpec.SYMMETRIC_DEFAULT:
        # Other specs bind the spec too (symmetric AAD predates them and stays as it was).
        parts.append(key_spec.value.encode())
    return b"\0".join(parts)


def secret_aad(store_id: str, purpose: str, name: str) -> bytes:
    """What a sealed secret is bound to: store, purpose and the name of its owner."""
    return b"\0".join((b"strongroom/secret/v1", store_id.encode(), purpose.encode(), name.encode()))


class SoftwareKeyStore:
    def __init__(
        self,
        store_id: str,
        root_key: Secret | RootKeyProvider,
        *,
        fingerprint_key: Secret | None = None,
    ) -> None:
        self._store_id = store_id
        self._root: RootKeyProvider = (
            FileRootKey(root_key) if isinstance(root_key, Secret) else root_key
        )
        # BYOK: the key of the imported-material fingerprints (material ids). A random secret
        # of the store, sealed under the root key (app.py), so it survives root key migration.
        self._fingerprint_key = None if fingerprint_key is None else fingerprint_key.reveal()

    @property
    def store_id(self) -> str:
        return self._store_id

    @property
    def root(self) -> RootKeyProvider:
        return self._root

    def use_root(self, root: RootKeyProvider) -> RootKeyProvider:
        """Swap the root key provider; return the previous one.

        For root key rotation: the process that re-wraps everything keeps working with the
        new key inside the same transaction (the audit signing key is unsealed after the
        re-wrap), and swaps back if the transaction rolls back.
        """
        previous, self._root = self._root, root
        return previous

    def close(self) -> None:
        """Release the root key provider (an HSM login); the store is unusable afterwards."""
        self._root.close()

    def _material_aad(self, key_arn: str, material_id: str, key_spec: KeySpec) -> bytes:
        return material_aad(self._store_id, key_arn, material_id, key_spec)

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

    def export_material(
        self, key_arn: str, material_id: str, wrapped: bytes, key_spec: KeySpec
    ) -> Secret:
        """The material of an exportable key (a KMIP object): only KMIP Get and KMIP's own
        cryptographic operations ask for it (docs/adr/0023)."""
        return Secret(self._unwrap(wrapped, self._material_aad(key_arn, material_id, key_spec)))

    # --- BYOK: imported material -------------------------------------------------------

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
        if self._fingerprint_key is None:
            raise KMSInternalException("This key store was opened without its fingerprint key.")
        return hmac.new(self._fingerprint_key, message, hashlib.sha256).hexdigest()

    def seal_secret(self, purpose: str, name: str, secret: bytes) -> bytes:
        return self._wrap(secret, self._secret_aad(purpose, name))

    def unseal_secret(self, purpose: str, name: str, sealed: bytes) -> bytes:
        return self._unwrap(sealed, self._secret_aad(purpose, name))

    def _secret_aad(self, purpose: str, name: str) -> bytes:
        return secret_aad(self._store_id, purpose, name)

    def _wrap(self, data: bytes, aad: bytes) -> bytes:
        try:
            return self._root.wrap(data, aad)
        except RootKeyUnavailable:
            raise KeyUnavailableException("The key store's root key is unavailable.") from None

    def _unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        try:
            return self._root.unwrap(wrapped, aad)
        except RootKeyUnwrapFailed:
            # Stored material that does not unwrap is corruption or a wrong root key, not a
            # client error; say so without detail.
            raise KMSInternalException("Stored key material failed its integrity check.") from None
        except RootKeyUnavailable:
            raise KeyUnavailableException("The key store's root key is unavailable.") from None

    def __repr__(self) -> str:
        return f"SoftwareKeyStore({self._store_id!r})"
