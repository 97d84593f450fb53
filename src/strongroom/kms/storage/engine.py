"""Database engines: SQLite (WAL) for the embedded default, PostgreSQL (psycopg 3) to scale out."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from strongroom.kms.storage.driver import driver_error
from strongroom.kms.storage.write_queue import (
    QueuedWriterConnection,
    begin_immediate,
    connection_factory,
)

SQLITE_BUSY_TIMEOUT_MS = 10_000
READ_ONLY_OPTION = "strongroom_read_only"
# Per worker process. Requests use a connection only on a cache miss or a control-plane
# change, and the background jobs use one at a time.
POSTGRES_POOL_SIZE = 5
POSTGRES_POOL_OVERFLOW = 5
POSTGRES_POOL_TIMEOUT_S = 5
POSTGRES_CONNECT_TIMEOUT_S = 5


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'strongroom.db'}"


def redacted(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable database URL>"


def backend(url: str) -> str:
    """``sqlite`` or ``postgresql`` (ValueError for anything else)."""
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database {redacted(url)}: use sqlite:/// or postgresql://")
    return name


def make_engine(url: str) -> Engine:
    # hide_parameters: a database error's message never quotes the values of its statement
    # (audit records, sealed secrets), so a logged traceback cannot either.
    if backend(url) == "postgresql":
        # postgresql:// means psycopg 3 here (SQLAlchemy's default driver is psycopg2).
        parsed = make_url(url).set(drivername="postgresql+psycopg")
        return create_engine(
            parsed,
            pool_pre_ping=True,
            hide_parameters=True,
            pool_size=POSTGRES_POOL_SIZE,
            max_overflow=POSTGRES_POOL_OVERFLOW,
            pool_timeout=POSTGRES_POOL_TIMEOUT_S,
            connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S},
        )
    database = make_url(url).database
    path = None if not database or database == ":memory:" else Path(database)
    factory = connection_factory(path, SQLITE_BUSY_TIMEOUT_MS / 1000)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "factory": factory},
        hide_parameters=True,
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take over transaction control so every transaction starts with BEGIN IMMEDIATE: several
    # worker processes write to one file, and a deferred transaction that later upgrades to a
    # write lock fails with SQLITE_BUSY instead of waiting.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    _use_wal(cursor)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _use_wal(cursor: Any) -> None:
    """Switch a new database file to WAL (the mode stays in the file; later connections find it).

    Connections opening a new file at once (nodes or workers starting together) race for the
    switch, which needs the file's exclusive lock: SQLite answers the loser "database is
    locked" at once, without waiting in its busy handler. So the loser retries, within the
    busy timeout, until the winner's switch is done.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if mode != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(0.005)


def _sqlite_on_begin(connection: Any) -> None:
    # Reads (Database.read) start a deferred transaction and take no write lock.
    # Writes queue on the database's writer lock first (write_queue.py).
    read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
    if read_only:
        connection.exec_driver_sql("BEGIN")
        return
    try:
        begin_immediate(connection.connection.dbapi_connection)
    except sqlite3.Error as error:  # raised as exec_driver_sql would raise it
        raise driver_error(connection, "BEGIN IMMEDIATE", error) from error


def checkpoint_in_background(
    engine: Engine,
    *,
    restart_after_frames: int = 4096,
    locked_pass_frames: int = 1024,
) -> Callable[[], None] | None:
    """SQLite: commits stop checkpointing the WAL; the returned job does it, and keeps the WAL
    from growing without bound.

    By default the commit that takes the WAL past 1,000 pages copies them into the database
    file and syncs both files, inside that commit: on a busy server, every second or two one
    audit group commit (and every response waiting for it, in every worker, since the writer
    lock is held until the commit returns) waited for two ``fdatasync`` calls, 15-30 ms each
    on this machine under load. The server runs the job in a thread every second instead; a
    PASSIVE checkpoint neither waits for nor blocks readers and writers.

    But a PASSIVE checkpoint copies only the frames that were there when it started, and
    SQLite starts the WAL again from the beginning only after a checkpoint has copied all of
    it: under steady writes that never happens, and the WAL grew by gigabytes (every new
    frame a block the filesystem must allocate; commits stalled 0.1-0.8 s when it flushed, and
    page lookups walk a longer WAL index; docs/adr/0041). So once the WAL holds
    ``restart_after_frames`` frames (16 MiB of 4 KiB pages), the job catches up with more
    passes until fewer than ``locked_pass_frames`` frames arrive during one, then copies the
    rest holding the database's writer lock (write_queue.py): commits wait for that short pass
    (a few ms plus its two syncs), and the next one starts the WAL again. Tools that open the
    database keep SQLite's automatic checkpoints. Returns None for PostgreSQL.
    """
    if engine.dialect.name != "sqlite":
        return None
    event.listen(engine, "connect", _no_autocheckpoint)
    engine.dispose()  # pooled connections were made without it: they reconnect

    def checkpoint() -> None:
        raw = engine.raw_connection()
        try:
            driver = raw.driver_connection
            frames = _passive(driver)
            if frames is None or frames < restart_after_frames:
                return
            for _ in range(_CATCH_UP_PASSES):
                seen, frames = frames, _passive(driver)
                if frames is None:
                    return
                if frames - seen < locked_pass_frames:
                    break
            lock = driver.writer_lock if isinstance(driver, QueuedWriterConnection) else None
            if lock is None:  # an in-memory database: one connection, nothing to catch up
                return
            try:
                lock.acquire()
            except sqlite3.OperationalError:  # not free within busy_timeout: next second
                return
            try:
                _passive(driver)
            finally:
                lock.release()
        except sqlite3.Error as error:
            # As SQLAlchemy raises it (a full disk is the machine's failure, logged as such).
            raise DBAPIError.instance(
                _CHECKPOINT, None, error, sqlite3.Error, hide_parameters=True
            ) from error
        finally:
            raw.close()

    return checkpoint


_CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"
# Passes without the writer lock before the last one with it (each copies what arrived
# during the previous one, so they shorten quickly).
_CATCH_UP_PASSES = 3


def _passive(driver: Any) -> int | None:
    """A PASSIVE checkpoint (autocommit at the driver: no transaction around it): the frames
    the WAL held when it started, or None while another process's checkpoint runs."""
    try:
        busy, frames, _ = driver.execute(_CHECKPOINT).fetchone()
    except sqlite3.Error as error:
        if "locked" in str(error) or "busy" in str(error):
            return None
        raise
    return None if busy else int(frames)


def _no_autocheckpoint(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")
