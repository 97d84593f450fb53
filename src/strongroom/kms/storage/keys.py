"""Keys, their wrapped material versions, aliases and tags.

Keys are named here by their record id (``KeyRecord.record_id``, domain/ids.record_id): the key
id, qualified by its region for a multi-Region key. Aliases are per account and region.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from strongroom.kms.domain.enums import (
    KeyState,
    RotationType,
)
from strongroom.kms.domain.ids import key_id_of_record, record_id
from strongroom.kms.domain.key import AliasRecord, KeyRecord
from strongroom.kms.domain.rotation import MaterialVersion
from strongroom.kms.storage import schema
from strongroom.kms.storage.database import Database, DuplicateRecord
from strongroom.kms.storage.key_rows import key_columns, key_from_row
from strongroom.kms.storage.multi_region import release_primary, sync_replicas

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
                _alias_change(self._db, conn, alias, alias.created_at)
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
        conn.execute(insert(schema.keys).values(**key_columns(key)))
        if key.current_material_id is not None:
            conn.execute(
                insert(schema.key_materials).values(
                    material_id=key.current_material_id,
                    key_id=key.record_id,
                    store_id=store_id,
                    wrapped=wrapped_material,
                    created_at=key.created_at,
                    version=1,
                )
            )
        self._db.record_change(conn, key.created_at, key_id=key.record_id)

    def get_key(self, key_id: str) -> KeyRecord | None:
        """The key with record id ``key_id``."""
        with self._db.read_connection() as conn:
            row = conn.execute(select(schema.keys).where(K.key_id == key_id)).first()
        return None if row is None else key_from_row(row)

    def get_key_with_material(
        self, key_id: str
    ) -> tuple[KeyRecord | None, tuple[str, str, bytes] | None]:
        """The key with record id ``key_id`` and ``(material_id, store_id, wrapped)`` of its
        current material, in one
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
        key = key_from_row(row)
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
            new = mutate(key_from_row(row))
            conn.execute(update(schema.keys).where(K.key_id == key_id).values(**key_columns(new)))
            self._db.record_change(conn, at, key_id=key_id)
            sync_replicas(self._db, conn, new, at, None)
            return new

    def list_keys(
        self, account_id: str, region: str | None, after: str | None, limit: int
    ) -> list[KeyRecord]:
        """The account's keys in ``region`` (None: in every region), by record id."""
        query = select(schema.keys).where(K.account_id == account_id)
        if region is not None:
            query = query.where(K.region == region)
        if after is not None:
            query = query.where(K.key_id > after)
        with self._db.read_connection() as conn:
            rows = conn.execute(query.order_by(K.key_id).limit(limit)).all()
        return [key_from_row(r) for r in rows]

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
            found = conn.execute(select(schema.keys).where(K.key_id == key_id)).first()
            # Read the aliases first: deleting the key cascades to them.
            alias_names = list(
                conn.execute(
                    select(A.account_id, A.region, A.alias_name).where(A.key_id == key_id)
                ).all()
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
            if found is not None:
                release_primary(self._db, conn, key_from_row(found), now)
            return True

    def delete_key_rows(self, conn: Connection, key_id: str, at: datetime) -> None:
        """Delete a key with everything that hangs on it, in the caller's transaction (KMIP
        Destroy: at once, without a deletion window)."""
        alias_names = list(
            conn.execute(
                select(A.account_id, A.region, A.alias_name).where(A.key_id == key_id)
            ).all()
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
        for account_id, region, alias_name in alias_names:
            self._db.record_change(
                conn, at, account_id=account_id, region=region, alias_name=alias_name
            )

    @staticmethod
    def record_of(row: Any) -> KeyRecord:
        """The record of a ``keys`` row read by another repository of this package."""
        return key_from_row(row)

    def due_rotations(self, now: datetime) -> list[str]:
        with self._db.read_connection() as conn:
            return list(
                conn.execute(
                    select(K.key_id).where(
                        K.state == KeyState.ENABLED.value,
                        K.rotation_period_days.is_not(None),
                        K.next_rotation_date <= now,
                        # A replica rotates with its primary (storage/multi_region.py).
                        or_(K.primary_region.is_(None), K.primary_region == K.region),
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
            decided = mutate(key_from_row(row), int(on_demand))
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
            conn.execute(update(schema.keys).where(K.key_id == key_id).values(**key_columns(new)))
            self._db.record_change(conn, at, key_id=key_id)
            sync_replicas(self._db, conn, new, at, material_id)
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
                key_id_of_record(key_id),
                r.created_at,
                None if r.rotation_type is None else RotationType(r.rotation_type),
            )
            for r in rows
        ]

    def get_material(self, key_id: str, material_id: str) -> tuple[str, bytes] | None:
        """``(store_id, wrapped)`` of a material version of the key with record id ``key_id``."""
        with self._db.read_connection() as conn:
            row = conn.execute(
                select(M.store_id, M.wrapped).where(
                    M.key_id == key_id, M.material_id == material_id
                )
            ).first()
        return None if row is None else (row.store_id, row.wrapped)

    # --- aliases ------------------------------------------------------------------------

    def create_alias(self, alias: AliasRecord) -> None:
        with self._db.insertion(alias.alias_name) as conn:
            _insert_alias(conn, alias)
            _alias_change(self._db, conn, alias, alias.created_at)

    def update_alias(
        self, account_id: str, region: str, alias_name: str, key_id: str, at: datetime
    ) -> bool:
        """Point the alias at the key with record id ``key_id`` (of the same region)."""
        with self._db.write_connection() as conn:
            count = conn.execute(
                update(schema.aliases)
                .where(_alias_is(account_id, region, alias_name))
                .values(key_id=key_id, updated_at=at)
            ).rowcount
            if count:
                self._db.record_change(
                    conn, at, account_id=account_id, region=region, alias_name=alias_name
                )
        return bool(count)

    def delete_alias(self, account_id: str, region: str, alias_name: str, at: datetime) -> bool:
        with self._db.write_connection() as conn:
            count = conn.execute(
                delete(schema.aliases).where(_alias_is(account_id, region, alias_name))
            ).rowcount
            if count:
                self._db.record_change(
                    conn, at, account_id=account_id, region=region, alias_name=alias_name
                )
        return bool(count)

    def get_alias(self, account_id: str, region: str, alias_name: str) -> AliasRecord | None:
        with self._db.read_connection() as conn:
            row = conn.execute(
                select(schema.aliases).where(_alias_is(account_id, region, alias_name))
            ).first()
        return None if row is None else _alias(row)

    def list_aliases(
        self, account_id: str, region: str, key_id: str | None, after: str | None, limit: int
    ) -> list[AliasRecord]:
        """The account's aliases in ``region`` (of the key with record id ``key_id``)."""
        query = select(schema.aliases).where(A.account_id == account_id, A.region == region)
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


def _alias_is(account_id: str, region: str, alias_name: str) -> Any:
    return (A.account_id == account_id) & (A.region == region) & (A.alias_name == alias_name)


def _alias_change(db: Database, conn: Connection, alias: AliasRecord, at: datetime) -> None:
    db.record_change(
        conn, at, account_id=alias.account_id, region=alias.region, alias_name=alias.alias_name
    )


def _insert_alias(conn: Connection, alias: AliasRecord) -> None:
    conn.execute(
        insert(schema.aliases).values(
            account_id=alias.account_id,
            region=alias.region,
            alias_name=alias.alias_name,
            key_id=record_id(alias.region, alias.target_key_id),
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


def _alias(row: Any) -> AliasRecord:
    return AliasRecord(
        row.account_id,
        row.region,
        row.alias_name,
        key_id_of_record(row.key_id),
        row.created_at,
        row.updated_at,
    )
