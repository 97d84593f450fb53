"""Root key providers: what the default key store wraps everything under.

A provider does one thing: AES-256-GCM wrap and unwrap of small blobs (key material, sealed
secrets) with associated data, in the layout ``nonce (12) || ciphertext || tag (16)``. Where
the root key lives is the provider's business:

- :class:`FileRootKey` holds it in this process's memory (loaded from ``root.key``, 0600);
- :class:`~strongroom.kms.rootkey.hsm.HsmRootKey` keeps it inside a PKCS#11 token
  and never sees it: wrap and unwrap run in the token.

Both write the same layout, so a blob does not say which provider made it; the database records
which one the data directory uses (``meta.root_key``) and ``strongroom admin migrate-root-key``
moves every blob from one to the other.
"""

from __future__ import annotations

import os
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.kms.domain.secrets import Secret

NONCE_BYTES = 12


class RootKeyUnwrapFailed(Exception):
    """A blob did not authenticate under the root key (corruption, wrong key or wrong AAD)."""


class RootKeyUnavailable(Exception):
    """The root key cannot be used right now (for example its HSM token is unreachable)."""


class RootKeyProvider(Protocol):
    @property
    def descriptor(self) -> str:
        """What the data directory records as its root key: ``file`` or ``pkcs11:<label>``."""
        ...

    def wrap(self, data: bytes, aad: bytes) -> bytes:
        """``nonce || AES-256-GCM(data, aad)`` with a fresh random 12-byte nonce."""
        ...

    def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        """The data; RootKeyUnwrapFailed if the blob does not authenticate."""
        ...

    def close(self) -> None:
        """Release what the provider holds (an HSM login); later calls may fail."""
        ...


class FileRootKey:
    """The embedded default: the root key's 32 bytes in memory, AES-GCM in ``cryptography``."""

    __slots__ = ("_aead",)

    def __init__(self, root_key: Secret) -> None:
        self._aead = AESGCM(root_key.reveal())

    @property
    def descriptor(self) -> str:
        return "file"

    def wrap(self, data: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data, aad)

    def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError):
            raise RootKeyUnwrapFailed() from None

    def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return "FileRootKey(<redacted>)"
