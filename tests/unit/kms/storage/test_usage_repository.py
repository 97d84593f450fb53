from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import event

from strongroom.kms.domain.enums import KeyState
from strongroom.kms.domain.ids import new_account_id, new_key_id, new_material_id
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.principals import Account
from strongroom.kms.domain.usage import KeyUsage
from strongroom.kms.storage import usage as usage_module
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.engine import sqlite_url
from strongroom.kms.storage.identity import IdentityRepository
from strongroom.kms.storage.keys import KeyRepository
from strongroom.kms.storage.usage import UsageRepository

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def _keys(db: Database, count: int) -> list[KeyRecord]:
    """``count`` enabled keys of a new account."""
    account = new_account_id()
    IdentityRepository(db).create_account(Account(account, "t", NOW))
    keys = []
    for _ in range(count):
        key = KeyRecord(
            new_key_id(),
            account,
            "us-east-1",
            NOW,
            KeyState.ENABLED,
            current_material_id=new_material_id(),
        )
        KeyRepository(db).create_key(key, "s", b"w", {})
        keys.append(key)
    return keys


def test_latest_use_wins_and_unknown_keys_are_skipped(tmp_path: Path) -> None:
    db = Database.open(sqlite_url(tmp_path))
    (key,) = _keys(db, 1)
    repo = UsageRepository(db)
    assert repo.get(key.key_id) is None
    later = KeyUsage(key.key_id, "Decrypt", NOW + timedelta(seconds=5), "r2")
    earlier = KeyUsage(key.key_id, "Encrypt", NOW, "r1")
    repo.record([later])
    repo.record([earlier])  # an older use noted by a slower worker changes nothing
    assert repo.get(key.key_id) == later
    newest = KeyUsage(key.key_id, "ReEncrypt", NOW + timedelta(seconds=9), "r3")
    ghost = KeyUsage(new_key_id(), "Encrypt", NOW, "r4")  # deleted before the flush
    repo.record([ghost, newest])
    assert repo.get(key.key_id) == newest
    assert repo.get(ghost.key_id) is None


def test_an_upserted_use_is_stored_as_sqlalchemy_stores_one(tmp_path: Path) -> None:
    """The SQLite upsert bypasses the column type's bind processor; the stored text must be
    what SQLAlchemy writes (the row-by-row path, taken when a key is gone, inserts through
    SQLAlchemy), and compare as times do."""
    db = Database.open(sqlite_url(tmp_path))
    ids = [key.key_id for key in _keys(db, 3)]
    repo = UsageRepository(db)
    at = datetime(2026, 12, 5, 1, 30, 0, 17, tzinfo=timezone(timedelta(hours=2)))
    repo.record([KeyUsage(ids[0], "Encrypt", NOW, "r1")])  # known from now on
    repo.record([KeyUsage(ids[0], "Decrypt", at, "r2"), KeyUsage(ids[1], "Decrypt", at, "r3")])
    ghost = KeyUsage(new_key_id(), "Encrypt", NOW, "r4")  # deleted: the row-by-row path
    repo.record([ghost, KeyUsage(ids[2], "Decrypt", at, "r5")])
    with sqlite3.connect(tmp_path / "strongroom.db") as conn:
        rows = dict(conn.execute("SELECT key_id, at || '|' || typeof(at) FROM key_usage"))
    assert rows[ids[0]] == rows[ids[1]] == rows[ids[2]] == "2026-12-04 23:30:00.000017|text"
    assert repo.get(ids[0]) == KeyUsage(ids[0], "Decrypt", at, "r2")
    assert repo.get(ghost.key_id) is None


def test_a_batch_with_a_deleted_key_keeps_every_other_use(tmp_path: Path) -> None:
    """The upsert fails on the deleted key's foreign key wherever it sorts in the batch; the
    row-by-row path then writes the rest, new and known keys, the latest use winning."""
    db = Database.open(sqlite_url(tmp_path))
    keys = _keys(db, 6)
    repo = UsageRepository(db)
    repo.record([KeyUsage(k.key_id, "Encrypt", NOW, "old") for k in keys[:3]])
    later = NOW + timedelta(seconds=1)
    ghosts = [KeyUsage(new_key_id(), "Encrypt", later, f"g{i}") for i in range(3)]
    uses = [KeyUsage(k.key_id, "Decrypt", later, f"new{i}") for i, k in enumerate(keys)]
    older = KeyUsage(keys[0].key_id, "Sign", NOW - timedelta(seconds=1), "older")
    repo.record([*ghosts, *uses[1:], older])
    assert [repo.get(k.key_id) for k in keys] == [
        KeyUsage(keys[0].key_id, "Encrypt", NOW, "old"),
        *uses[1:],
    ]
    assert [repo.get(g.key_id) for g in ghosts] == [None, None, None]


def test_a_large_batch_gets_a_larger_page_cache_and_gives_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(usage_module, "_BATCH_CACHE_ROWS", 2)
    db = Database.open(sqlite_url(tmp_path))
    keys = _keys(db, 3)
    repo = UsageRepository(db)
    pragmas: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "cache_size" in statement:
            pragmas.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    uses = [KeyUsage(k.key_id, "Encrypt", NOW, f"r{i}") for i, k in enumerate(keys)]
    repo.record(uses)
    repo.record(uses[:1])  # below the threshold: no pragma
    assert pragmas == [
        "PRAGMA cache_size",
        f"PRAGMA cache_size=-{usage_module._BATCH_CACHE_KIB}",
        "PRAGMA cache_size=-2000",  # SQLite's default, as the connection had it
    ]
    assert [repo.get(k.key_id) for k in keys] == uses
    with db.write_connection() as conn:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == -2000
