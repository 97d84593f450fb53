"""Rotation rules: periods, the on-demand limit, due dates and material versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from strongroom.kms.domain.enums import KeyMaterialState, KeySpec, KeyState, Origin, RotationType
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.errors import LimitExceededException, UnsupportedOperationException

MIN_PERIOD_DAYS = 90
MAX_PERIOD_DAYS = 2560
DEFAULT_PERIOD_DAYS = 365
ON_DEMAND_LIMIT = 25


@dataclass(frozen=True, slots=True)
class MaterialVersion:
    """One key material version of a key. The first has no rotation type."""

    material_id: str
    key_id: str
    created_at: datetime
    rotation_type: RotationType | None

    def listing(self, key: KeyRecord) -> dict[str, object]:
        """An entry of ListKeyRotations."""
        state = (
            KeyMaterialState.CURRENT
            if self.material_id == key.current_material_id
            else KeyMaterialState.NON_CURRENT
        )
        entry: dict[str, object] = {
            "KeyId": key.key_id,
            "KeyMaterialId": self.material_id,
            "KeyMaterialState": state.value,
        }
        if self.rotation_type is not None:
            entry["RotationDate"] = self.created_at.timestamp()
            entry["RotationType"] = self.rotation_type.value
        return entry


def is_rotatable(key: KeyRecord) -> bool:
    """Only symmetric encryption keys with material KMS generated rotate automatically."""
    return key.key_spec is KeySpec.SYMMETRIC_DEFAULT and key.origin is Origin.AWS_KMS


def check_rotatable(key: KeyRecord) -> None:
    """Refuse rotation settings and KMS-made rotations of other keys: UnsupportedOperation
    with no message (kms/messages.py, "errors AWS sends without any message")."""
    if not is_rotatable(key):
        raise UnsupportedOperationException()


def check_on_demand_allowed(key: KeyRecord, on_demand_rotations: int) -> None:
    if on_demand_rotations >= ON_DEMAND_LIMIT:
        raise LimitExceededException(
            f"{key.arn} has reached its limit of {ON_DEMAND_LIMIT} on-demand rotations."
        )


def next_rotation(after: datetime, period_days: int) -> datetime:
    return after + timedelta(days=period_days)


def is_due(key: KeyRecord, now: datetime) -> bool:
    """Automatic rotation is due: enabled, the key usable, and its date reached.

    Disabled keys do not rotate; when re-enabled after their date they rotate once, at the
    scheduler's next run, and the period starts again from then.
    """
    return (
        key.state is KeyState.ENABLED
        and key.rotation_period_days is not None
        and key.next_rotation_date is not None
        and key.next_rotation_date <= now
    )
