"""Signing keys, derived once per (secret, day, region) and kept ready to sign."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from strongroom.sigv4.algorithm import derive_signing_key

if TYPE_CHECKING:
    from hashlib import _Hash

DEFAULT_CACHE_SIZE = 10_000


class SigningKey:
    """A derived SigV4 signing key with its HMAC-SHA256 pads absorbed (RFC 2104).

    Keeping the two pad-absorbed SHA-256 states instead of the key itself makes each signature
    two state copies and two short updates. ``repr`` never shows the key.
    """

    __slots__ = ("_inner", "_outer", "key")

    def __init__(self, key: bytes) -> None:
        self.key = key
        block = key.ljust(64, b"\0")  # a SHA-256 output is shorter than the 64-byte block
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def __repr__(self) -> str:
        return "SigningKey(<redacted>)"

    def sign(self, message: bytes) -> bytes:
        """The hex HMAC-SHA256 of ``message`` (ASCII bytes, as sent in a request)."""
        inner: _Hash = self._inner.copy()
        outer: _Hash = self._outer.copy()
        inner.update(message)
        outer.update(inner.digest())
        return outer.hexdigest().encode("ascii")


class SigningKeyCache:
    """Signing keys of one service by (secret, date, region), at most ``max_size`` of them.

    The secret is part of the cache key on purpose: a changed secret is never served from the
    cache. When full, the cache is emptied (keys change daily; a full cache means many secrets).
    """

    def __init__(self, service: str, max_size: int = DEFAULT_CACHE_SIZE) -> None:
        self._service = service
        self._max = max_size
        self._keys: dict[tuple[bytes, str, str], SigningKey] = {}

    def __repr__(self) -> str:
        return f"SigningKeyCache(service={self._service!r}, size={len(self._keys)})"

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, secret: bytes, date: str, region: str) -> SigningKey:
        cache_key = (secret, date, region)
        found = self._keys.get(cache_key)
        if found is None:
            if len(self._keys) >= self._max:
                self._keys.clear()
            found = SigningKey(derive_signing_key(secret, date, region, self._service))
            self._keys[cache_key] = found
        return found
