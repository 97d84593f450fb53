"""SQLite WAL checkpoints: out of the commits of a server, done by a background job."""

from __future__ import annotations

import sqlite3
import threading
import time
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


def _wal_generation(path: Path) -> bytes:
    """The WAL header's salts: SQLite draws new ones each time it starts the WAL again from the
    beginning (read from the file: nothing is moved by asking)."""
    with open(path.with_name(path.name + "-wal"), "rb") as wal:
        return wal.read(24)[16:24]


def test_the_job_starts_the_wal_again_under_steady_writes(tmp_path: Path) -> None:
    """A PASSIVE checkpoint never copies the frames that arrive while it runs, so with steady
    writes the WAL was never started again (it grew by gigabytes under the benchmark). The
    job catches up, copies the last frames holding the writer lock, and the next commit
    starts the WAL again (docs/adr/0041); nothing written is lost."""
    db = Database.open(sqlite_url(tmp_path))
    path = tmp_path / "strongroom.db"
    stop = threading.Event()
    written = [0]

    def steady_writes() -> None:
        while not stop.is_set():
            with db.write_connection() as conn:
                conn.execute(
                    text("INSERT INTO filler (data) VALUES (randomblob(2048))"),
                    [{} for _ in range(20)],
                )
            written[0] += 20

    try:
        job = checkpoint_in_background(db.engine, restart_after_frames=200, locked_pass_frames=50)
        assert job is not None
        with db.write_connection() as conn:
            conn.execute(text("CREATE TABLE filler (data BLOB)"))
        writer = threading.Thread(target=steady_writes)
        writer.start()
        try:
            deadline = time.monotonic() + 30
            while _wal_frames(path) < 400:
                assert time.monotonic() < deadline, "the writer never filled the WAL"
                time.sleep(0.01)
            first = _wal_generation(path)
            while _wal_generation(path) == first:
                assert time.monotonic() < deadline, "the WAL was never started again"
                job()
                time.sleep(0.02)
        finally:
            stop.set()
            writer.join(timeout=30)
        assert not writer.is_alive()
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM filler").scalar_one() == written[0]
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
    finally:
        stop.set()
        db.engine.dispose()
