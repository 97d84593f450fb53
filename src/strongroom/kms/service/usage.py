"""GetKeyLastUsage, and the tracker that notes every successful cryptographic use.

The pipeline notes uses in memory (a dictionary write on the hot path); a background job
writes them to the database about once a second. Another worker's GetKeyLastUsage sees a use
after that write, so the answer may lag by a second, in line with AWS's eventual consistency.
"""

from __future__ import annotations

import threading
from datetime import datetime

from strongroom.kms.domain.states import OpClass
from strongroom.kms.domain.usage import KeyUsage
from strongroom.kms.service.pipeline import Call, Operation, Response, managed_key
from strongroom.kms.storage.usage import UsageRepository

# What is noted of a use: (operation, at, request id).
_Use = tuple[str, datetime, str]


class UsageTracker:
    def __init__(self, repo: UsageRepository, tracking_start: datetime) -> None:
        self._repo = repo
        self.tracking_start = tracking_start
        # key id -> its last use: a tuple on the hot path, a KeyUsage when read or written.
        self._pending: dict[str, _Use] = {}
        # The batch being written: still this worker's answer until it is stored.
        self._flushing: dict[str, _Use] = {}
        self._lock = threading.Lock()

    def note(self, key_id: str, operation: str, at: datetime, request_id: str) -> None:
        self._pending[key_id] = (operation, at, request_id)

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, {}
            if not batch:
                return
            self._flushing = batch
            try:
                self._repo.record(_usage(key_id, use) for key_id, use in batch.items())
            finally:
                self._flushing = {}

    def last(self, key_id: str) -> KeyUsage | None:
        # Read the batch being written before the database: once it is stored it is there.
        writing = self._flushing.get(key_id)
        local = self._pending.get(key_id)
        stored = self._repo.get(key_id)
        candidates = [_usage(key_id, u) for u in (local, writing) if u is not None]
        if stored is not None:
            candidates.append(stored)
        return max(candidates, key=lambda u: u.at) if candidates else None


def _usage(key_id: str, use: _Use) -> KeyUsage:
    return KeyUsage(key_id, *use)


def get_key_last_usage(call: Call) -> Response:
    key = call.key
    usage = call.ctx.usage.last(key.record_id)
    return {
        "KeyId": key.arn,
        "KeyLastUsage": {} if usage is None else usage.listing(),
        "TrackingStartDate": max(call.ctx.usage.tracking_start, key.created_at).timestamp(),
        "KeyCreationDate": key.created_at.timestamp(),
    }


OPERATIONS = (
    Operation(
        "GetKeyLastUsage", get_key_last_usage, managed_key("kms:GetKeyLastUsage", OpClass.READ)
    ),
)
