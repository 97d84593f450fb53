"""The audit chain's appends: their statements, and the group commit's own transaction.

:class:`ChainWrites` holds every statement of an append to the hash chain (lock the head, the
signing key's row, insert the events and their index rows, add the signed head, move the head),
compiled once per dialect and run on the driver's cursor (driver.py). ``tx.audit`` has them
(``AuditRecords`` extends this class), and so does :class:`GroupCommits`: the audit writer's
transactions on a pooled DBAPI connection, without SQLAlchemy's ``Connection`` and transaction
objects around it (an empty ``Engine.begin`` and commit cost ~30 µs of CPU, as much as the
statements of a small group; docs/adr/0034), kept from one commit to the next (docs/adr/0038).

On SQLite, the rows of a group go to the driver as it takes them (the event time as the text
``UtcDateTime`` and SQLite's ``DATETIME`` store, hashes as bytes), not through each column
type's bind processor: one row per KMS request, so per-row work counts. The stored values are
the same (tests/unit/kms/storage/test_audit_commit.py compares them with SQLAlchemy's).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import NamedTuple

from sqlalchemy import Engine, Table, bindparam, insert, select, update
from sqlalchemy.pool import PoolProxiedConnection

from strongroom.kms.storage import schema
from strongroom.kms.storage.bulk import insert_many, statement
from strongroom.kms.storage.driver import (
    AnyConnection,
    DriverStatement,
    RawConnection,
    driver_error,
)
from strongroom.kms.storage.write_queue import begin_immediate

HEAD = schema.audit_chain_head.c
K = schema.audit_signing_keys.c
HEAD_ROW_ID = 1

EVENT_COLUMNS = ("seq", "event_time", "account_id", "record", "prev_hash", "hash")
INDEX_COLUMNS = ("account_id", "seq", "event_time")
NAMED_COLUMNS = ("event_name", "account_id", "seq")


class SignedHead(NamedTuple):
    seq: int
    hash: bytes
    signed_at: str
    key_id: str
    signature: bytes


# The statements of every group commit, compiled once (driver.py).
_LOCK_HEAD = DriverStatement(
    lambda: select(HEAD.seq, HEAD.hash).where(HEAD.id == bindparam("id")).with_for_update()
)
_INSERT_HEAD = DriverStatement(
    lambda: insert(schema.audit_chain_head).values(
        id=bindparam("id"), seq=bindparam("seq"), hash=bindparam("hash")
    )
)
_SET_HEAD = DriverStatement(
    lambda: (
        update(schema.audit_chain_head)
        .where(HEAD.id == bindparam("head_id"))
        .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
    )
)
_ADD_SIGNED_HEAD = DriverStatement(
    lambda: insert(schema.audit_signed_heads).values(
        {name: bindparam(name) for name in SignedHead._fields}
    )
)
_FIRST_SIGNING_KEY = DriverStatement(
    lambda: select(K.key_id, K.sealed_private_key).order_by(K.created_at, K.key_id).limit(1)
)
_ADD_SIGNING_KEY = DriverStatement(
    lambda: insert(schema.audit_signing_keys).values(
        key_id=bindparam("key_id"),
        public_key=bindparam("public_key"),
        sealed_private_key=bindparam("sealed_private_key"),
        created_at=bindparam("created_at"),
    )
)


def sqlite_time(value: datetime) -> str:
    """What ``UtcDateTime`` stores on SQLite: naive UTC as ``YYYY-MM-DD HH:MM:SS.ffffff``
    (SQLAlchemy's ``DATETIME`` format, microseconds always written)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the storage layer")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]


class ChainWrites:
    """The statements of an append to the chain, in one open write transaction."""

    def __init__(self, conn: AnyConnection) -> None:
        self._conn = conn

    def lock_head(self, genesis: bytes) -> tuple[int, bytes]:
        """The chain head (seq, hash), locked until the transaction ends (``FOR UPDATE``;
        SQLite's write transactions hold the lock from their start). Created if missing."""
        rows = _LOCK_HEAD.rows(self._conn, {"id": HEAD_ROW_ID})
        if rows:
            seq, hash_ = rows[0]
            return int(seq), bytes(hash_)
        _INSERT_HEAD.rows(self._conn, {"id": HEAD_ROW_ID, "seq": 0, "hash": genesis})
        return 0, genesis

    def insert_events(
        self,
        rows: Sequence[tuple[int, datetime, str, str, bytes, bytes]],
        index: Sequence[tuple[str, int, datetime]],
        named: Sequence[tuple[str, str, int]],
    ) -> None:
        """Events (seq, event_time, account_id, record, prev_hash, hash), their account index
        rows (account_id, seq, event_time) and name index rows (event_name, account_id, seq).
        Driver-level executemany: one row per request, so per-row work counts."""
        conn = self._conn
        if conn.dialect.name != "sqlite":
            insert_many(conn, schema.audit_events, EVENT_COLUMNS, rows)
            insert_many(conn, schema.audit_event_accounts, INDEX_COLUMNS, index)
            insert_many(conn, schema.audit_named_events, NAMED_COLUMNS, named)
            return
        _ready(conn, schema.audit_events, EVENT_COLUMNS).run_ready(
            conn, [(s, sqlite_time(t), a, r, p, h) for s, t, a, r, p, h in rows]
        )
        if index:
            _ready(conn, schema.audit_event_accounts, INDEX_COLUMNS).run_ready(
                conn, [(a, s, sqlite_time(t)) for a, s, t in index]
            )
        if named:
            _ready(conn, schema.audit_named_events, NAMED_COLUMNS).run_ready(conn, list(named))

    def add_signed_head(self, head: SignedHead) -> None:
        _ADD_SIGNED_HEAD.rows(self._conn, head._asdict())

    def set_head(self, seq: int, hash_: bytes) -> None:
        _SET_HEAD.rows(self._conn, {"head_id": HEAD_ROW_ID, "new_seq": seq, "new_hash": hash_})

    def first_signing_key(self) -> tuple[str, bytes] | None:
        """(key_id, sealed private key) of the oldest signing key: the one that signs."""
        rows = _FIRST_SIGNING_KEY.rows(self._conn, {})
        return None if not rows else (str(rows[0][0]), bytes(rows[0][1]))

    def add_signing_key(
        self, key_id: str, public_key: bytes, sealed_private_key: bytes, created_at: datetime
    ) -> None:
        _ADD_SIGNING_KEY.rows(
            self._conn,
            {
                "key_id": key_id,
                "public_key": public_key,
                "sealed_private_key": sealed_private_key,
                "created_at": created_at,
            },
        )


def _ready(conn: AnyConnection, table: Table, columns: tuple[str, ...]) -> DriverStatement:
    found = statement(table, columns)
    if found.order(conn) != columns:  # the INSERT binds the columns in the table's order
        raise AssertionError(f"{table.name}: parameters in order {found.order(conn)}")
    return found


class GroupCommits:
    """The audit writer's write transactions, on a pooled DBAPI connection kept from one group
    commit to the next.

    On SQLite a transaction starts as :meth:`Database.write_connection`'s do: the database's
    writer lock (write_queue.py), then ``BEGIN IMMEDIATE``; the lock is released when the
    commit or rollback is done. On PostgreSQL the driver opens the transaction at the first
    statement (the chain head's ``FOR UPDATE``), as SQLAlchemy's would. Commits when the block
    ends, rolls back if it raises; driver errors are raised as SQLAlchemy's. Runs no commit
    hook and records no change for the feed: the block only appends to the chain.

    The connection is kept while the writer is busy: a checkout and return of the pool cost
    ~20 µs of CPU, an eighth of a small group's commit (docs/adr/0038). A transaction that
    fails does not keep it (a failed commit's connection is invalidated, see ``_end``), and
    :meth:`release` returns it to the pool when the writer goes idle, so an idle writer holds
    no connection and PostgreSQL's is pinged again at the next checkout after a pause.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._kept: PoolProxiedConnection | None = None
        self._lock = threading.Lock()  # commits from two threads each get a connection

    @contextmanager
    def transaction(self) -> Iterator[ChainWrites]:
        with self._lock:
            raw, self._kept = self._kept, None
        if raw is None:
            raw = self._engine.raw_connection()
        conn = RawConnection(self._engine.dialect, raw)
        try:
            _begin(conn)
            try:
                yield ChainWrites(conn)
            except BaseException:
                _end(conn, commit=False)
                raise
            _end(conn, commit=True)
        except BaseException:
            raw.close()
            raise
        with self._lock:
            raw, self._kept = self._kept, raw
        if raw is not None:  # another thread's commit kept one meanwhile
            raw.close()

    def release(self) -> None:
        """Return the kept connection to the pool (the writer is idle, or stops)."""
        with self._lock:
            raw, self._kept = self._kept, None
        if raw is not None:
            raw.close()


def _begin(conn: RawConnection) -> None:
    if conn.dialect.name != "sqlite":
        return
    driver = conn.connection.driver_connection
    assert driver is not None  # a pooled connection, just checked out
    try:
        begin_immediate(driver)
    except conn.dialect.loaded_dbapi.Error as error:
        raise driver_error(conn, "BEGIN IMMEDIATE", error) from error


def _end(conn: RawConnection, *, commit: bool) -> None:
    raw = conn.connection
    try:
        if commit:
            raw.commit()
        else:
            raw.rollback()
    except conn.dialect.loaded_dbapi.Error as error:
        # The connection's state is unknown (a lost server, a failed commit): never reuse it
        # (closing it ends its transaction and, on SQLite, releases the writer lock).
        raw.invalidate()
        if commit:
            raise driver_error(conn, "COMMIT", error) from error
