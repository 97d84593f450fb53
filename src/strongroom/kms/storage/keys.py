"""Keys, their wrapped material versions, aliases and tags."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, delete, func, insert, select, update

from strongroom.kms.domain.enums import (
    KeyManager,
    KeySpec,
    KeyState,
    KeyUsage,
    Origin,
    RotationType,
)
from strongroom.kms.domain.key import AliasRecord, KeyRecord
from strongroom.kms.domain.lineage import HsmLineage
from strongroom.kms.domain.rotation import MaterialVersion
from strongroom.kms.storage import schema
from strongroom.kms.storage.database import Database, DuplicateRecord

K = schema.keys.c
A = schema.aliases.c
T = schema.tags.c
M = schema.key_materials.c


class KeyNotFound(Exception):
    pass


class ScheduledWork(NamedTuple):
    due: datetime
    action: str  # "rotation" or "deletion"
    key_id: str
    account_id: str


class KeyRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- keys ---------------------------------------------------------------------------

    def create_key(
        self, key: KeyRecord, store_id: str, wrapped_material: bytes, tags: Mapping[str, str]
    ) -> None:
        """Insert a key, its first material version and its tags in one transaction."""
        with self._db.write_connection() as conn:
            self._insert_key(conn, key, store_id, wrapped_material)
            _put_tags(conn, key.key_id, tags)

    def create_key_with_alias(
        self, key: KeyRecord, store_id: str, wrapped_material: bytes, alias: AliasRecord
    ) -> bool:
        """Insert a key and the alias naming it in one transaction; False, with nothing
        written, when the alias exists already (another worker created it first)."""
        try:
            with self._db.insertion(alias.alias_name) as conn:
                self._insert_key(conn, key, store_id, wrapped_material)
                _insert_alias(conn, alias)
                self._db.record_change(
                    conn, alias.created_at, account_id=alias.account_id, alias_name=alias.alias_name
                )
        except DuplicateRecord:
            return False
        return True

    def create_key_and(
        self,
        key: KeyRecord,
        store_id: str,
        wrapped_material: bytes,
        then: Callable[[Connection], None],
    ) -> None:
        """Insert a key and its first material, then run ``then`` (the rows another part keeps
        about the key, such as a KMIP object) in the same transaction."""
        with self._db.write_connection() as conn:
            self._insert_key(conn, key, store_id, wrapped_material)
            then(conn)

    def _insert_key(
        self, conn: Connection, key: KeyRecord, store_id: str, wrapped_material: bytes
    ) -> None:
        conn.execute(insert(schema.keys).values(**_key_columns(key)))
        if key.current_material_id is not None:
            conn.execute(
                insert(schema.key_materials).values(
                    material_id=key.current_material_id,
                    key_id=key.key_id,
                    store_id=store_id,
                    wrapped=wrapped_material,
                    created_at=key.created_at,
                    version=1,
                )
            )
        self._db.record_change(conn, key.created_at, key_id=key.key_id)

    def get_key(self, key_id: str) -> KeyRecord | None:
        with self._db.read_connection() as conn:
            row = conn.execute(select(schema.keys).where(K.key_id == key_id)).first()
        return None if row is None else _key(row)

    def get_key_with_material(
        self, key_id: str
    ) -> tuple[KeyRecord | None, tuple[str, str, bytes] | None]:
        """The key and ``(material_id, store_id, wrapped)`` of its current material, in one
        query: a key new to a worker's cache costs one database read, not two."""
        query = (
            select(
                schema.keys,
                M.store_id.label("material_store_id"),
                M.wrapped.label("material_wrapped"),
            )
            .outerjoin(
                schema.key_materials,
                (M.material_id == K.current_material_id) & (M.key_id == K.key_id),
            )
            .where(K.key_id == key_id)
        )
        with self._db.read_connection() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None, None
        key = _key(row)
        if row.material_wrapped is None or key.current_material_id is None:
            return key, None
        return key, (key.current_material_id, row.material_store_id, row.material_wrapped)

    def key_of_external_key(self, custom_key_store_id: str, xks_key_id: str) -> str | None:
        """The KMS key (in any state) that an external key backs, if any."""
        k = schema.keys.c
        with self._db.read_connection() as conn:
            found: str | None = conn.execute(
                select(k.key_id).where(
                    k.custom_key_store_id == custom_key_store_id, k.xks_key_id == xks_key_id
                )
            ).scalar_one_or_none()
        return found

    def update_key(
        self, key_id: str, at: datetime, mutate: Callable[[KeyRecord], KeyRecord]
    ) -> KeyRecord:
        """Read-modify-write one key under the database's write lock.

        ``mutate`` sees the current record and may raise to abort; the change feed records
        the write in the same transaction so every worker evicts its cached copy.
        """
        with self._db.write_connection() as conn:
            row = conn.execute(
                select(schema.keys).where(K.key_id == key_id).with_for_update()
            ).first()
            if row is None:
                raise KeyNotFound(key_id)
            new = mutate(_key(row))
            conn.execute(update(schema.keys).where(K.key_id == key_id).values(**_key_columns(new)))
            self._db.record_change(conn, at, key_id=key_id)
            return new

    def list_keys(self, account_id: str, after: str | None, limit: int) -> list[KeyRecord]:
        query = select(schema.keys).where(K.account_id == account_id)
        if after is not None:
            query = query.where(K.key_id > after)
        with self._db.read_connection() as conn:
            rows = conn.execute(query.order_by(K.key_id).limit(limit)).all()
        return [_key(r) for r in rows]

    def due_deletions(self, now: datetime) -> list[str]:
        with self._db.read_connection() as conn:
            return list(
                conn.execute(
                    select(K.key_id).where(
                        K.state == KeyState.PENDING_DELETION.value, K.deletion_date <= now
                    )
                ).scalars()
            )

    def delete_key_if_due(self, key_id: str, now: datetime) -> bool:
        """Destroy a key whose deletion window has ended: material, aliases, tags and record.

        The conditional delete makes this safe to run from every worker at once: exactly one
        of them deletes the row.
        """
        with self._db.write_connection() as conn:
            # Read the aliases first: deleting the key cascades to them.
            alias_names = list(
                conn.execute(select(A.account_id, A.alias_name).where(A.key_id == key_id)).all()
            )
            deleted = conn.execute(
                delete(schema.keys).where(
                    K.key_id == key_id,
                    K.state == KeyState.PENDING_DELETION.value,
                    K.deletion_date <= now,
                )
            ).rowcount
            if not deleted:
                return False
            self._delete_dependents(conn, key_id, now, alias_names)
            return True

    def delete_key_rows(self, conn: Connection, key_id: str, at: datetime) -> None:
        """Delete a key with everything that hangs on it, in the caller's transaction (KMIP
        Destroy: at once, without a deletion window)."""
        alias_names = list(
            conn.execute(select(A.account_id, A.alias_name).where(A.key_id == key_id)).all()
        )
        conn.execute(delete(schema.keys).where(K.key_id == key_id))
        self._delete_dependents(conn, key_id, at, alias_names)

    def _delete_dependents(
        self, conn: Connection, key_id: str, at: datetime, alias_names: list[Any]
    ) -> None:
        conn.execute(delete(schema.key_materials).where(M.key_id == key_id))
        conn.execute(delete(schema.aliases).where(A.key_id == key_id))
        conn.execute(delete(schema.tags).where(T.key_id == key_id))
        conn.execute(delete(schema.kmip_objects).where(schema.kmip_objects.c.key_id == key_id))
        self._db.record_change(conn, at, key_id=key_id)
        for account_id, alias_name in alias_names:
            self._db.record_change(conn, at, account_id=account_id, alias_name=alias_name)

    @staticmethod
    def record_of(row: Any) -> KeyRecord:
        """The record of a ``keys`` row read by another repository of this package."""
        return _key(row)

    def due_rotations(self, now: datetime) -> list[str]:
        with self._db.read_connection() as conn:
            return list(
                conn.execute(
                    select(K.key_id).where(
                        K.state == KeyState.ENABLED.value,
                        K.rotation_period_days.is_not(None),
                        K.next_rotation_date <= now,
                    )
                ).scalars()
            )

    def upcoming(self, until: datetime) -> list[ScheduledWork]:
        """Rotations and deletions due up to ``until``, earliest first (for operators)."""
        with self._db.read_connection() as conn:
            deletions = conn.execute(
                select(K.key_id, K.account_id, K.deletion_date).where(
                    K.state == KeyState.PENDING_DELETION.value, K.deletion_date <= until
                )
            ).all()
            rotations = conn.execute(
                select(K.key_id, K.account_id, K.next_rotation_date).where(
                    K.state == KeyState.ENABLED.value,
                    K.rotation_period_days.is_not(None),
                    K.next_rotation_date <= until,
                )
            ).all()
        work = [ScheduledWork(r[2], "deletion", r[0], r[1]) for r in deletions]
        work += [ScheduledWork(r[2], "rotation", r[0], r[1]) for r in rotations]
        return sorted(work)

    # --- material -----------------------------------------------------------------------

    def add_material(
        self,
        key_id: str,
        *,
        material_id: str,
        rotation_type: RotationType,
        store_id: str,
        wrapped: bytes,
        mutate: Callable[[KeyRecord, int], tuple[KeyRecord, datetime] | None],
    ) -> KeyRecord | None:
        """Rotate: add a material version and make it current, in one transaction.

        ``mutate`` sees the current record and the number of on-demand rotations so far; it
        returns the updated record and the rotation time, None to leave the key as it is
        (nothing is written), or raises. It runs under the row lock, so two workers never
        rotate the same due key twice, and rotation times follow commit order.
        """
        with self._db.write_connection() as conn:
            row = conn.execute(
                select(schema.keys).where(K.key_id == key_id).with_for_update()
            ).first()
            if row is None:
                raise KeyNotFound(key_id)
            on_demand = conn.execute(
                select(func.count()).where(
                    M.key_id == key_id, M.rotation_type == RotationType.ON_DEMAND.value
                )
            ).scalar_one()
            latest = conn.execute(
                select(func.coalesce(func.max(M.version), 0)).where(M.key_id == key_id)
            ).scalar_one()
            decided = mutate(_key(row), int(on_demand))
            if decided is None:
                return None
            new, at = decided
            conn.execute(
                insert(schema.key_materials).values(
                    material_id=material_id,
                    key_id=key_id,
                    store_id=store_id,
                    wrapped=wrapped,
                    created_at=at,
                    rotation_type=rotation_type.value,
                    version=int(latest) + 1,
                )
            )
            conn.execute(update(schema.keys).where(K.key_id == key_id).values(**_key_columns(new)))
            self._db.record_change(conn, at, key_id=key_id)
            return new

    def list_materials(self, key_id: str) -> list[MaterialVersion]:
        with self._db.read_connection() as conn:
            rows = conn.execute(
                select(M.material_id, M.created_at, M.rotation_type)
                .where(M.key_id == key_id)
                .order_by(M.version)
            ).all()
        return [
            MaterialVersion(
                r.material_id,
                key_id,
                r.created_at,
                None if r.rotation_type is None else RotationType(r.rotation_type),
            )
            for r in rows
        ]

    def get_material(self, material_id: str) -> tuple[str, str, bytes] | None:
        """``(key_id, store_id, wrapped)`` of a material version."""
        with self._db.read_connection() as conn:
            row = conn.execute(
                select(M.key_id, M.store_id, M.wrapped).where(M.material_id == material_id)
            ).first()
        return None if row is None else (row.key_id, row.store_id, row.wrapped)

    # --- aliases ------------------------------------------------------------------------

    def create_alias(self, alias: AliasRecord) -> None:
        with self._db.insertion(alias.alias_name) as conn:
            _insert_alias(conn, alias)
            self._db.record_change(
                conn, alias.created_at, account_id=alias.account_id, alias_name=alias.alias_name
            )

    def update_alias(self, account_id: str, alias_name: str, key_id: str, at: datetime) -> bool:
        with self._db.write_connection() as conn:
            count = conn.execute(
                update(schema.aliases)
                .where(
                    A.account_id == account_id,
                    A.alias_name == alias_name,
                )
                .values(key_id=key_id, updated_at=at)
            ).rowcount
            if count:
                self._db.record_change(conn, at, account_id=account_id, alias_name=alias_name)
        return bool(count)

    def delete_alias(self, account_id: str, alias_name: str, at: datetime) -> bool:
        with self._db.write_connection() as conn:
            count = conn.execute(
                delete(schema.aliases).where(A.account_id == account_id, A.alias_name == alias_name)
            ).rowcount
            if count:
                self._db.record_change(conn, at, account_id=account_id, alias_name=alias_name)
        return bool(count)

    def get_alias(self, account_id: str, alias_name: str) -> AliasRecord | None:
        with self._db.read_connection() as conn:
            row = conn.execute(
                select(schema.aliases).where(A.account_id == account_id, A.alias_name == alias_name)
            ).first()
        return None if row is None else _alias(row)

    def list_aliases(
        self, account_id: str, key_id: str | None, after: str | None, limit: int
    ) -> list[AliasRecord]:
        query = select(schema.aliases).where(A.account_id == account_id)
        if key_id is not None:
            query = query.where(A.key_id == key_id)
        if after is not None:
            query = query.where(A.alias_name > after)
        with self._db.read_connection() as conn:
            rows = conn.execute(query.order_by(A.alias_name).limit(limit)).all()
        return [_alias(r) for r in rows]

    # --- tags ---------------------------------------------------------------------------

    def put_tags(self, key_id: str, tags: Mapping[str, str], at: datetime) -> None:
        with self._db.write_connection() as conn:
            _put_tags(conn, key_id, tags)
            self._db.record_change(conn, at, key_id=key_id)

    def remove_tags(self, key_id: str, tag_keys: Sequence[str], at: datetime) -> None:
        with self._db.write_connection() as conn:
            conn.execute(delete(schema.tags).where(T.key_id == key_id, T.tag_key.in_(tag_keys)))
            self._db.record_change(conn, at, key_id=key_id)

    def list_tags(self, key_id: str) -> list[tuple[str, str]]:
        with self._db.read_connection() as conn:
            rows = conn.execute(
                select(T.tag_key, T.tag_value).where(T.key_id == key_id).order_by(T.tag_key)
            ).all()
        return [(r.tag_key, r.tag_value) for r in rows]


def _insert_alias(conn: Connection, alias: AliasRecord) -> None:
    conn.execute(
        insert(schema.aliases).values(
            account_id=alias.account_id,
            alias_name=alias.alias_name,
            key_id=alias.target_key_id,
            created_at=alias.created_at,
            updated_at=alias.updated_at,
        )
    )


def _put_tags(conn: Connection, key_id: str, tags: Mapping[str, str]) -> None:
    if not tags:
        return
    conn.execute(delete(schema.tags).where(T.key_id == key_id, T.tag_key.in_(list(tags))))
    conn.execute(
        insert(schema.tags),
        [{"key_id": key_id, "tag_key": k, "tag_value": v} for k, v in tags.items()],
    )


def _key_columns(key: KeyRecord) -> dict[str, object]:
    return {
        "key_id": key.key_id,
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
        "xks_key_id": key.xks_key_id,
    }


def _key(row: Any) -> KeyRecord:
    return KeyRecord(
        key_id=row.key_id,
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
        xks_key_id=row.xks_key_id,
    )


def _alias(row: Any) -> AliasRecord:
    return AliasRecord(row.account_id, row.alias_name, row.key_id, row.created_at, row.updated_at)
