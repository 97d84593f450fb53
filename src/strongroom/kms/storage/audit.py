"""The audit trail's records: ``tx.audit`` in the unit of work (unit_of_work.py).

Every SQL statement of the hash-chained trail (kms/audit/) is here or in audit_commit.py (the
appends under the chain head lock and the signing key's rows): the reads of verify, export,
digests and archiving, and pruning. audit/ decides what is written and checks what is read;
this module only moves rows. Values cross the seam as tuples and the small row types below.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, delete, func, inspect, select, union

from strongroom.kms.storage import schema
from strongroom.kms.storage.audit_commit import ChainWrites, SignedHead

E = schema.audit_events.c
A = schema.audit_event_accounts.c
N = schema.audit_named_events.c
H = schema.audit_signed_heads.c
K = schema.audit_signing_keys.c
HEAD = schema.audit_chain_head.c
TABLES = (
    schema.audit_events,
    schema.audit_event_accounts,
    schema.audit_named_events,
    schema.audit_chain_head,
    schema.audit_signing_keys,
    schema.audit_signed_heads,
)
_BATCH = 1000

__all__ = ["AuditRecords", "ChainRow", "IndexRow", "NamedRow", "SignedHead", "SigningKeyRow"]


class ChainRow(NamedTuple):
    seq: int
    account_id: str
    event_time: datetime
    record: str
    prev_hash: bytes
    hash: bytes


class IndexRow(NamedTuple):
    account_id: str
    seq: int
    event_time: datetime


class NamedRow(NamedTuple):
    event_name: str
    account_id: str
    seq: int


class SigningKeyRow(NamedTuple):
    key_id: str
    public_key: bytes
    sealed_private_key: bytes


class AuditRecords(ChainWrites):
    """The trail's rows in one transaction: the appends (audit_commit.py) and the reads."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self._sql = conn

    def missing_tables(self) -> list[str]:
        """The trail's tables that the database no longer has (dropped behind our back)."""
        present = set(inspect(self._sql).get_table_names())
        return [table.name for table in TABLES if table.name not in present]

    def signing_keys(self) -> list[SigningKeyRow]:
        rows = self._sql.execute(select(K.key_id, K.public_key, K.sealed_private_key))
        return [SigningKeyRow(str(r[0]), bytes(r[1]), bytes(r[2])) for r in rows]

    # --- reading ---

    def head(self) -> tuple[int, bytes] | None:
        """The chain head row (seq, hash) without locking it; None if there is none."""
        row = self._sql.execute(select(HEAD.seq, HEAD.hash)).first()
        return None if row is None else (int(row.seq), bytes(row.hash))

    def bounds(self) -> tuple[int, int]:
        """The first and last seq stored (0, 0 when there are none)."""
        row = self._sql.execute(select(func.min(E.seq), func.max(E.seq))).first()
        if row is None or row[0] is None:
            return 0, 0
        return int(row[0]), int(row[1])

    def hash_at(self, seq: int) -> bytes | None:
        value = self._sql.execute(select(E.hash).where(E.seq == seq)).scalar_one_or_none()
        return None if value is None else bytes(value)

    def event_times(self, first: int, last: int) -> tuple[datetime, datetime] | None:
        """The times of the first and the last stored event with seq in [first, last].

        Two seeks on the primary key, whatever the range holds: a minimum and maximum over the
        range read every row of it (a minute of events is hundreds of thousands of rows with
        their records), 0.1-0.3 s every digest interval on a busy node."""
        oldest = self._sql.execute(
            select(E.event_time).where(E.seq >= first, E.seq <= last).order_by(E.seq).limit(1)
        ).scalar_one_or_none()
        newest = self._sql.execute(
            select(E.event_time)
            .where(E.seq >= first, E.seq <= last)
            .order_by(E.seq.desc())
            .limit(1)
        ).scalar_one_or_none()
        return None if oldest is None or newest is None else (oldest, newest)

    def chain(self, first: int = 1, last: int | None = None) -> Iterator[ChainRow]:
        """The events with seq in [first, last], in order."""
        query = select(E.seq, E.account_id, E.event_time, E.record, E.prev_hash, E.hash).where(
            E.seq >= first
        )
        if last is not None:
            query = query.where(E.seq <= last)
        for r in self._sql.execute(query.order_by(E.seq)).yield_per(_BATCH):
            yield ChainRow(int(r[0]), str(r[1]), r[2], str(r[3]), bytes(r[4]), bytes(r[5]))

    def signed_heads(self) -> Iterator[SignedHead]:
        query = select(H.seq, H.hash, H.signed_at, H.key_id, H.signature).order_by(H.seq)
        for r in self._sql.execute(query).yield_per(_BATCH):
            yield SignedHead(int(r[0]), bytes(r[1]), str(r[2]), str(r[3]), bytes(r[4]))

    def last_head_before(self, before: datetime) -> int | None:
        """The last signed head whose event is older than ``before`` (a flush boundary)."""
        value = self._sql.execute(
            select(func.max(H.seq))
            .join_from(schema.audit_signed_heads, schema.audit_events, E.seq == H.seq)
            .where(E.event_time < before)
        ).scalar_one_or_none()
        return None if value is None else int(value)

    def account_index(self) -> Iterator[IndexRow]:
        query = select(A.account_id, A.seq, A.event_time).order_by(A.seq, A.account_id)
        for r in self._sql.execute(query).yield_per(_BATCH):
            yield IndexRow(str(r[0]), int(r[1]), r[2])

    def name_index(self) -> Iterator[NamedRow]:
        query = select(N.event_name, N.account_id, N.seq).order_by(N.seq, N.event_name)
        for r in self._sql.execute(query).yield_per(_BATCH):
            yield NamedRow(str(r[0]), str(r[1]), int(r[2]))

    def account_records(
        self, account_id: str, since: datetime | None, until: datetime | None
    ) -> Iterator[str]:
        """Records of the events the account made or that its index names, oldest first.
        Candidates only: the caller re-checks each record."""
        own = select(E.seq, E.record).where(E.account_id == account_id)
        about = (
            select(E.seq, E.record)
            .join_from(schema.audit_event_accounts, schema.audit_events, A.seq == E.seq)
            .where(A.account_id == account_id)
        )
        if since is not None:
            own, about = own.where(E.event_time >= since), about.where(A.event_time >= since)
        if until is not None:
            own, about = own.where(E.event_time < until), about.where(A.event_time < until)
        both = union(own, about).subquery()
        query = select(both.c.record).order_by(both.c.seq)
        for (record,) in self._sql.execute(query).yield_per(_BATCH):
            yield str(record)

    def named_events(
        self, event_name: str, *, account_id: str | None = None, after_seq: int = 0
    ) -> Iterator[tuple[int, str]]:
        """(seq, record JSON) of the events indexed under ``event_name``, oldest first.

        With ``account_id``, only events in that account's own trail.
        """
        query = (
            select(E.seq, E.record)
            .join_from(schema.audit_named_events, schema.audit_events, N.seq == E.seq)
            .where(N.event_name == event_name, N.seq > after_seq)
            .order_by(N.seq)
        )
        if account_id is not None:
            query = query.where(N.account_id == account_id, E.account_id == account_id)
        for seq, record in self._sql.execute(query).yield_per(_BATCH):
            yield int(seq), str(record)

    # --- retention ---

    def prune(self, through: int) -> None:
        """Delete the events through ``through`` with their index rows and signed heads."""
        for table in (
            schema.audit_event_accounts,
            schema.audit_named_events,
            schema.audit_signed_heads,
            schema.audit_events,
        ):
            self._sql.execute(delete(table).where(table.c.seq <= through))
