from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum

import pytest

from strongroom.kms.domain.enums import KeyState, RotationType
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.rotation import (
    DEFAULT_PERIOD_DAYS,
    MAX_PERIOD_DAYS,
    MIN_PERIOD_DAYS,
    ON_DEMAND_LIMIT,
    MaterialVersion,
    check_on_demand_allowed,
    check_rotatable,
    is_due,
    is_rotatable,
    next_rotation,
)
from strongroom.kms.errors import LimitExceededException, UnsupportedOperationException

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
ARN = f"arn:aws:kms:us-east-1:111122223333:key/{KEY_ID}"
INITIAL = "aa" * 32
ROTATED = "bb" * 32


def _key(**changes: object) -> KeyRecord:
    key = KeyRecord(
        key_id=KEY_ID,
        account_id="111122223333",
        region="us-east-1",
        created_at=NOW - timedelta(days=400),
        state=KeyState.ENABLED,
        current_material_id=INITIAL,
        rotation_period_days=90,
        next_rotation_date=NOW,
    )
    return replace(key, **changes)  # type: ignore[arg-type]


def test_limits_are_aws_s() -> None:
    assert (MIN_PERIOD_DAYS, MAX_PERIOD_DAYS, DEFAULT_PERIOD_DAYS) == (90, 2560, 365)
    assert ON_DEMAND_LIMIT == 25


# --- is_due -------------------------------------------------------------------------------


@pytest.mark.parametrize("state", list(KeyState))
def test_only_enabled_keys_are_due(state: KeyState) -> None:
    key = _key(state=state, next_rotation_date=NOW - timedelta(days=1))
    assert is_due(key, NOW) is (state is KeyState.ENABLED)


@pytest.mark.parametrize(
    ("next_date", "due"),
    [
        (NOW - timedelta(days=365), True),
        (NOW - timedelta(microseconds=1), True),
        (NOW, True),  # the date itself is due
        (NOW + timedelta(microseconds=1), False),
        (NOW + timedelta(days=1), False),
    ],
)
def test_due_from_the_rotation_date_on(next_date: datetime, due: bool) -> None:
    assert is_due(_key(next_rotation_date=next_date), NOW) is due


def test_keys_without_automatic_rotation_are_never_due() -> None:
    assert not is_due(_key(rotation_period_days=None, next_rotation_date=None), NOW)
    # A stale date left behind without a period does not make a key due.
    assert not is_due(_key(rotation_period_days=None, next_rotation_date=NOW), NOW)
    # Nor does a period without a date.
    assert not is_due(_key(rotation_period_days=90, next_rotation_date=None), NOW)


def test_due_compares_instants_not_wall_clock_text() -> None:
    # 12:00 UTC is 13:00 in UTC+1: the same instant, so due.
    plus_one = timezone(timedelta(hours=1))
    assert is_due(_key(next_rotation_date=NOW.astimezone(plus_one)), NOW)
    assert not is_due(
        _key(next_rotation_date=(NOW + timedelta(seconds=1)).astimezone(plus_one)), NOW
    )


# --- next_rotation ------------------------------------------------------------------------


@pytest.mark.parametrize("days", [MIN_PERIOD_DAYS, DEFAULT_PERIOD_DAYS, MAX_PERIOD_DAYS])
def test_next_rotation_is_one_period_later(days: int) -> None:
    assert next_rotation(NOW, days) == NOW + timedelta(days=days)
    assert next_rotation(NOW, days) - NOW == timedelta(days=days)
    assert next_rotation(NOW, days).tzinfo is UTC


def test_after_a_rotation_at_the_due_date_the_key_is_not_due_again() -> None:
    key = _key(next_rotation_date=NOW)
    assert is_due(key, NOW)
    rotated = replace(key, next_rotation_date=next_rotation(NOW, 90))
    assert not is_due(rotated, NOW)
    assert not is_due(rotated, NOW + timedelta(days=90) - timedelta(microseconds=1))
    assert is_due(rotated, NOW + timedelta(days=90))


# --- on-demand limit ----------------------------------------------------------------------


@pytest.mark.parametrize("done", [0, 1, 24])
def test_on_demand_allowed_below_the_limit(done: int) -> None:
    check_on_demand_allowed(_key(), done)  # does not raise


@pytest.mark.parametrize("done", [25, 26, 100])
def test_on_demand_refused_at_the_limit(done: int) -> None:
    with pytest.raises(LimitExceededException) as info:
        check_on_demand_allowed(_key(), done)
    assert info.value.code == "LimitExceededException"
    assert info.value.status == 400
    assert ARN in info.value.message
    assert "25" in info.value.message


# --- check_rotatable ----------------------------------------------------------------------


def test_symmetric_kms_generated_keys_are_rotatable() -> None:
    check_rotatable(_key())  # does not raise
    # State does not matter here: the state table decides that elsewhere.
    check_rotatable(_key(state=KeyState.DISABLED))


class _OtherSpec(StrEnum):
    RSA_2048 = "RSA_2048"


class _OtherOrigin(StrEnum):
    EXTERNAL = "EXTERNAL"


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"key_spec": _OtherSpec.RSA_2048}, "RSA_2048"),
        ({"origin": _OtherOrigin.EXTERNAL}, "EXTERNAL"),
    ],
)
def test_other_keys_are_not_rotatable(changes: dict[str, object], named: str) -> None:
    key = _key(**changes)
    assert named in (key.key_spec.value, key.origin.value)
    assert not is_rotatable(key)
    with pytest.raises(UnsupportedOperationException) as info:
        check_rotatable(key)
    # No message, as AWS answers (kms/messages.py).
    assert (info.value.code, info.value.message) == ("UnsupportedOperationException", "")


# --- MaterialVersion.listing --------------------------------------------------------------


def test_listing_of_the_initial_material() -> None:
    version = MaterialVersion(INITIAL, KEY_ID, NOW - timedelta(days=400), None)
    assert version.listing(_key()) == {
        "KeyId": KEY_ID,
        "KeyMaterialId": INITIAL,
        "KeyMaterialState": "CURRENT",
    }
    # Once rotated away from, it is NON_CURRENT, still without a rotation type or date.
    assert version.listing(_key(current_material_id=ROTATED)) == {
        "KeyId": KEY_ID,
        "KeyMaterialId": INITIAL,
        "KeyMaterialState": "NON_CURRENT",
    }


@pytest.mark.parametrize("rotation_type", list(RotationType))
def test_listing_of_a_rotation(rotation_type: RotationType) -> None:
    at = NOW - timedelta(days=3, microseconds=250)
    version = MaterialVersion(ROTATED, KEY_ID, at, rotation_type)
    current = version.listing(_key(current_material_id=ROTATED))
    assert current == {
        "KeyId": KEY_ID,
        "KeyMaterialId": ROTATED,
        "KeyMaterialState": "CURRENT",
        "RotationDate": at.timestamp(),
        "RotationType": rotation_type.value,
    }
    assert version.listing(_key(current_material_id="cc" * 32)) == {
        **current,
        "KeyMaterialState": "NON_CURRENT",
    }
    assert isinstance(current["RotationDate"], float)
    assert current["RotationType"] in ("AUTOMATIC", "ON_DEMAND")


def test_listing_of_a_key_without_material_is_non_current() -> None:
    version = MaterialVersion(INITIAL, KEY_ID, NOW, None)
    assert version.listing(_key(current_material_id=None))["KeyMaterialState"] == "NON_CURRENT"
