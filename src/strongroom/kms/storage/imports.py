"""Imported key material (BYOK): its records and its wrapped copies, changed with the key.

Every change runs in one transaction under the key's row lock: ``plan`` sees the current key
and its materials, decides (or raises, and nothing is written), and the key, the material's
record, its wrapped copy and a change-feed row are written together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from strongroom.kms.domain.imports import ExpirationModel, ImportedMaterial
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.storage import schema
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.key_rows import key_columns, key_from_row
from strongroom.kms.storage.keys import KeyNotFound

K = schema.keys.c
M = schema.key_materials.c
I = schema.imported_materials.c  # noqa: E741


@dataclass(frozen=True, slots=True)
class MaterialChange:
    """What a plan decided: the key afterwards and what happens to one material.

    ``put`` inserts or replaces the material's record; with ``wrapped`` it (re)stores the
    wrapped copy. ``drop`` removes the wrapped copy of a material id, ``forget`` its record too.
    """

    key: KeyRecord
    put: ImportedMaterial | None = None
    wrapped: bytes | None = None
    drop: str | None = None
    forget: bool = False


Plan = Callable[[KeyRecord, list[ImportedMaterial]], MaterialChange | None]


class ImportRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def materials(self, key_id: str) -> list[ImportedMaterial]:
        with self._db.read_connection() as conn:
            return _materials(conn, key_id)

    def change(self, key_id: str, at: datetime, store_id: str, plan: Plan) -> KeyRecord | None:
        """Apply ``plan`` under the key's row lock; None when the plan decided to do nothing."""
        with self._db.write_connection() as conn:
            row = conn.execute(
                select(schema.keys).where(K.key_id == key_id).with_for_update()
            ).first()
            if row is None:
                raise KeyNotFound(key_id)
            decided = plan(key_from_row(row), _materials(conn, key_id))
            if decided is None:
                return None
            if decided.drop is not None:
                conn.execute(delete(schema.key_materials).where(M.material_id == decided.drop))
                if decided.forget:
                    conn.execute(
                        delete(schema.imported_materials).where(I.material_id == decided.drop)
                    )
            if decided.put is not None:
                _put(conn, decided.put, store_id, decided.wrapped)
            conn.execute(
                update(schema.keys).where(K.key_id == key_id).values(**key_columns(decided.key))
            )
            self._db.record_change(conn, at, key_id=key_id)
            return decided.key

    def due_expiries(self, now: datetime) -> list[tuple[str, str]]:
        """``(key_id, material_id)`` of imported material whose ValidTo has passed."""
        with self._db.read_connection() as conn:
            rows = conn.execute(
                select(I.key_id, I.material_id).where(
                    I.imported.is_(True), I.valid_to.is_not(None), I.valid_to <= now
                )
            ).all()
        return [(r.key_id, r.material_id) for r in rows]


def _put(
    conn: Connection, material: ImportedMaterial, store_id: str, wrapped: bytes | None
) -> None:
    conn.execute(delete(schema.imported_materials).where(I.material_id == material.material_id))
    conn.execute(
        insert(schema.imported_materials).values(
            material_id=material.material_id,
            key_id=material.key_id,
            sequence=material.sequence,
            expiration_model=material.expiration_model.value,
            valid_to=material.valid_to,
            imported=material.imported,
            imported_at=material.imported_at,
            description=material.description,
            rotated_at=material.rotated_at,
        )
    )
    if wrapped is None:
        return
    # The wrapped copy keeps the material's place among the key's versions.
    conn.execute(delete(schema.key_materials).where(M.material_id == material.material_id))
    conn.execute(
        insert(schema.key_materials).values(
            material_id=material.material_id,
            key_id=material.key_id,
            store_id=store_id,
            wrapped=wrapped,
            created_at=material.imported_at,
            rotation_type=None if material.rotated_at is None else "ON_DEMAND",
            version=material.sequence,
        )
    )


def _materials(conn: Connection, key_id: str) -> list[ImportedMaterial]:
    rows = conn.execute(
        select(schema.imported_materials).where(I.key_id == key_id).order_by(I.sequence)
    ).all()
    return [_material(r) for r in rows]


def _material(row: Any) -> ImportedMaterial:
    return ImportedMaterial(
        material_id=row.material_id,
        key_id=row.key_id,
        sequence=row.sequence,
        expiration_model=ExpirationModel(row.expiration_model),
        valid_to=row.valid_to,
        imported=bool(row.imported),
        imported_at=row.imported_at,
        description=row.description,
        rotated_at=row.rotated_at,
    )
