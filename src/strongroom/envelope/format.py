"""Serialization of the AWS Encryption SDK message format, version 2 (framed content only).

Message layout (all integers big-endian)::

    header   version=0x02 (1) | suite id (2) | message id (32)
             | AAD length (2) | encryption context (AAD length bytes)
             | EDK count (2) | EDK count x (provider id len (2) | provider id
                                            | provider info len (2) | provider info
                                            | ciphertext len (2) | ciphertext)
             | content type=0x02 framed (1) | frame length (4) | commitment key (32)
    auth     AES-GCM tag (16) over an empty plaintext, IV = 12 zero bytes, AAD = header
    frames   sequence number (4) | IV (12) | ciphertext (frame length) | tag (16)
    final    0xFFFFFFFF (4) | sequence number (4) | IV (12) | content length (4)
             | ciphertext (content length) | tag (16)
    footer   (signed suite only) signature length (2) | DER ECDSA P-384 signature

This module knows bytes only: no keys, no KMS.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import BinaryIO

from strongroom.envelope.errors import InvalidMessageError, MessageLimitError, UsageError
from strongroom.envelope.suites import COMMITMENT_LENGTH, IV_LENGTH, MESSAGE_ID_LENGTH, TAG_LENGTH

VERSION = 0x02
CONTENT_TYPE_FRAMED = 0x02
FINAL_FRAME_MARKER = 0xFFFFFFFF
MAX_FRAME_LENGTH = 2**31 - 1
MAX_SEQUENCE_NUMBER = 2**32 - 2
FRAME_AAD = b"AWSKMSEncryptionClient Frame"
FINAL_FRAME_AAD = b"AWSKMSEncryptionClient Final Frame"
PUBLIC_KEY_CONTEXT_KEY = "aws-crypto-public-key"
KMS_PROVIDER_ID = "aws-kms"
_U16 = 0xFFFF


@dataclass(frozen=True)
class EncryptedDataKey:
    provider_id: str
    provider_info: str
    ciphertext: bytes


@dataclass(frozen=True)
class Header:
    suite_id: int
    message_id: bytes
    encryption_context: Mapping[str, str]
    encrypted_data_keys: tuple[EncryptedDataKey, ...]
    frame_length: int
    commitment: bytes


def _u16_field(data: bytes) -> bytes:
    if len(data) > _U16:
        raise UsageError(f"a field of {len(data)} bytes does not fit the message format")
    return struct.pack(">H", len(data)) + data


def serialize_context(context: Mapping[str, str]) -> bytes:
    """The canonical encryption context: pairs sorted by the UTF-8 bytes of their keys."""
    if not context:
        return b""
    pairs = sorted((key.encode(), value.encode()) for key, value in context.items())
    if len(pairs) > _U16:
        raise UsageError("too many encryption context pairs")
    out = bytearray(struct.pack(">H", len(pairs)))
    for key, value in pairs:
        out += _u16_field(key) + _u16_field(value)
    return bytes(out)


def parse_context(data: bytes) -> dict[str, str]:
    if not data:
        return {}
    reader = _BytesReader(data)
    count = reader.u16()
    if count == 0:
        raise InvalidMessageError()
    context: dict[str, str] = {}
    for _ in range(count):
        key = _utf8(reader.take(reader.u16()))
        value = _utf8(reader.take(reader.u16()))
        if key in context:
            raise InvalidMessageError()
        context[key] = value
    if not reader.at_end():
        raise InvalidMessageError()
    return context


def serialize_header(header: Header) -> bytes:
    if not 0 < header.frame_length <= MAX_FRAME_LENGTH:
        raise UsageError(f"frame length must be between 1 and {MAX_FRAME_LENGTH}")
    out = bytearray(struct.pack(">BH", VERSION, header.suite_id))
    out += header.message_id
    out += _u16_field(serialize_context(header.encryption_context))
    out += struct.pack(">H", len(header.encrypted_data_keys))
    for key in header.encrypted_data_keys:
        out += _u16_field(key.provider_id.encode())
        out += _u16_field(key.provider_info.encode())
        out += _u16_field(key.ciphertext)
    out += struct.pack(">BI", CONTENT_TYPE_FRAMED, header.frame_length)
    out += header.commitment
    return bytes(out)


class StreamReader:
    """Reads exact byte counts from a stream; a short read means a truncated message."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def take(self, count: int) -> bytes:
        data = self._stream.read(count)
        if len(data) != count:
            # Raw streams may return short reads before the end: keep reading.
            parts = [data]
            got = len(data)
            while got < count and data:
                data = self._stream.read(count - got)
                parts.append(data)
                got += len(data)
            if got != count:
                raise InvalidMessageError()
            data = b"".join(parts)
        return data

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int(struct.unpack(">H", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def at_end(self) -> bool:
        return self._stream.read(1) == b""


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0

    def take(self, count: int) -> bytes:
        end = self._offset + count
        if end > len(self._data):
            raise InvalidMessageError()
        chunk = self._data[self._offset : end]
        self._offset = end
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int(struct.unpack(">H", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def at_end(self) -> bool:
        return self._offset == len(self._data)


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidMessageError() from None


def read_header(reader: StreamReader, max_encrypted_data_keys: int | None) -> tuple[Header, bytes]:
    """Parse a header; return it with its exact bytes (the AAD of the header auth tag)."""
    raw = bytearray()

    def take(count: int) -> bytes:
        data = reader.take(count)
        raw.extend(data)
        return data

    def u16() -> int:
        return int(struct.unpack(">H", take(2))[0])

    version, suite_id = struct.unpack(">BH", take(3))
    if version != VERSION:
        raise InvalidMessageError()
    message_id = take(MESSAGE_ID_LENGTH)
    context = parse_context(take(u16()))
    count = u16()
    if count == 0:
        raise InvalidMessageError()
    if max_encrypted_data_keys is not None and count > max_encrypted_data_keys:
        raise MessageLimitError(
            f"the message has {count} encrypted data keys, more than the limit of "
            f"{max_encrypted_data_keys}"
        )
    keys = []
    for _ in range(count):
        provider_id = _utf8(take(u16()))
        provider_info = _utf8(take(u16()))
        keys.append(EncryptedDataKey(provider_id, provider_info, take(u16())))
    content_type, frame_length = struct.unpack(">BI", take(5))
    if content_type != CONTENT_TYPE_FRAMED or not 0 < frame_length <= MAX_FRAME_LENGTH:
        raise InvalidMessageError()
    commitment = take(COMMITMENT_LENGTH)
    header = Header(suite_id, message_id, context, tuple(keys), frame_length, commitment)
    return header, bytes(raw)


def frame_iv(sequence_number: int) -> bytes:
    return sequence_number.to_bytes(IV_LENGTH, "big")


def frame_aad(message_id: bytes, sequence_number: int, length: int, final: bool) -> bytes:
    return b"".join(
        (
            message_id,
            FINAL_FRAME_AAD if final else FRAME_AAD,
            struct.pack(">IQ", sequence_number, length),
        )
    )


HEADER_AUTH_IV = bytes(IV_LENGTH)
REGULAR_FRAME_PREFIX = 4 + IV_LENGTH
FINAL_FRAME_PREFIX = 4 + 4 + IV_LENGTH + 4
__all__ = [
    "FINAL_FRAME_PREFIX",
    "HEADER_AUTH_IV",
    "REGULAR_FRAME_PREFIX",
    "TAG_LENGTH",
    "EncryptedDataKey",
    "Header",
    "StreamReader",
]
