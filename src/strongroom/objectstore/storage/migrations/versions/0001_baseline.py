"""The object store's tables as the first release made them (``create_all``): buckets, bucket
keys, objects, multipart uploads and parts, re-encryption campaigns.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _protection() -> list[sa.Column[object]]:
    return [
        sa.Column("sse", sa.String(length=16), nullable=False),
        sa.Column("kms_key_arn", sa.String(length=256), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("context", sa.Text(), nullable=True),
        sa.Column("bucket_key_id", sa.String(length=32), nullable=True),
        sa.Column("key_salt", sa.LargeBinary(), nullable=False),
        sa.Column("ssec_fingerprint", sa.LargeBinary(), nullable=True),
        sa.Column("key_material_id", sa.String(length=64), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "s3_bucket_keys",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("bucket", sa.String(length=63), nullable=False),
        sa.Column("kms_key_arn", sa.String(length=256), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("key_material_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("key_id"),
    )
    op.create_table(
        "s3_buckets",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("encryption", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index("ix_s3_buckets_account_id", "s3_buckets", ["account_id"], unique=False)
    op.create_table(
        "s3_campaign_bucket_keys",
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("bucket_key_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "bucket_key_id"),
    )
    op.create_table(
        "s3_campaigns",
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("principal_arn", sa.String(length=256), nullable=False),
        sa.Column("access_key_id", sa.String(length=128), nullable=False),
        sa.Column("selection", sa.Text(), nullable=False),
        sa.Column("destination", sa.String(length=256), nullable=True),
        sa.Column("destination_managed", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sa.String(length=40), nullable=False),
        sa.Column("position_bucket", sa.String(length=63), nullable=True),
        sa.Column("position_key", sa.String(length=1024), nullable=True),
        sa.Column("moved", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("lease_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id"),
    )
    op.create_index("ix_s3_campaigns_account_id", "s3_campaigns", ["account_id"], unique=False)
    op.create_index("ix_s3_campaigns_state", "s3_campaigns", ["state"], unique=False)
    op.create_table(
        "s3_objects",
        sa.Column("bucket", sa.String(length=63), nullable=False),
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("object_id", sa.String(length=32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("etag", sa.String(length=80), nullable=False),
        sa.Column("last_modified", sa.String(length=40), nullable=False),
        sa.Column("content_type", sa.String(length=256), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("checksum_algorithm", sa.String(length=16), nullable=True),
        sa.Column("checksum_value", sa.String(length=128), nullable=True),
        sa.Column("blobs", sa.Text(), nullable=False),
        *_protection(),
        sa.ForeignKeyConstraint(["bucket"], ["s3_buckets.name"]),
        sa.ForeignKeyConstraint(["bucket_key_id"], ["s3_bucket_keys.key_id"]),
        sa.PrimaryKeyConstraint("bucket", "key"),
        sa.UniqueConstraint("object_id"),
    )
    op.create_index("s3_objects_by_kms_key", "s3_objects", ["kms_key_arn"], unique=False)
    op.create_table(
        "s3_uploads",
        sa.Column("upload_id", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.String(length=63), nullable=False),
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("initiated", sa.String(length=40), nullable=False),
        sa.Column("initiator_arn", sa.String(length=256), nullable=False),
        sa.Column("content_type", sa.String(length=256), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("checksum_algorithm", sa.String(length=16), nullable=True),
        *_protection(),
        sa.ForeignKeyConstraint(["bucket"], ["s3_buckets.name"]),
        sa.ForeignKeyConstraint(["bucket_key_id"], ["s3_bucket_keys.key_id"]),
        sa.PrimaryKeyConstraint("upload_id"),
    )
    op.create_index("ix_s3_uploads_bucket", "s3_uploads", ["bucket"], unique=False)
    op.create_table(
        "s3_upload_parts",
        sa.Column("upload_id", sa.String(length=64), nullable=False),
        sa.Column("part_number", sa.Integer(), nullable=False),
        sa.Column("blob_id", sa.String(length=32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("etag", sa.String(length=80), nullable=False),
        sa.Column("checksum", sa.String(length=128), nullable=True),
        sa.Column("last_modified", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["upload_id"], ["s3_uploads.upload_id"]),
        sa.PrimaryKeyConstraint("upload_id", "part_number"),
    )


def downgrade() -> None:
    for table in (
        "s3_upload_parts",
        "s3_uploads",
        "s3_objects",
        "s3_campaigns",
        "s3_campaign_bucket_keys",
        "s3_buckets",
        "s3_bucket_keys",
    ):
        op.drop_table(table)
