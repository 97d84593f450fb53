"""ListMultipartUploads pages through an index in its own order (bucket, key, initiated,
upload id) instead of sorting a bucket's uploads; it replaces the bucket-only index.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "s3_uploads_by_bucket_key",
        "s3_uploads",
        ["bucket", "key", "initiated", "upload_id"],
        unique=False,
    )
    op.drop_index("ix_s3_uploads_bucket", table_name="s3_uploads")


def downgrade() -> None:
    op.create_index("ix_s3_uploads_bucket", "s3_uploads", ["bucket"], unique=False)
    op.drop_index("s3_uploads_by_bucket_key", table_name="s3_uploads")
