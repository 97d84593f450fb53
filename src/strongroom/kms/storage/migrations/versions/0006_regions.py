"""Regions: aliases are unique per account AND region; the change feed names an alias change's
region; replicas of a multi-Region key hold the same material ids (``key_materials`` keyed by
key and material).

Existing aliases get the region the data directory served before (meta ``region``, written at
every start since the first; ``us-east-1`` if a database never had it), which is also the
region of every existing key (``keys.region``).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_FALLBACK_REGION = "us-east-1"


def _old_region() -> str:
    found = (
        op.get_bind()
        .execute(sa.text("SELECT value FROM meta WHERE name = 'region'"))
        .scalar_one_or_none()
    )
    return str(found) if found else _FALLBACK_REGION


def _columns(table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def _primary_key(table: str) -> list[str]:
    return list(sa.inspect(op.get_bind()).get_pk_constraint(table)["constrained_columns"])


def upgrade() -> None:
    # Each step looks before it changes: a database adopted from before migrations had its
    # missing tables made by today's schema (storage/migrate.py), already in this shape.
    region = _old_region()
    if "region" not in _columns("changes"):
        with op.batch_alter_table("changes", schema=None) as batch_op:
            batch_op.add_column(sa.Column("region", sa.String(length=32), nullable=True))
    if "region" not in _columns("aliases"):
        with op.batch_alter_table("aliases", schema=None) as batch_op:
            batch_op.add_column(sa.Column("region", sa.String(length=32), nullable=True))
        op.get_bind().execute(sa.text("UPDATE aliases SET region = :r"), {"r": region})
    postgres = op.get_bind().dialect.name == "postgresql"
    if _primary_key("aliases") != ["account_id", "region", "alias_name"]:
        if postgres:
            op.alter_column("aliases", "region", nullable=False)
            op.execute("ALTER TABLE aliases DROP CONSTRAINT aliases_pkey")
            op.execute("ALTER TABLE aliases ADD PRIMARY KEY (account_id, region, alias_name)")
        else:  # SQLite: a batch operation copies the table with the new primary key
            with _quiet(), op.batch_alter_table("aliases", recreate="always") as batch_op:
                batch_op.alter_column("region", existing_type=sa.String(length=32), nullable=False)
                batch_op.create_primary_key("pk_aliases", ["account_id", "region", "alias_name"])
    if _primary_key("key_materials") != ["material_id", "key_id"]:
        if postgres:
            op.execute("ALTER TABLE key_materials DROP CONSTRAINT key_materials_pkey")
            op.execute("ALTER TABLE key_materials ADD PRIMARY KEY (material_id, key_id)")
        else:
            with _quiet(), op.batch_alter_table("key_materials", recreate="always") as batch_op:
                batch_op.create_primary_key("pk_key_materials", ["material_id", "key_id"])


@contextmanager
def _quiet() -> Iterator[None]:
    """SQLAlchemy warns that the copied table's primary key differs: that is the point."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        yield


def downgrade() -> None:
    raise NotImplementedError("restore a backup instead")
