"""The KeyStore interface: where key material lives and where crypto with it happens.

Material leaves a store only wrapped (to be kept in the database) or as a handle that works
with the material without exposing it, one kind per key spec: a :class:`MaterialCipher` (AEAD)
for symmetric keys, a :class:`MacMaterial` for HMAC keys, an :class:`AsymmetricHandle` (sign,
verify, decrypt, derive) for RSA and ECC keys. A PKCS#11 store implements the same interface
with the work done inside the token.
"""

from __future__ import annotations

from typing import Protocol

from strongroom.kms.domain.enums import KeySpec
from strongroom.kms.domain.secrets import Secret


class MaterialCipher(Protocol):
    """AES-256-GCM with one key material version."""

    def encrypt(self, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        """Return ``(nonce, ciphertext || tag)`` with a fresh random nonce."""
        ...

    def decrypt(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        """Return the plaintext or raise InvalidCiphertextException."""
        ...


class MacMaterial(Protocol):
    """An HMAC key; the hash is fixed by its key spec."""

    def mac(self, message: bytes) -> bytes: ...

    def verify(self, message: bytes, mac: bytes) -> bool:
        """Constant-time comparison with the MAC of ``message``."""
        ...


class AsymmetricHandle(Protocol):
    """A private key (RSA, ECC, Ed25519, ML-DSA) that never leaves the store."""

    def public_key(self) -> bytes:
        """DER SubjectPublicKeyInfo."""
        ...

    def sign(self, algorithm: str, message: bytes, message_type: str) -> bytes:
        """Sign a RAW message, a DIGEST (never hashed again) or an EXTERNAL_MU (ML-DSA)."""
        ...

    def verify(
        self, algorithm: str, message: bytes, message_type: str, signature: bytes
    ) -> bool: ...

    def encrypt(self, algorithm: str, plaintext: bytes) -> bytes: ...

    def decrypt(self, algorithm: str, ciphertext: bytes) -> bytes:
        """RSAES-OAEP; InvalidCiphertextException on any failure."""
        ...

    def derive(self, peer_public_key: bytes) -> bytes:
        """Raw ECDH output; ValidationException for a peer key not on the key's curve."""
        ...

    def encapsulate(self) -> tuple[bytes, bytes]:
        """ML-KEM: (shared secret, ciphertext)."""
        ...

    def decapsulate(self, ciphertext: bytes) -> bytes:
        """ML-KEM; InvalidCiphertextException for a malformed ciphertext."""
        ...


MaterialHandle = MaterialCipher | MacMaterial | AsymmetricHandle


class KeyStore(Protocol):
    @property
    def store_id(self) -> str: ...

    def new_material(
        self, key_arn: str, material_id: str, key_spec: KeySpec = KeySpec.SYMMETRIC_DEFAULT
    ) -> bytes:
        """Create fresh material of a key spec for a key version; return it wrapped."""
        ...

    def open_material(self, key_arn: str, material_id: str, wrapped: bytes) -> MaterialCipher:
        """Unwrap stored symmetric material (checking its binding to key and version)."""
        ...

    def open_handle(
        self, key_arn: str, material_id: str, wrapped: bytes, key_spec: KeySpec
    ) -> MaterialHandle:
        """Unwrap stored material of any key spec (bound to key, version and spec)."""
        ...

    def import_material(
        self, key_arn: str, material_id: str, key_spec: KeySpec, material: bytes
    ) -> bytes:
        """Wrap imported (BYOK) material for a key version, as ``new_material`` would."""
        ...

    def imported_material_id(self, key_arn: str, material: bytes) -> str:
        """The material id of imported material: a keyed MAC of key and material (64 hex)."""
        ...

    def export_material(
        self, key_arn: str, material_id: str, wrapped: bytes, key_spec: KeySpec
    ) -> Secret:
        """The material itself, for exportable keys only (KMIP objects, docs/adr/0023); a
        store whose keys never leave it raises UnsupportedOperationException."""
        ...

    def seal_secret(self, purpose: str, name: str, secret: bytes) -> bytes:
        """Encrypt a non-key secret (an access key's secret, say) under the root key."""
        ...

    def unseal_secret(self, purpose: str, name: str, sealed: bytes) -> bytes: ...


class CustomKeyStores(Protocol):
    """This process's view of the custom key stores: their connection, their key stores."""

    def is_connected(self, custom_key_store_id: str) -> bool: ...

    def key_store(self, custom_key_store_id: str) -> KeyStore:
        """The store's KeyStore in this process (connecting it on first use); raises
        KeyUnavailableException when the store or its HSMs cannot be reached."""
        ...

    def external_cipher(
        self, store_id: str, xks_key_id: str, key_arn: str, inner: MaterialCipher
    ) -> MaterialCipher:
        """A key of an external key store: ``inner`` (its own material), then its external
        key through the store's XKS proxy (double encryption)."""
        ...
