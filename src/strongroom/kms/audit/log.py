"""An append-only JSON Lines audit log, one file per worker process, written in groups.

Events are buffered in memory and written by :meth:`flush`, which the server calls about once a
second and at shutdown, so a crash can lose at most the last second of events. The
tamper-evident, hash-chained trail in the database replaces this file format later.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import orjson

from strongroom.kms.audit.events import AuditEvent


class JsonlAuditLog:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._path = directory / f"events-{os.getpid()}.jsonl"
        self._pending: list[AuditEvent] = []
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self._path

    def record(self, event: AuditEvent) -> None:
        self._pending.append(event)

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
            if not batch:
                return
            data = b"".join(orjson.dumps(e.to_json()) + b"\n" for e in batch)
            fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)


class MemoryAuditLog:
    """Keeps events in a list; for embedding and for tests of the pipeline."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def record(self, event: AuditEvent) -> None:
        self.events.append(event)

    def flush(self) -> None:
        return None
