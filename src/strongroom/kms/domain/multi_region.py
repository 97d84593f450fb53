"""Multi-Region keys: a primary key and its replicas, one per region, sharing one key id.

They share (and Strongroom keeps in sync from the primary) the key id, the key material and its
versions, key spec, key usage, origin and automatic rotation; each keeps its own policy,
aliases, tags, grants, description and key state. The primary's region is recorded on every
member (``KeyRecord.primary_region``), so a replica knows its primary and UpdatePrimaryRegion
changes one column on each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from strongroom.kms.domain.enums import KeyState
from strongroom.kms.domain.ids import key_arn
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.errors import UnsupportedOperationException

PRIMARY = "PRIMARY"
REPLICA = "REPLICA"


def key_type(key: KeyRecord) -> str | None:
    """PRIMARY, REPLICA, or None for a single-Region key."""
    if key.primary_region is None:
        return None
    return PRIMARY if key.primary_region == key.region else REPLICA


def require_primary(key: KeyRecord, operation: str) -> None:
    """Operations on shared properties run on the primary only (AWS's answer otherwise)."""
    if key.primary_region is None:
        raise UnsupportedOperationException(
            f"{key.arn} is not a multi-Region key. {operation} supports multi-Region keys only."
        )
    if key.primary_region != key.region:
        primary = key_arn(key.primary_region, key.account_id, key.key_id)
        raise UnsupportedOperationException(
            f"{key.arn} is a multi-Region replica key. {operation} is supported on the "
            f"primary key only: {primary}."
        )


def refuse_on_replica(key: KeyRecord, operation: str) -> None:
    """Shared properties (rotation) change on the primary, never on a replica."""
    if key_type(key) == REPLICA:
        raise UnsupportedOperationException(
            f"{operation} is not supported on multi-Region replica key {key.arn}. "
            f"Use the primary key in {key.primary_region}."
        )


def replica(
    primary: KeyRecord, region: str, policy: str, description: str, now: datetime
) -> KeyRecord:
    """A new replica of ``primary`` in ``region``: the shared properties, its own policy and
    description, Enabled (AWS passes through Creating first; here the copy is immediate)."""
    return replace(
        primary,
        region=region,
        created_at=now,
        state=KeyState.ENABLED,
        description=description,
        deletion_date=None,
        pending_window_days=None,
        policy=policy,
    )


def synced(member: KeyRecord, primary: KeyRecord) -> KeyRecord:
    """``member`` with the shared properties the primary has now."""
    return replace(
        member,
        primary_region=primary.primary_region,
        current_material_id=primary.current_material_id,
        rotation_period_days=primary.rotation_period_days,
        next_rotation_date=primary.next_rotation_date,
    )


def configuration(key: KeyRecord, related: Iterable[KeyRecord]) -> dict[str, object]:
    """KeyMetadata.MultiRegionConfiguration of ``key`` among all members of its set."""
    assert key.primary_region is not None
    members = sorted({(m.region, m.arn) for m in related} | {(key.region, key.arn)})
    primary = key_arn(key.primary_region, key.account_id, key.key_id)
    return {
        "MultiRegionKeyType": key_type(key),
        "PrimaryKey": {"Arn": primary, "Region": key.primary_region},
        "ReplicaKeys": [
            {"Arn": arn, "Region": region}
            for region, arn in members
            if region != key.primary_region
        ],
    }
