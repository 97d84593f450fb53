"""A logical dump of every table, and its load into an empty database (backup and restore).

The dump reads all tables of the schema in one read-only snapshot, so it is consistent while
the server writes: on SQLite (WAL) a deferred read transaction sees the database as of its
first read; on PostgreSQL the transaction runs at REPEATABLE READ. Rows come out as Python
values through the column types (aware UTC datetimes, bytes, ints, strings, booleans), in
primary key order, tables parents first. Nothing here knows about files or encryption:
``kms/backup`` does (docs/adr/0016-backup-format.md). Every function takes the schemas to
cover (default: the KMS's); backups add the object store's (docs/adr/0027), whose tables
``kms/storage`` itself never imports.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import MetaData, Table, func, insert, select

from strongroom.kms.storage import schema
from strongroom.kms.storage.database import Database

BATCH_ROWS = 500
Schemas = Sequence[MetaData]
KMS: Schemas = (schema.metadata,)


def _tables(schemas: Schemas) -> list[Table]:
    """Each schema's tables, parents first; schemas in the order given (no foreign key
    crosses from one schema to another)."""
    return [table for metadata in schemas for table in metadata.sorted_tables]


def _table(name: str, schemas: Schemas) -> Table:
    for metadata in schemas:
        if name in metadata.tables:
            return metadata.tables[name]
    raise KeyError(name)


def table_names(schemas: Schemas = KMS) -> list[str]:
    """Every table, in an order where a row's parents come before it."""
    return [table.name for table in _tables(schemas)]


def columns(table_name: str, schemas: Schemas = KMS) -> list[str]:
    return [column.name for column in _table(table_name, schemas).columns]


def dump(db: Database, schemas: Schemas = KMS) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """``(table name, row values in column order)`` for every row of every table, from one
    consistent snapshot."""
    with db.read_connection() as conn:
        if conn.dialect.name != "sqlite":
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        for table in _tables(schemas):
            query = select(table).order_by(*_ordering(table))
            for row in conn.execute(query).yield_per(BATCH_ROWS):
                yield table.name, tuple(row)


def _ordering(table: Table) -> Sequence[Any]:
    keys = list(table.primary_key.columns)
    return keys or list(table.columns)


def is_empty(db: Database, schemas: Schemas = KMS) -> bool:
    with db.read_connection() as conn:
        return all(
            conn.execute(select(func.count()).select_from(table)).scalar_one() == 0
            for table in _tables(schemas)
        )


def load(db: Database, rows: Iterable[tuple[str, tuple[Any, ...]]], schemas: Schemas = KMS) -> int:
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
                table, batch = _table(name, schemas), []
            batch.append(dict(zip(table.columns.keys(), values, strict=True)))
            count += 1
            if len(batch) >= BATCH_ROWS:
                conn.execute(insert(table), batch)
                batch = []
        if table is not None and batch:
            conn.execute(insert(table), batch)
    return count
