"""The last successful cryptographic use of a key, as GetKeyLastUsage reports it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class KeyUsage:
    key_id: str
    operation: str
    at: datetime
    request_id: str

    def listing(self) -> dict[str, object]:
        return {
            "Operation": self.operation,
            "Timestamp": self.at.timestamp(),
            # Our audit events are identified by the request id.
            "CloudTrailEventId": self.request_id,
            "KmsRequestId": self.request_id,
        }
