"""The database-backed, hash-chained audit log (an :class:`AuditSink`).

``record`` only appends the event to an in-memory list: it runs on every request. ``flush``
(about once a second, from a background thread, and at shutdown) turns the batch into records
and appends them to the chain in ONE write transaction, together with a signed chain head.
Several worker processes flush into the same chain: each flush locks the chain head row first
(``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` elsewhere), so the chain stays linear.

At a crash, events recorded since the last flush (about one second) are lost; see
docs/security.md "Audit trail".
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select, update

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
from strongroom.kms.storage.database import Database
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


class ChainedAuditLog:
    """The :class:`AuditSink` that writes the hash-chained trail into the database."""

    def __init__(
        self,
        db: Database,
        store: SecretSealer,
        region: str,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._db = db
        self._chain = AuditChain(store, region, now)
        self._pending: deque[AuditEvent] = deque()
        self._flush_lock = threading.Lock()

    @property
    def chain(self) -> AuditChain:
        """The chain, for writers that append inside their own transaction."""
        return self._chain

    def record(self, event: AuditEvent) -> None:
        # deque.append and popleft are atomic: no lock on the request path, and an event
        # recorded while a flush runs is either in that batch or left for the next one.
        self._pending.append(event)

    def flush(self) -> None:
        with self._flush_lock:
            pending = self._pending
            batch = [pending.popleft() for _ in range(len(pending))]
            if not batch:
                return
            try:
                prepared = self._chain.prepare(batch)
                with self._db.transaction() as tx:
                    self._chain.append_prepared(tx.audit.connection, prepared)
            except BaseException:
                # Keep the events for the next flush (a busy database is not a reason to
                # lose them); they go back in front of anything recorded meanwhile.
                pending.extendleft(reversed(batch))
                raise

    @property
    def pending(self) -> int:
        return len(self._pending)
