"""insert_many stores exactly what SQLAlchemy's insert would (types, formats, ordering)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from strongroom.kms.storage import schema
from strongroom.kms.storage.bulk import insert_many
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.engine import sqlite_url

COLUMNS = ("seq", "event_time", "account_id", "record", "prev_hash", "hash")


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 1, 2, 3, 4, 0, tzinfo=UTC),  # no microseconds: the format must not drop them
        datetime(2026, 11, 29, 23, 59, 59, 999_999, tzinfo=UTC),
    ],
)
def test_rows_are_stored_as_sqlalchemy_stores_them(tmp_path: Path, when: datetime) -> None:
    db = Database.open(sqlite_url(tmp_path))
    try:
        with db.write_connection() as conn:
            insert_many(conn, schema.audit_events, COLUMNS, [(1, when, "a", "{}", b"p", b"h")])
            conn.execute(
                insert(schema.audit_events),
                [dict(zip(COLUMNS, (2, when, "a", "{}", b"p", b"h"), strict=True))],
            )
            insert_many(conn, schema.audit_events, COLUMNS, [])  # nothing to do: no error
        with db.read_connection() as conn:
            read = conn.execute(schema.audit_events.select().order_by("seq")).all()
    finally:
        db.engine.dispose()
    raw = sqlite3.connect(tmp_path / "strongroom.db").execute(
        "SELECT event_time, typeof(prev_hash), typeof(hash) FROM audit_events ORDER BY seq"
    )
    first, second = raw.fetchall()
    assert first == second
    assert [r.event_time for r in read] == [when, when]
    assert [(r.record, r.prev_hash, r.hash) for r in read] == [("{}", b"p", b"h")] * 2


def test_a_row_of_the_wrong_length_is_refused(tmp_path: Path) -> None:
    db = Database.open(sqlite_url(tmp_path))
    try:
        with pytest.raises(ValueError), db.write_connection() as conn:
            insert_many(conn, schema.audit_events, COLUMNS, [(1, datetime.now(UTC), "a")])
    finally:
        db.engine.dispose()
