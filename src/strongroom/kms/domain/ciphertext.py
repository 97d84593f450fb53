"""The ciphertext blob of symmetric Encrypt / GenerateDataKey, the one place it is defined.

Version 1 layout (all lengths in bytes)::

    0      1   version (0x01)
    1      1   n = length of the key id (36 for a UUID; never truncated)
    2      n   key id, ASCII
    2+n    32  material id (raw; rendered as 64 hex characters as KeyMaterialId)
    34+n   12  AES-GCM nonce
    46+n   ..  AES-GCM ciphertext followed by its 16-byte tag

The header (version, key id, material id) is authenticated: the additional data of the AEAD is
``header || encode_context(encryption_context)``. Parsing checks structure only; any failure,
here or in the AEAD, is reported as the one :class:`InvalidCiphertextException`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from strongroom.kms.domain.encryption_context import EMPTY, encode_context
from strongroom.kms.domain.frozen import quick_init
from strongroom.kms.domain.ids import is_key_id
from strongroom.kms.errors import InvalidCiphertextException

VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
MATERIAL_ID_BYTES = 32
_MAX_KEY_ID = 64


@quick_init  # built on every Decrypt (domain/frozen.py)
@dataclass(frozen=True, slots=True)
class CiphertextBlob:
    key_id: str
    material_id: str  # 64 hex characters
    header: bytes
    nonce: bytes
    sealed: bytes  # ciphertext || tag

    def to_bytes(self) -> bytes:
        return self.header + self.nonce + self.sealed

    def additional_data(self, context: Mapping[str, str] | None) -> bytes:
        return additional_data(self.header, context)


def additional_data(header: bytes, context: Mapping[str, str] | None) -> bytes:
    """The AEAD's additional data: the blob's header, then the encryption context."""
    return header + (encode_context(context) if context else EMPTY)


def header_for(key_id: str, material_id: str) -> bytes:
    """The blob header for a key's material version (the key cache keeps it with the
    unwrapped material: service/cache.py ``KeyCache.sealing``)."""
    raw_id = key_id.encode("ascii")
    if len(raw_id) > _MAX_KEY_ID:
        raise ValueError("key id too long for the ciphertext header")
    return bytes((VERSION, len(raw_id))) + raw_id + bytes.fromhex(material_id)


def parse(blob: bytes) -> CiphertextBlob:
    """Split a blob into its parts; raise InvalidCiphertextException on any malformation."""
    if len(blob) < 2 or blob[0] != VERSION:
        raise InvalidCiphertextException()
    id_len = blob[1]
    header_end = 2 + id_len + MATERIAL_ID_BYTES
    if id_len > _MAX_KEY_ID or len(blob) < header_end + NONCE_BYTES + TAG_BYTES:
        raise InvalidCiphertextException()
    try:
        key_id = blob[2 : 2 + id_len].decode("ascii")
    except UnicodeDecodeError:
        raise InvalidCiphertextException() from None
    if not is_key_id(key_id):
        raise InvalidCiphertextException()
    nonce_end = header_end + NONCE_BYTES
    # key_id, material_id, header, nonce, sealed (positional: built on every Decrypt)
    return CiphertextBlob(
        key_id,
        blob[2 + id_len : header_end].hex(),
        blob[:header_end],
        blob[header_end:nonce_end],
        blob[nonce_end:],
    )
