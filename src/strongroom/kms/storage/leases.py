"""Leases: named claims one holder keeps until they expire or are released (table ``leases``).

``tx.leases`` of a unit of work. They fence work across nodes where a host-local file cannot:
serving workers hold ``serving/...`` leases they renew, and a root key change holds
``root-key-change`` while it runs (kms/rootkey/fence.py). A holder that dies stops renewing;
its lease expires and fences nobody.

On PostgreSQL every lease decision first takes one transaction-scoped advisory lock, so two
transactions that each check the other's lease and claim their own cannot both succeed (under
READ COMMITTED they could). On SQLite one writer at a time holds the database already.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select, update

from strongroom.kms.storage import schema

L = schema.leases.c
# pg_advisory_xact_lock key of lease decisions (any constant: "strongroom-lease").
_LEASE_LOCK = 0x53544C45415345


@dataclass(frozen=True, slots=True)
class Lease:
    name: str
    holder: str
    acquired_at: datetime
    expires_at: datetime


class LeaseRecords:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._locked = False

    def _lock(self) -> None:
        if not self._locked and self._conn.dialect.name == "postgresql":
            self._conn.execute(select(func.pg_advisory_xact_lock(_LEASE_LOCK)))
        self._locked = True

    def live(self, prefix: str, now: datetime) -> list[Lease]:
        """Unexpired leases whose name starts with ``prefix``."""
        self._lock()
        rows = self._conn.execute(
            select(schema.leases)
            .where(L.name.startswith(prefix, autoescape=True), L.expires_at > now)
            .order_by(L.name)
        ).all()
        return [Lease(r.name, r.holder, r.acquired_at, r.expires_at) for r in rows]

    def claim(self, name: str, holder: str, now: datetime, expires_at: datetime) -> Lease | None:
        """Take or renew ``name`` for ``holder``; None and the live holder's lease if another
        holds it."""
        self._lock()
        row = self._conn.execute(select(schema.leases).where(L.name == name)).first()
        if row is None:
            self._conn.execute(
                insert(schema.leases).values(
                    name=name, holder=holder, acquired_at=now, expires_at=expires_at
                )
            )
            return None
        if row.holder != holder and row.expires_at > now:
            return Lease(row.name, row.holder, row.acquired_at, row.expires_at)
        acquired = row.acquired_at if row.holder == holder else now
        self._conn.execute(
            update(schema.leases)
            .where(L.name == name)
            .values(holder=holder, acquired_at=acquired, expires_at=expires_at)
        )
        return None

    def release(self, name: str, holder: str) -> None:
        self._lock()
        self._conn.execute(delete(schema.leases).where(L.name == name, L.holder == holder))

    def prune(self, prefix: str, now: datetime) -> int:
        """Delete the expired leases whose name starts with ``prefix``; how many went."""
        self._lock()
        result = self._conn.execute(
            delete(schema.leases).where(
                L.name.startswith(prefix, autoescape=True), L.expires_at <= now
            )
        )
        return int(result.rowcount)
