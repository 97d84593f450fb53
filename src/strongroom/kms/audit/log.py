"""An in-memory audit sink, for embedding Strongroom and for tests of the pipeline.

The server writes its audit trail with :class:`strongroom.kms.audit.writer.ChainedAuditLog`.
"""

from __future__ import annotations

from strongroom.kms.audit.events import AuditEvent


class MemoryAuditLog:
    """Keeps events in a list; for embedding and for tests of the pipeline."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def admit(self) -> None:
        return None

    def record(self, event: AuditEvent) -> None:
        self.events.append(event)

    def flush(self) -> None:
        return None
