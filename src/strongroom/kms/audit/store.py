"""The hash chain in the database: appending a batch of events with one signed head.

Every append locks the chain head row first (``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR
UPDATE`` elsewhere), so writers in several processes extend one linear chain. The group-commit
writer (audit/writer.py) and control-plane changes (audit/durable.py) both append through
:class:`AuditChain`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from strongroom.kms.audit.chain import GENESIS_HASH, head_message, link_hash
from strongroom.kms.audit.events import AuditEvent
from strongroom.kms.audit.record import (
    INDEXED_EVENT_NAMES,
    SEQUENCE_NUMBER,
    base_record,
    canonical_bytes,
    other_accounts,
)
from strongroom.kms.audit.signing import AuditSigningKey, SecretSealer
from strongroom.kms.storage.audit_commit import ChainWrites, SignedHead
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.unit_of_work import Transaction


def _utc_now() -> datetime:
    return datetime.now(UTC)


class PreparedEvent(NamedTuple):
    """An event turned into its record, all but the sequence number (known under the lock)."""

    event_time: datetime
    account_id: str
    base: dict[str, object]
    # Accounts other than the caller's that may export the event (owners of its keys).
    other_accounts: frozenset[str]
    # The event name when it is one that is looked up by name (INDEXED_EVENT_NAMES).
    indexed_name: str | None = None


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
        # The signing key of a committed group commit (commit_group): in the database for good.
        self._committed_key: AuditSigningKey | None = None

    def prepare(self, events: Sequence[AuditEvent]) -> list[PreparedEvent]:
        """The work that needs no lock; done before the write transaction to keep it short."""
        region = self._region
        return [
            PreparedEvent(
                e.time,
                e.account_id,
                base_record(e, region),
                other_accounts(e),
                e.operation if e.operation in INDEXED_EVENT_NAMES else None,
            )
            for e in events
        ]

    def append(self, tx: Transaction, events: Sequence[AuditEvent]) -> int:
        """Append ``events`` in ``tx`` and sign the new head; return the last sequence number."""
        return self.append_prepared(tx.audit, self.prepare(events))

    def commit_group(
        self,
        db: Database,
        events: Sequence[PreparedEvent],
        more: Callable[[], Sequence[PreparedEvent]] | None = None,
    ) -> int:
        """Append ``events`` in a write transaction of their own (the audit writer's group
        commit) and commit it; return the last sequence number.

        ``more``, called once the transaction holds the write lock, gives events that arrived
        meanwhile; they join this commit. Waiting for the lock (another worker's commit) is
        when most arrive: with two workers at 16 connections, 5.4-5.5 events per commit
        became 6.1-6.4 (docs/adr/0038); each commit has a fixed cost of ~130 µs of CPU.

        Once a group commit that used the signing key has committed, the key is known to be
        in the database (its rows are never deleted) and is not looked up again.
        """
        with db.audit_group_commit() as records:
            if more is not None:
                events = [*events, *more()]
            seq, key = self._append(records, events)
        if key is not None:
            self._committed_key = key
        return seq

    def append_prepared(self, records: ChainWrites, events: Sequence[PreparedEvent]) -> int:
        """Append ``events`` in the open write transaction of ``records`` (``tx.audit``)."""
        return self._append(records, events)[0]

    def _append(
        self, records: ChainWrites, events: Sequence[PreparedEvent]
    ) -> tuple[int, AuditSigningKey | None]:
        seq, prev = records.lock_head(GENESIS_HASH)
        if not events:
            return seq, None
        key = self._signing_key(records)

        rows: list[tuple[int, datetime, str, str, bytes, bytes]] = []
        index: list[tuple[str, int, datetime]] = []
        named: list[tuple[str, str, int]] = []
        for event in events:
            seq += 1
            canonical = canonical_bytes({**event.base, SEQUENCE_NUMBER: seq})  # sequenced()
            digest = link_hash(prev, canonical)
            rows.append((seq, event.event_time, event.account_id, canonical.decode(), prev, digest))
            if event.other_accounts:
                index.extend((account, seq, event.event_time) for account in event.other_accounts)
            if event.indexed_name is not None:
                named.append((event.indexed_name, event.account_id, seq))
            prev = digest
        records.insert_events(rows, index, named)

        signed_at = self._now().astimezone(UTC).isoformat(timespec="microseconds")
        signature = key.sign(head_message(seq, prev, signed_at))
        records.add_signed_head(SignedHead(seq, prev, signed_at, key.key_id, signature))
        records.set_head(seq, prev)
        return seq, key

    def signing_key(self, tx: Transaction) -> AuditSigningKey:
        """The signing key (created in ``tx`` if there is none yet)."""
        return self._signing_key(tx.audit)

    def _signing_key(self, records: ChainWrites) -> AuditSigningKey:
        committed = self._committed_key
        if committed is not None:
            return committed
        # Until then, looked up in every transaction (a key cached from a rolled-back
        # transaction would sign heads with a key the database does not hold); unsealed once.
        first = records.first_signing_key()
        key = self._key
        if first is None:
            key = self._key = AuditSigningKey.create(records, self._store, self._now())
        elif key is None or key.key_id != first[0]:
            key = self._key = AuditSigningKey.unseal(self._store, *first)
        return key


def head_of(tx: Transaction) -> tuple[int, bytes]:
    """The chain head (last seq and hash; 0 and the genesis hash when empty)."""
    return tx.audit.head() or (0, GENESIS_HASH)


def event_times(tx: Transaction, first: int, last: int) -> tuple[str | None, str | None]:
    """The record times of the first and last events with seq in [first, last] (by seq, as
    docs/formats.md defines a digest's ``oldestEventTime`` and ``newestEventTime``)."""
    found = tx.audit.event_times(first, last)
    return (None, None) if found is None else (_time(found[0]), _time(found[1]))


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
