"""The statements of the request path, built once and run on the driver's cursor.

Building a SQLAlchemy statement per call (``select(...).where(...)``) costs more CPU than the
query itself on SQLite (about 80 µs against 20 µs for a prebuilt statement with bound
parameters, measured by ``bench/s3_profile.py``'s author), and executing even a prebuilt one
through ``Connection.execute`` costs another 60-80 µs of SQLAlchemy's execution and result
machinery against a few µs for the driver's own work. These run on every GET and PUT, so each
is compiled once per dialect and run on the DBAPI cursor of the connection, inside whatever
transaction it has open (a read outside any transaction is one statement, its own snapshot).
Bound values go through their column types' bind processors, so what is stored is what
``Connection.execute`` would store; a driver error is raised as SQLAlchemy's. (The KMS has the
same device, ``kms/storage/driver.py``; the object store imports nothing of the KMS.)
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, delete, insert, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from strongroom.objectstore.storage.tables import buckets, objects


@dataclass(frozen=True, slots=True)
class RawConnection:
    """A pooled DBAPI connection and its dialect: what a statement needs of a ``Connection``."""

    dialect: Dialect
    connection: PoolProxiedConnection


@contextmanager
def raw_read(engine: Engine) -> Iterator[RawConnection]:
    """A pooled DBAPI connection for single-statement reads outside any transaction (each its
    own snapshot, as through ``engine.connect()``): the pool's checkout and return (its reset,
    PostgreSQL's pre-ping) without a SQLAlchemy ``Connection`` around them, about a third of
    a request-path read's CPU on SQLite."""
    dialect = engine.dialect
    try:
        raw = engine.raw_connection()
    except dialect.loaded_dbapi.Error as error:  # raised as engine.connect() raises it
        raise DBAPIError.instance(
            None, None, error, dialect.loaded_dbapi.Error, hide_parameters=True, dialect=dialect
        ) from error
    try:
        yield RawConnection(dialect, raw)
    finally:
        raw.close()


_OBJECT_KEY = and_(objects.c.bucket == bindparam("b"), objects.c.key == bindparam("k"))


class RawStatement:
    """One statement with named bind parameters, compiled once per dialect."""

    __slots__ = ("_compiled", "_rows", "_statement")

    def __init__(self, statement: ClauseElement) -> None:
        self._statement = statement
        # dialect name -> (SQL, positional parameter order or None, bind processors)
        self._compiled: dict[
            str, tuple[str, tuple[str, ...] | None, tuple[tuple[str, Callable[[Any], Any]], ...]]
        ] = {}
        self._rows: dict[tuple[str, ...], type[Any]] = {}

    def _compile(
        self, conn: Connection | RawConnection
    ) -> tuple[str, tuple[str, ...] | None, tuple[tuple[str, Callable[[Any], Any]], ...]]:
        dialect = conn.dialect
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self._statement.compile(dialect=dialect)
            assert isinstance(compiled, SQLCompiler)
            order = tuple(compiled.positiontup or ()) if dialect.positional else None
            processors = []
            for name, bind in compiled.binds.items():
                proc = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if proc is not None:
                    processors.append((name, proc))
            found = self._compiled[dialect.name] = (str(compiled), order, tuple(processors))
        return found

    def rows(self, conn: Connection | RawConnection, values: Mapping[str, object]) -> list[Any]:
        """Run with ``values``; the rows returned (attributes named as the columns)."""
        sql, order, processors = self._compile(conn)
        if processors:
            values = dict(values)
            for name, proc in processors:
                values[name] = proc(values[name])
        parameters: Any = values if order is None else tuple(values[n] for n in order)
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql, parameters)
            if cursor.description is None:
                return []
            names = tuple(d[0] for d in cursor.description)
            row = self._rows.get(names)
            if row is None:
                row = self._rows[names] = namedtuple("Row", names, rename=True)
            return [row(*r) for r in cursor.fetchall()]
        except conn.dialect.loaded_dbapi.Error as error:
            raise DBAPIError.instance(
                sql,
                None,
                error,
                conn.dialect.loaded_dbapi.Error,
                hide_parameters=True,
                dialect=conn.dialect,
            ) from error
        finally:
            cursor.close()


BUCKET = RawStatement(select(buckets).where(buckets.c.name == bindparam("name")))
OBJECT = RawStatement(select(objects).where(_OBJECT_KEY))
# Removes an object and says which blobs it had (one statement: DELETE ... RETURNING).
REMOVE_OBJECT = RawStatement(delete(objects).where(_OBJECT_KEY).returning(objects.c.blobs))
INSERT_OBJECT = RawStatement(insert(objects))
