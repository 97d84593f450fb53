"""A tenant's own audit events, as the CloudTrail-like records the chain stores.

An account sees the events it made and the events about its keys (a resource ARN in the
account), never another tenant's. The caller's account column and the index of other accounts
pick the candidates; each record is checked again before it is returned, so a damaged column
or index cannot leak another tenant's event, and `strongroom audit verify` names one that hides
an event (audit/verify_index.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import orjson

from strongroom.kms.audit.record import record_accounts
from strongroom.kms.storage.database import Database


def export_account(
    db: Database,
    account_id: str,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[str]:
    """Yield the account's records as JSON lines (no newline), oldest first.

    ``since`` is inclusive and ``until`` exclusive; both must be timezone-aware.
    """
    with db.read() as tx:
        for text in tx.audit.account_records(account_id, since, until):
            if account_id in record_accounts(orjson.loads(text)):
                yield text
