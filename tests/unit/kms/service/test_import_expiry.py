"""Expiry of imported key material: done once by whichever scheduler gets there first.

Several workers (threads, each with its own engine on one SQLite file) race for the same due
expiry; exactly one deletes the material, the key becomes PendingImport, its wrapped copy goes
and its record stays (so the same material can be imported again).
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select

from strongroom.kms.domain.enums import KeyState, Origin
from strongroom.kms.domain.ids import new_key_id
from strongroom.kms.domain.imports import (
    ExpirationModel,
    ImportedMaterial,
    ImportRequest,
    plan_import,
)
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.storage import schema
from strongroom.kms.storage.imports import ImportRepository, MaterialChange
from tests.unit.kms.service.test_scheduler import NOW, World, race, world

__all__ = ["world"]  # the fixture, shared with the scheduler tests


def imported_key(world: World, valid_to: datetime | None) -> tuple[KeyRecord, str]:
    """An EXTERNAL key with one imported material, as ImportKeyMaterial leaves it."""
    ctx = world.parts.ctx
    key = KeyRecord(
        key_id=new_key_id(),
        account_id=world.account_id,
        region="us-east-1",
        created_at=NOW - timedelta(days=2),
        state=KeyState.PENDING_IMPORT,
        origin=Origin.EXTERNAL,
    )
    ctx.keys.create_key(key, ctx.store.store_id, b"", {})
    material = secrets.token_bytes(32)
    material_id = ctx.store.imported_material_id(key.arn, material)
    wrapped = ctx.store.import_material(key.arn, material_id, key.key_spec, material)
    model = (
        ExpirationModel.KEY_MATERIAL_DOES_NOT_EXPIRE
        if valid_to is None
        else ExpirationModel.KEY_MATERIAL_EXPIRES
    )
    request = ImportRequest(material_id, None, None, None, model, valid_to, NOW - timedelta(days=1))

    def plan(current: KeyRecord, materials: list[ImportedMaterial]) -> MaterialChange:
        updated, record = plan_import(current, materials, request)
        return MaterialChange(updated, put=record, wrapped=wrapped)

    imported = ImportRepository(ctx.db).change(key.key_id, NOW, ctx.store.store_id, plan)
    assert imported is not None and imported.state is KeyState.ENABLED
    return imported, material_id


def test_a_due_expiry_happens_exactly_once(world: World) -> None:
    due, due_material = imported_key(world, NOW - timedelta(seconds=1))
    later, _ = imported_key(world, NOW + timedelta(seconds=1))
    forever, _ = imported_key(world, None)
    since = world.parts.db.last_change_seq()
    results = race(world)
    expired = Counter(k for r in results for k in r.expired)
    assert expired == Counter({due.key_id: 1})
    changes = Counter(c.key_id for c in world.parts.db.changes_since(since))
    assert changes == Counter({due.key_id: 1})

    repo = world.parts.keys
    assert repo.get_key(due.key_id).state is KeyState.PENDING_IMPORT  # type: ignore[union-attr]
    assert repo.get_material(due.record_id, due_material) is None
    (record,) = ImportRepository(world.parts.db).materials(due.key_id)
    assert (record.material_id, record.imported) == (due_material, False)
    for key in (later, forever):
        assert repo.get_key(key.key_id).state is KeyState.ENABLED  # type: ignore[union-attr]

    world.clock.set(NOW + timedelta(seconds=2))
    results = race(world, runners=2)
    assert Counter(k for r in results for k in r.expired) == Counter({later.key_id: 1})
    with world.parts.db.read_connection() as conn:
        rows = conn.execute(select(schema.key_materials.c.key_id)).scalars().all()
    assert due.key_id not in rows and later.key_id not in rows and forever.key_id in rows


def test_a_pending_deletion_key_stays_pending_deletion(world: World) -> None:
    key, material_id = imported_key(world, NOW - timedelta(seconds=1))
    world.parts.keys.update_key(
        key.key_id,
        NOW,
        lambda k: replace(
            k,
            state=KeyState.PENDING_DELETION,
            deletion_date=NOW + timedelta(days=7),
            pending_window_days=7,
        ),
    )
    done = world.parts.scheduler.run_due()
    assert done.expired == [key.key_id]
    after = world.parts.keys.get_key(key.key_id)
    assert after is not None and after.state is KeyState.PENDING_DELETION
    assert world.parts.keys.get_material(key.record_id, material_id) is None
