"""The format of encrypted object data: AES-256-GCM in 64 KiB chunks (docs/formats.md).

Each blob (an object's data, or one part of a multipart object) has its own key, derived with
HKDF-SHA256 from the object's root key (a KMS data key, a bucket key or an SSE-C key), the
object's random salt and the blob's id. Chunk ``i`` is sealed with nonce ``i`` and an AAD that
binds the format version, the blob id, ``i`` and whether it is the last chunk, so chunks cannot
be reordered, moved between blobs, dropped or cut off at the end without failing. A range reads
and opens only the chunks it covers.
"""

from __future__ import annotations

import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

CHUNK = 64 * 1024
TAG = 16
SEALED_CHUNK = CHUNK + TAG
MAGIC = b"SR3B"
VERSION = 1
HEADER = MAGIC + bytes((VERSION,))  # 5 bytes at the start of every blob
_INFO = b"strongroom-s3 blob key v1\x00"


class CorruptData(Exception):
    """A chunk failed authentication: wrong key, or the data was changed."""


def blob_key(root: bytes, salt: bytes, blob_id: str) -> AESGCM:
    info = _INFO + bytes.fromhex(blob_id)
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(root)
    return AESGCM(key)


def _nonce(index: int) -> bytes:
    return struct.pack(">IQ", 0, index)


def _aad(blob_id: str, index: int, final: bool) -> bytes:
    return HEADER + bytes.fromhex(blob_id) + struct.pack(">QB", index, final)


def sealed_size(plain_size: int) -> int:
    chunks = max(1, -(-plain_size // CHUNK))
    return len(HEADER) + plain_size + chunks * TAG


def chunk_count(plain_size: int) -> int:
    return max(1, -(-plain_size // CHUNK))


class Encryptor:
    """Seals a stream into one blob; keeps back up to one chunk until it knows which is last."""

    def __init__(self, aead: AESGCM, blob_id: str) -> None:
        self._aead = aead
        self._blob_id = blob_id
        self._pending = bytearray()
        self._index = 0
        self.size = 0

    def header(self) -> bytes:
        return HEADER

    def feed(self, data: bytes | memoryview) -> list[bytes]:
        """Seal every full chunk that more data follows; keep the rest (at most one chunk)."""
        self.size += len(data)
        if len(self._pending) + len(data) <= CHUNK:
            self._pending += data
            return []
        view = memoryview(data)
        take = CHUNK - len(self._pending)
        self._pending += view[:take]
        out = [self._seal(self._pending, final=False)]  # data follows it: not the last
        view = view[take:]
        while len(view) > CHUNK:
            out.append(self._seal(view[:CHUNK], final=False))
            view = view[CHUNK:]
        self._pending = bytearray(view)
        return out

    def finish(self) -> bytes:
        sealed = self._seal(bytes(self._pending), final=True)
        self._pending.clear()
        return sealed

    def _seal(self, chunk: bytes | bytearray | memoryview, *, final: bool) -> bytes:
        index = self._index
        self._index += 1
        return self._aead.encrypt(_nonce(index), chunk, _aad(self._blob_id, index, final))


def open_chunk(aead: AESGCM, blob_id: str, index: int, final: bool, sealed: bytes) -> bytes:
    try:
        return aead.decrypt(_nonce(index), sealed, _aad(blob_id, index, final))
    except InvalidTag:
        raise CorruptData(blob_id) from None


def chunk_span(plain_size: int, index: int) -> tuple[int, int]:
    """(offset in the blob, sealed length) of chunk ``index`` of a blob of ``plain_size``."""
    start = index * CHUNK
    length = min(CHUNK, plain_size - start)
    return len(HEADER) + index * SEALED_CHUNK, length + TAG
