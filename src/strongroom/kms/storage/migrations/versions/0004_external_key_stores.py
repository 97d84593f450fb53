"""External key stores: custom_key_stores rows of type EXTERNAL_KEY_STORE (no cluster, an XKS
proxy instead) and the external key id of keys in them.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database adopted from before migrations (migrate.py's _adopt) got its baseline tables
    # from today's metadata, so these columns may exist already: add only what is missing.
    inspector = sa.inspect(op.get_bind())
    have = {c["name"] for c in inspector.get_columns("custom_key_stores")}
    added = [
        sa.Column(
            "store_type", sa.String(length=32), server_default="AWS_CLOUDHSM", nullable=False
        ),
        sa.Column("xks_uri_endpoint", sa.String(length=128), nullable=True),
        sa.Column("xks_uri_path", sa.String(length=128), nullable=True),
        sa.Column("xks_connectivity", sa.String(length=32), nullable=True),
        sa.Column("xks_access_key_id", sa.String(length=30), nullable=True),
    ]
    with op.batch_alter_table("custom_key_stores", schema=None) as batch_op:
        batch_op.alter_column("cluster_id", existing_type=sa.String(length=24), nullable=True)
        batch_op.alter_column("trust_anchor", existing_type=sa.Text(), nullable=True)
        for column in added:
            if column.name not in have:
                batch_op.add_column(column)
    key_columns = {c["name"] for c in inspector.get_columns("keys")}
    key_indexes = {i["name"] for i in inspector.get_indexes("keys")}
    with op.batch_alter_table("keys", schema=None) as batch_op:
        if "xks_key_id" not in key_columns:
            batch_op.add_column(sa.Column("xks_key_id", sa.String(length=128), nullable=True))
        if "ix_keys_xks_key" not in key_indexes:
            batch_op.create_index(
                "ix_keys_xks_key", ["custom_key_store_id", "xks_key_id"], unique=True
            )


def downgrade() -> None:
    with op.batch_alter_table("keys", schema=None) as batch_op:
        batch_op.drop_index("ix_keys_xks_key")
        batch_op.drop_column("xks_key_id")
    with op.batch_alter_table("custom_key_stores", schema=None) as batch_op:
        batch_op.drop_column("xks_access_key_id")
        batch_op.drop_column("xks_connectivity")
        batch_op.drop_column("xks_uri_path")
        batch_op.drop_column("xks_uri_endpoint")
        batch_op.drop_column("store_type")
        batch_op.alter_column("trust_anchor", existing_type=sa.Text(), nullable=False)
        batch_op.alter_column("cluster_id", existing_type=sa.String(length=24), nullable=False)
