"""The last successful cryptographic use of a key, as GetKeyLastUsage reports it."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple


class KeyUsage(NamedTuple):
    """A named tuple rather than a frozen dataclass: with many keys in use the tracker makes
    one per request at each flush, and a tuple costs about half as much to build."""

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
