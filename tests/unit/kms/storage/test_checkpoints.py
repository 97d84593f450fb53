"""SQLite WAL checkpoints: out of the commits of a server, done by a background job."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import text

from strongroom.kms.storage.database import Database
from strongroom.kms.storage.engine import checkpoint_in_background, sqlite_url

# Enough rows of 2 KiB to take the WAL past SQLite's default of 1,000 pages.
ROWS = 2500


def _fill(db: Database) -> None:
    with db.write_connection() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS filler (data BLOB)"))
    for start in range(0, ROWS, 250):
        with db.write_connection() as conn:  # a commit each: where autocheckpoints happen
            conn.execute(
                text("INSERT INTO filler (data) VALUES (randomblob(2048))"),
                [{} for _ in range(start, start + 250)],
            )


def _wal_frames(path: Path) -> int:
    """How many frames the WAL file holds (from its size: nothing is moved by asking)."""
    with sqlite3.connect(path) as conn:
        page = int(conn.execute("PRAGMA page_size").fetchone()[0])
    size = path.with_name(path.name + "-wal").stat().st_size
    return max(size - 32, 0) // (page + 24)


def _autocheckpoint(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def test_a_server_database_leaves_checkpoints_to_the_job(tmp_path: Path) -> None:
    db = Database.open(sqlite_url(tmp_path))
    try:
        job = checkpoint_in_background(db.engine)
        assert job is not None
        assert _autocheckpoint(db) == 0
        _fill(db)
        frames = _wal_frames(tmp_path / "strongroom.db")
        assert frames > 1000  # no commit checkpointed (and so reset) the WAL
        job()
        with sqlite3.connect(tmp_path / "strongroom.db") as conn:
            busy, logged, checkpointed = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert busy == 0 and logged == checkpointed  # nothing was left for this one
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM filler").scalar_one() == ROWS
    finally:
        db.engine.dispose()


def test_other_databases_keep_automatic_checkpoints(tmp_path: Path) -> None:
    db = Database.open(sqlite_url(tmp_path))
    try:
        assert _autocheckpoint(db) == 1000
        _fill(db)
        frames = _wal_frames(tmp_path / "strongroom.db")
        assert frames < ROWS  # commits checkpointed and the WAL started over
    finally:
        db.engine.dispose()


def test_a_checkpoint_beside_a_write_transaction_does_not_fail(tmp_path: Path) -> None:
    db = Database.open(sqlite_url(tmp_path))
    try:
        job = checkpoint_in_background(db.engine)
        assert job is not None
        _fill(db)
        with sqlite3.connect(tmp_path / "strongroom.db", isolation_level=None) as other:
            other.execute("BEGIN IMMEDIATE")  # another process's writer, mid-transaction
            other.execute("INSERT INTO filler (data) VALUES (x'00')")
            try:
                job()
            finally:
                other.execute("ROLLBACK")
        job()
    finally:
        db.engine.dispose()
