"""Leases (named claims with an expiry) to fence work across nodes; ``meta.schema_version`` goes.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("holder", sa.String(length=256), nullable=False),
        sa.Column("acquired_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # The schema is versioned by Alembic now (table alembic_version).
    op.execute("DELETE FROM meta WHERE name = 'schema_version'")


def downgrade() -> None:
    op.drop_table("leases")
