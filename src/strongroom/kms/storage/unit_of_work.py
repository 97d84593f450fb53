"""The unit of work: one database transaction and the repositories bound to it.

Code outside storage/ never sees a connection or a table. It asks the database for a unit of
work and reaches every record through it::

    with db.transaction() as tx:          # read-write; commits when the block ends
        tx.governance.add_operator(...)
        chain.append(tx, events)          # the audit trail writes through tx.audit
    with db.read() as tx:                 # read-only snapshot, no write lock
        tx.meta.get("root_key")

Everything done through one ``tx`` commits together or not at all (docs/adr/0006: a change and
its audit event). Repositories whose operations are complete in themselves
(``KeyRepository``, ``IdentityRepository``, ...) open their own unit of work per call.
docs/adr/0011-storage-unit-of-work.md has the rules.
"""

from __future__ import annotations

from sqlalchemy import Connection

from strongroom.kms.storage.audit import AuditRecords
from strongroom.kms.storage.custom_key_stores import ClusterRecords
from strongroom.kms.storage.governance import GovernanceRecords
from strongroom.kms.storage.leases import LeaseRecords
from strongroom.kms.storage.meta import MetaRecords
from strongroom.kms.storage.protection import ProtectionRecords
from strongroom.kms.storage.sealed import SealedRecords


class Transaction:
    """The repositories of one open transaction (``Database.transaction``/``read``)."""

    __slots__ = (
        "audit",
        "clusters",
        "governance",
        "leases",
        "meta",
        "protection",
        "read_only",
        "sealed",
    )

    def __init__(self, conn: Connection, *, read_only: bool) -> None:
        self.read_only = read_only
        self.audit = AuditRecords(conn)
        self.clusters = ClusterRecords(conn)
        self.governance = GovernanceRecords(conn)
        self.leases = LeaseRecords(conn)
        self.meta = MetaRecords(conn)
        self.protection = ProtectionRecords(conn)
        self.sealed = SealedRecords(conn)
