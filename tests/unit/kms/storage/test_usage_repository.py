from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


def test_latest_use_wins_and_unknown_keys_are_skipped(tmp_path: Path) -> None:
    db = Database.open(sqlite_url(tmp_path))
    account = new_account_id()
    IdentityRepository(db).create_account(Account(account, "t", NOW))
    key = KeyRecord(
        new_key_id(),
        account,
        "us-east-1",
        NOW,
        KeyState.ENABLED,
        current_material_id=new_material_id(),
    )
    KeyRepository(db).create_key(key, "s", b"w", {})
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
