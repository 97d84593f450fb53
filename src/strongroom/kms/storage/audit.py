"""The audit trail's slot in the unit of work: ``tx.audit`` (unit_of_work.py).

Readers of the trail outside audit/ (access transparency, the exposure report) use the queries
here. The chain's own writes and its verification still run their SQL in audit/ on
:attr:`AuditRecords.connection`; they move here behind this slot, and that attribute goes.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, select

from strongroom.kms.storage import schema

E = schema.audit_events.c
N = schema.audit_named_events.c
_BATCH = 500


class AuditRecords:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @property
    def connection(self) -> Connection:
        """The transaction's connection, for the chain code in audit/ (see the module note)."""
        return self._conn

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
        for seq, record in self._conn.execute(query).yield_per(_BATCH):
            yield int(seq), str(record)
