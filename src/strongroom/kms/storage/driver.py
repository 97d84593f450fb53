"""Core statements compiled once per dialect and run on the driver's cursor.

The audit writer's group commit runs the same handful of statements for every batch (lock the
chain head, insert the events, sign and move the head). Through ``conn.execute`` each costs
SQLAlchemy's cache-key, compilation-cache and result machinery, about ten times the driver's own
work (docs/adr/0022). A :class:`DriverStatement` is compiled once per dialect and run on the
DBAPI cursor of the connection's open transaction, with each bound value still passed through
its column type's bind processor, so what is stored is exactly what ``conn.execute`` stores.
Driver errors are raised as SQLAlchemy's (``OperationalError`` with the driver's error as
``orig``, statement parameters hidden), as ``conn.execute`` raises them.

A statement runs on SQLAlchemy's ``Connection`` or on a :class:`RawConnection` (a pooled DBAPI
connection and its dialect, with no SQLAlchemy transaction around it: the audit writer's group
commit, storage/audit_commit.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positional: bool
    order: tuple[str, ...]  # parameter names in the order a positional driver wants them
    processors: tuple[tuple[str, Callable[[Any], Any]], ...]  # the names that have one
    fixed: Mapping[str, object]  # values the statement carries itself (a LIMIT)


@dataclass(frozen=True, slots=True)
class RawConnection:
    """A pooled DBAPI connection with its dialect: what a statement needs of a ``Connection``."""

    dialect: Dialect
    connection: PoolProxiedConnection


AnyConnection = Connection | RawConnection


class DriverStatement:
    """One statement with named bind parameters, compiled once per dialect."""

    __slots__ = ("_build", "_compiled")

    def __init__(self, build: Callable[[], ClauseElement]) -> None:
        """``build`` makes the Core statement (``bindparam`` names are the parameters)."""
        self._build = build
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, conn: AnyConnection) -> _Compiled:
        dialect = conn.dialect
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self._build().compile(dialect=dialect)
            assert isinstance(compiled, SQLCompiler)
            positional = bool(dialect.positional)
            order = tuple(compiled.positiontup or ()) if positional else tuple(compiled.binds)
            processors = []
            fixed = {n: b.value for n, b in compiled.binds.items() if not b.required}
            for name, bind in compiled.binds.items():
                # dialect_impl: a TypeDecorator's own bind_processor would skip the dialect's
                # type (SQLite's DATETIME string format, say).
                proc = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if proc is not None:
                    processors.append((name, proc))
            found = _Compiled(str(compiled), positional, order, tuple(processors), fixed)
            self._compiled[dialect.name] = found
        return found

    def _parameters(self, compiled: _Compiled, values: Mapping[str, object]) -> Any:
        if compiled.fixed:
            values = {**compiled.fixed, **values}
        if compiled.processors:
            values = dict(values)
            for name, proc in compiled.processors:
                values[name] = proc(values[name])
        if compiled.positional:
            return tuple(values[name] for name in compiled.order)
        return values

    def rows(self, conn: AnyConnection, values: Mapping[str, object]) -> list[Sequence[Any]]:
        """Run the statement with ``values``; the rows it returns (none for DML)."""
        compiled = self._compile(conn)
        parameters = self._parameters(compiled, values)
        cursor = conn.connection.cursor()
        try:
            cursor.execute(compiled.sql, parameters)
            return list(cursor.fetchall()) if cursor.description is not None else []
        except conn.dialect.loaded_dbapi.Error as error:
            raise driver_error(conn, compiled.sql, error) from error
        finally:
            cursor.close()

    def run_many(self, conn: AnyConnection, rows: Iterable[Mapping[str, object]]) -> None:
        """Run the statement once per parameter set, in one driver ``executemany``."""
        compiled = self._compile(conn)
        self._executemany(conn, compiled, [self._parameters(compiled, v) for v in rows])

    def run_rows(
        self, conn: AnyConnection, names: tuple[str, ...], rows: Iterable[Sequence[object]]
    ) -> None:
        """:meth:`run_many` for rows of values in ``names`` order, without a dict per row (the
        audit writer inserts a row per request)."""
        compiled = self._compile(conn)
        processors = dict(compiled.processors)
        if not compiled.positional or compiled.fixed or set(names) != set(compiled.order):
            self.run_many(conn, (dict(zip(names, row, strict=True)) for row in rows))
            return
        index = {name: i for i, name in enumerate(names)}
        plan = [(index[name], processors.get(name)) for name in compiled.order]
        width = len(names)
        parameters = []
        for row in rows:
            if len(row) != width:
                raise ValueError(f"a row of {len(row)} values for {width} columns")
            parameters.append(tuple(row[i] if proc is None else proc(row[i]) for i, proc in plan))
        self._executemany(conn, compiled, parameters)

    def run_ready(self, conn: AnyConnection, rows: list[tuple[object, ...]]) -> None:
        """Run the statement once per row, in one driver ``executemany``: rows of values the
        driver takes as they are (each converted by the caller as the column type's bind
        processor would), in the statement's parameter order, on a positional driver (SQLite)."""
        compiled = self._compile(conn)
        if not compiled.positional or compiled.fixed:
            raise ValueError("run_ready needs a positional driver and no fixed values")
        self._executemany(conn, compiled, rows)

    def order(self, conn: AnyConnection) -> tuple[str, ...]:
        """The parameter names in the order :meth:`run_ready` wants the row's values."""
        return self._compile(conn).order

    def _executemany(self, conn: AnyConnection, compiled: _Compiled, parameters: list[Any]) -> None:
        if not parameters:
            return
        cursor = conn.connection.cursor()
        try:
            cursor.executemany(compiled.sql, parameters)
        except conn.dialect.loaded_dbapi.Error as error:
            raise driver_error(conn, compiled.sql, error) from error
        finally:
            cursor.close()


def driver_error(conn: AnyConnection, sql: str, error: Exception) -> StatementError:
    """The driver's error as SQLAlchemy raises it (``OperationalError``...), parameters hidden."""
    return DBAPIError.instance(
        sql,
        None,
        error,
        conn.dialect.loaded_dbapi.Error,
        hide_parameters=True,
        dialect=conn.dialect,
    )
