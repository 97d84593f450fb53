"""Multi-Region sets in storage: replicas copy every material version, the primary's
rotations reach every member in its own transaction, the primary moves, and a primary waiting
for its replicas' deletion starts its own window when the last one is destroyed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from strongroom.kms.domain import multi_region
from strongroom.kms.domain.enums import KeyState, RotationType
from strongroom.kms.domain.ids import new_account_id, new_key_id, new_material_id
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.principals import Account
from strongroom.kms.storage.database import Database, DuplicateRecord
from strongroom.kms.storage.engine import sqlite_url
from strongroom.kms.storage.identity import IdentityRepository
from strongroom.kms.storage.keys import KeyRepository
from strongroom.kms.storage.multi_region import MultiRegionKeys

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(sqlite_url(tmp_path))


@pytest.fixture
def primary(db: Database) -> KeyRecord:
    account = new_account_id()
    IdentityRepository(db).create_account(Account(account, "t", NOW))
    key = KeyRecord(
        key_id=new_key_id(multi_region=True),
        account_id=account,
        region="us-east-1",
        created_at=NOW,
        state=KeyState.ENABLED,
        current_material_id=new_material_id(),
        primary_region="us-east-1",
    )
    KeyRepository(db).create_key(key, "store", b"wrapped-1", {})
    return key


def _replica(db: Database, primary: KeyRecord, region: str) -> KeyRecord:
    replica = multi_region.replica(primary, region, "policy", "", NOW)
    MultiRegionKeys(db).add_replica(primary, replica, {"t": "v"})
    return replica


def test_a_replica_copies_the_materials_and_is_one_per_region(
    db: Database, primary: KeyRecord
) -> None:
    keys, sets = KeyRepository(db), MultiRegionKeys(db)
    replica = _replica(db, primary, "eu-west-1")
    material = primary.current_material_id or ""
    assert keys.get_material(replica.record_id, material) == ("store", b"wrapped-1")
    assert keys.list_tags(replica.record_id) == [("t", "v")]
    assert keys.list_tags(primary.record_id) == []
    assert [m.region for m in sets.members(primary.account_id, primary.key_id)] == [
        "eu-west-1",
        "us-east-1",
    ]
    with pytest.raises(DuplicateRecord):
        sets.add_replica(primary, replica, {})


def test_rotation_of_the_primary_reaches_every_replica(db: Database, primary: KeyRecord) -> None:
    keys = KeyRepository(db)
    replica = _replica(db, primary, "eu-west-1")
    material = new_material_id()
    later = NOW + timedelta(hours=1)
    keys.add_material(
        primary.record_id,
        material_id=material,
        rotation_type=RotationType.ON_DEMAND,
        store_id="store",
        wrapped=b"wrapped-2",
        mutate=lambda k, _: (replace(k, current_material_id=material), later),
    )
    seen = keys.get_key(replica.record_id)
    assert seen is not None and seen.current_material_id == material
    assert keys.get_material(replica.record_id, material) == ("store", b"wrapped-2")
    assert [v.material_id for v in keys.list_materials(replica.record_id)] == [
        primary.current_material_id,
        material,
    ]
    keys.update_key(primary.record_id, later, lambda k: replace(k, rotation_period_days=365))
    seen = keys.get_key(replica.record_id)
    assert seen is not None and seen.rotation_period_days == 365
    # A replica's own change stays its own.
    keys.update_key(replica.record_id, later, lambda k: k.with_state(KeyState.DISABLED))
    mine = keys.get_key(primary.record_id)
    assert mine is not None and mine.state is KeyState.ENABLED
    # Due rotations are the primary's only.
    due = NOW + timedelta(days=400)
    keys.update_key(
        primary.record_id, later, lambda k: replace(k, next_rotation_date=NOW + timedelta(days=1))
    )
    keys.update_key(replica.record_id, later, lambda k: k.with_state(KeyState.ENABLED))
    assert keys.due_rotations(due) == [primary.record_id]


def test_the_primary_moves(db: Database, primary: KeyRecord) -> None:
    replica = _replica(db, primary, "eu-west-1")
    MultiRegionKeys(db).move_primary(primary.account_id, primary.key_id, "eu-west-1", NOW)
    keys = KeyRepository(db)
    for record in (primary, replica):
        moved = keys.get_key(record.record_id)
        assert moved is not None and moved.primary_region == "eu-west-1"


def test_the_last_replica_destroyed_starts_the_primary_window(
    db: Database, primary: KeyRecord
) -> None:
    keys = KeyRepository(db)
    replica = _replica(db, primary, "eu-west-1")
    keys.update_key(
        primary.record_id,
        NOW,
        lambda k: replace(k, state=KeyState.PENDING_REPLICA_DELETION, pending_window_days=9),
    )
    keys.update_key(
        replica.record_id,
        NOW,
        lambda k: replace(
            k, state=KeyState.PENDING_DELETION, deletion_date=NOW, pending_window_days=7
        ),
    )
    assert keys.due_deletions(NOW) == [replica.record_id]
    later = NOW + timedelta(hours=1)
    assert keys.delete_key_if_due(replica.record_id, later)
    waiting = keys.get_key(primary.record_id)
    assert waiting is not None
    assert (waiting.state, waiting.deletion_date) == (
        KeyState.PENDING_DELETION,
        later + timedelta(days=9),
    )
