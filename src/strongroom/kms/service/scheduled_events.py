"""The audit events of scheduled work: what AWS records as service events in the key owner's
trail when it deletes a key at the end of its waiting period (``DeleteKey``), rotates a key
automatically (``RotateKey``) or deletes expired imported material (``DeleteExpiredKeyMaterial``),
invoked by ``AWS Internal`` and with no request.

With the hash-chained trail, an event is appended in the transaction that does the work, and
only if that transaction changed something (``commit_hook_if_changed``): when several nodes
race for the same due item, the one that does it writes the one event. Other sinks (the
in-memory log of tests) record the event after the work is done.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from strongroom.kms.audit.durable import DurableEvent
from strongroom.kms.audit.events import AuditEvent, AuditSink
from strongroom.kms.audit.store import AuditChain
from strongroom.kms.domain.ids import UuidShapedIds
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.storage.database import commit_hook_if_changed

INVOKED_BY = "AWS Internal"
DELETE_KEY = "DeleteKey"
ROTATE_KEY = "RotateKey"
DELETE_EXPIRED_MATERIAL = "DeleteExpiredKeyMaterial"


class ScheduledEvents:
    def __init__(self, sink: AuditSink | None, chain: AuditChain | None) -> None:
        """``chain``: the durable trail (events commit with the work); else ``sink``."""
        self._sink = sink
        self._chain = chain
        self._ids = UuidShapedIds()

    def event(
        self, operation: str, key: KeyRecord, at: datetime, material_id: str | None = None
    ) -> AuditEvent:
        details: dict[str, object] = {"invokedBy": INVOKED_BY, "keyId": key.key_id}
        if material_id is not None:
            details["keyMaterialId"] = material_id
        return AuditEvent(
            time=at,
            request_id=self._ids.next(),
            account_id=key.account_id,
            principal_arn="",
            access_key_id="",
            source_ip=INVOKED_BY,
            operation=operation,
            resources=(key.arn,),
            additional_data=details,
        )

    @contextmanager
    def doing(self, event: AuditEvent) -> Iterator[None]:
        """Around the work: with the trail, the event commits with it if it changed anything."""
        if self._chain is None:
            yield
            return
        with commit_hook_if_changed(DurableEvent(self._chain, lambda: event)):
            yield

    def done(self, event: AuditEvent) -> None:
        """After work that was done: without the durable trail, record the event now."""
        if self._chain is None and self._sink is not None:
            self._sink.record(event)
