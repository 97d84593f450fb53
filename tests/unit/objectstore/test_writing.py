"""Writing a body into a blob: batches hashed and sealed on threads give the same blob, digests
and checksum as one pass, and any failure, in a thread or in the body, leaves no file behind."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from strongroom.objectstore import reading, writing
from strongroom.objectstore.blobs import FileBlobStore, _FileWriter
from strongroom.objectstore.errors import BadDigest, IncompleteBody
from strongroom.objectstore.records import BlobRef

MiB = 1024 * 1024
ROOT, SALT = os.urandom(32), os.urandom(16)


async def _pieces(data: bytes, size: int, fail_after: int | None = None) -> AsyncIterator[bytes]:
    for number, start in enumerate(range(0, len(data), size)):
        if fail_after is not None and number == fail_after:
            raise IncompleteBody()
        await asyncio.sleep(0)
        yield data[start : start + size]


def _files(store: FileBlobStore) -> list[Path]:
    return [f.path for f in store.files()]


def _write(
    store: FileBlobStore, body: AsyncIterator[bytes], headers: dict[str, str] | None = None
) -> writing.WrittenBlob:
    return asyncio.run(
        writing.write_blob(
            store,
            body,
            ROOT,
            SALT,
            headers=headers or {},
            trailer={},
            max_size=64 * MiB,
            default_checksum="CRC32",
        )
    )


async def _read(store: FileBlobStore, written: writing.WrittenBlob) -> bytes:
    refs = (BlobRef(written.blob_id, written.size),)
    stream = reading.plaintext(store, refs, ROOT, SALT, start=0, end=written.size - 1)
    return b"".join([piece async for piece in stream])


@pytest.mark.parametrize(
    ("size", "piece"),
    [
        (0, 65536),
        (4096, 65536),
        (writing.BATCH, writing.BATCH),  # exactly one batch, then nothing
        (3 * writing.BATCH + 12345, 65536),  # batches on threads, a remainder inline
        (3 * writing.BATCH + 1, 1_000_003),  # pieces that straddle the batches
        (5 * writing.BATCH, 3 * writing.BATCH),  # pieces larger than a batch
    ],
)
def test_any_body_gives_the_same_digests_and_plaintext(
    tmp_path: Path, size: int, piece: int
) -> None:
    data = os.urandom(size)
    store = FileBlobStore(tmp_path)
    md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
    written = _write(store, _pieces(data, piece), {"content-md5": md5})
    assert written.size == size
    assert written.md5_hex == hashlib.md5(data).hexdigest()
    crc = zlib.crc32(data).to_bytes(4, "big")
    assert (written.checksum_algorithm, written.checksum_value) == (
        "CRC32",
        base64.b64encode(crc).decode(),
    )
    if size:
        assert asyncio.run(_read(store, written)) == data
    assert _files(store) == [store.path(written.blob_id)]


def test_a_wrong_content_md5_over_many_batches_leaves_nothing(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    wrong = base64.b64encode(b"\0" * 16).decode()
    with pytest.raises(BadDigest):
        _write(store, _pieces(os.urandom(4 * writing.BATCH), 65536), {"content-md5": wrong})
    assert _files(store) == []


def test_a_body_that_breaks_off_while_batches_run_leaves_nothing(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    with pytest.raises(IncompleteBody):
        _write(store, _pieces(os.urandom(6 * writing.BATCH), 65536, fail_after=40))
    assert _files(store) == []


class _FailingStore(FileBlobStore):
    """Its writers fail on the ``fail_at``-th write (from a batch thread, for a large body)."""

    fail_at = 20

    def writer(self, blob_id: str | None = None) -> _FileWriter:
        inner = super().writer(blob_id)
        count = 0
        write = inner.write

        def failing(data: bytes) -> None:
            nonlocal count
            count += 1
            if count == self.fail_at:
                raise OSError(28, "No space left on device")
            write(data)

        inner.write = failing  # type: ignore[method-assign]
        return inner


def test_a_write_failing_in_a_batch_thread_is_raised_and_leaves_nothing(tmp_path: Path) -> None:
    store = _FailingStore(tmp_path)
    with pytest.raises(OSError, match="No space left"):
        _write(store, _pieces(os.urandom(4 * writing.BATCH), 65536))
    assert _files(store) == []
