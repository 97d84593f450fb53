"""The audit trail of one serving process: the group-commit writer and the digest publisher.

Started with the process (the writer thread) and stopped with it: the writer commits what is
left, then a digest anchors this process's last events outside the database.
"""

from __future__ import annotations

import asyncio
import logging

from strongroom.kms.audit.digests import DigestPublisher
from strongroom.kms.audit.writer import ChainedAuditLog

log = logging.getLogger(__name__)


class AuditTrail:
    def __init__(self, writer: ChainedAuditLog, digests: DigestPublisher) -> None:
        self.writer = writer
        self.digests = digests

    def start(self) -> None:
        self.writer.start()

    async def publish_digest(self) -> None:
        await asyncio.to_thread(self.digests.publish_due)

    def stop(self) -> None:
        self.writer.stop()
        try:
            self.digests.publish_due(force=True)
        except OSError as error:
            log.error("audit digest not written at shutdown: %s", error)
