"""Reads and writes of the object store's metadata, each in one short transaction.

Writes that replace or delete objects return the blobs that no longer belong to any object;
the caller deletes them only after the transaction has committed, so a failure never leaves
metadata pointing at missing data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from strongroom.objectstore.records import (
    BlobRef,
    Bucket,
    BucketEncryption,
    ObjectRecord,
    Part,
    Protection,
    Upload,
)
from strongroom.objectstore.storage import migrate, statements
from strongroom.objectstore.storage.tables import (
    bucket_keys,
    buckets,
    objects,
    parts,
    uploads,
)


class DuplicateBucket(Exception):
    """The bucket name is taken (by anyone)."""


class RecordRefused(Exception):
    """A record broke a constraint (its bucket is gone, say): that record, not the database."""


def _encryption_json(value: BucketEncryption | None) -> str | None:
    if value is None:
        return None
    return json.dumps(
        {
            "algorithm": value.algorithm,
            "kms_key_id": value.kms_key_id,
            "bucket_key": value.bucket_key,
        }
    )


def _encryption(text: str | None) -> BucketEncryption | None:
    if text is None:
        return None
    raw = json.loads(text)
    return BucketEncryption(raw["algorithm"], raw["kms_key_id"], bool(raw["bucket_key"]))


def _protection_values(p: Protection) -> dict[str, Any]:
    return {
        "sse": p.sse,
        "kms_key_arn": p.kms_key_arn,
        "wrapped_key": p.wrapped_key,
        "context": json.dumps(p.context) if p.context else None,
        "bucket_key_id": p.bucket_key_id,
        "key_salt": p.key_salt,
        "ssec_fingerprint": p.ssec_fingerprint,
        "key_material_id": p.key_material_id,
    }


def _protection(row: Any) -> Protection:
    return Protection(
        row.sse,
        row.key_salt,
        row.kms_key_arn,
        row.wrapped_key,
        json.loads(row.context) if row.context else {},
        row.bucket_key_id,
        row.ssec_fingerprint,
        row.key_material_id,
    )


def _object(row: Any) -> ObjectRecord:
    return ObjectRecord(
        row.bucket,
        row.key,
        row.object_id,
        row.size,
        row.etag,
        datetime.fromisoformat(row.last_modified),
        row.content_type,
        json.loads(row.headers),
        tuple((k, v) for k, v in json.loads(row.tags)),
        row.checksum_algorithm,
        row.checksum_value,
        tuple(BlobRef(b, s) for b, s in json.loads(row.blobs)),
        _protection(row),
    )


def _upload(row: Any) -> Upload:
    return Upload(
        row.upload_id,
        row.bucket,
        row.key,
        datetime.fromisoformat(row.initiated),
        row.initiator_arn,
        row.content_type,
        json.loads(row.headers),
        tuple((k, v) for k, v in json.loads(row.tags)),
        row.checksum_algorithm,
        _protection(row),
    )


def _part(row: Any) -> Part:
    return Part(
        row.part_number,
        row.blob_id,
        row.size,
        row.etag,
        row.checksum,
        datetime.fromisoformat(row.last_modified),
    )


def _object_values(record: ObjectRecord) -> dict[str, Any]:
    return {
        "bucket": record.bucket,
        "key": record.key,
        "object_id": record.object_id,
        "size": record.size,
        "etag": record.etag,
        "last_modified": record.last_modified.isoformat(),
        "content_type": record.content_type,
        "headers": json.dumps(record.headers),
        "tags": json.dumps([list(t) for t in record.tags]),
        "checksum_algorithm": record.checksum_algorithm,
        "checksum_value": record.checksum_value,
        "blobs": json.dumps([[b.blob_id, b.size] for b in record.blobs]),
        **_protection_values(record.protection),
    }


def _blob_ids(text: str) -> list[str]:
    return [b for b, _ in json.loads(text)]


class Metadata:
    """The object store's records in the shared database."""

    def __init__(self, engine: Engine, reader: Engine | None = None) -> None:
        """``reader``: the engine for reads, configured (by the composition root) so that they
        take no write lock (a deferred SQLite transaction); default: ``engine``."""
        self._engine = engine
        self._reader = reader or engine
        migrate.upgrade(engine)  # one query when already at the newest revision

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._reader.connect() as conn:
            yield conn

    # --- buckets ---------------------------------------------------------------------------

    def create_bucket(self, bucket: Bucket) -> None:
        try:
            with self._write() as conn:
                conn.execute(
                    insert(buckets).values(
                        name=bucket.name,
                        account_id=bucket.account_id,
                        created_at=bucket.created_at.isoformat(),
                        encryption=_encryption_json(bucket.encryption),
                        region=bucket.region,
                    )
                )
        except IntegrityError:
            raise DuplicateBucket(bucket.name) from None

    def bucket(self, name: str) -> Bucket | None:
        with statements.raw_read(self._reader) as conn:
            found = statements.BUCKET.rows(conn, {"name": name})
        if not found:
            return None
        row = found[0]
        return Bucket(
            row.name,
            row.account_id,
            datetime.fromisoformat(row.created_at),
            _encryption(row.encryption),
            row.region,
        )

    def list_buckets(self, account_id: str) -> list[Bucket]:
        with self._read() as conn:
            rows = conn.execute(
                select(buckets).where(buckets.c.account_id == account_id).order_by(buckets.c.name)
            ).all()
        return [
            Bucket(
                r.name,
                r.account_id,
                datetime.fromisoformat(r.created_at),
                _encryption(r.encryption),
                r.region,
            )
            for r in rows
        ]

    def delete_bucket(self, name: str) -> bool:
        """Delete an empty bucket; False when it still holds objects or uploads."""
        with self._write() as conn:
            for table in (objects, uploads):
                if conn.execute(select(func.count()).where(table.c.bucket == name)).scalar_one():
                    return False
            conn.execute(delete(bucket_keys).where(bucket_keys.c.bucket == name))
            conn.execute(delete(buckets).where(buckets.c.name == name))
        return True

    def set_encryption(self, name: str, encryption: BucketEncryption | None) -> None:
        with self._write() as conn:
            conn.execute(
                update(buckets)
                .where(buckets.c.name == name)
                .values(encryption=_encryption_json(encryption))
            )

    # --- bucket keys -----------------------------------------------------------------------

    def add_bucket_key(
        self,
        key_id: str,
        bucket: str,
        kms_key_arn: str,
        wrapped: bytes,
        now: datetime,
        *,
        key_material_id: str | None = None,
    ) -> None:
        with self._write() as conn:
            conn.execute(
                insert(bucket_keys).values(
                    key_id=key_id,
                    bucket=bucket,
                    kms_key_arn=kms_key_arn,
                    wrapped_key=wrapped,
                    created_at=now.isoformat(),
                    key_material_id=key_material_id,
                )
            )

    def bucket_key(self, key_id: str) -> tuple[str, bytes] | None:
        """(bucket, wrapped key) of a bucket key."""
        with self._read() as conn:
            row = conn.execute(
                select(bucket_keys.c.bucket, bucket_keys.c.wrapped_key).where(
                    bucket_keys.c.key_id == key_id
                )
            ).one_or_none()
        return None if row is None else (row.bucket, row.wrapped_key)

    # --- objects ---------------------------------------------------------------------------

    def object(self, bucket: str, key: str) -> ObjectRecord | None:
        with statements.raw_read(self._reader) as conn:
            found = statements.OBJECT.rows(conn, {"b": bucket, "k": key})
        return _object(found[0]) if found else None

    def put_objects(self, records: Sequence[ObjectRecord]) -> list[list[str]]:
        """Insert or replace each record, in order, in one transaction; returns each replaced
        object's blobs (to delete after the commit). :class:`RecordRefused`: one of the records
        broke a constraint (nothing was written)."""
        values = [_object_values(r) for r in records]
        garbage: list[list[str]] = []
        try:
            with self._write() as conn:
                for record, row in zip(records, values, strict=True):
                    garbage.append(self._remove(conn, record.bucket, record.key))
                    statements.INSERT_OBJECT.rows(conn, row)
        except IntegrityError as error:
            raise RecordRefused(str(error.orig)) from error
        return garbage

    def _remove(self, conn: Connection, bucket: str, key: str) -> list[str]:
        found = statements.REMOVE_OBJECT.rows(conn, {"b": bucket, "k": key})
        return _blob_ids(found[0].blobs) if found else []

    def delete_object(self, bucket: str, key: str) -> list[str]:
        with self._write() as conn:
            return self._remove(conn, bucket, key)

    def set_tags(self, bucket: str, key: str, tags: Sequence[tuple[str, str]]) -> bool:
        with self._write() as conn:
            result = conn.execute(
                update(objects)
                .where(and_(objects.c.bucket == bucket, objects.c.key == key))
                .values(tags=json.dumps([list(t) for t in tags]))
            )
        return bool(result.rowcount)

    def list_objects(self, bucket: str, prefix: str, after: str, limit: int) -> list[ObjectRecord]:
        """Objects with keys starting with ``prefix`` and greater than ``after``, in key order."""
        query = select(objects).where(objects.c.bucket == bucket, objects.c.key > after)
        if prefix:
            query = query.where(objects.c.key >= prefix)
        with self._read() as conn:
            rows = conn.execute(query.order_by(objects.c.key).limit(limit)).all()
        return [_object(r) for r in rows if r.key.startswith(prefix)]

    def referenced_blobs(self) -> set[str]:
        """Every blob some object or uploaded part references (for the sweep), from one read."""
        found: set[str] = set()
        with self._read() as conn:
            # Parts first: completing an upload moves its parts' blobs to an object in one
            # transaction, so a completion between the two reads is seen in one or the other.
            found.update(conn.execute(select(parts.c.blob_id)).scalars())
            for (text,) in conn.execute(select(objects.c.blobs)).yield_per(1000):
                found.update(_blob_ids(text))
        return found

    # --- multipart uploads -----------------------------------------------------------------

    def create_upload(self, upload: Upload) -> None:
        with self._write() as conn:
            conn.execute(
                insert(uploads).values(
                    upload_id=upload.upload_id,
                    bucket=upload.bucket,
                    key=upload.key,
                    initiated=upload.initiated.isoformat(),
                    initiator_arn=upload.initiator_arn,
                    content_type=upload.content_type,
                    headers=json.dumps(upload.headers),
                    tags=json.dumps([list(t) for t in upload.tags]),
                    checksum_algorithm=upload.checksum_algorithm,
                    **_protection_values(upload.protection),
                )
            )

    def upload(self, upload_id: str) -> Upload | None:
        with self._read() as conn:
            row = conn.execute(
                select(uploads).where(uploads.c.upload_id == upload_id)
            ).one_or_none()
        return None if row is None else _upload(row)

    def list_uploads(
        self, bucket: str, prefix: str, key_marker: str, upload_id_marker: str, limit: int
    ) -> list[Upload]:
        """Uploads with keys starting with ``prefix``, by key then initiation, after the marker:
        keys greater than ``key_marker``, and, with ``upload_id_marker``, that key's uploads
        initiated after the marker's (S3's ListMultipartUploads paging)."""
        u = uploads.c
        query = select(uploads).where(u.bucket == bucket)
        if prefix:
            query = query.where(u.key >= prefix)
        with self._read() as conn:
            if key_marker:
                after = u.key > key_marker
                if upload_id_marker:
                    marker = conn.execute(
                        select(u.initiated).where(
                            u.bucket == bucket,
                            u.key == key_marker,
                            u.upload_id == upload_id_marker,
                        )
                    ).scalar_one_or_none()
                    same_key = (
                        u.upload_id > upload_id_marker
                        if marker is None
                        else tuple_(u.initiated, u.upload_id) > tuple_(marker, upload_id_marker)
                    )
                    after = or_(after, and_(u.key == key_marker, same_key))
                query = query.where(after)
            rows: list[Any] = []
            ordered = query.order_by(u.key, u.initiated, u.upload_id)
            for row in conn.execute(ordered).yield_per(limit + 1):
                if not row.key.startswith(prefix):
                    break
                rows.append(row)
                if len(rows) >= limit:
                    break
        return [_upload(r) for r in rows]

    def put_part(self, upload_id: str, part: Part) -> list[str] | None:
        """Add or replace a part; None when the upload is gone (aborted or completed)."""
        with self._write() as conn:
            exists = conn.execute(
                select(uploads.c.upload_id).where(uploads.c.upload_id == upload_id)
            ).one_or_none()
            if exists is None:
                return None
            where = and_(parts.c.upload_id == upload_id, parts.c.part_number == part.part_number)
            old = conn.execute(select(parts.c.blob_id).where(where)).scalars().all()
            conn.execute(delete(parts).where(where))
            conn.execute(
                insert(parts).values(
                    upload_id=upload_id,
                    part_number=part.part_number,
                    blob_id=part.blob_id,
                    size=part.size,
                    etag=part.etag,
                    checksum=part.checksum,
                    last_modified=part.last_modified.isoformat(),
                )
            )
        return list(old)

    def parts(self, upload_id: str) -> list[Part]:
        with self._read() as conn:
            rows = conn.execute(
                select(parts).where(parts.c.upload_id == upload_id).order_by(parts.c.part_number)
            ).all()
        return [_part(r) for r in rows]

    def finish_upload(self, upload_id: str, record: ObjectRecord | None) -> list[str] | None:
        """Complete (``record`` given) or abort an upload in one transaction.

        Returns the blobs to delete: on completion the replaced object's and the parts left out;
        on abort every part's. None when the upload no longer exists.
        """
        with self._write() as conn:
            row = conn.execute(
                select(uploads.c.bucket, uploads.c.key).where(uploads.c.upload_id == upload_id)
            ).one_or_none()
            if row is None:
                return None
            part_blobs = set(
                conn.execute(
                    select(parts.c.blob_id).where(parts.c.upload_id == upload_id)
                ).scalars()
            )
            conn.execute(delete(parts).where(parts.c.upload_id == upload_id))
            conn.execute(delete(uploads).where(uploads.c.upload_id == upload_id))
            garbage: list[str] = []
            if record is not None:
                garbage = self._remove(conn, record.bucket, record.key)
                used = {b.blob_id for b in record.blobs}
                part_blobs -= used
                conn.execute(insert(objects).values(**_object_values(record)))
        return garbage + sorted(part_blobs)
