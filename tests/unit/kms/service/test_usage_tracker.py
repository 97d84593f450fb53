"""The usage tracker answers with a use while its flush is still writing it."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from strongroom.kms.domain.enums import KeyState
from strongroom.kms.domain.ids import new_account_id, new_key_id, new_material_id
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.principals import Account
from strongroom.kms.service.usage import UsageTracker
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.engine import sqlite_url
from strongroom.kms.storage.identity import IdentityRepository
from strongroom.kms.storage.keys import KeyRepository
from strongroom.kms.storage.usage import UsageRepository

NOW = datetime(2026, 12, 5, 9, tzinfo=UTC)


def test_a_use_being_written_is_still_answered(tmp_path: Path) -> None:
    db = Database.open(sqlite_url(tmp_path))
    try:
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
        tracker = UsageTracker(UsageRepository(db), NOW)
        tracker.note(key.key_id, "Decrypt", NOW, "r1")
        with db.write_connection():  # the flush's write waits for this transaction
            flush = threading.Thread(target=tracker.flush)
            flush.start()
            deadline = time.monotonic() + 30
            while not tracker._flushing:  # the batch has left the pending table
                assert time.monotonic() < deadline
                time.sleep(0.01)
            usage = tracker.last(key.key_id)
            assert usage is not None and usage.request_id == "r1"
        flush.join(timeout=30)
        stored = tracker.last(key.key_id)
        assert stored is not None and stored.operation == "Decrypt"
        assert UsageRepository(db).get(key.key_id) == stored
    finally:
        db.engine.dispose()
