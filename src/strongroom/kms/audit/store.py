"""The hash chain in the database: appending a batch of events with one signed head.

Every append locks the chain head row first (``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR
UPDATE`` elsewhere), so writers in several processes extend one linear chain. The group-commit
writer (audit/writer.py) and control-plane changes (audit/durable.py) both append through
:class:`AuditChain`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, delete, func, insert, select, update

from strongroom.kms.audit.chain import GENESIS_HASH, head_message, link_hash
from strongroom.kms.audit.events import AuditEvent
from strongroom.kms.audit.record import (
    INDEXED_EVENT_NAMES,
    base_record,
    canonical_bytes,
    event_accounts,
    sequenced,
)
from strongroom.kms.audit.signing import AuditSigningKey, SecretSealer
from strongroom.kms.storage import schema
from strongroom.kms.storage.bulk import insert_many
from strongroom.kms.storage.unit_of_work import Transaction

HEAD_ROW_ID = 1


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PreparedEvent:
    """An event turned into its record, all but the sequence number (known under the lock)."""

    event_time: datetime
    account_id: str
    base: dict[str, object]
    # Accounts other than the caller's that may export the event (owners of its keys).
    other_accounts: frozenset[str]
    # The event name when it is one that is looked up by name (INDEXED_EVENT_NAMES).
    indexed_name: str | None = None


_EVENT_COLUMNS = ("seq", "event_time", "account_id", "record", "prev_hash", "hash")
_INDEX_COLUMNS = ("account_id", "seq", "event_time")
_NAMED_COLUMNS = ("event_name", "account_id", "seq")


class AuditChain:
    """Appends events to the chain inside a caller's write transaction.

    The sink below uses it for group commits; a control-plane change can call :meth:`append`
    in its own transaction so that the change and its event commit together.
    """

    def __init__(
        self, store: SecretSealer, region: str, now: Callable[[], datetime] = _utc_now
    ) -> None:
        self._store = store
        self._region = region
        self._now = now
        self._key: AuditSigningKey | None = None

    def prepare(self, events: Sequence[AuditEvent]) -> list[PreparedEvent]:
        """The work that needs no lock; done before the write transaction to keep it short."""
        return [
            PreparedEvent(
                e.time,
                e.account_id,
                base_record(e, self._region),
                event_accounts(e) - {e.account_id},
                e.operation if e.operation in INDEXED_EVENT_NAMES else None,
            )
            for e in events
        ]

    def append(self, tx: Transaction, events: Sequence[AuditEvent]) -> int:
        """Append ``events`` in ``tx`` and sign the new head; return the last sequence number."""
        return self.append_prepared(tx.audit.connection, self.prepare(events))

    def append_prepared(self, conn: Connection, events: Sequence[PreparedEvent]) -> int:
        head = schema.audit_chain_head.c
        row = conn.execute(
            select(head.seq, head.hash).where(head.id == HEAD_ROW_ID).with_for_update()
        ).first()
        if row is None:
            conn.execute(
                insert(schema.audit_chain_head).values(id=HEAD_ROW_ID, seq=0, hash=GENESIS_HASH)
            )
            seq, prev = 0, GENESIS_HASH
        else:
            seq, prev = int(row.seq), bytes(row.hash)
        if not events:
            return seq
        key = self._signing_key(conn)

        rows: list[tuple[object, ...]] = []
        index: list[tuple[object, ...]] = []
        named: list[tuple[object, ...]] = []
        for event in events:
            seq += 1
            canonical = canonical_bytes(sequenced(event.base, seq))
            digest = link_hash(prev, canonical)
            rows.append((seq, event.event_time, event.account_id, canonical.decode(), prev, digest))
            index.extend((account, seq, event.event_time) for account in event.other_accounts)
            if event.indexed_name is not None:
                named.append((event.indexed_name, event.account_id, seq))
            prev = digest
        # Driver-level executemany: one row per request, so SQLAlchemy's per-row work counts.
        insert_many(conn, schema.audit_events, _EVENT_COLUMNS, rows)
        insert_many(conn, schema.audit_event_accounts, _INDEX_COLUMNS, index)
        insert_many(conn, schema.audit_named_events, _NAMED_COLUMNS, named)

        signed_at = self._now().astimezone(UTC).isoformat(timespec="microseconds")
        conn.execute(
            insert(schema.audit_signed_heads).values(
                seq=seq,
                hash=prev,
                signed_at=signed_at,
                key_id=key.key_id,
                signature=key.sign(head_message(seq, prev, signed_at)),
            )
        )
        conn.execute(
            update(schema.audit_chain_head).where(head.id == HEAD_ROW_ID).values(seq=seq, hash=prev)
        )
        return seq

    @staticmethod
    def head(conn: Connection) -> tuple[int, bytes]:
        """The chain head (last seq and hash; 0 and the genesis hash when empty)."""
        h = schema.audit_chain_head.c
        row = conn.execute(select(h.seq, h.hash).where(h.id == HEAD_ROW_ID)).first()
        return (0, GENESIS_HASH) if row is None else (int(row.seq), bytes(row.hash))

    @staticmethod
    def event_times(conn: Connection, first: int, last: int) -> tuple[str | None, str | None]:
        """The times of the oldest and newest events with seq in [first, last]."""
        e = schema.audit_events.c
        row = conn.execute(
            select(func.min(e.event_time), func.max(e.event_time)).where(
                e.seq >= first, e.seq <= last
            )
        ).first()
        if row is None or row[0] is None:
            return None, None
        return _time(row[0]), _time(row[1])

    @staticmethod
    def bounds(conn: Connection) -> tuple[int, int]:
        """The first and last seq stored (0, 0 when there are none)."""
        e = schema.audit_events.c
        row = conn.execute(select(func.min(e.seq), func.max(e.seq))).first()
        if row is None or row[0] is None:
            return 0, 0
        return int(row[0]), int(row[1])

    @staticmethod
    def hash_at(conn: Connection, seq: int) -> bytes | None:
        e = schema.audit_events.c
        value = conn.execute(select(e.hash).where(e.seq == seq)).scalar_one_or_none()
        return None if value is None else bytes(value)

    @staticmethod
    def public_keys(conn: Connection) -> dict[str, bytes]:
        k = schema.audit_signing_keys.c
        return {
            str(r.key_id): bytes(r.public_key) for r in conn.execute(select(k.key_id, k.public_key))
        }

    @staticmethod
    def last_head_before(conn: Connection, before: datetime) -> int | None:
        """The last signed head whose event is older than ``before`` (a flush boundary)."""
        e, h = schema.audit_events.c, schema.audit_signed_heads.c
        return conn.execute(
            select(func.max(h.seq))
            .join_from(schema.audit_signed_heads, schema.audit_events, e.seq == h.seq)
            .where(e.event_time < before)
        ).scalar_one_or_none()

    @staticmethod
    def records(
        conn: Connection, first: int, last: int
    ) -> Iterator[tuple[int, str, bytes, datetime]]:
        """(seq, record, hash, time) of the events with seq in [first, last], in order."""
        e = schema.audit_events.c
        query = (
            select(e.seq, e.record, e.hash, e.event_time)
            .where(e.seq >= first, e.seq <= last)
            .order_by(e.seq)
        )
        for row in conn.execute(query).yield_per(1000):
            yield int(row.seq), str(row.record), bytes(row.hash), row.event_time

    @staticmethod
    def prune(conn: Connection, through: int) -> None:
        """Delete the events through ``through`` with their index rows and signed heads."""
        for table in (
            schema.audit_event_accounts,
            schema.audit_named_events,
            schema.audit_signed_heads,
            schema.audit_events,
        ):
            conn.execute(delete(table).where(table.c.seq <= through))

    def signing_key(self, conn: Connection) -> AuditSigningKey:
        """The signing key (created in ``conn``'s transaction if there is none yet)."""
        return self._signing_key(conn)

    def _signing_key(self, conn: Connection) -> AuditSigningKey:
        # Looked up in every transaction (a key cached from a rolled-back transaction would
        # sign heads with a key the database does not hold); unsealed only once.
        k = schema.audit_signing_keys.c
        key_id = conn.execute(
            select(k.key_id).order_by(k.created_at, k.key_id).limit(1)
        ).scalar_one_or_none()
        if self._key is None or self._key.key_id != key_id:
            self._key = AuditSigningKey.load_or_create(conn, self._store, self._now())
        return self._key


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
