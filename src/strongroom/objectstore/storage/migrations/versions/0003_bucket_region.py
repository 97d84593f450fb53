"""Buckets record their region: the CreateBucket request's LocationConstraint, or the region
it was signed for. Buckets made before have none and report the server's default region.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("s3_buckets") as batch:
        batch.add_column(sa.Column("region", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("s3_buckets") as batch:
        batch.drop_column("region")
