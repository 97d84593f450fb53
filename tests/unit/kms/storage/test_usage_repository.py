from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from strongroom.kms.domain.enums import KeyState
from strongroom.kms.domain.ids import new_account_id, new_key_id, new_material_id
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.principals import Account
from strongroom.kms.domain.usage import KeyUsage
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


def test_an_updated_use_is_stored_as_sqlalchemy_stores_a_new_one(tmp_path: Path) -> None:
    """Updates of known keys bypass the column type's bind processor on SQLite; the stored
    text must be what SQLAlchemy writes for a first use (and compare as times do)."""
    db = Database.open(sqlite_url(tmp_path))
    ids = [key.key_id for key in _keys(db, 2)]
    repo = UsageRepository(db)
    at = datetime(2026, 12, 5, 1, 30, 0, 17, tzinfo=timezone(timedelta(hours=2)))
    repo.record([KeyUsage(ids[0], "Encrypt", NOW, "r1")])  # known from now on
    repo.record([KeyUsage(ids[0], "Decrypt", at, "r2"), KeyUsage(ids[1], "Decrypt", at, "r3")])
    with sqlite3.connect(tmp_path / "strongroom.db") as conn:
        rows = dict(conn.execute("SELECT key_id, at || '|' || typeof(at) FROM key_usage"))
    assert rows[ids[0]] == rows[ids[1]] == "2026-12-04 23:30:00.000017|text"
    assert repo.get(ids[0]) == KeyUsage(ids[0], "Decrypt", at, "r2")
