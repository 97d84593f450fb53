"""The KeyStore interface: where key material lives and where crypto with it happens.

Material leaves a store only wrapped (to be kept in the database) or as a
:class:`MaterialCipher`, an object that performs AEAD with the material without exposing it.
A PKCS#11 store implements the same interface with the work done inside the token.
"""

from __future__ import annotations

from typing import Protocol


class MaterialCipher(Protocol):
    """AES-256-GCM with one key material version."""

    def encrypt(self, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        """Return ``(nonce, ciphertext || tag)`` with a fresh random nonce."""
        ...

    def decrypt(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        """Return the plaintext or raise InvalidCiphertextException."""
        ...


class KeyStore(Protocol):
    @property
    def store_id(self) -> str: ...

    def new_material(self, key_arn: str, material_id: str) -> bytes:
        """Create fresh material for a key version; return it wrapped for storage."""
        ...

    def open_material(self, key_arn: str, material_id: str, wrapped: bytes) -> MaterialCipher:
        """Unwrap stored material (checking its binding to key and version)."""
        ...

    def seal_secret(self, purpose: str, name: str, secret: bytes) -> bytes:
        """Encrypt a non-key secret (an access key's secret, say) under the root key."""
        ...

    def unseal_secret(self, purpose: str, name: str, sealed: bytes) -> bytes: ...
