"""aws-chunked decoding against AWS's published example of a chunk-signed upload; plain bodies
with a signed SHA-256, checked while batches are passed on."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator

import pytest

from strongroom.objectstore.chunked import BATCH, decode_chunked, plain_body
from strongroom.objectstore.errors import (
    IncompleteBody,
    SignatureDoesNotMatch,
    XAmzContentSHA256Mismatch,
)
from strongroom.objectstore.sigv4 import STREAMING_SIGNED, SigningContext, derive_signing_key

# "Signature Calculations for the Authorization Header: Transferring Payload in Multiple
# Chunks", Amazon S3 API Reference: 66,560 bytes of 'a' in chunks of 64 KiB.
SECRET = b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
SIGNATURES = (
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
)
CONTEXT = SigningContext(
    derive_signing_key(SECRET, "20130524", "us-east-1"),
    "20130524T000000Z",
    "20130524/us-east-1/s3/aws4_request",
    SEED,
)


def _body(signatures: tuple[str, ...] = SIGNATURES, data: bytes = b"a" * 66560) -> bytes:
    pieces = [data[:65536], data[65536:], b""]
    return b"".join(
        f"{len(p):x};chunk-signature={s}\r\n".encode() + p + b"\r\n"
        for p, s in zip(pieces, signatures, strict=True)
    )


async def _in_pieces(body: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i : i + size]


def _decode(body: bytes, length: int = 66560, piece: int = 1000) -> bytes:
    async def run() -> bytes:
        out = bytearray()
        async for chunk in decode_chunked(
            _in_pieces(body, piece), STREAMING_SIGNED, CONTEXT, length, {}
        ):
            out += chunk
        return bytes(out)

    return asyncio.run(run())


@pytest.mark.parametrize("piece", [1, 7, 1000, 70000])
def test_aws_example_verifies_however_the_body_arrives(piece: int) -> None:
    assert _decode(_body(), piece=piece) == b"a" * 66560


def test_a_changed_byte_fails_its_chunk() -> None:
    body = bytearray(_body())
    body[66000] ^= 1
    with pytest.raises(SignatureDoesNotMatch):
        _decode(bytes(body))


def test_reordered_or_missing_chunks_fail() -> None:
    swapped = (SIGNATURES[1], SIGNATURES[0], SIGNATURES[2])
    with pytest.raises(SignatureDoesNotMatch):
        _decode(_body(swapped))
    truncated = _body()[: -len(f"0;chunk-signature={SIGNATURES[2]}\r\n\r\n")]
    with pytest.raises(IncompleteBody):
        _decode(truncated)


def test_decoded_length_must_match() -> None:
    with pytest.raises(IncompleteBody):
        _decode(_body(), length=66559)
    with pytest.raises(IncompleteBody):
        _decode(_body(), length=66561)


def _plain(body: bytes, piece: int, length: int, sha256_hex: str | None) -> list[bytes]:
    async def run() -> list[bytes]:
        return [c async for c in plain_body(_in_pieces(body, piece), length, sha256_hex)]

    return asyncio.run(run())


@pytest.mark.parametrize("size", [0, 5, BATCH - 1, BATCH, 3 * BATCH + 7])
@pytest.mark.parametrize("piece", [65536, 1_000_003])
def test_a_plain_body_with_its_sha256_passes_unchanged(size: int, piece: int) -> None:
    body = os.urandom(size)
    out = _plain(body, piece, size, hashlib.sha256(body).hexdigest())
    assert b"".join(out) == body
    assert all(len(c) >= BATCH for c in out[:-1])  # batches, hashed on a thread
    assert b"".join(_plain(body, piece, size, None)) == body


def test_a_plain_body_whose_sha256_differs_fails_at_its_end() -> None:
    body = os.urandom(3 * BATCH + 7)
    changed = bytearray(body)
    changed[BATCH + 10] ^= 1  # in a batch hashed on a thread
    with pytest.raises(XAmzContentSHA256Mismatch):
        _plain(bytes(changed), 65536, len(body), hashlib.sha256(body).hexdigest())


@pytest.mark.parametrize("sha", [True, False])
def test_a_plain_body_of_another_length_fails(sha: bool) -> None:
    body = os.urandom(2 * BATCH)
    digest = hashlib.sha256(body).hexdigest() if sha else None
    with pytest.raises(IncompleteBody):
        _plain(body, 65536, len(body) + 1, digest)
    with pytest.raises(IncompleteBody):
        _plain(body, 65536, len(body) - 1, digest)
