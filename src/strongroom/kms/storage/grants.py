"""Grants of keys. Tokens are stored only as digests."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select

from strongroom.kms.domain.grants import Constraints, Grant
from strongroom.kms.storage import schema
from strongroom.kms.storage.database import Database

G = schema.grants.c


class GrantRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, grant: Grant) -> Grant:
        """Insert a grant, or return the existing one a retried named request created."""
        with self._db.write_connection() as conn:
            if grant.name is not None:
                rows = conn.execute(
                    select(schema.grants).where(G.key_id == grant.key_id, G.name == grant.name)
                ).all()
                for row in rows:
                    existing = _grant(row)
                    if existing.same_request(grant):
                        return existing
            conn.execute(insert(schema.grants).values(**_columns(grant)))
            self._db.record_change(conn, grant.created_at, key_id=grant.key_id)
        return grant

    def for_key(self, key_id: str) -> list[Grant]:
        with self._db.read_connection() as conn:
            rows = conn.execute(
                select(schema.grants).where(G.key_id == key_id).order_by(G.created_at, G.grant_id)
            ).all()
        return [_grant(r) for r in rows]

    def page_for_key(
        self,
        key_id: str,
        after: tuple[datetime, str] | None,
        limit: int,
        *,
        grant_id: str | None = None,
        grantee: str | None = None,
    ) -> list[Grant]:
        """Up to ``limit`` of a key's grants that sort after ``after`` in creation order (ties
        by grant id), optionally only the one grant id or one grantee's: keyset paging, so a
        page costs one indexed query whatever the number of grants."""
        query = select(schema.grants).where(G.key_id == key_id)
        if grant_id is not None:
            query = query.where(G.grant_id == grant_id)
        if grantee is not None:
            query = query.where(G.grantee_principal == grantee)
        if after is not None:
            created, last_id = after
            query = query.where(
                or_(G.created_at > created, and_(G.created_at == created, G.grant_id > last_id))
            )
        query = query.order_by(G.created_at, G.grant_id).limit(limit)
        with self._db.read_connection() as conn:
            rows = conn.execute(query).all()
        return [_grant(r) for r in rows]

    def exists_for_key(self, key_id: str, grant_id: str) -> bool:
        with self._db.read_connection() as conn:
            row = conn.execute(
                select(G.grant_id).where(G.key_id == key_id, G.grant_id == grant_id)
            ).first()
        return row is not None

    def get(self, grant_id: str) -> Grant | None:
        with self._db.read_connection() as conn:
            row = conn.execute(select(schema.grants).where(G.grant_id == grant_id)).first()
        return None if row is None else _grant(row)

    def retirable_by(
        self, principal: str, region: str, after: str | None, limit: int
    ) -> list[Grant]:
        """Grants ``principal`` may retire on keys of ``region``."""
        query = (
            select(schema.grants)
            .join(schema.keys, schema.keys.c.key_id == G.key_id)
            .where(G.retiring_principal == principal, schema.keys.c.region == region)
        )
        if after is not None:
            query = query.where(G.grant_id > after)
        with self._db.read_connection() as conn:
            rows = conn.execute(query.order_by(G.grant_id).limit(limit)).all()
        return [_grant(r) for r in rows]

    def delete(self, grant_id: str, at: datetime) -> bool:
        with self._db.write_connection() as conn:
            row = conn.execute(select(G.key_id).where(G.grant_id == grant_id)).first()
            if row is None:
                return False
            conn.execute(delete(schema.grants).where(G.grant_id == grant_id))
            self._db.record_change(conn, at, key_id=row.key_id)
        return True


def _columns(grant: Grant) -> dict[str, object]:
    constraints = None
    if grant.constraints is not None:
        constraints = json.dumps(grant.constraints.listing(), sort_keys=True)
    return {
        "grant_id": grant.grant_id,
        "key_id": grant.key_id,
        "issuing_account": grant.issuing_account,
        "grantee_principal": grant.grantee_principal,
        "retiring_principal": grant.retiring_principal,
        "operations": json.dumps(list(grant.operations)),
        "constraints": constraints,
        "name": grant.name,
        "created_at": grant.created_at,
    }


def _grant(row: Any) -> Grant:
    constraints = None
    if row.constraints is not None:
        raw = json.loads(row.constraints)
        constraints = Constraints(
            equals=raw.get("EncryptionContextEquals"),
            subset=raw.get("EncryptionContextSubset"),
            source_arn=raw.get("SourceArn"),
        )
    return Grant(
        grant_id=row.grant_id,
        key_id=row.key_id,
        issuing_account=row.issuing_account,
        grantee_principal=row.grantee_principal,
        retiring_principal=row.retiring_principal,
        operations=tuple(json.loads(row.operations)),
        constraints=constraints,
        name=row.name,
        created_at=row.created_at,
    )
