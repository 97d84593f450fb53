"""The audit signing key: one Ed25519 key per data directory, sealed under the root key.

The private key is generated on first use and stored only as ``seal_secret`` output; the public
key is stored in clear so that anyone holding the database can check signed chain heads.
``strongroom audit verify`` also unseals the private key and checks that it belongs to the
stored public key, so swapping in a public key of one's own is detected.

Signing goes through libsodium (PyNaCl), checking through ``cryptography``: Ed25519 is
deterministic (RFC 8032), so both make the same signature bytes, and libsodium signs in ~19 µs
where ``cryptography`` on OpenSSL 3 takes ~45 (its EVP set-up per call). The writer signs once
per group commit, so at low concurrency this was a quarter of a commit's fixed cost
(docs/adr/0038).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nacl.signing import SigningKey

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
    _signer: SigningKey

    def sign(self, message: bytes) -> bytes:
        return self._signer.sign(message).signature

    def __repr__(self) -> str:
        return f"AuditSigningKey({self.key_id!r})"

    @classmethod
    def create(cls, records: ChainWrites, store: SecretSealer, now: datetime) -> AuditSigningKey:
        """A new signing key, added in ``records``' transaction."""
        signer = SigningKey.generate()
        public = bytes(signer.verify_key)
        key_id = key_id_of(public)
        sealed = store.seal_secret(SEAL_PURPOSE, key_id, bytes(signer))  # the 32-byte seed
        records.add_signing_key(key_id, public, sealed, now)
        return cls(key_id, public, signer)

    @classmethod
    def unseal(cls, store: SecretSealer, key_id: str, sealed: bytes) -> AuditSigningKey:
        signer = SigningKey(store.unseal_secret(SEAL_PURPOSE, key_id, sealed))
        return cls(key_id, bytes(signer.verify_key), signer)
