"""A bounded cache of data keys, so many small files cost one KMS call, not one each.

An encryption entry is reused for at most ``max_messages`` messages, ``max_bytes`` plaintext
bytes and ``max_age_seconds`` seconds (the same three bounds as the Encryption SDK's caching
materials manager); whichever comes first retires it. Every message still gets its own random
message id, so its encryption key and commitment are its own (HKDF over the data key and the
message id). For the signed suite the signing key is cached with the data key, as the SDK does.
Decryption entries map (suite, encrypted data keys, context) to the data key, bounded by age.
Only messages whose plaintext size is known in advance use the encryption cache.
"""

from __future__ import annotations

import hashlib
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from strongroom.envelope.format import EncryptedDataKey, serialize_context


@dataclass(frozen=True)
class EncryptionMaterials:
    suite_id: int
    data_key: bytes
    encrypted_data_keys: tuple[EncryptedDataKey, ...]
    encryption_context: Mapping[str, str]
    signing_key: ec.EllipticCurvePrivateKey | None

    def __repr__(self) -> str:
        return f"EncryptionMaterials(suite_id={self.suite_id:#06x}, data_key=<redacted>)"


@dataclass(frozen=True)
class CacheLimits:
    max_age_seconds: float = 300.0
    max_messages: int = 1000
    max_bytes: int = 2**32
    capacity: int = 64

    def __post_init__(self) -> None:
        if self.max_age_seconds <= 0 or self.max_messages < 1 or self.max_bytes < 0:
            raise ValueError("cache limits must be positive")


@dataclass
class _Entry:
    materials: EncryptionMaterials
    created: float
    messages: int = 0
    bytes: int = 0


def encryption_cache_key(
    suite_id: int, key_ids: Sequence[str], context: Mapping[str, str]
) -> bytes:
    digest = hashlib.sha512(struct.pack(">H", suite_id))
    for key_id in key_ids:
        digest.update(struct.pack(">I", len(key_id)) + key_id.encode())
    digest.update(b"\x00" + serialize_context(context))
    return digest.digest()


def decryption_cache_key(
    suite_id: int, keys: Sequence[EncryptedDataKey], context: Mapping[str, str]
) -> bytes:
    digest = hashlib.sha512(struct.pack(">H", suite_id))
    for key in sorted(keys, key=lambda k: (k.provider_id, k.provider_info, k.ciphertext)):
        for part in (key.provider_id.encode(), key.provider_info.encode(), key.ciphertext):
            digest.update(struct.pack(">I", len(part)) + part)
    digest.update(b"\x00" + serialize_context(context))
    return digest.digest()


class DataKeyCache:
    """Thread-safe LRU cache of encryption materials and decrypted data keys."""

    def __init__(
        self, limits: CacheLimits | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or CacheLimits()
        self._clock = clock
        self._lock = threading.Lock()
        self._encrypt: OrderedDict[bytes, _Entry] = OrderedDict()
        self._decrypt: OrderedDict[bytes, tuple[bytes, float]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def take_encryption(self, key: bytes, plaintext_size: int) -> EncryptionMaterials | None:
        """Count one more message of ``plaintext_size`` bytes against a live entry, if any."""
        with self._lock:
            entry = self._encrypt.get(key)
            if entry is not None:
                expired = self._clock() - entry.created >= self.limits.max_age_seconds
                if (
                    expired
                    or entry.messages + 1 > self.limits.max_messages
                    or entry.bytes + plaintext_size > self.limits.max_bytes
                ):
                    del self._encrypt[key]
                    entry = None
            if entry is None:
                self.misses += 1
                return None
            entry.messages += 1
            entry.bytes += plaintext_size
            self._encrypt.move_to_end(key)
            self.hits += 1
            return entry.materials

    def put_encryption(
        self, key: bytes, materials: EncryptionMaterials, plaintext_size: int
    ) -> None:
        """Store fresh materials already used for one message of ``plaintext_size`` bytes."""
        if plaintext_size > self.limits.max_bytes:
            return
        with self._lock:
            self._encrypt[key] = _Entry(materials, self._clock(), 1, plaintext_size)
            self._encrypt.move_to_end(key)
            while len(self._encrypt) > self.limits.capacity:
                self._encrypt.popitem(last=False)

    def get_decryption(self, key: bytes) -> bytes | None:
        with self._lock:
            found = self._decrypt.get(key)
            if found is None:
                self.misses += 1
                return None
            data_key, created = found
            if self._clock() - created >= self.limits.max_age_seconds:
                del self._decrypt[key]
                self.misses += 1
                return None
            self._decrypt.move_to_end(key)
            self.hits += 1
            return data_key

    def put_decryption(self, key: bytes, data_key: bytes) -> None:
        with self._lock:
            self._decrypt[key] = (data_key, self._clock())
            while len(self._decrypt) > self.limits.capacity:
                self._decrypt.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._encrypt.clear()
            self._decrypt.clear()
