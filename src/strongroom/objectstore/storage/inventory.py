"""Counts of what the object store holds under which key: read-only GROUP BY queries.

One row per (bucket, SSE mode, KMS key, key version, bucket key or not): objects and bytes.
An object under an S3 Bucket Key is counted under the bucket key's KMS key and version (the
bucket key row is the truth: a re-encryption campaign moves it as a whole).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from strongroom.objectstore.storage import migrate
from strongroom.objectstore.storage.tables import bucket_keys, buckets, objects


@dataclass(frozen=True, slots=True)
class BucketRow:
    name: str
    account_id: str
    encryption: str | None  # JSON, as storage/metadata.py writes it


@dataclass(frozen=True, slots=True)
class CountRow:
    bucket: str
    sse: str
    kms_key_arn: str | None
    key_material_id: str | None
    bucket_key: bool
    objects: int
    bytes: int


class InventoryRecords:
    def __init__(self, engine: Engine, reader: Engine | None = None) -> None:
        """``reader``: an engine whose reads take no write lock (see Metadata)."""
        self._engine = reader or engine
        migrate.upgrade(engine)  # a data directory the object store never opened

    def buckets(self, account_id: str | None) -> list[BucketRow]:
        query = select(buckets.c.name, buckets.c.account_id, buckets.c.encryption)
        if account_id is not None:
            query = query.where(buckets.c.account_id == account_id)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(buckets.c.name)).all()
        return [BucketRow(r.name, r.account_id, r.encryption) for r in rows]

    def counts(self, account_id: str | None) -> list[CountRow]:
        o, k, b = objects.c, bucket_keys.c, buckets.c
        key_arn = func.coalesce(k.kms_key_arn, o.kms_key_arn)
        version = func.coalesce(k.key_material_id, o.key_material_id)
        under_bucket_key = o.bucket_key_id.is_not(None)
        query = (
            select(
                o.bucket,
                o.sse,
                key_arn.label("key_arn"),
                version.label("version"),
                under_bucket_key.label("bucket_key"),
                func.count().label("objects"),
                func.coalesce(func.sum(o.size), 0).label("bytes"),
            )
            .select_from(
                objects.join(buckets, b.name == o.bucket).outerjoin(
                    bucket_keys, k.key_id == o.bucket_key_id
                )
            )
            .group_by(o.bucket, o.sse, key_arn, version, under_bucket_key)
            .order_by(o.bucket)
        )
        if account_id is not None:
            query = query.where(b.account_id == account_id)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            CountRow(
                r.bucket,
                r.sse,
                r.key_arn,
                r.version,
                bool(r.bucket_key),
                int(r.objects),
                int(r.bytes),
            )
            for r in rows
        ]
