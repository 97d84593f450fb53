"""Streaming a request body into one encrypted blob, with its digests, in constant memory."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from strongroom.objectstore import checksums, cipher
from strongroom.objectstore.blobs import BlobStore, BlobWriter
from strongroom.objectstore.errors import BadDigest, EntityTooLarge, InvalidDigest

# Bodies larger than this are processed in batches of it, off the event loop.
BATCH = 1024 * 1024


@dataclass(frozen=True, slots=True)
class WrittenBlob:
    blob_id: str
    size: int
    md5_hex: str
    checksum_algorithm: str | None
    checksum_value: str | None
    # Not yet durable (``write_blob(..., defer=True)`` of a small blob): the caller commits it
    # (``GroupCommit.put``) or aborts it.
    uncommitted: BlobWriter | None = None


def content_md5(headers: Mapping[str, str]) -> bytes | None:
    raw = headers.get("content-md5")
    if raw is None:
        return None
    try:
        digest = base64.b64decode(raw, validate=True)
    except binascii.Error:
        digest = b""
    if len(digest) != 16:
        raise InvalidDigest()
    return digest


async def _settled(futures: list[asyncio.Future[None]]) -> None:
    """Wait for every one of ``futures``, then raise the first error among them."""
    if futures:
        await asyncio.wait(futures)
        for future in futures:
            future.result()


async def write_blob(
    blobs: BlobStore,
    body: AsyncIterator[bytes],
    root: bytes,
    salt: bytes,
    *,
    headers: Mapping[str, str],
    trailer: Mapping[str, str],
    max_size: int,
    default_checksum: str | None = None,
    defer: bool = False,
) -> WrittenBlob:
    """Encrypt ``body`` into a new committed blob; any failure leaves no blob behind.

    The declared checksum (header or aws-chunked trailer) and Content-MD5 are verified before
    the blob is committed; ``default_checksum`` is computed when the request declares none.
    ``defer``: a blob that is still all in memory (smaller than the writer's buffer) is
    returned uncommitted, for the caller to make durable with its record (``GroupCommit``):
    a small PUT then costs one thread job instead of two.
    """
    expected_md5 = content_md5(headers)
    expected = checksums.requested(headers)
    algorithm = expected.algorithm if expected is not None else default_checksum
    running = checksums.Checksum(algorithm) if algorithm is not None else None
    md5 = hashlib.md5()  # noqa: S324 - S3's ETag, not a security function
    writer = blobs.writer()
    encryptor = cipher.Encryptor(cipher.blob_key(root, salt, writer.blob_id), writer.blob_id)

    def seal(data: bytes) -> None:
        if running is not None:
            running.update(data)
        for sealed in encryptor.feed(data):
            writer.write(sealed)

    def absorb(data: bytes) -> None:
        md5.update(data)
        seal(data)

    received = 0
    batch: list[bytes] = []
    batched = 0
    busy: list[asyncio.Future[None]] = []
    try:
        writer.write(encryptor.header())
        async for piece in body:
            received += len(piece)
            if received > max_size:
                raise EntityTooLarge(MaxSizeAllowed=str(max_size))
            batch.append(piece)
            batched += len(piece)
            if batched >= BATCH:
                # A batch is hashed (MD5) on one thread while it is checksummed, sealed and
                # written on another (hashlib, zlib, the cipher and the write release the GIL),
                # and the event loop receives the next batch meanwhile. MD5 alone is the
                # slowest step (S3's ETag, about 750 MB/s per core), so it gets a thread of
                # its own; each runs the batches in order (one batch in flight).
                data = batch[0] if len(batch) == 1 else b"".join(batch)
                batch, batched = [], 0
                await _settled(busy)
                busy = [
                    asyncio.ensure_future(asyncio.to_thread(md5.update, data)),
                    asyncio.ensure_future(asyncio.to_thread(seal, data)),
                ]
        await _settled(busy)
        busy = []
        for piece in batch:
            absorb(piece)
        writer.write(encryptor.finish())
        if expected_md5 is not None and expected_md5 != md5.digest():
            raise BadDigest()
        value = None
        if running is not None:
            value = (
                checksums.verify(expected, running, trailer)
                if expected is not None
                else running.b64()
            )
        deferred: BlobWriter | None = writer if defer and writer.in_memory else None
        if deferred is None:
            await writer.commit()
    except BaseException:
        if busy:
            await asyncio.wait(busy)  # never close the file under a running batch
            for future in busy:
                if future.done() and not future.cancelled():
                    future.exception()  # retrieved: the error raised is the first one
        writer.abort()
        raise
    return WrittenBlob(writer.blob_id, encryptor.size, md5.hexdigest(), algorithm, value, deferred)
