"""The object store's tables, in their own ``MetaData``; versioned by the object store's own
migrations (``storage/migrations``, run by ``storage/migrate.py`` whenever the database opens).

Nothing here is secret: data keys are stored only as KMS ciphertext blobs (``wrapped_key``),
SSE-C keys only as a keyed fingerprint. ``kms_key_arn`` is indexed so the store can answer
which objects a key protects.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

buckets = Table(
    "s3_buckets",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("account_id", String(12), nullable=False, index=True),
    Column("created_at", String(40), nullable=False),
    # Default encryption (PutBucketEncryption), JSON; null: SSE-S3, as S3 does since 2023.
    Column("encryption", Text, nullable=True),
    # The bucket's region; null (buckets made before revision 0003): the default region.
    Column("region", String(32), nullable=True),
)


def _protection_columns() -> list[Column[object]]:
    """How an object's (or an upload's) data key is protected; see docs/formats.md."""
    return [
        Column("sse", String(16), nullable=False),  # AES256 | aws:kms | SSE-C
        Column("kms_key_arn", String(256), nullable=True),
        Column("wrapped_key", LargeBinary, nullable=True),  # KMS CiphertextBlob
        Column("context", Text, nullable=True),  # the user's SSE-KMS context, JSON
        Column("bucket_key_id", String(32), ForeignKey("s3_bucket_keys.key_id"), nullable=True),
        Column("key_salt", LargeBinary, nullable=False),
        Column("ssec_fingerprint", LargeBinary, nullable=True),
        Column("key_material_id", String(64), nullable=True),
    ]


bucket_keys = Table(
    "s3_bucket_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("bucket", String(63), nullable=False),
    Column("kms_key_arn", String(256), nullable=False),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("key_material_id", String(64), nullable=True),
)

objects = Table(
    "s3_objects",
    metadata,
    Column("bucket", String(63), ForeignKey("s3_buckets.name"), primary_key=True),
    Column("key", String(1024), primary_key=True),
    Column("object_id", String(32), nullable=False, unique=True),
    Column("size", BigInteger, nullable=False),
    Column("etag", String(80), nullable=False),
    Column("last_modified", String(40), nullable=False),
    Column("content_type", String(256), nullable=False),
    Column("headers", Text, nullable=False),  # stored content headers and user metadata, JSON
    Column("tags", Text, nullable=False),  # JSON list of [key, value]
    Column("checksum_algorithm", String(16), nullable=True),
    Column("checksum_value", String(128), nullable=True),
    # The encrypted blobs holding the data, in order: JSON list of [blob id, plaintext size].
    Column("blobs", Text, nullable=False),
    *_protection_columns(),
)
Index("s3_objects_by_kms_key", objects.c.kms_key_arn)

uploads = Table(
    "s3_uploads",
    metadata,
    Column("upload_id", String(64), primary_key=True),
    Column("bucket", String(63), ForeignKey("s3_buckets.name"), nullable=False),
    Column("key", String(1024), nullable=False),
    Column("initiated", String(40), nullable=False),
    Column("initiator_arn", String(256), nullable=False),
    Column("content_type", String(256), nullable=False),
    Column("headers", Text, nullable=False),
    Column("tags", Text, nullable=False),
    Column("checksum_algorithm", String(16), nullable=True),
    *_protection_columns(),
)
# ListMultipartUploads' order: pages are ranges of this index.
Index(
    "s3_uploads_by_bucket_key",
    uploads.c.bucket,
    uploads.c.key,
    uploads.c.initiated,
    uploads.c.upload_id,
)

parts = Table(
    "s3_upload_parts",
    metadata,
    Column("upload_id", String(64), ForeignKey("s3_uploads.upload_id"), primary_key=True),
    Column("part_number", Integer, primary_key=True),
    Column("blob_id", String(32), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("etag", String(80), nullable=False),
    Column("checksum", String(128), nullable=True),
    Column("last_modified", String(40), nullable=False),
)
