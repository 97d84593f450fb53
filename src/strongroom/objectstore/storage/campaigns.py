"""Re-encryption campaigns' records, and the conditional updates that move an object's key.

A campaign row keeps its selection, destination, counters and position (the last object done,
by bucket and key). Every object is moved in one transaction with the campaign's counters and
position, so a crash loses nothing and repeats nothing. The object's protection is replaced
only if it is still the one the new wrapping was made from (``wrapped_key`` unchanged): an
object overwritten or deleted meanwhile is left to its writer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    tuple_,
    update,
)

from strongroom.objectstore.storage import migrate
from strongroom.objectstore.storage.tables import bucket_keys, buckets, objects

campaign_metadata = MetaData()

campaigns = Table(
    "s3_campaigns",
    campaign_metadata,
    Column("campaign_id", String(32), primary_key=True),
    Column("account_id", String(12), nullable=False, index=True),
    Column("principal_arn", String(256), nullable=False),
    Column("access_key_id", String(128), nullable=False),
    Column("selection", Text, nullable=False),  # JSON {"bucket": ..., "source_key_arns": [...]}
    Column("destination", String(256), nullable=True),  # key ARN; null: newest material
    Column("destination_managed", Integer, nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("position_bucket", String(63), nullable=True),
    Column("position_key", String(1024), nullable=True),
    Column("moved", Integer, nullable=False),
    Column("skipped", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("lease_until", Float, nullable=False),  # epoch seconds; a runner holds it till then
)

# Bucket keys a campaign has moved (each once, with all the objects under it).
campaign_bucket_keys = Table(
    "s3_campaign_bucket_keys",
    campaign_metadata,
    Column("campaign_id", String(32), primary_key=True),
    Column("bucket_key_id", String(32), primary_key=True),
)


@dataclass(frozen=True, slots=True)
class CampaignRow:
    campaign_id: str
    account_id: str
    principal_arn: str
    access_key_id: str
    bucket: str | None
    source_key_arns: tuple[str, ...]
    destination: str | None
    destination_managed: bool
    state: str
    created_at: datetime
    updated_at: datetime
    position: tuple[str, str] | None
    moved: int
    skipped: int
    failed: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class ObjectRow:
    """An object to move, with the wrapping its data key (or bucket key) has now."""

    bucket: str
    key: str
    object_id: str
    sse: str
    kms_key_arn: str | None
    wrapped_key: bytes | None
    context: dict[str, str]
    bucket_key_id: str | None
    bucket_key_arn: str | None
    bucket_key_wrapped: bytes | None


def _campaign(row: Any) -> CampaignRow:
    selection = json.loads(row.selection)
    position = None
    if row.position_bucket is not None:
        position = (row.position_bucket, row.position_key)
    return CampaignRow(
        row.campaign_id,
        row.account_id,
        row.principal_arn,
        row.access_key_id,
        selection.get("bucket"),
        tuple(selection.get("source_key_arns", ())),
        row.destination,
        bool(row.destination_managed),
        row.state,
        datetime.fromisoformat(row.created_at),
        datetime.fromisoformat(row.updated_at),
        position,
        row.moved,
        row.skipped,
        row.failed,
        row.last_error,
    )


class CampaignRecords:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        migrate.upgrade(engine)

    def bucket_owner(self, bucket: str) -> str | None:
        with self._engine.connect() as conn:
            owner = conn.execute(
                select(buckets.c.account_id).where(buckets.c.name == bucket)
            ).scalar_one_or_none()
        return None if owner is None else str(owner)

    def create(self, row: CampaignRow) -> None:
        selection = {"bucket": row.bucket, "source_key_arns": list(row.source_key_arns)}
        with self._engine.begin() as conn:
            conn.execute(
                insert(campaigns).values(
                    campaign_id=row.campaign_id,
                    account_id=row.account_id,
                    principal_arn=row.principal_arn,
                    access_key_id=row.access_key_id,
                    selection=json.dumps(selection),
                    destination=row.destination,
                    destination_managed=int(row.destination_managed),
                    state=row.state,
                    created_at=row.created_at.isoformat(),
                    updated_at=row.updated_at.isoformat(),
                    moved=0,
                    skipped=0,
                    failed=0,
                    lease_until=0.0,
                )
            )

    def find(self, account_id: str | None, campaign_id: str | None = None) -> list[CampaignRow]:
        query = select(campaigns)
        if account_id is not None:
            query = query.where(campaigns.c.account_id == account_id)
        if campaign_id is not None:
            query = query.where(campaigns.c.campaign_id == campaign_id)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(campaigns.c.created_at)).all()
        return [_campaign(r) for r in rows]

    def claim(self, now: float, lease_seconds: float) -> CampaignRow | None:
        """A running campaign no other runner holds, now held by this one until the lease ends."""
        c = campaigns.c
        with self._engine.begin() as conn:
            found = conn.execute(
                select(c.campaign_id)
                .where(c.state == "RUNNING", c.lease_until < now)
                .order_by(c.created_at)
                .limit(1)
            ).scalar_one_or_none()
            if found is None:
                return None
            taken = conn.execute(
                update(campaigns)
                .where(c.campaign_id == found, c.lease_until < now)
                .values(lease_until=now + lease_seconds)
            ).rowcount
            if not taken:
                return None
            row = conn.execute(select(campaigns).where(c.campaign_id == found)).one()
        return _campaign(row)

    def renew(self, campaign_id: str, until: float) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(campaigns)
                .where(campaigns.c.campaign_id == campaign_id)
                .values(lease_until=until)
            )

    def release(self, campaign_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(campaigns)
                .where(campaigns.c.campaign_id == campaign_id)
                .values(lease_until=0.0)
            )

    def next_objects(self, campaign: CampaignRow, limit: int) -> list[ObjectRow]:
        """The selection's next objects after the campaign's position, in (bucket, key) order."""
        o, k, b = objects.c, bucket_keys.c, buckets.c
        query = (
            select(
                o.bucket,
                o.key,
                o.object_id,
                o.sse,
                o.kms_key_arn,
                o.wrapped_key,
                o.context,
                o.bucket_key_id,
                k.kms_key_arn.label("bk_arn"),
                k.wrapped_key.label("bk_wrapped"),
            )
            .select_from(
                objects.join(buckets, b.name == o.bucket).outerjoin(
                    bucket_keys, k.key_id == o.bucket_key_id
                )
            )
            .where(b.account_id == campaign.account_id)
            .order_by(o.bucket, o.key)
            .limit(limit)
        )
        if campaign.bucket is not None:
            query = query.where(o.bucket == campaign.bucket)
        else:
            arns = list(campaign.source_key_arns)
            query = query.where(func.coalesce(k.kms_key_arn, o.kms_key_arn).in_(arns))
        if campaign.position is not None:
            query = query.where(tuple_(o.bucket, o.key) > tuple_(*campaign.position))
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            ObjectRow(
                r.bucket,
                r.key,
                r.object_id,
                r.sse,
                r.kms_key_arn,
                r.wrapped_key,
                json.loads(r.context) if r.context else {},
                r.bucket_key_id,
                r.bk_arn,
                r.bk_wrapped,
            )
            for r in rows
        ]

    def bucket_key_moved(self, campaign_id: str, bucket_key_id: str) -> bool:
        c = campaign_bucket_keys.c
        with self._engine.connect() as conn:
            found = conn.execute(
                select(c.bucket_key_id).where(
                    c.campaign_id == campaign_id, c.bucket_key_id == bucket_key_id
                )
            ).first()
        return found is not None

    def done(
        self,
        campaign_id: str,
        row: ObjectRow,
        outcome: str,
        now: datetime,
        error: str | None = None,
    ) -> None:
        """Count one object (``moved``, ``skipped`` or ``failed``) and move the position."""
        with self._engine.begin() as conn:
            self._count(conn, campaign_id, row, outcome, now, error=error)

    def move_object(
        self, campaign_id: str, row: ObjectRow, new: dict[str, Any], now: datetime
    ) -> bool:
        """Replace the object's protection if unchanged since ``row`` was read; count it."""
        o = objects.c
        with self._engine.begin() as conn:
            changed = conn.execute(
                update(objects)
                .where(o.object_id == row.object_id, o.wrapped_key == row.wrapped_key)
                .values(**new)
            ).rowcount
            self._count(conn, campaign_id, row, "moved" if changed else "skipped", now)
        return bool(changed)

    def move_bucket_key(
        self, campaign_id: str, row: ObjectRow, new: dict[str, Any], now: datetime
    ) -> bool:
        """Move a bucket key (and so every object under it) if unchanged since ``row``."""
        assert row.bucket_key_id is not None
        k, o = bucket_keys.c, objects.c
        with self._engine.begin() as conn:
            changed = conn.execute(
                update(bucket_keys)
                .where(k.key_id == row.bucket_key_id, k.wrapped_key == row.bucket_key_wrapped)
                .values(**new)
            ).rowcount
            if changed:
                conn.execute(
                    update(objects)
                    .where(o.bucket_key_id == row.bucket_key_id)
                    .values(kms_key_arn=new["kms_key_arn"])
                )
                conn.execute(
                    insert(campaign_bucket_keys).values(
                        campaign_id=campaign_id, bucket_key_id=row.bucket_key_id
                    )
                )
            self._count(conn, campaign_id, row, "moved" if changed else "skipped", now)
        return bool(changed)

    def finish(self, campaign_id: str, now: datetime) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(campaigns)
                .where(campaigns.c.campaign_id == campaign_id)
                .values(state="COMPLETED", updated_at=now.isoformat(), lease_until=0.0)
            )

    @staticmethod
    def _count(
        conn: Any,
        campaign_id: str,
        row: ObjectRow,
        outcome: str,
        now: datetime,
        *,
        error: str | None = None,
    ) -> None:
        c = campaigns.c
        values: dict[str, Any] = {
            outcome: getattr(c, outcome) + 1,
            "position_bucket": row.bucket,
            "position_key": row.key,
            "updated_at": now.isoformat(),
        }
        if error is not None:
            values["last_error"] = error
        conn.execute(update(campaigns).where(c.campaign_id == campaign_id).values(**values))
