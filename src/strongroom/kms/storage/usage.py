"""Last-usage records of keys.

The tracker (service/usage.py) hands over, about once a second, the last use of every key used
since: with many keys in use that is a row per request, spread over the whole table. On SQLite
the whole batch is one driver-level upsert (driver.py: INSERT ... ON CONFLICT DO UPDATE, kept
only if newer), with the times already in the text SQLite stores (as the audit writer's rows: no
bind processor per value), and with a page cache large enough for the pages a large batch
touches (SQLite's default 2 MiB spills and re-reads them: ~9 µs of SQLite per row against ~6.5
with 100,000 keys in use), given back after the batch. A key deleted since its use fails the
batch's foreign key; the batch is then rolled back to its savepoint and written as on other
databases: the rows that exist are updated in one executemany, and only keys never used before
are inserted one by one."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ClauseElement

from strongroom.kms.domain.usage import KeyUsage
from strongroom.kms.storage import schema
from strongroom.kms.storage.audit_commit import sqlite_time
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.driver import DriverStatement

U = schema.key_usage.c
_IN_CHUNK = 500  # key ids per IN (...) list
# The page cache of a large batch's connection while it runs (KiB; SQLite's default is 2,000):
# ~15 MiB of table and index pages for 7,000 rows spread over 100,000 keys.
_BATCH_CACHE_KIB = 32_768
_BATCH_CACHE_ROWS = 1_000  # from this many rows on
_UPDATE_COLUMNS = ("usage_key_id", "since", "new_operation", "new_at", "new_request_id")
_UPDATE = DriverStatement(
    lambda: (
        update(schema.key_usage)
        .where(U.key_id == bindparam("usage_key_id"), U.at < bindparam("since"))
        .values(
            operation=bindparam("new_operation"),
            at=bindparam("new_at"),
            request_id=bindparam("new_request_id"),
        )
    )
)
# The upsert's parameters in the order of its SQL: run_ready's rows.
_UPSERT_ORDER = ("usage_key_id", "new_operation", "new_at", "new_request_id")


def _sqlite_upsert() -> ClauseElement:
    new = sqlite.insert(schema.key_usage).values(
        key_id=bindparam("usage_key_id"),
        operation=bindparam("new_operation"),
        at=bindparam("new_at"),
        request_id=bindparam("new_request_id"),
    )
    latest = new.excluded
    return new.on_conflict_do_update(
        index_elements=[U.key_id],
        set_={"operation": latest.operation, "at": latest.at, "request_id": latest.request_id},
        where=U.at < latest.at,  # a later use already stored (another worker's) stays
    )


_UPSERT = DriverStatement(_sqlite_upsert)


class UsageRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, usages: Iterable[KeyUsage]) -> None:
        """Keep, per key, the latest of what is stored and what is given."""
        batch = list(usages)
        if not batch:
            return
        with self._db.write_connection() as conn:
            if conn.dialect.name == "sqlite" and _upserted(conn, batch):
                return
            stored: set[str] = set()
            ids = [u.key_id for u in batch]
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = ids[start : start + _IN_CHUNK]
                stored.update(conn.scalars(select(U.key_id).where(U.key_id.in_(chunk))))
            _UPDATE.run_rows(
                conn,
                _UPDATE_COLUMNS,
                [
                    (u.key_id, u.at, u.operation, u.at, u.request_id)
                    for u in batch
                    if u.key_id in stored
                ],
            )
            for usage in batch:
                if usage.key_id in stored:
                    continue
                values = {
                    "operation": usage.operation,
                    "at": usage.at,
                    "request_id": usage.request_id,
                }
                try:
                    with conn.begin_nested():
                        conn.execute(insert(schema.key_usage).values(key_id=usage.key_id, **values))
                except IntegrityError:
                    pass  # the key was deleted meanwhile

    def get(self, key_id: str) -> KeyUsage | None:
        with self._db.read_connection() as conn:
            row = conn.execute(
                select(U.operation, U.at, U.request_id).where(U.key_id == key_id)
            ).first()
        return None if row is None else KeyUsage(key_id, row.operation, row.at, row.request_id)


def _upserted(conn: Connection, batch: list[KeyUsage]) -> bool:
    """The batch in one upsert on SQLite; False (nothing written) if a key is gone."""
    if _UPSERT.order(conn) != _UPSERT_ORDER:
        raise AssertionError(f"key_usage upsert parameters: {_UPSERT.order(conn)}")
    rows: list[tuple[object, ...]] = [
        (u.key_id, u.operation, sqlite_time(u.at), u.request_id) for u in batch
    ]
    cache_kib = None
    if len(rows) >= _BATCH_CACHE_ROWS:
        cache_kib = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
        conn.exec_driver_sql(f"PRAGMA cache_size=-{_BATCH_CACHE_KIB}")
    try:
        with conn.begin_nested():
            _UPSERT.run_ready(conn, rows)
    except IntegrityError:
        return False  # a key deleted since its use: the batch row by row
    finally:
        if cache_kib is not None:  # the pooled connection's own size again (memory freed)
            conn.exec_driver_sql(f"PRAGMA cache_size={int(cache_kib)}")
    return True
