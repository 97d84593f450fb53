"""The blob format: however a body arrives (any piece sizes), the sealed blob is the same, every
chunk but the last is full, and every chunk opens only at its own index and position."""

from __future__ import annotations

import os

import pytest

from strongroom.objectstore import cipher

BLOB = "ab" * 16
ROOT, SALT = os.urandom(32), os.urandom(16)


def _seal(pieces: list[bytes]) -> bytes:
    encryptor = cipher.Encryptor(cipher.blob_key(ROOT, SALT, BLOB), BLOB)
    out = [encryptor.header()]
    for piece in pieces:
        out += encryptor.feed(piece)
    out.append(encryptor.finish())
    return b"".join(out)


def _open(blob: bytes, size: int) -> bytes:
    aead = cipher.blob_key(ROOT, SALT, BLOB)
    count = cipher.chunk_count(size)
    plain = []
    for index in range(count):
        start, length = cipher.chunk_span(size, index)
        plain.append(
            cipher.open_chunk(aead, BLOB, index, index == count - 1, blob[start : start + length])
        )
    return b"".join(plain)


@pytest.mark.parametrize(
    "size", [0, 1, cipher.CHUNK - 1, cipher.CHUNK, cipher.CHUNK + 1, 3 * cipher.CHUNK, 1_000_003]
)
@pytest.mark.parametrize("piece", [1000, cipher.CHUNK, 1024 * 1024, 3 * cipher.CHUNK + 5])
def test_any_piece_sizes_give_the_same_blob(size: int, piece: int) -> None:
    data = os.urandom(size)
    whole = _seal([data])
    pieces = _seal([data[i : i + piece] for i in range(0, size, piece)])
    assert pieces == whole
    assert len(whole) == cipher.sealed_size(size)
    assert _open(whole, size) == data


def test_a_chunk_moved_or_cut_does_not_open() -> None:
    data = os.urandom(2 * cipher.CHUNK + 10)
    blob = _seal([data])
    aead = cipher.blob_key(ROOT, SALT, BLOB)
    start, length = cipher.chunk_span(len(data), 0)
    first = blob[start : start + length]
    with pytest.raises(cipher.CorruptData):
        cipher.open_chunk(aead, BLOB, 1, False, first)  # at another index
    with pytest.raises(cipher.CorruptData):
        cipher.open_chunk(aead, BLOB, 0, True, first)  # claimed to be the last
