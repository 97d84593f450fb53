"""The external key store proxy's credentials and keys (``xks_credentials``, ``xks_keys``).

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
    op.create_table(
        "xks_credentials",
        sa.Column("access_key_id", sa.String(length=30), nullable=False),
        sa.Column("custom_key_store_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
        ),
        sa.ForeignKeyConstraint(
            ["custom_key_store_id"],
            ["custom_key_stores.custom_key_store_id"],
        ),
        sa.PrimaryKeyConstraint("access_key_id"),
    )
    with op.batch_alter_table("xks_credentials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_xks_credentials_custom_key_store_id"),
            ["custom_key_store_id"],
            unique=False,
        )

    op.create_table(
        "xks_keys",
        sa.Column("custom_key_store_id", sa.String(length=64), nullable=False),
        sa.Column("xks_key_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("tokens", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
        ),
        sa.ForeignKeyConstraint(
            ["custom_key_store_id"],
            ["custom_key_stores.custom_key_store_id"],
        ),
        sa.PrimaryKeyConstraint("custom_key_store_id", "xks_key_id"),
    )


def downgrade() -> None:
    op.drop_table("xks_keys")
    with op.batch_alter_table("xks_credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_xks_credentials_custom_key_store_id"))

    op.drop_table("xks_credentials")
