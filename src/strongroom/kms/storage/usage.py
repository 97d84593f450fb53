"""Last-usage records of keys.

The tracker (service/usage.py) hands over, about once a second, the last use of every key used
since: with many keys in use that is a row per request, so the rows that exist are updated in
one driver-level executemany (driver.py), on SQLite with the times already in the text SQLite
stores (as the audit writer's rows: no bind processor per value), and only keys never used
before are inserted one by one.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from strongroom.kms.domain.usage import KeyUsage
from strongroom.kms.storage import schema
from strongroom.kms.storage.audit_commit import sqlite_time
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.driver import DriverStatement

U = schema.key_usage.c
_IN_CHUNK = 500  # key ids per IN (...) list
_UPDATE_COLUMNS = ("usage_key_id", "since", "new_operation", "new_at", "new_request_id")
# The UPDATE's parameters in the order of its SQL (SET ..., then WHERE ...): run_ready's rows.
_UPDATE_ORDER = ("new_operation", "new_at", "new_request_id", "usage_key_id", "since")
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


class UsageRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, usages: Iterable[KeyUsage]) -> None:
        """Keep, per key, the latest of what is stored and what is given."""
        batch = list(usages)
        with self._db.write_connection() as conn:
            stored: set[str] = set()
            ids = [u.key_id for u in batch]
            for start in range(0, len(ids), _IN_CHUNK):
                chunk = ids[start : start + _IN_CHUNK]
                stored.update(conn.scalars(select(U.key_id).where(U.key_id.in_(chunk))))
            updates = [u for u in batch if u.key_id in stored]
            if conn.dialect.name == "sqlite" and updates:
                if _UPDATE.order(conn) != _UPDATE_ORDER:
                    raise AssertionError(f"key_usage UPDATE parameters: {_UPDATE.order(conn)}")
                _UPDATE.run_ready(
                    conn,
                    [
                        (u.operation, at, u.request_id, u.key_id, at)
                        for u in updates
                        for at in (sqlite_time(u.at),)
                    ],
                )
            else:
                _UPDATE.run_rows(
                    conn,
                    _UPDATE_COLUMNS,
                    [(u.key_id, u.at, u.operation, u.at, u.request_id) for u in updates],
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
