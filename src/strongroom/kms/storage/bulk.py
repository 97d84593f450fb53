"""Many-row INSERTs at the driver level, for the audit trail's group commits.

SQLAlchemy's ``conn.execute(insert(table), rows)`` spends about as long per row in its own
parameter handling as the driver spends inserting it. The audit flush writes a row per KMS
request, so it compiles the INSERT once per dialect and hands the driver ready parameters
(driver.py), still through each column type's bind processor: stored values are exactly what
SQLAlchemy would have stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Table, bindparam, insert

from strongroom.kms.storage.driver import AnyConnection, DriverStatement

_statements: dict[tuple[str, tuple[str, ...]], DriverStatement] = {}


def statement(table: Table, columns: tuple[str, ...]) -> DriverStatement:
    """The INSERT of ``columns`` into ``table``, compiled once per dialect."""
    key = (table.name, columns)
    found = _statements.get(key)
    if found is None:
        found = _statements[key] = DriverStatement(
            lambda: insert(table).values({name: bindparam(name) for name in columns})
        )
    return found


def insert_many(
    conn: AnyConnection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[object]]
) -> None:
    """INSERT ``rows`` (values in ``columns`` order) in one driver-level executemany."""
    names = tuple(columns)
    statement(table, names).run_rows(conn, names, rows)
