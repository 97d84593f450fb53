"""The backup file: a clear header, then AES-256-GCM chunks under a key the root key wraps.

Layout (docs/formats.md "Backup files")::

    MAGIC                      b"STRONGROOM-BACKUP\\x00v1\\n"
    header length              4 bytes, big-endian
    header                     UTF-8 JSON (Header), in clear: what restore needs to know
                               before it can decrypt (which root key, which store)
    chunks, each:
      length                   4 bytes, big-endian (of what follows)
      sealed                   AES-256-GCM(backup key, nonce = 4 zero bytes || index (8 BE),
                                 zlib(plaintext), aad = SHA-256(MAGIC || header) || index
                                 (8 BE) || final flag (1 byte))

The backup key is random per backup and stored only wrapped by the root key provider (file
key or HSM) with AAD binding it to the backup id and the store: without that root key the file
is noise. Every chunk authenticates the header, its position and whether it is the last, so an
edited, reordered, truncated or extended file is refused.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import BinaryIO, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC: Final = b"STRONGROOM-BACKUP\x00v1\n"
FORMAT_VERSION: Final = 1
CHUNK_BYTES: Final = 1 << 20
MAX_HEADER_BYTES: Final = 1 << 20
MAX_SEALED_CHUNK: Final = CHUNK_BYTES * 2
_LENGTH = struct.Struct(">I")


class BackupError(Exception):
    """The backup cannot be read: not a backup, damaged or altered, or the wrong root key."""


@dataclass(frozen=True, slots=True)
class Header:
    """The clear part of a backup. Nothing secret: ids, times, counts, the wrapped key."""

    backup_id: str
    created_at: str
    store_id: str
    region: str
    root_key: str  # meta.root_key of the data directory: "file:<kcv>" or "pkcs11:<label>"
    schema_version: str
    wrapped_key: str  # hex: the backup key wrapped by the root key (key_aad)
    format: int = FORMAT_VERSION

    def encode(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Header:
        try:
            fields = json.loads(raw)
            header = cls(**fields)
        except (ValueError, TypeError):
            raise BackupError("the backup header is damaged") from None
        if header.format != FORMAT_VERSION:
            raise BackupError(f"backup format {header.format} is not supported")
        return header


def key_aad(backup_id: str, store_id: str) -> bytes:
    """What the wrapped backup key is bound to."""
    return f"strongroom-backup/v1|{backup_id}|{store_id}".encode()


def _nonce(index: int) -> bytes:
    return b"\x00" * 4 + index.to_bytes(8, "big")


def _chunk_aad(header_digest: bytes, index: int, final: bool) -> bytes:
    return header_digest + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


class Writer:
    """Writes a header and then plaintext in sealed chunks; :meth:`close` seals the last."""

    def __init__(self, out: BinaryIO, header: Header, backup_key: bytes) -> None:
        raw = header.encode()
        out.write(MAGIC + _LENGTH.pack(len(raw)) + raw)
        self._out = out
        self._aead = AESGCM(backup_key)
        self._digest = hashlib.sha256(MAGIC + raw).digest()
        self._buffer = bytearray()
        self._index = 0

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) > CHUNK_BYTES:
            self._seal(bytes(self._buffer[:CHUNK_BYTES]), final=False)
            del self._buffer[:CHUNK_BYTES]

    def close(self) -> None:
        self._seal(bytes(self._buffer), final=True)
        self._buffer.clear()

    def _seal(self, plaintext: bytes, *, final: bool) -> None:
        aad = _chunk_aad(self._digest, self._index, final)
        sealed = self._aead.encrypt(_nonce(self._index), zlib.compress(plaintext, 6), aad)
        self._out.write(_LENGTH.pack(len(sealed)) + sealed)
        self._index += 1


def read_header(source: BinaryIO) -> tuple[Header, bytes]:
    """The header and the digest every chunk authenticates."""
    if source.read(len(MAGIC)) != MAGIC:
        raise BackupError("not a Strongroom backup (or a format this version cannot read)")
    size = _read_length(source)
    if size > MAX_HEADER_BYTES:
        raise BackupError("the backup header is damaged")
    raw = _read_exact(source, size)
    return Header.decode(raw), hashlib.sha256(MAGIC + raw).digest()


def chunks(source: BinaryIO, digest: bytes, backup_key: bytes) -> Iterator[bytes]:
    """The plaintext chunks after the header, each authenticated before it is yielded; raises
    BackupError at the first that fails, or if the file ends before its final chunk."""
    aead = AESGCM(backup_key)
    index = 0
    while True:
        head = source.read(_LENGTH.size)
        if not head:
            raise BackupError("the backup is truncated: its last chunk is missing")
        size = _LENGTH.unpack(_pad(head))[0]
        if size > MAX_SEALED_CHUNK:
            raise BackupError(f"chunk {index} of the backup is damaged")
        sealed = _read_exact(source, size)
        for final in (False, True):
            try:
                packed = aead.decrypt(_nonce(index), sealed, _chunk_aad(digest, index, final))
            except InvalidTag:
                continue
            yield _inflate(packed, index)
            if final:
                if source.read(1):
                    raise BackupError("the backup has data after its last chunk")
                return
            break
        else:
            raise BackupError(f"chunk {index} of the backup does not authenticate (altered?)")
        index += 1


def _inflate(packed: bytes, index: int) -> bytes:
    inflater = zlib.decompressobj()
    try:
        plaintext = inflater.decompress(packed, CHUNK_BYTES + 1)
    except zlib.error:
        raise BackupError(f"chunk {index} of the backup is damaged") from None
    if len(plaintext) > CHUNK_BYTES or not inflater.eof:
        raise BackupError(f"chunk {index} of the backup is damaged")
    return plaintext


def _pad(head: bytes) -> bytes:
    if len(head) != _LENGTH.size:
        raise BackupError("the backup is truncated")
    return head


def _read_length(source: BinaryIO) -> int:
    value: int = _LENGTH.unpack(_pad(source.read(_LENGTH.size)))[0]
    return value


def _read_exact(source: BinaryIO, size: int) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise BackupError("the backup is truncated")
    return data
