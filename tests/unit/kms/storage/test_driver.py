"""DriverStatement: the rows conn.execute would give, the errors conn.execute would raise."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from strongroom.kms.storage import schema
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.driver import DriverStatement
from strongroom.kms.storage.engine import sqlite_url

M = schema.meta.c
ADD = DriverStatement(lambda: insert(schema.meta).values(name=bindparam("n"), value=bindparam("v")))
FIRST_TWO = DriverStatement(lambda: select(M.name, M.value).order_by(M.name).limit(2))


def test_statements_run_in_the_transaction_and_carry_their_own_values(tmp_path: Path) -> None:
    db = Database.open(sqlite_url(tmp_path))
    try:
        with db.write_connection() as conn:
            for name in ("c", "a", "b"):
                assert ADD.rows(conn, {"n": name, "v": name.upper()}) == []
            # LIMIT 2 is a value of the statement itself, not a parameter of the call
            assert [tuple(r) for r in FIRST_TWO.rows(conn, {})] == [("a", "A"), ("b", "B")]
        with pytest.raises(RuntimeError), db.write_connection() as conn:
            ADD.rows(conn, {"n": "rolled-back", "v": "x"})
            raise RuntimeError
        with db.read_connection() as conn:
            stored = conn.execute(select(M.name).where(M.name.in_(["a", "rolled-back"])))
            assert [r[0] for r in stored] == ["a"]
    finally:
        db.engine.dispose()


def test_driver_errors_are_raised_as_sqlalchemy_raises_them_without_values(
    tmp_path: Path,
) -> None:
    db = Database.open(sqlite_url(tmp_path))
    try:
        with db.write_connection() as conn:
            ADD.rows(conn, {"n": "dup", "v": "first"})
        with pytest.raises(IntegrityError) as raised, db.write_connection() as conn:
            ADD.rows(conn, {"n": "dup", "v": "secret-value"})
        assert type(raised.value.orig).__name__ == "IntegrityError"
        assert "secret-value" not in str(raised.value)
        with pytest.raises(IntegrityError), db.write_connection() as conn:
            ADD.run_many(conn, [{"n": "new", "v": "1"}, {"n": "new", "v": "2"}])
        with db.read_connection() as conn:
            assert conn.execute(select(M.name).where(M.name == "new")).first() is None
    finally:
        db.engine.dispose()
