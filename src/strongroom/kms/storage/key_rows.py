"""A key record as table columns and back (``keys`` rows are named by record id)."""

from __future__ import annotations

from typing import Any

from strongroom.kms.domain.enums import KeyManager, KeySpec, KeyState, KeyUsage, Origin
from strongroom.kms.domain.ids import key_id_of_record
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.lineage import HsmLineage


def key_columns(key: KeyRecord) -> dict[str, object]:
    return {
        "key_id": key.record_id,
        "account_id": key.account_id,
        "region": key.region,
        "created_at": key.created_at,
        "state": key.state.value,
        "description": key.description,
        "key_spec": key.key_spec.value,
        "key_usage": key.key_usage.value,
        "origin": key.origin.value,
        "key_manager": key.key_manager.value,
        "current_material_id": key.current_material_id,
        "deletion_date": key.deletion_date,
        "pending_window_days": key.pending_window_days,
        "policy": key.policy,
        "rotation_period_days": key.rotation_period_days,
        "next_rotation_date": key.next_rotation_date,
        "custom_key_store_id": key.custom_key_store_id,
        "cloud_hsm_cluster_id": key.cloud_hsm_cluster_id,
        "hsm_lineage": None if key.hsm_lineage is None else key.hsm_lineage.to_json(),
        "primary_region": key.primary_region,
        "xks_key_id": key.xks_key_id,
    }


def key_from_row(row: Any) -> KeyRecord:
    return KeyRecord(
        key_id=key_id_of_record(row.key_id),
        account_id=row.account_id,
        region=row.region,
        created_at=row.created_at,
        state=KeyState(row.state),
        description=row.description,
        key_spec=KeySpec(row.key_spec),
        key_usage=KeyUsage(row.key_usage),
        origin=Origin(row.origin),
        key_manager=KeyManager(row.key_manager),
        current_material_id=row.current_material_id,
        deletion_date=row.deletion_date,
        pending_window_days=row.pending_window_days,
        policy=row.policy,
        rotation_period_days=row.rotation_period_days,
        next_rotation_date=row.next_rotation_date,
        custom_key_store_id=row.custom_key_store_id,
        cloud_hsm_cluster_id=row.cloud_hsm_cluster_id,
        hsm_lineage=None if row.hsm_lineage is None else HsmLineage.from_json(row.hsm_lineage),
        primary_region=row.primary_region,
        xks_key_id=row.xks_key_id,
    )
