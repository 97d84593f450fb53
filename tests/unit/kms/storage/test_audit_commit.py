"""The audit writer's group commit on the driver's connection: the rows SQLAlchemy would store,
the writer lock of every SQLite write transaction, rollback, and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import event, insert
from sqlalchemy.exc import OperationalError

from strongroom.kms.storage import schema
from strongroom.kms.storage.audit_commit import (
    EVENT_COLUMNS,
    INDEX_COLUMNS,
    SignedHead,
    sqlite_time,
)
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.engine import SQLITE_BUSY_TIMEOUT_MS, sqlite_url
from strongroom.kms.storage.write_queue import writer_lock

TIMES = [
    datetime(2026, 1, 2, 3, 4, 0, tzinfo=UTC),  # no microseconds: they are still written
    datetime(2026, 11, 29, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2026, 12, 5, 1, 30, 0, 17, tzinfo=timezone(timedelta(hours=2))),  # stored as UTC
    datetime(999, 1, 1, tzinfo=UTC),  # a year of three digits is padded, as SQLAlchemy does
]


def _stored(path: Path, table: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            f"SELECT *, typeof(event_time) FROM {table} ORDER BY seq"  # noqa: S608
        ).fetchall()


def test_rows_are_stored_as_sqlalchemy_stores_them(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for directory in (ours, theirs):
        directory.mkdir()
    events = [
        (n + 1, when, "111111111111", '{"a":1}', bytes([n]) * 32, bytes([n + 1]) * 32)
        for n, when in enumerate(TIMES)
    ]
    index = [("222222222222", n + 1, when) for n, when in enumerate(TIMES)]
    db = Database.open(sqlite_url(ours))
    with db.audit_group_commit() as records:
        records.insert_events(events, index, [("ProviderAccess", "111111111111", 2)])
    db.engine.dispose()
    reference = Database.open(sqlite_url(theirs))
    with reference.write_connection() as conn:
        conn.execute(
            insert(schema.audit_events), [dict(zip(EVENT_COLUMNS, e, strict=True)) for e in events]
        )
        conn.execute(
            insert(schema.audit_event_accounts),
            [dict(zip(INDEX_COLUMNS, i, strict=True)) for i in index],
        )
    reference.engine.dispose()
    for table in ("audit_events", "audit_event_accounts"):
        assert _stored(ours / "strongroom.db", table) == _stored(theirs / "strongroom.db", table)
    assert _stored(ours / "strongroom.db", "audit_events")[2][1] == "2026-12-04 23:30:00.000017"


def test_sqlite_time_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        sqlite_time(datetime(2026, 1, 1))


def test_a_group_commit_holds_the_writer_lock_and_rolls_back_on_error(tmp_path: Path) -> None:
    db = Database.open(sqlite_url(tmp_path))
    lock = writer_lock(tmp_path / "strongroom.db", SQLITE_BUSY_TIMEOUT_MS / 1000)
    row = (1, TIMES[0], "111111111111", "{}", bytes(32), bytes(32))
    try:
        with pytest.raises(RuntimeError), db.audit_group_commit() as records:
            records.insert_events([row], [], [])
            assert lock._thread_lock.locked()
            # Another thread's write transaction cannot start while the group commit is open.
            assert not lock._thread_lock.acquire(blocking=False)
            raise RuntimeError
        assert not lock._thread_lock.locked()
        assert _stored(tmp_path / "strongroom.db", "audit_events") == []
        with db.audit_group_commit() as records:
            assert records.lock_head(bytes(32)) == (0, bytes(32))
            records.insert_events([row], [], [])
            records.set_head(1, bytes(32))
        assert len(_stored(tmp_path / "strongroom.db", "audit_events")) == 1
    finally:
        db.engine.dispose()


def test_driver_errors_are_raised_as_sqlalchemy_raises_them(tmp_path: Path) -> None:
    db = Database.open(sqlite_url(tmp_path))
    try:
        with sqlite3.connect(tmp_path / "strongroom.db") as conn:
            conn.execute("DROP TABLE audit_signed_heads")
        with pytest.raises(OperationalError) as raised, db.audit_group_commit() as records:
            records.first_signing_key()
            records.lock_head(bytes(32))
            records.set_head(5, b"secret-bytes" * 3)
            records.add_signing_key("k", b"p", b"s", TIMES[0])
            records.add_signed_head(SignedHead(5, bytes(32), "t", "k", b"sig"))
        assert "audit_signed_heads" in str(raised.value.orig)
        assert "secret-bytes" not in str(raised.value)
        # The failed transaction left nothing behind and released the lock.
        with db.audit_group_commit() as records:
            assert records.lock_head(bytes(32)) == (0, bytes(32))
            assert records.first_signing_key() is None
    finally:
        db.engine.dispose()


def test_concurrent_group_commits_of_two_engines_serialise_on_the_head(database_url: str) -> None:
    """Two processes' writers (two engines): every group commit reads the head the previous
    one set (SQLite: the writer lock; PostgreSQL: the head row's FOR UPDATE)."""
    engines = [Database.open(database_url), Database.open(database_url)]
    with engines[0].audit_group_commit() as records:
        records.lock_head(bytes(32))  # the head row exists (made at first start)
    rounds = 40
    failures: list[BaseException] = []

    def writer(db: Database, name: str) -> None:
        try:
            for n in range(rounds):
                with db.audit_group_commit() as records:
                    seq, _ = records.lock_head(bytes(32))
                    row = (seq + 1, TIMES[0], "111111111111", f"{name}-{n}", bytes(32), bytes(32))
                    records.insert_events([row], [], [])
                    records.set_head(seq + 1, bytes(32))
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=writer, args=(db, f"w{i}")) for i, db in enumerate(engines)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    try:
        with engines[0].read() as tx:
            assert tx.audit.bounds() == (1, 2 * rounds)
            assert tx.audit.head() == (2 * rounds, bytes(32))
    finally:
        for db in engines:
            db.engine.dispose()


def test_the_writers_connection_is_kept_between_commits_but_not_after_a_failure(
    database_url: str,
) -> None:
    db = Database.open(database_url)
    checkouts: list[object] = []
    event.listen(db.engine, "checkout", lambda dbapi, *_: checkouts.append(dbapi))
    try:
        for _ in range(3):
            with db.audit_group_commit() as records:
                records.lock_head(bytes(32))
        assert len(checkouts) == 1  # one checkout for three commits
        assert db.engine.pool.checkedout() == 1  # type: ignore[attr-defined]
        with pytest.raises(RuntimeError), db.audit_group_commit() as records:
            records.lock_head(bytes(32))
            raise RuntimeError
        assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        with db.audit_group_commit() as records:
            records.lock_head(bytes(32))
        assert len(checkouts) == 2
        db.release_audit_connection()
        assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        db.release_audit_connection()  # nothing kept: nothing to do
    finally:
        db.engine.dispose()
