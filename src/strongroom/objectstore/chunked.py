"""Request bodies: plain (Content-Length) or aws-chunked, decoded while they stream.

aws-chunked framing (``Content-Encoding: aws-chunked``): ``<hex size>[;chunk-signature=<sig>]``
CRLF, the data, CRLF, ... a zero-size chunk, then trailer lines (``x-amz-checksum-crc32:<b64>``,
and for the signed trailer form ``x-amz-trailer-signature:<sig>``) and an empty line. Signed
chunks chain from the request's seed signature; each is verified when its data has been read,
before the next one is accepted. Nothing read here is visible to anyone until the consumer
commits it, so a failure at any point leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator

from strongroom.objectstore.errors import (
    IncompleteBody,
    InvalidArgument,
    InvalidRequest,
    SignatureDoesNotMatch,
    XAmzContentSHA256Mismatch,
)
from strongroom.objectstore.sigv4 import (
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    SigningContext,
    sign,
)

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# A signed plain body is hashed and passed on in batches of this size (see plain_body).
BATCH = 1024 * 1024
MAX_LINE = 4096


class _Reader:
    """Buffered reads from an async byte source."""

    def __init__(self, source: AsyncIterator[bytes]) -> None:
        self._source = source
        self._buf = bytearray()
        self._done = False

    async def _fill(self) -> bool:
        if self._done:
            return False
        try:
            chunk = await anext(self._source)
        except StopAsyncIteration:
            self._done = True
            return False
        self._buf += chunk
        return True

    async def line(self) -> bytes:
        while True:
            end = self._buf.find(b"\r\n")
            if end >= 0:
                line = bytes(self._buf[:end])
                del self._buf[: end + 2]
                return line
            if len(self._buf) > MAX_LINE or not await self._fill():
                raise IncompleteBody("The request body ended inside an aws-chunked frame.")

    async def take(self, size: int) -> AsyncIterator[bytes]:
        """Exactly ``size`` bytes, in the pieces they arrive in."""
        while size > 0:
            if not self._buf and not await self._fill():
                raise IncompleteBody()
            piece = bytes(self._buf[:size])
            del self._buf[: len(piece)]
            size -= len(piece)
            yield piece


def _parse_header(line: bytes) -> tuple[int, str | None]:
    size_text, _, extension = line.partition(b";")
    try:
        size = int(size_text, 16)
    except ValueError:
        raise IncompleteBody("An aws-chunked chunk header is malformed.") from None
    signature = None
    if extension.startswith(b"chunk-signature="):
        signature = extension[len(b"chunk-signature=") :].decode("latin-1")
    return size, signature


async def decode_chunked(
    source: AsyncIterator[bytes],
    mode: str,
    signing: SigningContext,
    decoded_length: int,
    trailer: dict[str, str],
) -> AsyncIterator[bytes]:
    """Yield the payload of an aws-chunked body; fill ``trailer`` with its trailing headers."""
    reader = _Reader(source)
    signed = mode in (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER)
    previous = signing.seed_signature
    total = 0
    while True:
        size, signature = _parse_header(await reader.line())
        if signed and signature is None:
            raise SignatureDoesNotMatch("An aws-chunked chunk carries no chunk-signature.")
        digest = hashlib.sha256()
        async for piece in reader.take(size):
            total += len(piece)
            if total > decoded_length:
                raise IncompleteBody("The body is longer than x-amz-decoded-content-length.")
            if signed:
                digest.update(piece)
            yield piece
        if signed:
            assert signature is not None
            previous = _check_chunk(signing, previous, digest.hexdigest(), signature)
        if size == 0:
            break
        if await reader.line() != b"":
            raise IncompleteBody("An aws-chunked chunk is longer than its header says.")
    if total != decoded_length:
        raise IncompleteBody()
    lines = []
    while line := await reader.line():
        lines.append(line)
    _read_trailer(lines, mode, signing, previous, trailer)


def _check_chunk(signing: SigningContext, previous: str, data_hash: str, signature: str) -> str:
    if not signing.checked:  # development credentials: the secret is unknown
        return signature
    string_to_sign = "\n".join(
        (
            "AWS4-HMAC-SHA256-PAYLOAD",
            signing.amz_date,
            signing.scope,
            previous,
            EMPTY_SHA256,
            data_hash,
        )
    )
    expected = sign(signing.signing_key, string_to_sign)
    if not hmac.compare_digest(expected, signature):
        raise SignatureDoesNotMatch()
    return signature


def _read_trailer(
    lines: list[bytes], mode: str, signing: SigningContext, previous: str, out: dict[str, str]
) -> None:
    signature = None
    canonical = []
    for line in lines:
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise InvalidRequest("The aws-chunked trailer is malformed.")
        name, value = name.strip().lower(), value.strip()
        if name == "x-amz-trailer-signature":
            signature = value
        else:
            out[name] = value
            canonical.append(f"{name}:{value}\n")
    if mode == STREAMING_SIGNED_TRAILER and signing.checked:
        if signature is None:
            raise SignatureDoesNotMatch("The aws-chunked trailer carries no signature.")
        string_to_sign = "\n".join(
            (
                "AWS4-HMAC-SHA256-TRAILER",
                signing.amz_date,
                signing.scope,
                previous,
                hashlib.sha256("".join(canonical).encode("latin-1")).hexdigest(),
            )
        )
        if not hmac.compare_digest(sign(signing.signing_key, string_to_sign), signature):
            raise SignatureDoesNotMatch()


async def plain_body(
    source: AsyncIterator[bytes], length: int, sha256_hex: str | None
) -> AsyncIterator[bytes]:
    """Yield exactly ``length`` bytes; check the declared SHA-256 at the end when one is given.

    With a SHA-256 to check, the body is passed on in batches of :data:`BATCH` bytes, each
    hashed on a thread (hashlib releases the GIL) while the consumer works on it, so the hash
    and the consumer's own work (MD5, sealing, writing) run on different cores.
    """
    if sha256_hex is None:
        total = 0
        async for piece in source:
            total += len(piece)
            if total > length:
                raise IncompleteBody("The body is longer than its Content-Length.")
            yield piece
        if total != length:
            raise IncompleteBody()
        return
    digest = hashlib.sha256()
    hashing: asyncio.Future[None] | None = None
    batch: list[bytes] = []
    total = batched = 0
    async for piece in source:
        total += len(piece)
        if total > length:
            raise IncompleteBody("The body is longer than its Content-Length.")
        batch.append(piece)
        batched += len(piece)
        if batched >= BATCH:
            data = batch[0] if len(batch) == 1 else b"".join(batch)
            batch, batched = [], 0
            if hashing is not None:
                await hashing  # batches are hashed in order
            hashing = asyncio.ensure_future(asyncio.to_thread(digest.update, data))
            yield data
    if hashing is not None:
        await hashing
    if batch:
        data = batch[0] if len(batch) == 1 else b"".join(batch)
        digest.update(data)
        yield data
    if total != length:
        raise IncompleteBody()
    if digest.hexdigest() != sha256_hex:
        raise XAmzContentSHA256Mismatch()


def decoded_length(headers: dict[str, str]) -> int:
    raw = headers.get("x-amz-decoded-content-length")
    if raw is None or not raw.isdigit():
        raise InvalidArgument("x-amz-decoded-content-length is required for aws-chunked bodies.")
    return int(raw)
