"""Multi-Region key sets in storage: find a set's members, add a replica with copies of the
primary's material versions, keep the shared properties of every member equal to the
primary's (in the primary's own write transaction), move the primary, and start a primary's
deletion window once its last replica is gone.

A member's record id is ``<region>/<mrk id>`` (domain/ids.record_id), so a set is the rows
whose record id ends in ``/<mrk id>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from strongroom.kms.domain import multi_region
from strongroom.kms.domain.enums import KeyState
from strongroom.kms.domain.ids import MULTI_REGION_PREFIX
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.storage import schema
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.key_rows import key_columns, key_from_row

K = schema.keys.c
M = schema.key_materials.c
T = schema.tags.c


def members(conn: Connection, account_id: str, key_id: str) -> list[KeyRecord]:
    """Every member (primary and replicas) of the multi-Region key ``key_id``."""
    if not key_id.startswith(MULTI_REGION_PREFIX):
        return []
    rows = conn.execute(
        select(schema.keys)
        .where(K.account_id == account_id, K.key_id.like(f"%/{key_id}"))
        .order_by(K.region)
    ).all()
    return [key_from_row(r) for r in rows]


def sync_replicas(
    db: Database, conn: Connection, primary: KeyRecord, at: datetime, new_material: str | None
) -> None:
    """Give every replica of ``primary`` its shared properties (and ``new_material``, a material
    version the primary just got); a no-op for a single-Region key or a replica."""
    if multi_region.key_type(primary) != multi_region.PRIMARY:
        return
    for member in members(conn, primary.account_id, primary.key_id):
        if member.region == primary.region:
            continue
        if new_material is not None:
            _copy_materials(conn, primary.record_id, member.record_id, new_material)
        synced = multi_region.synced(member, primary)
        conn.execute(
            update(schema.keys).where(K.key_id == member.record_id).values(**key_columns(synced))
        )
        db.record_change(conn, at, key_id=member.record_id)


def _copy_materials(conn: Connection, source: str, target: str, material_id: str | None) -> None:
    """Copy material rows (one version, or all with None) of record ``source`` to ``target``:
    the wrapped bytes are bound to the set, not the region (domain/ids.material_binding)."""
    query = select(
        M.material_id, M.store_id, M.wrapped, M.created_at, M.rotation_type, M.version
    ).where(M.key_id == source)
    if material_id is not None:
        query = query.where(M.material_id == material_id)
    rows = [dict(r._mapping, key_id=target) for r in conn.execute(query).all()]
    if rows:
        conn.execute(insert(schema.key_materials), rows)


def release_primary(db: Database, conn: Connection, replica: KeyRecord, now: datetime) -> None:
    """After ``replica`` is destroyed: a primary waiting for its replicas' deletion
    (PendingReplicaDeletion) starts its own window when none is left."""
    if multi_region.key_type(replica) != multi_region.REPLICA:
        return
    left = members(conn, replica.account_id, replica.key_id)
    primary = next((m for m in left if m.region == m.primary_region), None)
    if primary is None or primary.state is not KeyState.PENDING_REPLICA_DELETION:
        return
    if any(m.region != primary.region for m in left):
        return
    days = primary.pending_window_days or 30
    started = replace(
        primary,
        state=KeyState.PENDING_DELETION,
        deletion_date=now + timedelta(days=days),
        pending_window_days=days,
    )
    conn.execute(
        update(schema.keys).where(K.key_id == primary.record_id).values(**key_columns(started))
    )
    db.record_change(conn, now, key_id=primary.record_id)


class MultiRegionKeys:
    """The repository of multi-Region key sets."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def members(self, account_id: str, key_id: str) -> list[KeyRecord]:
        with self._db.read_connection() as conn:
            return members(conn, account_id, key_id)

    def add_replica(self, primary: KeyRecord, replica: KeyRecord, tags: Mapping[str, str]) -> None:
        """Insert ``replica`` with copies of the primary's material versions and its own tags;
        DuplicateRecord when its region has a member already."""
        with self._db.insertion(replica.record_id) as conn:
            conn.execute(insert(schema.keys).values(**key_columns(replica)))
            _copy_materials(conn, primary.record_id, replica.record_id, None)
            if tags:
                conn.execute(
                    insert(schema.tags),
                    [
                        {"key_id": replica.record_id, "tag_key": k, "tag_value": v}
                        for k, v in tags.items()
                    ],
                )
            self._db.record_change(conn, replica.created_at, key_id=replica.record_id)

    def move_primary(self, account_id: str, key_id: str, region: str, at: datetime) -> None:
        """Make the member in ``region`` the primary of every member of the set."""
        with self._db.write_connection() as conn:
            for member in members(conn, account_id, key_id):
                conn.execute(
                    update(schema.keys)
                    .where(K.key_id == member.record_id)
                    .values(primary_region=region)
                )
                self._db.record_change(conn, at, key_id=member.record_id)
