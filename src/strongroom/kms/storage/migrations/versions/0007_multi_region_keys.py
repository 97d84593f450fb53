"""Multi-Region keys: each member records its set's primary region (null: single-Region key).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # An adopted pre-migration database has its missing tables from today's schema (0006).
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("keys")}
    if "primary_region" in columns:
        return
    with op.batch_alter_table("keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("primary_region", sa.String(length=32), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("restore a backup instead")
