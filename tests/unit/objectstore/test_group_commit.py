"""Group commit of new objects: concurrent writes share transactions, nothing is acknowledged
before its transaction commits, a record that cannot be written fails alone, and the blobs
follow each record's outcome (also when its request is cancelled)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from strongroom.kms.storage.engine import make_engine, sqlite_url
from strongroom.objectstore.blobs import FileBlobStore
from strongroom.objectstore.group_commit import GroupCommit
from strongroom.objectstore.records import SSE_S3, BlobRef, Bucket, ObjectRecord, Protection
from strongroom.objectstore.storage.metadata import Metadata

NOW = datetime(2026, 12, 5, tzinfo=UTC)


class _Counting(Metadata):
    """Counts transactions; ``gate``, when set, holds each one until it is opened."""

    transactions: list[int]
    gate: threading.Event | None = None

    def put_objects(self, records: Sequence[ObjectRecord]) -> list[list[str]]:
        if self.gate is not None:
            assert self.gate.wait(10)
        self.transactions.append(len(records))
        return super().put_objects(records)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[_Counting, FileBlobStore]]:
    engine = make_engine(sqlite_url(tmp_path))
    metadata = _Counting(engine)
    metadata.transactions = []
    metadata.create_bucket(Bucket("b", "111122223333", NOW, None))
    yield metadata, FileBlobStore(tmp_path / "objects")
    engine.dispose()


def _blob(blobs: FileBlobStore) -> str:
    writer = blobs.writer()
    writer.write(os.urandom(100))
    writer.commit_now()
    return writer.blob_id


def _record(
    blobs: FileBlobStore, key: str, bucket: str = "b", blob: str | None = None
) -> ObjectRecord:
    blob = blob or _blob(blobs)
    return ObjectRecord(
        bucket,
        key,
        os.urandom(16).hex(),
        100,
        '"etag"',
        NOW,
        "application/octet-stream",
        {},
        (),
        None,
        None,
        (BlobRef(blob, 100),),
        Protection(SSE_S3, os.urandom(16)),
    )


def _exists(blobs: FileBlobStore, record: ObjectRecord) -> bool:
    return blobs.path(record.blobs[0].blob_id).exists()


def test_concurrent_writes_share_transactions_and_replace_in_order(
    store: tuple[_Counting, FileBlobStore],
) -> None:
    metadata, blobs = store
    first = [_record(blobs, f"k{i}") for i in range(30)]
    second = [_record(blobs, f"k{i}") for i in range(30)]  # the same keys again
    commits = GroupCommit(metadata, blobs, max_batch=16)

    async def run() -> None:
        await asyncio.gather(*(commits.put(r) for r in first + second))

    asyncio.run(run())
    assert sum(metadata.transactions) == 60
    assert len(metadata.transactions) < 60  # several records per transaction
    assert max(metadata.transactions) <= 16
    for old, new in zip(first, second, strict=True):
        found = metadata.object("b", new.key)
        assert found is not None and found.object_id == new.object_id
        assert not _exists(blobs, old)  # replaced: deleted after the commit
        assert _exists(blobs, new)


def test_nothing_is_acknowledged_before_its_transaction_commits(
    store: tuple[_Counting, FileBlobStore],
) -> None:
    metadata, blobs = store
    metadata.gate = threading.Event()
    commits = GroupCommit(metadata, blobs)
    record = _record(blobs, "held")

    async def run() -> None:
        task = asyncio.ensure_future(commits.put(record))
        await asyncio.sleep(0.2)
        assert not task.done()
        assert metadata.object("b", "held") is None
        metadata.gate.set()  # type: ignore[union-attr]
        await task
        assert metadata.object("b", "held") is not None

    asyncio.run(run())


def test_a_record_that_cannot_be_written_fails_alone(
    store: tuple[_Counting, FileBlobStore],
) -> None:
    metadata, blobs = store
    commits = GroupCommit(metadata, blobs)
    good = [_record(blobs, f"good{i}") for i in range(5)]
    bad = _record(blobs, "bad", bucket="no-such-bucket")  # refused by the foreign key

    async def run() -> list[BaseException | None]:
        return await asyncio.gather(
            *(commits.put(r) for r in [*good[:2], bad, *good[2:]]), return_exceptions=True
        )

    outcomes = asyncio.run(run())
    assert isinstance(outcomes[2], Exception)
    assert [o for i, o in enumerate(outcomes) if i != 2] == [None] * 5
    for record in good:
        assert metadata.object("b", record.key) is not None
        assert _exists(blobs, record)
    assert not _exists(blobs, bad)  # its blob goes with it


def test_a_cancelled_request_keeps_a_committed_record_whole(
    store: tuple[_Counting, FileBlobStore],
) -> None:
    metadata, blobs = store
    metadata.gate = threading.Event()
    commits = GroupCommit(metadata, blobs)
    record = _record(blobs, "cancelled")

    async def run() -> None:
        task = asyncio.ensure_future(commits.put(record))
        await asyncio.sleep(0.1)
        task.cancel()  # the client went away while its record was being written
        await asyncio.sleep(0)
        metadata.gate.set()  # type: ignore[union-attr]
        with pytest.raises(asyncio.CancelledError):
            await task
        while not metadata.transactions:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)

    asyncio.run(run())
    found = metadata.object("b", "cancelled")
    assert found is not None and found.blobs == record.blobs
    assert _exists(blobs, record)  # committed, so its blob stays


class _Unavailable(_Counting):
    """A database that fails every transaction (locked past its busy timeout, say)."""

    def put_objects(self, records: Sequence[ObjectRecord]) -> list[list[str]]:
        self.transactions.append(len(records))
        raise OSError("database is locked")


def test_a_failing_database_fails_the_batch_at_once(tmp_path: Path) -> None:
    engine = make_engine(sqlite_url(tmp_path))
    metadata = _Unavailable(engine)
    metadata.transactions = []
    blobs = FileBlobStore(tmp_path / "objects")
    commits = GroupCommit(metadata, blobs)
    records = [_record(blobs, f"k{i}") for i in range(10)]

    async def run() -> list[BaseException | None]:
        return await asyncio.gather(*(commits.put(r) for r in records), return_exceptions=True)

    outcomes = asyncio.run(run())
    engine.dispose()
    assert all(isinstance(o, OSError) for o in outcomes)
    assert len(metadata.transactions) <= 2  # one attempt per batch, not one per record
    assert not any(_exists(blobs, r) for r in records)


def test_uncommitted_blobs_are_made_durable_in_the_same_job_and_fail_alone(
    store: tuple[_Counting, FileBlobStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    metadata, blobs = store
    commits = GroupCommit(metadata, blobs)
    writers = [blobs.writer() for _ in range(6)]
    for writer in writers:
        writer.write(os.urandom(100))
    records = [
        _record(blobs, f"d{i}", "no-such-bucket" if i == 3 else "b", w.blob_id)
        for i, w in enumerate(writers)
    ]
    rename = os.rename

    def refuse_one(source: str, target: str) -> None:
        if str(source).endswith(f"{writers[1].blob_id}.part"):
            raise OSError(28, "No space left on device")
        rename(source, target)

    monkeypatch.setattr(os, "rename", refuse_one)

    async def run() -> list[BaseException | None]:
        return await asyncio.gather(
            *(commits.put(r, w) for r, w in zip(records, writers, strict=True)),
            return_exceptions=True,
        )

    outcomes = asyncio.run(run())
    assert isinstance(outcomes[1], OSError)  # its blob could not be committed
    assert isinstance(outcomes[3], Exception)  # its record was refused
    for i, record in enumerate(records):
        written = i not in (1, 3)
        assert (outcomes[i] is None) is written
        assert (metadata.object(record.bucket, record.key) is not None) is written
        assert _exists(blobs, record) is written
    assert list(blobs.temp_dir.iterdir()) == []
