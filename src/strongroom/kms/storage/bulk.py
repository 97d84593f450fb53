"""Many-row INSERTs at the driver level, for the audit trail's group commits.

SQLAlchemy's ``conn.execute(insert(table), rows)`` spends about as long per row in its own
parameter handling as the driver spends inserting it. The audit flush writes a row per KMS
request, so it compiles the INSERT once per dialect and hands the driver ready tuples (or
dicts, for named parameter styles), still through each column type's bind processor: stored
values are exactly what SQLAlchemy would have stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positional: bool
    order: tuple[str, ...]  # parameter names in the order a positional driver wants them
    processors: Mapping[str, Callable[[Any], Any] | None]


_compiled: dict[tuple[str, str, tuple[str, ...]], _Compiled] = {}


def _compile(conn: Connection, table: Table, columns: tuple[str, ...]) -> _Compiled:
    key = (conn.dialect.name, table.name, columns)
    found = _compiled.get(key)
    if found is None:
        statement = insert(table).values({name: bindparam(name) for name in columns})
        compiled = statement.compile(dialect=conn.dialect)
        positional = bool(conn.dialect.positional)
        order = tuple(compiled.positiontup or ()) if positional else columns
        # dialect_impl: a TypeDecorator's own bind_processor would skip the dialect's type
        # (SQLite's DATETIME string format, say).
        processors = {
            name: table.c[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
            for name in columns
        }
        found = _Compiled(str(compiled), positional, order, processors)
        _compiled[key] = found
    return found


def insert_many(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[object]]
) -> None:
    """INSERT ``rows`` (values in ``columns`` order) in one driver-level executemany."""
    names = tuple(columns)
    compiled = _compile(conn, table, names)
    processed = []
    for row in rows:
        values = {
            name: value if (proc := compiled.processors[name]) is None else proc(value)
            for name, value in zip(names, row, strict=True)
        }
        processed.append(
            tuple(values[name] for name in compiled.order) if compiled.positional else values
        )
    if processed:
        conn.exec_driver_sql(compiled.sql, processed)
