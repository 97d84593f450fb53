"""Encrypt and decrypt streams, frame by frame, in constant memory.

Memory is O(frame length): a few reusable buffers, filled with ``readinto`` and
``AESGCM.encrypt_into``/``decrypt_into`` so no per-frame allocation happens. For the signed
suite, SHA-384 of the message runs in a helper thread (hashlib drops the GIL on large inputs),
overlapping hashing with reading, encrypting and writing.

Decryption writes each frame's plaintext once its tag verifies; a message that turns out to
be truncated or to carry a bad signature raises :class:`InvalidMessageError` at the end, so a
caller writing to a file must discard it on error (the CLI writes to a temporary file and
renames it only on success).
"""

from __future__ import annotations

import hmac
import os
import struct
from collections.abc import Callable, Collection, Mapping
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.envelope.cache import (
    DataKeyCache,
    EncryptionMaterials,
    decryption_cache_key,
    encryption_cache_key,
)
from strongroom.envelope.errors import (
    InvalidMessageError,
    LimitExceededError,
    MessageLimitError,
    MissingContextError,
    SuiteNotAcceptedError,
    UsageError,
)
from strongroom.envelope.format import (
    FINAL_FRAME_MARKER,
    FINAL_FRAME_PREFIX,
    HEADER_AUTH_IV,
    MAX_FRAME_LENGTH,
    MAX_SEQUENCE_NUMBER,
    PUBLIC_KEY_CONTEXT_KEY,
    REGULAR_FRAME_PREFIX,
    Header,
    StreamReader,
    frame_aad,
    frame_iv,
    read_header,
    serialize_header,
)
from strongroom.envelope.keys import KmsKeyring
from strongroom.envelope.signing import (
    Hasher,
    new_signing_key,
    public_key_from_text,
    public_key_text,
    sign,
    verify,
)
from strongroom.envelope.suites import SIGNED, TAG_LENGTH, UNSIGNED, Suite, suite_by_id

DEFAULT_FRAME_LENGTH = 1024 * 1024
DEFAULT_MAX_ENCRYPTED_DATA_KEYS = 10
DEFAULT_MAX_FRAME_LENGTH = 64 * 1024 * 1024
RESERVED_CONTEXT_PREFIX = "aws-crypto-"

Progress = Callable[[int], None]


def _read_full(source: BinaryIO, view: memoryview) -> int:
    """Fill ``view`` from ``source``; fewer bytes only at the end of the stream."""
    filled = 0
    total = len(view)
    while filled < total:
        count = source.readinto(view[filled:])  # type: ignore[attr-defined]
        if not count:
            break
        filled += count
    return int(filled)


class _Buffers:
    """Frame-sized buffers: one for the unsigned suite, a pool shared with the hasher else."""

    def __init__(self, size: int, signed: bool) -> None:
        self.hasher = Hasher(size) if signed else None
        self._single = None if signed else bytearray(size)

    def take(self) -> bytearray:
        if self.hasher is not None:
            return self.hasher.free.get()
        assert self._single is not None
        return self._single

    def done(self, buffer: bytearray, length: int) -> None:
        """``buffer[:length]`` is part of the message (to be hashed for the signed suite)."""
        if self.hasher is not None:
            self.hasher.submit(buffer, length)

    def add(self, data: bytes) -> None:
        if self.hasher is not None:
            self.hasher.submit_bytes(data)

    def digest(self) -> bytes:
        assert self.hasher is not None
        hasher, self.hasher = self.hasher, None
        return hasher.finish()

    def close(self) -> None:
        if self.hasher is not None:
            self.hasher.finish()
            self.hasher = None


# --- encryption ------------------------------------------------------------------------------


def _new_materials(
    keyring: KmsKeyring, suite: Suite, context: Mapping[str, str]
) -> EncryptionMaterials:
    full = dict(context)
    signing_key = None
    if suite.signed:
        signing_key = new_signing_key()
        full[PUBLIC_KEY_CONTEXT_KEY] = public_key_text(signing_key)
    data_key, keys = keyring.generate(full)
    return EncryptionMaterials(suite.suite_id, data_key, tuple(keys), full, signing_key)


def _materials(
    keyring: KmsKeyring,
    suite: Suite,
    context: Mapping[str, str],
    cache: DataKeyCache | None,
    plaintext_length: int | None,
) -> EncryptionMaterials:
    if cache is None or plaintext_length is None:
        return _new_materials(keyring, suite, context)
    cache_key = encryption_cache_key(suite.suite_id, keyring.key_ids, context)
    materials = cache.take_encryption(cache_key, plaintext_length)
    if materials is None:
        materials = _new_materials(keyring, suite, context)
        cache.put_encryption(cache_key, materials, plaintext_length)
    return materials


def _check_encrypt_arguments(
    keyring: KmsKeyring,
    context: Mapping[str, str],
    frame_length: int,
    max_encrypted_data_keys: int | None,
) -> None:
    reserved = [key for key in context if key.startswith(RESERVED_CONTEXT_PREFIX)]
    if reserved:
        raise UsageError(f"encryption context key {reserved[0]!r} is reserved")
    if not 0 < frame_length <= MAX_FRAME_LENGTH:
        raise UsageError(f"frame length must be between 1 and {MAX_FRAME_LENGTH} bytes")
    if max_encrypted_data_keys is not None and len(keyring.key_ids) > max_encrypted_data_keys:
        raise LimitExceededError(
            f"{len(keyring.key_ids)} KMS keys is more than the limit of "
            f"{max_encrypted_data_keys} encrypted data keys"
        )


def encrypt_stream(
    source: BinaryIO,
    destination: BinaryIO,
    keyring: KmsKeyring,
    *,
    context: Mapping[str, str] | None = None,
    suite: Suite = SIGNED,
    frame_length: int = DEFAULT_FRAME_LENGTH,
    max_encrypted_data_keys: int | None = DEFAULT_MAX_ENCRYPTED_DATA_KEYS,
    cache: DataKeyCache | None = None,
    plaintext_length: int | None = None,
    progress: Progress | None = None,
) -> Header:
    """Encrypt ``source`` to ``destination`` as one framed message; return its header.

    ``plaintext_length`` (when known) lets ``cache`` reuse a data key within its byte bound.
    """
    context = dict(context or {})
    _check_encrypt_arguments(keyring, context, frame_length, max_encrypted_data_keys)
    materials = _materials(keyring, suite, context, cache, plaintext_length)
    message_id = os.urandom(32)
    encryption_key, commitment = suite.derive_keys(materials.data_key, message_id)
    header = Header(
        suite.suite_id,
        message_id,
        materials.encryption_context,
        materials.encrypted_data_keys,
        frame_length,
        commitment,
    )
    aead = AESGCM(encryption_key)
    header_bytes = serialize_header(header)
    head = header_bytes + aead.encrypt(HEADER_AUTH_IV, b"", header_bytes)
    destination.write(head)
    buffers = _Buffers(FINAL_FRAME_PREFIX + frame_length + TAG_LENGTH, suite.signed)
    try:
        buffers.add(head)
        _write_frames(source, destination, aead, header, buffers, progress=progress)
        if materials.signing_key is not None:
            signature = sign(materials.signing_key, buffers.digest())
            destination.write(struct.pack(">H", len(signature)) + signature)
    finally:
        buffers.close()
    destination.flush()
    return header


def _write_frames(
    source: BinaryIO,
    destination: BinaryIO,
    aead: AESGCM,
    header: Header,
    buffers: _Buffers,
    *,
    progress: Progress | None,
) -> None:
    # A plaintext that fills its last frame exactly ends with an empty final frame: the Python
    # SDK refuses a final frame as long as the frame length (the specification allows it).
    frame_length = header.frame_length
    plaintext = bytearray(frame_length)
    sequence = 1
    while True:
        count = _read_full(source, memoryview(plaintext))
        final = count < frame_length
        if sequence > MAX_SEQUENCE_NUMBER:
            raise LimitExceededError("the plaintext needs more frames than the format allows")
        out = buffers.take()
        iv = frame_iv(sequence)
        if final:
            prefix = FINAL_FRAME_PREFIX
            struct.pack_into(">II12sI", out, 0, FINAL_FRAME_MARKER, sequence, iv, count)
        else:
            prefix = REGULAR_FRAME_PREFIX
            struct.pack_into(">I12s", out, 0, sequence, iv)
        end = prefix + count + TAG_LENGTH
        view = memoryview(out)
        aead.encrypt_into(
            iv,
            memoryview(plaintext)[:count],
            frame_aad(header.message_id, sequence, count, final),
            view[prefix:end],
        )
        destination.write(view[:end])
        buffers.done(out, end)
        if progress:
            progress(count)
        if final:
            return
        sequence += 1


# --- decryption ------------------------------------------------------------------------------


def check_required_context(header: Header, required: Mapping[str, str] | None) -> None:
    for key, value in (required or {}).items():
        if header.encryption_context.get(key) != value:
            other = " (it has another value)" if key in header.encryption_context else ""
            raise MissingContextError(
                f"the message's encryption context has no pair {key}={value}{other}"
            )


def read_message_header(
    source: BinaryIO, max_encrypted_data_keys: int | None = DEFAULT_MAX_ENCRYPTED_DATA_KEYS
) -> Header:
    """Parse and return a message's header without any key (for ``inspect``)."""
    header, _ = read_header(StreamReader(source), max_encrypted_data_keys)
    suite_by_id(header.suite_id)
    return header


def _data_key(header: Header, keyring: KmsKeyring, cache: DataKeyCache | None) -> bytes:
    if cache is None:
        return keyring.decrypt(header.encrypted_data_keys, header.encryption_context)
    cache_key = decryption_cache_key(
        header.suite_id, header.encrypted_data_keys, header.encryption_context
    )
    data_key = cache.get_decryption(cache_key)
    if data_key is None:
        data_key = keyring.decrypt(header.encrypted_data_keys, header.encryption_context)
        cache.put_decryption(cache_key, data_key)
    return data_key


def decrypt_stream(
    source: BinaryIO,
    destination: BinaryIO,
    keyring: KmsKeyring,
    *,
    required_context: Mapping[str, str] | None = None,
    max_encrypted_data_keys: int | None = DEFAULT_MAX_ENCRYPTED_DATA_KEYS,
    max_frame_length: int = DEFAULT_MAX_FRAME_LENGTH,
    cache: DataKeyCache | None = None,
    progress: Progress | None = None,
    accept: Collection[Suite] = (SIGNED, UNSIGNED),
) -> Header:
    """Decrypt one message from ``source`` to ``destination``; return its header.

    ``required_context`` pairs must be present, with these values, in the message's context.
    ``accept=(SIGNED,)`` refuses unsigned messages, which anyone allowed to decrypt with the
    key could have written; only a signed message proves who wrote it.
    """
    reader = StreamReader(source)
    header, header_bytes = read_header(reader, max_encrypted_data_keys)
    suite = suite_by_id(header.suite_id)
    if suite not in accept:
        raise SuiteNotAcceptedError(f"the message uses {suite.name}, which is not accepted here")
    check_required_context(header, required_context)
    if header.frame_length > max_frame_length:
        raise MessageLimitError(
            f"frame length {header.frame_length} is above the limit of {max_frame_length}"
        )
    data_key = _data_key(header, keyring, cache)
    encryption_key, commitment = suite.derive_keys(data_key, header.message_id)
    if not hmac.compare_digest(commitment, header.commitment):
        raise InvalidMessageError()
    aead = AESGCM(encryption_key)
    tag = reader.take(TAG_LENGTH)
    try:
        aead.decrypt(HEADER_AUTH_IV, tag, header_bytes)
    except InvalidTag:
        raise InvalidMessageError() from None
    public_key = None
    if suite.signed:
        public_key = public_key_from_text(header.encryption_context.get(PUBLIC_KEY_CONTEXT_KEY))
    buffers = _Buffers(FINAL_FRAME_PREFIX + header.frame_length + TAG_LENGTH, suite.signed)
    try:
        buffers.add(header_bytes + tag)
        _read_frames(source, destination, aead, header, buffers, progress=progress)
        if public_key is not None:
            digest = buffers.digest()
            verify(public_key, reader.take(reader.u16()), digest)
    finally:
        buffers.close()
    if not reader.at_end():
        raise InvalidMessageError()
    destination.flush()
    return header


def _read_exactly(source: BinaryIO, view: memoryview) -> None:
    if _read_full(source, view) != len(view):
        raise InvalidMessageError()


def _read_frames(
    source: BinaryIO,
    destination: BinaryIO,
    aead: AESGCM,
    header: Header,
    buffers: _Buffers,
    *,
    progress: Progress | None,
) -> None:
    frame_length = header.frame_length
    plaintext = memoryview(bytearray(frame_length))
    sequence = 1
    while True:
        buffer = buffers.take()
        view = memoryview(buffer)
        _read_exactly(source, view[:4])
        final = struct.unpack_from(">I", buffer, 0)[0] == FINAL_FRAME_MARKER
        if final:
            prefix = FINAL_FRAME_PREFIX
            _read_exactly(source, view[4:prefix])
            number, iv, length = struct.unpack_from(">I12sI", buffer, 4)
            if length > frame_length:
                raise InvalidMessageError()
        else:
            prefix, length = REGULAR_FRAME_PREFIX, frame_length
            _read_exactly(source, view[4:prefix])
            number, iv = struct.unpack_from(">I12s", buffer, 0)
        if number != sequence or iv != frame_iv(sequence) or sequence > MAX_SEQUENCE_NUMBER:
            raise InvalidMessageError()
        end = prefix + length + TAG_LENGTH
        _read_exactly(source, view[prefix:end])
        try:
            aead.decrypt_into(
                iv,
                view[prefix:end],
                frame_aad(header.message_id, sequence, length, final),
                plaintext[:length],
            )
        except InvalidTag:
            raise InvalidMessageError() from None
        buffers.done(buffer, end)
        destination.write(plaintext[:length])
        if progress:
            progress(length)
        if final:
            return
        sequence += 1
