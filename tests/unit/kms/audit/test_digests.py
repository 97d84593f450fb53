"""Digest files: what a digest records of its range, and that publishing one never holds up
the audit writers (it reads a snapshot; it takes no write lock)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from strongroom.kms.audit.digests import DigestPublisher, list_digests
from strongroom.kms.audit.writer import ChainedAuditLog
from strongroom.kms.storage.database import Database
from tests.unit.kms.audit.helpers import REGION, T0, event, new_store, open_db


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_db(tmp_path)
    yield database
    database.engine.dispose()


def publisher(db: Database, writer: ChainedAuditLog, directory: Path) -> DigestPublisher:
    return DigestPublisher(db, writer.chain, directory, REGION, interval_seconds=60, now=lambda: T0)


def test_a_digest_records_the_times_of_its_first_and_last_event_by_seq(
    db: Database, tmp_path: Path
) -> None:
    """Sequence order is commit order: with several writers, a later event can carry an
    earlier time. The digest names the first and last event's (docs/formats.md)."""
    writer = ChainedAuditLog(db, new_store(), REGION)
    offsets = (5, 0, 9, 2)  # minutes after T0, in seq order
    for n, minutes in enumerate(offsets, start=1):
        writer.record(dataclasses.replace(event(n), time=T0 + timedelta(minutes=minutes)))
    writer.flush()
    path = publisher(db, writer, tmp_path / "digests").publish_due(force=True)
    assert path is not None
    (digest,) = list_digests(tmp_path / "digests")
    assert (digest.first_seq, digest.last_seq) == (1, 4)
    assert digest.body["oldestEventTime"] == "2026-01-01T00:05:00.000000Z"
    assert digest.body["newestEventTime"] == "2026-01-01T00:02:00.000000Z"
    assert digest.signature_ok()


def test_a_digest_is_published_while_a_writer_holds_the_write_lock(
    db: Database, tmp_path: Path
) -> None:
    writer = ChainedAuditLog(db, new_store(), REGION)
    writer.record(event(1))
    writer.flush()
    holding, release = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        with db.transaction():  # BEGIN IMMEDIATE, and the writers' queue lock (write_queue.py)
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    try:
        assert holding.wait(10)
        published: list[Path | None] = []
        digest = threading.Thread(
            target=lambda: published.append(
                publisher(db, writer, tmp_path / "digests").publish_due(force=True)
            )
        )
        digest.start()
        digest.join(10)
        assert not digest.is_alive(), "publishing a digest waited for the write lock"
        assert published and published[0] is not None
    finally:
        release.set()
        holder.join(10)
