"""The audit signing key: libsodium signs (docs/adr/0038), and what it signs is standard
Ed25519 that ``cryptography`` and OpenSSL's command line verify, byte for byte what OpenSSL
itself signs with the same key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from strongroom.kms.audit.chain import head_message
from strongroom.kms.audit.signing import SEAL_PURPOSE, AuditSigningKey, verify_signature
from strongroom.kms.keystores.software import SoftwareKeyStore
from strongroom.kms.storage.database import Database
from tests.support import openssl
from tests.unit.kms.audit.helpers import new_store, open_db

NOW = datetime(2026, 12, 5, tzinfo=UTC)
MESSAGE = head_message(42, b"\x07" * 32, NOW.isoformat(timespec="microseconds"))


def _create(db: Database, store: SoftwareKeyStore) -> tuple[AuditSigningKey, bytes]:
    """A new key and its sealed seed, as the database holds them."""
    with db.transaction() as tx:
        key = AuditSigningKey.create(tx.audit, store, NOW)
        found = tx.audit.first_signing_key()
    assert found is not None and found[0] == key.key_id
    return key, found[1]


def test_a_signature_is_the_one_openssl_makes_with_the_same_key(tmp_path: Path) -> None:
    store = new_store()
    key, sealed = _create(open_db(tmp_path), store)
    same_key = Ed25519PrivateKey.from_private_bytes(
        store.unseal_secret(SEAL_PURPOSE, key.key_id, sealed)
    )
    assert same_key.public_key().public_bytes_raw() == key.public_key
    signature = key.sign(MESSAGE)
    assert len(signature) == 64
    assert signature == same_key.sign(MESSAGE)  # RFC 8032 signatures are deterministic
    assert verify_signature(key.public_key, MESSAGE, signature)
    assert not verify_signature(key.public_key, MESSAGE + b".", signature)


def test_openssls_command_line_verifies_a_head_signature(tmp_path: Path) -> None:
    key, _ = _create(open_db(tmp_path), new_store())
    public_der = Ed25519PublicKey.from_public_bytes(key.public_key).public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    )
    signature = key.sign(MESSAGE)
    assert openssl.verify(tmp_path, public_der, "ED25519_SHA_512", MESSAGE, signature, digest=False)
    forged = bytes([signature[0] ^ 1]) + signature[1:]
    assert not openssl.verify(
        tmp_path, public_der, "ED25519_SHA_512", MESSAGE, forged, digest=False
    )


def test_an_unsealed_key_is_the_created_key(tmp_path: Path) -> None:
    store = new_store()
    key, sealed = _create(open_db(tmp_path), store)
    again = AuditSigningKey.unseal(store, key.key_id, sealed)
    assert (again.key_id, again.public_key) == (key.key_id, key.public_key)
    assert again.sign(MESSAGE) == key.sign(MESSAGE)
    assert repr(key) == f"AuditSigningKey({key.key_id!r})"  # never the seed
