"""Last-usage records of keys."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from strongroom.kms.domain.usage import KeyUsage
from strongroom.kms.storage import schema
from strongroom.kms.storage.database import Database

U = schema.key_usage.c


class UsageRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, usages: Iterable[KeyUsage]) -> None:
        """Keep, per key, the latest of what is stored and what is given."""
        with self._db.write_connection() as conn:
            for usage in usages:
                values = {
                    "operation": usage.operation,
                    "at": usage.at,
                    "request_id": usage.request_id,
                }
                updated = conn.execute(
                    update(schema.key_usage)
                    .where(U.key_id == usage.key_id, U.at < usage.at)
                    .values(**values)
                ).rowcount
                if updated:
                    continue
                exists = conn.execute(select(U.key_id).where(U.key_id == usage.key_id)).first()
                if exists is None:
                    try:
                        with conn.begin_nested():
                            conn.execute(
                                insert(schema.key_usage).values(key_id=usage.key_id, **values)
                            )
                    except IntegrityError:
                        pass  # the key was deleted meanwhile

    def get(self, key_id: str) -> KeyUsage | None:
        with self._db.read_connection() as conn:
            row = conn.execute(
                select(U.operation, U.at, U.request_id).where(U.key_id == key_id)
            ).first()
        return None if row is None else KeyUsage(key_id, row.operation, row.at, row.request_id)
