"""Streaming plaintext out of an object's encrypted blobs: only the chunks a range covers."""

from __future__ import annotations

from collections.abc import AsyncIterator

from strongroom.objectstore import cipher
from strongroom.objectstore.blobs import BlobStore
from strongroom.objectstore.records import BlobRef

# Chunks read from disk per step: a 1 MiB read is cheaper than 16 small ones.
_BATCH = 16


async def plaintext(
    blobs: BlobStore,
    refs: tuple[BlobRef, ...],
    root: bytes,
    salt: bytes,
    *,
    start: int,
    end: int,
) -> AsyncIterator[bytes]:
    """The object's bytes ``start`` to ``end`` inclusive (``end < start``: nothing)."""
    offset = 0
    for ref in refs:
        blob_start, blob_end = offset, offset + ref.size - 1
        offset += ref.size
        if blob_end < start or blob_start > end or ref.size == 0:
            continue
        aead = cipher.blob_key(root, salt, ref.blob_id)
        lo, hi = max(start, blob_start) - blob_start, min(end, blob_end) - blob_start
        first, last = lo // cipher.CHUNK, hi // cipher.CHUNK
        final_index = cipher.chunk_count(ref.size) - 1
        index = first
        while index <= last:
            batch_end = min(last, index + _BATCH - 1)
            begin, _ = cipher.chunk_span(ref.size, index)
            stop, length = cipher.chunk_span(ref.size, batch_end)
            data = blobs.read(ref.blob_id, begin, stop + length - begin)
            position = 0
            pieces: list[bytes] = []
            for current in range(index, batch_end + 1):
                _, size = cipher.chunk_span(ref.size, current)
                sealed = data[position : position + size]
                position += size
                if len(sealed) != size:
                    raise cipher.CorruptData(ref.blob_id)
                chunk = cipher.open_chunk(
                    aead, ref.blob_id, current, current == final_index, sealed
                )
                chunk_start = current * cipher.CHUNK
                cut_lo = max(lo - chunk_start, 0)
                cut_hi = min(hi - chunk_start, len(chunk) - 1)
                pieces.append(
                    chunk[cut_lo : cut_hi + 1] if (cut_lo, cut_hi) != (0, len(chunk) - 1) else chunk
                )
            # One message per batch (up to 1 MiB): a send per 64 KiB chunk costs more than
            # the decryption of it.
            yield pieces[0] if len(pieces) == 1 else b"".join(pieces)
            index = batch_end + 1
