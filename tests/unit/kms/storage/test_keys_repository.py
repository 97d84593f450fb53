from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from threading import Barrier, Thread

import pytest

from strongroom.kms.domain.enums import KeyState
from strongroom.kms.domain.ids import new_account_id, new_key_id, new_material_id
from strongroom.kms.domain.key import AliasRecord, KeyRecord
from strongroom.kms.domain.principals import Account
from strongroom.kms.storage import schema
from strongroom.kms.storage.database import Database, DuplicateRecord
from strongroom.kms.storage.engine import sqlite_url
from strongroom.kms.storage.identity import IdentityRepository
from strongroom.kms.storage.keys import KeyNotFound, KeyRepository

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(sqlite_url(tmp_path))


@pytest.fixture
def account(db: Database) -> str:
    account_id = new_account_id()
    IdentityRepository(db).create_account(Account(account_id, "t", NOW))
    return account_id


def _key(account: str, **changes: object) -> KeyRecord:
    values: dict[str, object] = dict(
        key_id=new_key_id(),
        account_id=account,
        region="us-east-1",
        created_at=NOW,
        state=KeyState.ENABLED,
        current_material_id=new_material_id(),
    )
    values.update(changes)
    return KeyRecord(**values)  # type: ignore[arg-type]


def test_create_get_and_update(db: Database, account: str) -> None:
    repo = KeyRepository(db)
    key = _key(account, description="d")
    repo.create_key(key, "store", b"wrapped", {"a": "1"})
    assert repo.get_key(key.key_id) == key
    assert repo.get_material(key.record_id, key.current_material_id or "") == ("store", b"wrapped")
    assert repo.list_tags(key.key_id) == [("a", "1")]
    updated = repo.update_key(key.key_id, NOW, lambda k: k.with_state(KeyState.DISABLED))
    assert updated.state is KeyState.DISABLED
    assert repo.get_key(key.key_id) == updated
    with pytest.raises(KeyNotFound):
        repo.update_key(new_key_id(), NOW, lambda k: k)


def test_a_failing_mutation_changes_nothing(db: Database, account: str) -> None:
    repo = KeyRepository(db)
    key = _key(account)
    repo.create_key(key, "store", b"w", {})
    seq = db.last_change_seq()

    def refuse(_: KeyRecord) -> KeyRecord:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        repo.update_key(key.key_id, NOW, refuse)
    assert repo.get_key(key.key_id) == key
    assert db.last_change_seq() == seq


def test_every_write_is_in_the_change_feed(db: Database, account: str) -> None:
    repo = KeyRepository(db)
    start = db.last_change_seq()
    key = _key(account)
    repo.create_key(key, "store", b"w", {})
    repo.create_alias(AliasRecord(account, key.region, "alias/x", key.key_id, NOW, NOW))
    repo.put_tags(key.key_id, {"t": "v"}, NOW)
    changes = db.changes_since(start)
    assert [(c.key_id, c.alias_name) for c in changes] == [
        (key.key_id, None),
        (None, "alias/x"),
        (key.key_id, None),
    ]
    assert [c.seq for c in changes] == sorted(c.seq for c in changes)
    assert db.changes_since(changes[-1].seq) == []


def test_aliases_are_unique_per_account_and_region(db: Database, account: str) -> None:
    repo = KeyRepository(db)
    key = _key(account)
    elsewhere = _key(account, region="eu-west-1")
    repo.create_key(key, "store", b"w", {})
    repo.create_key(elsewhere, "store", b"w", {})
    repo.create_alias(AliasRecord(account, key.region, "alias/x", key.key_id, NOW, NOW))
    with pytest.raises(DuplicateRecord):
        repo.create_alias(AliasRecord(account, key.region, "alias/x", key.key_id, NOW, NOW))
    # The same name in another region is another alias, naming that region's key.
    repo.create_alias(AliasRecord(account, "eu-west-1", "alias/x", elsewhere.key_id, NOW, NOW))
    found = repo.get_alias(account, "eu-west-1", "alias/x")
    assert found is not None and found.target_key_id == elsewhere.key_id
    assert [a.region for a in repo.list_aliases(account, "eu-west-1", None, None, 10)] == [
        "eu-west-1"
    ]
    assert [k.key_id for k in repo.list_keys(account, "eu-west-1", None, 10)] == [elsewhere.key_id]


def test_due_deletion_happens_exactly_once(db: Database, account: str) -> None:
    repo = KeyRepository(db)
    key = _key(account, state=KeyState.PENDING_DELETION, deletion_date=NOW, pending_window_days=7)
    repo.create_key(key, "store", b"w", {"a": "b"})
    repo.create_alias(AliasRecord(account, key.region, "alias/gone", key.key_id, NOW, NOW))
    seq = db.last_change_seq()
    assert repo.due_deletions(NOW - timedelta(seconds=1)) == []
    assert repo.due_deletions(NOW) == [key.key_id]

    runners = 4
    barrier = Barrier(runners)
    results: list[bool] = []

    def run() -> None:
        barrier.wait()
        results.append(repo.delete_key_if_due(key.key_id, NOW))

    threads = [Thread(target=run) for _ in range(runners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]
    assert repo.get_key(key.key_id) is None
    assert repo.get_material(key.record_id, key.current_material_id or "") is None
    assert repo.get_alias(account, key.region, "alias/gone") is None
    assert repo.list_tags(key.key_id) == []
    # Workers learn that both the key and its alias are gone.
    changed = [(c.key_id, c.alias_name) for c in db.changes_since(seq)]
    assert changed == [(key.key_id, None), (None, "alias/gone")]


def test_not_due_is_not_deleted(db: Database, account: str) -> None:
    repo = KeyRepository(db)
    key = _key(account, state=KeyState.PENDING_DELETION, deletion_date=NOW + timedelta(days=1))
    repo.create_key(key, "store", b"w", {})
    assert not repo.delete_key_if_due(key.key_id, NOW)
    enabled = _key(account)
    repo.create_key(enabled, "store", b"w", {})
    assert not repo.delete_key_if_due(enabled.key_id, NOW + timedelta(days=400))
    assert repo.get_key(key.key_id) == key


def test_reads_do_not_wait_for_a_writer(db: Database, account: str) -> None:
    repo = KeyRepository(db)
    key = _key(account)
    repo.create_key(key, "store", b"w", {})
    writer = Database.open(str(db.engine.url))
    with writer.write_connection() as conn:  # holds SQLite's write lock until the block ends
        conn.execute(schema.keys.update().values(description="uncommitted"))
        started = time.monotonic()
        assert repo.get_key(key.key_id) == key  # the last committed state
        assert db.changes_since(0)
        assert time.monotonic() - started < 1.0
    assert repo.get_key(key.key_id) == replace(key, description="uncommitted")
