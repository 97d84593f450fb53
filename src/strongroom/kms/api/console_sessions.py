"""Signed-out console sessions, shared by every worker and node through the database.

A console session is a sealed cookie that any worker can open (console/sessions.py), so
signing out has to reach the others: the worker that serves the sign-out records the session
as a lease named ``console-signed-out/<session id>`` (the ``leases`` table: a named record with
an expiry) that lasts until the session's absolute end, after which the cookie is refused
anyway. Every worker keeps the set of signed-out sessions in memory and re-reads it at most
once per ``refresh_seconds`` (the change-feed poll interval), when a console request asks: a
copied cookie stops working everywhere within that interval, and a page costs no database
read. Expired records are deleted with each sign-out. docs/adr/0029 says why.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from strongroom.kms.storage.database import Database

log = logging.getLogger(__name__)

PREFIX = "console-signed-out/"
HOLDER = "console-sign-out"


class SignedOutSessions:
    """:class:`strongroom.console.kms.SessionRevocations` over the ``leases`` table."""

    def __init__(
        self,
        db: Database,
        now: Callable[[], datetime],
        refresh_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._now = now
        self._refresh_seconds = refresh_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._ids: frozenset[str] = frozenset()
        self._local: dict[str, float] = {}  # signed out here: id -> end (epoch seconds)
        self._read_at: float | None = None

    def revoke(self, session_id: str, until: float) -> None:
        """Record the sign-out for every worker; raises if the database refuses it."""
        now = self._now()
        with self._db.transaction() as tx:
            tx.leases.prune(PREFIX, now)
            tx.leases.claim(PREFIX + session_id, HOLDER, now, datetime.fromtimestamp(until, UTC))
        with self._lock:
            ended = now.timestamp()
            self._local = {sid: end for sid, end in self._local.items() if end > ended}
            self._local[session_id] = until

    def is_revoked(self, session_id: str) -> bool:
        self._refresh()
        with self._lock:
            return session_id in self._ids or session_id in self._local

    def _refresh(self) -> None:
        started = self._monotonic()
        with self._lock:
            due = self._read_at is None or started - self._read_at >= self._refresh_seconds
        if not due:
            return
        try:
            with self._db.read() as tx:
                live = tx.leases.live(PREFIX, self._now())
        except Exception:  # the database is down: keep what we know, try again next time
            log.warning("console: signed-out sessions could not be re-read", exc_info=True)
            return
        ids = frozenset(lease.name.removeprefix(PREFIX) for lease in live)
        with self._lock:
            self._ids = ids
            self._read_at = started
