"""Database engines: SQLite (WAL) for the embedded default; any SQLAlchemy URL otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

SQLITE_BUSY_TIMEOUT_MS = 10_000
READ_ONLY_OPTION = "strongroom_read_only"


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'strongroom.db'}"


def make_engine(url: str) -> Engine:
    # hide_parameters: a database error's message never quotes the values of its statement
    # (audit records, sealed secrets), so a logged traceback cannot either.
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, hide_parameters=True)
    engine = create_engine(url, connect_args={"check_same_thread": False}, hide_parameters=True)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take over transaction control so every transaction starts with BEGIN IMMEDIATE: several
    # worker processes write to one file, and a deferred transaction that later upgrades to a
    # write lock fails with SQLITE_BUSY instead of waiting.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    # Reads (Database.read) start a deferred transaction and take no write lock.
    read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
