"""A tenant's own audit events, as the CloudTrail-like records the chain stores.

An account sees the events it made and the events about its keys (a resource ARN in the
account), never another tenant's. The caller's account column and the index of other accounts
pick the candidates; each record is checked again before it is returned, so a damaged column
or index cannot leak another tenant's event.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import orjson
from sqlalchemy import select, union

from strongroom.kms.audit.record import record_accounts
from strongroom.kms.storage import schema
from strongroom.kms.storage.database import Database

_BATCH = 1000


def export_account(
    db: Database,
    account_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[str]:
    """Yield the account's records as JSON lines (no newline), oldest first.

    ``since`` is inclusive and ``until`` exclusive; both must be timezone-aware.
    """
    e, a = schema.audit_events.c, schema.audit_event_accounts.c
    own = select(e.seq, e.record).where(e.account_id == account_id)
    about = (
        select(e.seq, e.record)
        .join_from(schema.audit_event_accounts, schema.audit_events, a.seq == e.seq)
        .where(a.account_id == account_id)
    )
    if since is not None:
        own, about = own.where(e.event_time >= since), about.where(a.event_time >= since)
    if until is not None:
        own, about = own.where(e.event_time < until), about.where(a.event_time < until)
    both = union(own, about).subquery()
    query = select(both.c.record).order_by(both.c.seq)
    with db.read() as tx:
        for (record,) in tx.audit.connection.execute(query).yield_per(_BATCH):
            text = str(record)
            if account_id in record_accounts(orjson.loads(text)):
                yield text
