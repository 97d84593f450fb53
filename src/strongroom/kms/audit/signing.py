"""The audit signing key: one Ed25519 key per data directory, sealed under the root key.

The private key is generated on first use and stored only as ``seal_secret`` output; the public
key is stored in clear so that anyone holding the database can check signed chain heads.
``strongroom audit verify`` also unseals the private key and checks that it belongs to the
stored public key, so swapping in a public key of one's own is detected.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from strongroom.kms.storage.audit_commit import ChainWrites

SEAL_PURPOSE = "audit-signing-key"


class SecretSealer(Protocol):
    """The part of the KeyStore interface the audit trail needs."""

    def seal_secret(self, purpose: str, name: str, secret: bytes) -> bytes: ...

    def unseal_secret(self, purpose: str, name: str, sealed: bytes) -> bytes: ...


def key_id_of(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:32]


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class AuditSigningKey:
    key_id: str
    public_key: bytes
    _private: Ed25519PrivateKey

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def __repr__(self) -> str:
        return f"AuditSigningKey({self.key_id!r})"

    @classmethod
    def create(cls, records: ChainWrites, store: SecretSealer, now: datetime) -> AuditSigningKey:
        """A new signing key, added in ``records``' transaction."""
        private = Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes_raw()
        key_id = key_id_of(public)
        sealed = store.seal_secret(SEAL_PURPOSE, key_id, private.private_bytes_raw())
        records.add_signing_key(key_id, public, sealed, now)
        return cls(key_id, public, private)

    @classmethod
    def unseal(cls, store: SecretSealer, key_id: str, sealed: bytes) -> AuditSigningKey:
        private = Ed25519PrivateKey.from_private_bytes(
            store.unseal_secret(SEAL_PURPOSE, key_id, sealed)
        )
        return cls(key_id, private.public_key().public_bytes_raw(), private)
