"""How the audit writer trades latency and availability for durability (the operator's choice).

``audit_durability``:

- ``before-response`` (the default): a response waits until its event is committed. A writer
  thread commits whatever is pending as soon as the previous commit ends (group commit), so
  concurrent requests share one commit. A crash loses no acknowledged event.
- ``buffered``: the writer commits every ``audit_flush_seconds`` (at most 1 s); responses do not
  wait. A crash loses the events of about the last interval.

``audit_when_unavailable`` says what happens when the trail cannot take events (the disk is
full, the database refuses writes, or ``audit_max_pending`` events wait in memory):

- ``refuse`` (the default): calls are refused with ``DependencyTimeoutException`` (HTTP 503)
  before they run, until the writer commits again. Nothing is served unaudited.
- ``serve``: calls are served; events beyond the bound are dropped and counted, and the count
  is written to the trail (``AuditEventsDropped``) as soon as it takes events again.

docs/adr/0013-audit-durability.md says why these defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Durability(StrEnum):
    BEFORE_RESPONSE = "before-response"
    BUFFERED = "buffered"


class WhenUnavailable(StrEnum):
    REFUSE = "refuse"
    SERVE = "serve"


# The message of the refusal; it names no event and no cause a client could use.
UNAVAILABLE_MESSAGE = (
    "The audit trail cannot record this request now, so it was not served. Retry later."
)


@dataclass(frozen=True, slots=True)
class WriterPolicy:
    durability: Durability = Durability.BEFORE_RESPONSE
    # Buffered: the longest an event waits in memory before its commit starts.
    flush_seconds: float = 0.5
    # Events that may wait in memory before calls are refused (or events dropped).
    max_pending: int = 20_000
    when_unavailable: WhenUnavailable = WhenUnavailable.REFUSE
    # Before-response: the longest a response waits for its commit before it is refused.
    wait_seconds: float = 10.0

    @property
    def waits(self) -> bool:
        return self.durability is Durability.BEFORE_RESPONSE

    @property
    def refuses(self) -> bool:
        return self.when_unavailable is WhenUnavailable.REFUSE
