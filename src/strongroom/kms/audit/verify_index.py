"""The columns and index rows that export, filtering and lookups trust, checked against records.

Only ``record`` is hashed. ``audit_events.account_id`` and ``event_time`` (export's filter and
order), ``audit_event_accounts`` (which other accounts may export an event, and when) and
``audit_named_events`` (ProviderAccess lookups) are derived from the record when it is written;
verify derives them again from the hashed record and compares, so an edit to any of them (an
event moved to another account, a changed time, a deleted index row that hides an event from
its key owner) is named, by sequence number, like an edit to the record itself.

The index tables are read in sequence order alongside the chain walk (a merge), so the check
needs no memory in proportion to the trail.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from strongroom.kms.audit.record import INDEXED_EVENT_NAMES, record_accounts

# (kind, seq, message), raised by the caller as a verify Problem.
Finding = tuple[str, int | None, str]


def record_time(record: dict[str, Any]) -> datetime | None:
    raw = record.get("eventTime")
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw).astimezone(UTC)
    except ValueError:
        return None


def check_columns(
    seq: int, account_id: str, event_time: datetime, record: dict[str, Any]
) -> Finding | None:
    """The event row's own derived columns."""
    owner = record.get("recipientAccountId")
    if account_id != owner:
        return (
            "column",
            seq,
            f"seq {seq}: the account_id column says {account_id} but the record belongs to "
            f"{owner}; the column was altered (export filters on it)",
        )
    when = record_time(record)
    if when is None or event_time.astimezone(UTC) != when:
        return (
            "column",
            seq,
            f"seq {seq}: the event_time column ({event_time.isoformat()}) is not the record's "
            f"eventTime ({record.get('eventTime')}); the column was altered (export filters "
            "on it)",
        )
    return None


class _Merge:
    """Rows of an index table in (seq, ...) order, taken one sequence number at a time."""

    def __init__(self, rows: Iterator[Any]) -> None:
        self._rows = rows
        self._next = next(rows, None)

    def take(self, seq: int) -> list[Any]:
        taken = []
        while self._next is not None and int(self._next.seq) <= seq:
            taken.append(self._next)
            self._next = next(self._rows, None)
        return taken

    def rest(self) -> Any | None:
        return self._next


class IndexCheck:
    def __init__(self, accounts: Iterator[Any], named: Iterator[Any]) -> None:
        """``accounts``: audit_event_accounts rows (account_id, seq, event_time) and ``named``:
        audit_named_events rows (event_name, account_id, seq), both ordered by seq."""
        self._accounts = _Merge(accounts)
        self._named = _Merge(named)

    def check(self, seq: int, record: dict[str, Any]) -> Finding | None:
        owner = record.get("recipientAccountId")
        when = record_time(record)
        rows = self._accounts.take(seq)
        stray = [r for r in rows if int(r.seq) != seq]
        if stray:
            return _not_in_trail("account index", int(stray[0].seq))
        found = {str(r.account_id): r.event_time for r in rows}
        expected = record_accounts(record) - {owner}
        for account in sorted(expected - found.keys()):
            return (
                "index",
                seq,
                f"seq {seq}: the account index lacks account {account}, which the record "
                "names; the index was altered, hiding the event from that account's export",
            )
        for account in sorted(found.keys() - expected):
            return (
                "index",
                seq,
                f"seq {seq}: the account index names account {account}, which the record "
                "does not; the index was altered",
            )
        for account, at in sorted(found.items()):
            if when is None or at.astimezone(UTC) != when:
                return (
                    "index",
                    seq,
                    f"seq {seq}: the account index row of account {account} has another time "
                    "than the record; the index was altered",
                )
        return self._check_named(seq, owner, record)

    def _check_named(self, seq: int, owner: object, record: dict[str, Any]) -> Finding | None:
        rows = self._named.take(seq)
        stray = [r for r in rows if int(r.seq) != seq]
        if stray:
            return _not_in_trail("event-name index", int(stray[0].seq))
        found = {(str(r.event_name), str(r.account_id)) for r in rows}
        name = record.get("eventName")
        expected = {(str(name), str(owner))} if name in INDEXED_EVENT_NAMES else set()
        for event_name, _ in sorted(expected - found):
            return (
                "index",
                seq,
                f"seq {seq}: the event-name index lacks the row of this {event_name} event; "
                "the index was altered (lookups by event name trust it)",
            )
        for event_name, account in sorted(found - expected):
            return (
                "index",
                seq,
                f"seq {seq}: the event-name index has a row ({event_name}, {account}) that "
                "the record does not justify; the index was altered",
            )
        return None

    def finish(self) -> Finding | None:
        """Index rows left after the chain's last event name events that do not exist."""
        for merge, what in ((self._accounts, "account index"), (self._named, "event-name index")):
            row = merge.rest()
            if row is not None:
                return _not_in_trail(what, int(row.seq))
        return None


def _not_in_trail(what: str, seq: int) -> Finding:
    return (
        "index",
        seq,
        f"the {what} has a row for seq {seq}, which is not an event of the trail; the index "
        "was altered",
    )
