"""Multi-Region key rules: ids, record ids, the material binding, member types, the
configuration DescribeKey shows, and which properties a replica takes from its primary."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from strongroom.kms.domain import multi_region
from strongroom.kms.domain.enums import KeyState
from strongroom.kms.domain.ids import (
    is_key_id,
    key_id_of_record,
    material_binding,
    new_key_id,
    record_id,
)
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.errors import UnsupportedOperationException

NOW = datetime(2026, 12, 5, tzinfo=UTC)
ACCOUNT = "111122223333"


def primary() -> KeyRecord:
    return KeyRecord(
        key_id=new_key_id(multi_region=True),
        account_id=ACCOUNT,
        region="us-east-1",
        created_at=NOW,
        state=KeyState.ENABLED,
        description="p",
        current_material_id="m" * 64,
        policy="primary policy",
        rotation_period_days=90,
        next_rotation_date=NOW + timedelta(days=90),
        primary_region="us-east-1",
    )


def test_ids_of_multi_region_keys() -> None:
    key_id = new_key_id(multi_region=True)
    assert key_id.startswith("mrk-") and len(key_id) == 36 and is_key_id(key_id)
    assert record_id("eu-west-1", key_id) == f"eu-west-1/{key_id}"
    assert key_id_of_record(f"eu-west-1/{key_id}") == key_id
    single = new_key_id()
    assert record_id("eu-west-1", single) == single == key_id_of_record(single)


def test_material_is_bound_to_the_set_not_the_region() -> None:
    key_id = new_key_id(multi_region=True)
    assert material_binding("us-east-1", ACCOUNT, key_id) == material_binding(
        "eu-west-1", ACCOUNT, key_id
    )
    single = new_key_id()
    assert material_binding("us-east-1", ACCOUNT, single) != material_binding(
        "eu-west-1", ACCOUNT, single
    )


def test_a_replica_takes_the_shared_properties_and_keeps_its_own() -> None:
    key = primary()
    copy = multi_region.replica(key, "eu-west-1", "replica policy", "r", NOW)
    assert (copy.key_id, copy.region, copy.record_id) == (
        key.key_id,
        "eu-west-1",
        f"eu-west-1/{key.key_id}",
    )
    assert (copy.policy, copy.description, copy.state) == ("replica policy", "r", KeyState.ENABLED)
    assert (copy.current_material_id, copy.rotation_period_days, copy.primary_region) == (
        key.current_material_id,
        90,
        "us-east-1",
    )
    assert multi_region.key_type(key) == "PRIMARY"
    assert multi_region.key_type(copy) == "REPLICA"
    rotated = replace(key, current_material_id="n" * 64, rotation_period_days=None)
    disabled = replace(copy, state=KeyState.DISABLED, description="mine")
    synced = multi_region.synced(disabled, rotated)
    assert (synced.current_material_id, synced.rotation_period_days) == ("n" * 64, None)
    assert (synced.state, synced.description, synced.policy) == (
        KeyState.DISABLED,
        "mine",
        "replica policy",
    )


def test_configuration_lists_the_primary_and_every_replica() -> None:
    key = primary()
    eu = multi_region.replica(key, "eu-west-1", "", "", NOW)
    ap = multi_region.replica(key, "ap-south-1", "", "", NOW)
    config = multi_region.configuration(eu, [key, eu, ap])
    assert config == {
        "MultiRegionKeyType": "REPLICA",
        "PrimaryKey": {"Arn": key.arn, "Region": "us-east-1"},
        "ReplicaKeys": [
            {"Arn": ap.arn, "Region": "ap-south-1"},
            {"Arn": eu.arn, "Region": "eu-west-1"},
        ],
    }
    assert multi_region.configuration(key, [key])["ReplicaKeys"] == []


def test_primary_only_operations() -> None:
    key = primary()
    multi_region.require_primary(key, "ReplicateKey")
    with pytest.raises(UnsupportedOperationException, match="is a multi-Region replica key"):
        multi_region.require_primary(multi_region.replica(key, "eu-west-1", "", "", NOW), "X")
    single = replace(key, key_id=new_key_id(), primary_region=None)
    with pytest.raises(UnsupportedOperationException, match="is not a multi-Region key"):
        multi_region.require_primary(single, "ReplicateKey")
    multi_region.refuse_on_replica(single, "EnableKeyRotation")
    with pytest.raises(UnsupportedOperationException, match="Use the primary key in us-east-1"):
        multi_region.refuse_on_replica(
            multi_region.replica(key, "eu-west-1", "", "", NOW), "EnableKeyRotation"
        )
