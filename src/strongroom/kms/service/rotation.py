"""Key rotation: automatic (by the scheduler) and on demand; status and history.

A rotation adds a material version and makes it current in one transaction. Older versions
stay, so every ciphertext still decrypts: the blob names the version it was made with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from strongroom.kms.domain import multi_region, states
from strongroom.kms.domain.enums import KeySpec, KeyState, Origin, RotationType
from strongroom.kms.domain.ids import new_material_id
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.rotation import (
    DEFAULT_PERIOD_DAYS,
    MaterialVersion,
    check_on_demand_allowed,
    check_rotatable,
    is_due,
    is_rotatable,
    next_rotation,
)
from strongroom.kms.domain.states import OpClass
from strongroom.kms.errors import UnsupportedOperationException
from strongroom.kms.service import importing
from strongroom.kms.service.context import ServiceContext
from strongroom.kms.service.paging import page
from strongroom.kms.service.pipeline import Call, Operation, Response, managed_key
from strongroom.kms.service.transitions import transition
from strongroom.kms.storage.kmip import KmipRepository

# (current record, on-demand rotations so far, the time now) -> the rotated record, or None
Decision = Callable[[KeyRecord, int, datetime], KeyRecord | None]


def rotate(
    ctx: ServiceContext, key: KeyRecord, rotation_type: RotationType, decide: Decision
) -> KeyRecord | None:
    """Make new material current if ``decide`` agrees.

    ``decide`` runs under the key's row lock and reads the time there, so the version made
    current last always carries the latest rotation date.
    """
    material_id = new_material_id()
    wrapped = ctx.store.new_material(key.material_binding, material_id)

    def mutate(current: KeyRecord, on_demand_rotations: int) -> tuple[KeyRecord, datetime] | None:
        now = ctx.clock.now()
        decided = decide(current, on_demand_rotations, now)
        if decided is None:
            return None
        return replace(decided, current_material_id=material_id), now

    return ctx.keys.add_material(
        key.record_id,
        material_id=material_id,
        rotation_type=rotation_type,
        store_id=ctx.store.store_id,
        wrapped=wrapped,
        mutate=mutate,
    )


def rotate_if_due(ctx: ServiceContext, key: KeyRecord) -> KeyRecord | None:
    """The scheduler's rotation: exactly once per due date, whichever worker gets there first."""

    def decide(current: KeyRecord, _: int, now: datetime) -> KeyRecord | None:
        if not is_due(current, now) or current.rotation_period_days is None:
            return None
        return replace(current, next_rotation_date=next_rotation(now, current.rotation_period_days))

    return rotate(ctx, key, RotationType.AUTOMATIC, decide)


def _check_not_kmip(call: Call) -> None:
    """A KMIP object keeps its material: clients fetch it with KMIP Get and use it themselves,
    so rotation would silently hand them another key (docs/adr/0023)."""
    if KmipRepository(call.ctx.db).get(call.key.key_id) is not None:
        raise UnsupportedOperationException(
            f"{call.key.arn} is a KMIP object; its material is exported and does not rotate."
        )


def enable_key_rotation(call: Call) -> Response:
    multi_region.refuse_on_replica(call.key, "EnableKeyRotation")
    check_rotatable(call.key)
    _check_not_kmip(call)
    period = call.request.get("RotationPeriodInDays", DEFAULT_PERIOD_DAYS)
    now = call.ctx.clock.now()
    transition(
        call,
        OpClass.ROTATION,
        lambda k: replace(
            k, rotation_period_days=period, next_rotation_date=next_rotation(now, period)
        ),
    )
    return {}


def disable_key_rotation(call: Call) -> Response:
    multi_region.refuse_on_replica(call.key, "DisableKeyRotation")
    check_rotatable(call.key)
    transition(
        call,
        OpClass.ROTATION,
        lambda k: replace(k, rotation_period_days=None, next_rotation_date=None),
    )
    return {}


def get_key_rotation_status(call: Call) -> Response:
    key = call.key
    if not is_rotatable(key):
        # Asymmetric, HMAC, imported and custom key store keys: "The key rotation status of
        # these KMS keys is always false" (AWS's API reference), not an error.
        return {"KeyId": key.arn, "KeyRotationEnabled": False}
    # A key pending deletion reports rotation as disabled, as AWS does; the setting survives a
    # cancelled deletion.
    enabled = key.rotation_enabled and key.state is not KeyState.PENDING_DELETION
    response: Response = {"KeyId": key.arn, "KeyRotationEnabled": enabled}
    if enabled and key.next_rotation_date is not None:
        response["RotationPeriodInDays"] = key.rotation_period_days
        response["NextRotationDate"] = key.next_rotation_date.timestamp()
    return response


def _imported_symmetric(key: KeyRecord) -> bool:
    """BYOK: symmetric keys with imported material rotate on demand to imported material."""
    return key.origin is Origin.EXTERNAL and key.key_spec is KeySpec.SYMMETRIC_DEFAULT


def rotate_key_on_demand(call: Call) -> Response:
    multi_region.refuse_on_replica(call.key, "RotateKeyOnDemand")
    if _imported_symmetric(call.key):
        return importing.rotate_imported(call)
    check_rotatable(call.key)
    _check_not_kmip(call)

    def decide(current: KeyRecord, on_demand_rotations: int, _: datetime) -> KeyRecord:
        states.check(OpClass.ROTATION, current.state, current.arn)
        check_on_demand_allowed(current, on_demand_rotations)
        return current

    rotated = rotate(call.ctx, call.key, RotationType.ON_DEMAND, decide)
    assert rotated is not None
    call.ctx.cache.put_key(rotated)
    return {"KeyId": rotated.arn}


def list_key_rotations(call: Call) -> Response:
    key = call.key
    if _imported_symmetric(key):
        return importing.list_imported_rotations(call)
    check_rotatable(key)
    versions = call.ctx.keys.list_materials(key.record_id)
    if call.request.get("IncludeKeyMaterial", "ROTATIONS_ONLY") == "ROTATIONS_ONLY":
        versions = [v for v in versions if v.rotation_type is not None]
    position = {v.material_id: n for n, v in enumerate(versions)}

    def fetch(after: str | None, limit: int) -> list[MaterialVersion]:
        start = 0 if after is None else position.get(after, len(versions)) + 1
        return versions[start : start + limit]

    items, paging = page(
        fetch, lambda v: v.material_id, call.request.get("Limit", 100), call.request.get("Marker")
    )
    return {"Rotations": [v.listing(key) for v in items], **paging}


OPERATIONS = (
    Operation(
        "EnableKeyRotation",
        enable_key_rotation,
        managed_key("kms:EnableKeyRotation", OpClass.ROTATION),
    ),
    Operation(
        "DisableKeyRotation",
        disable_key_rotation,
        managed_key("kms:DisableKeyRotation", OpClass.ROTATION),
    ),
    Operation(
        "GetKeyRotationStatus",
        get_key_rotation_status,
        managed_key("kms:GetKeyRotationStatus", OpClass.READ),
    ),
    Operation(
        "RotateKeyOnDemand",
        rotate_key_on_demand,
        managed_key("kms:RotateKeyOnDemand", OpClass.ROTATION),
    ),
    Operation(
        "ListKeyRotations", list_key_rotations, managed_key("kms:ListKeyRotations", OpClass.READ)
    ),
)
