"""Tenants' console sign-ins as events of their own audit trail (``ConsoleLogin``).

A sign-in is no KMS operation, so the pipeline does not audit it; this writes the event into
the hash chain in its own transaction before the session is issued (the sign-in is refused if
it cannot be recorded), with the principal, its access key id and the browser's address, under
the event source AWS uses for console sign-ins. The tenant reads it with LookupAuditEvents.
Refused sign-ins are not recorded: anyone could fill the trail with them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from strongroom.kms.audit.events import AuditEvent
from strongroom.kms.audit.store import AuditChain
from strongroom.kms.storage.database import Database

SIGN_IN_EVENT = "ConsoleLogin"
SIGN_IN_EVENT_SOURCE = "signin.amazonaws.com"


class SignInTrail:
    """:class:`strongroom.console.kms.SignInRecorder` over the audit chain."""

    def __init__(self, db: Database, chain: AuditChain, now: Callable[[], datetime]) -> None:
        self._db = db
        self._chain = chain
        self._now = now

    def record_sign_in(
        self, account_id: str, principal_arn: str, access_key_id: str, source_ip: str
    ) -> None:
        event = AuditEvent(
            time=self._now(),
            request_id=str(uuid.uuid4()),
            account_id=account_id,
            principal_arn=principal_arn,
            access_key_id=access_key_id,
            source_ip=source_ip,
            operation=SIGN_IN_EVENT,
            resources=(),
            event_source=SIGN_IN_EVENT_SOURCE,
        )
        with self._db.transaction() as tx:
            self._chain.append(tx, [event])
