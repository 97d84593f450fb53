"""A logical dump of every table, and its load into an empty database (backup and restore).

The dump reads all tables of the schema in one read-only snapshot, so it is consistent while
the server writes: on SQLite (WAL) a deferred read transaction sees the database as of its
first read; on PostgreSQL the transaction runs at REPEATABLE READ. Rows come out as Python
values through the column types (aware UTC datetimes, bytes, ints, strings, booleans), in
primary key order, tables parents first. Nothing here knows about files or encryption:
``kms/backup`` does (docs/adr/0016-backup-format.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Table, func, insert, select

from strongroom.kms.storage import schema
from strongroom.kms.storage.database import Database

BATCH_ROWS = 500


def table_names() -> list[str]:
    """Every table, in an order where a row's parents come before it."""
    return [table.name for table in schema.metadata.sorted_tables]


def columns(table_name: str) -> list[str]:
    return [column.name for column in schema.metadata.tables[table_name].columns]


def dump(db: Database) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """``(table name, row values in column order)`` for every row of every table, from one
    consistent snapshot."""
    with db.read_connection() as conn:
        if conn.dialect.name != "sqlite":
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        for table in schema.metadata.sorted_tables:
            query = select(table).order_by(*_ordering(table))
            for row in conn.execute(query).yield_per(BATCH_ROWS):
                yield table.name, tuple(row)


def _ordering(table: Table) -> Sequence[Any]:
    keys = list(table.primary_key.columns)
    return keys or list(table.columns)


def is_empty(db: Database) -> bool:
    with db.read_connection() as conn:
        return all(
            conn.execute(select(func.count()).select_from(table)).scalar_one() == 0
            for table in schema.metadata.sorted_tables
        )


def load(db: Database, rows: Iterable[tuple[str, tuple[Any, ...]]]) -> int:
    """Insert dumped rows into an empty database in one transaction; return the row count.

    Rows must come table by table in :func:`table_names` order, as :func:`dump` gives them.
    """
    count = 0
    with db.write_connection() as conn:
        table: Table | None = None
        batch: list[dict[str, Any]] = []
        for name, values in rows:
            if table is None or name != table.name:
                if table is not None and batch:
                    conn.execute(insert(table), batch)
                table, batch = schema.metadata.tables[name], []
            batch.append(dict(zip(table.columns.keys(), values, strict=True)))
            count += 1
            if len(batch) >= BATCH_ROWS:
                conn.execute(insert(table), batch)
                batch = []
        if table is not None and batch:
            conn.execute(insert(table), batch)
    return count
