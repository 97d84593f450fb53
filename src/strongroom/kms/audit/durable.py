"""A control-plane event that commits in the transaction of the change it records.

The pipeline (and ``strongroom admin``) activate a :class:`DurableEvent` as the database's
commit hook around the code that makes the change. The first write transaction that code
opens appends the event to the audit chain just before it commits: the change and its event
commit together or not at all. Work that changed nothing writes the event alone
(:meth:`write_alone`) before the caller is answered. See docs/adr/0006.
"""

from __future__ import annotations

from collections.abc import Callable

from strongroom.kms.audit.events import AuditEvent
from strongroom.kms.audit.store import AuditChain
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.unit_of_work import Transaction


class DurableEvent:
    def __init__(self, chain: AuditChain, build: Callable[[], AuditEvent]) -> None:
        # Built at commit time: the handler may add resources (the new key's ARN) before.
        self._chain = chain
        self._build = build
        self.written = False

    def before_commit(self, tx: Transaction) -> None:
        if self.written:
            return  # later transactions of the same request: the event is in the first one
        self._chain.append(tx, [self._build()])
        self.written = True

    def write_alone(self, db: Database) -> None:
        if not self.written:
            with db.transaction() as tx:
                self.before_commit(tx)
