"""Performs due lifecycle work: deletions at the end of their window, automatic rotations,
expiry of imported key material.

Every worker (and node) runs this periodically and once at start, so work that fell due
while the server was down is done at the next start. Each action is decided again under the
key's row lock (a conditional delete; a rotation that re-checks the due date), so when several
runners race, exactly one of them performs it, and writes its audit event in the same
transaction (scheduled_events.py).

Thread-safe: it touches only the database and the key store. The caller evicts what changed
from its own cache; every other worker learns of it through the change feed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from strongroom.kms.service.context import ServiceContext
from strongroom.kms.service.importing import expire_if_due
from strongroom.kms.service.rotation import rotate_if_due
from strongroom.kms.service.scheduled_events import (
    DELETE_EXPIRED_MATERIAL,
    DELETE_KEY,
    ROTATE_KEY,
    ScheduledEvents,
)
from strongroom.kms.storage.imports import ImportRepository
from strongroom.kms.storage.keys import KeyNotFound

log = logging.getLogger(__name__)


@dataclass
class DueWork:
    deleted: list[str] = field(default_factory=list)
    rotated: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)  # keys whose imported material expired

    @property
    def key_ids(self) -> list[str]:
        return self.deleted + self.rotated + self.expired


class LifecycleScheduler:
    def __init__(self, ctx: ServiceContext, events: ScheduledEvents | None = None) -> None:
        """``events``: the audit events of the work done (scheduled_events.py)."""
        self._ctx = ctx
        self._events = events or ScheduledEvents(None, None)

    def run_due(self) -> DueWork:
        now = self._ctx.clock.now()
        done = DueWork()
        repo = self._ctx.keys
        events = self._events
        for key_id in repo.due_deletions(now):
            key = repo.get_key(key_id)
            if key is None:
                continue
            event = events.event(DELETE_KEY, key, now)
            with events.doing(event):
                deleted = repo.delete_key_if_due(key_id, now)
            if deleted:
                events.done(event)
                done.deleted.append(key_id)
                log.info("deleted key %s at the end of its waiting period", key_id)
                # An external key store's external key is the customer's: never deleted.
                if key.custom_key_store_id is not None and not key.xks_key_id:
                    self._destroy_in_hsm(key.custom_key_store_id, key.arn)
        for key_id in repo.due_rotations(now):
            key = repo.get_key(key_id)
            if key is None:
                continue
            event = events.event(ROTATE_KEY, key, now)
            try:
                with events.doing(event):
                    rotated = rotate_if_due(self._ctx, key) is not None
            except KeyNotFound:
                rotated = False
            if rotated:
                events.done(event)
                done.rotated.append(key_id)
                log.info("rotated key %s", key_id)
        for key_id, material_id in ImportRepository(self._ctx.db).due_expiries(now):
            key = repo.get_key(key_id)
            if key is None:
                continue
            event = events.event(DELETE_EXPIRED_MATERIAL, key, now, material_id)
            try:
                with events.doing(event):
                    expired = expire_if_due(self._ctx, key_id, material_id)
            except KeyNotFound:
                expired = False
            if expired:
                events.done(event)
                done.expired.append(key_id)
                log.info("deleted expired imported key material of key %s", key_id)
        return done

    def _destroy_in_hsm(self, store_id: str, key_arn: str) -> None:
        """A custom key store key's token objects go with it (best effort, as AWS: a store
        that is disconnected now leaves them behind, and the log says so)."""
        if self._ctx.custom_stores is not None:
            self._ctx.custom_stores.destroy_key(store_id, key_arn)
