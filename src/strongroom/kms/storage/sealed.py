"""Every value wrapped or sealed under a root key, read and replaced by a root key change.

``tx.sealed`` of a unit of work (unit_of_work.py). A root key migration or rotation
(kms/rootkey/migration.py, kms/rootkey/rotation.py) re-wraps all of them in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, select, update

from strongroom.kms.domain.ids import key_id_of_record, material_binding
from strongroom.kms.storage import schema


@dataclass(frozen=True, slots=True)
class SealedColumn:
    """A column holding ``seal_secret`` output: its table and the column naming the row."""

    table: str
    id_column: str
    sealed_column: str


# Every column sealed under the root key. A new use of seal_secret adds its column here (a
# test checks that every ``sealed_*`` column of the schema is listed).
SEALED_COLUMNS = (
    SealedColumn("access_keys", "access_key_id", "sealed_secret"),
    SealedColumn("audit_signing_keys", "key_id", "sealed_private_key"),
    SealedColumn("store_secrets", "name", "sealed_secret"),
    SealedColumn("custom_key_stores", "custom_key_store_id", "sealed_password"),
    SealedColumn("xks_credentials", "access_key_id", "sealed_secret"),
)
_MATERIAL_COLUMN = ("key_materials", "wrapped")


@dataclass(frozen=True, slots=True)
class WrappedMaterial:
    """One material version of a key in the default store, with what its AAD binds."""

    material_id: str
    wrapped: bytes
    key_id: str  # the key's record id (domain/ids.record_id)
    account_id: str
    region: str
    key_spec: str

    @property
    def binding(self) -> str:
        """What the material's wrapping binds (domain/ids.material_binding)."""
        return material_binding(self.region, self.account_id, key_id_of_record(self.key_id))


def unregistered_sealed_columns() -> list[str]:
    """Schema columns that look sealed or wrapped but that a re-wrap would not reach."""
    known = {(c.table, c.sealed_column) for c in SEALED_COLUMNS} | {_MATERIAL_COLUMN}
    return [
        f"{table.name}.{column.name}"
        for table in schema.metadata.sorted_tables
        for column in table.columns
        if column.name.startswith(("sealed", "wrapped")) and (table.name, column.name) not in known
    ]


class SealedRecords:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def materials(self, store_id: str) -> list[WrappedMaterial]:
        """The material rows of the store ``store_id``."""
        m, k = schema.key_materials.c, schema.keys.c
        rows = self._conn.execute(
            select(m.material_id, m.wrapped, k.key_id, k.account_id, k.region, k.key_spec)
            .join(schema.keys, k.key_id == m.key_id)
            .where(m.store_id == store_id)
        ).all()
        return [
            WrappedMaterial(
                r.material_id, bytes(r.wrapped), r.key_id, r.account_id, r.region, r.key_spec
            )
            for r in rows
        ]

    def replace_material(self, key_id: str, material_id: str, wrapped: bytes) -> None:
        """Replace the wrapped copy of one material of the key with record id ``key_id``."""
        m = schema.key_materials.c
        self._conn.execute(
            update(schema.key_materials)
            .where(m.key_id == key_id, m.material_id == material_id)
            .values(wrapped=wrapped)
        )

    def secrets(self, column: SealedColumn) -> Iterator[tuple[str, bytes]]:
        """(row name, sealed value) of every row of ``column``."""
        table = schema.metadata.tables[column.table]
        ident, blob = table.c[column.id_column], table.c[column.sealed_column]
        for name, value in self._conn.execute(select(ident, blob)).all():
            yield str(name), bytes(value)

    def replace_secret(self, column: SealedColumn, name: str, sealed: bytes) -> None:
        table = schema.metadata.tables[column.table]
        self._conn.execute(
            update(table)
            .where(table.c[column.id_column] == name)
            .values({column.sealed_column: sealed})
        )
