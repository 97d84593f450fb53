"""Performs key deletions whose waiting period has ended.

Every worker (and node) runs this periodically and once at start, so deletions missed while the
server was down happen at the next start. The storage layer's conditional delete lets exactly
one of several concurrent runners destroy a given key.
"""

from __future__ import annotations

import logging

from strongroom.kms.service.context import ServiceContext

log = logging.getLogger(__name__)


class DeletionScheduler:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx

    def run_due(self) -> list[str]:
        """Delete every key whose deletion date has passed; return the ids this run deleted.

        Thread-safe: it touches only the database. The caller evicts the deleted keys from its
        cache (every other worker learns of them through the change feed).
        """
        now = self._ctx.clock.now()
        deleted = []
        for key_id in self._ctx.keys.due_deletions(now):
            if self._ctx.keys.delete_key_if_due(key_id, now):
                deleted.append(key_id)
                log.info("deleted key %s at the end of its waiting period", key_id)
        return deleted
