"""Audit events: who did what to which key, with which outcome. Never secrets."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from strongroom.kms.domain.frozen import quick_init

KMS_EVENT_SOURCE = "kms.amazonaws.com"
STS_EVENT_SOURCE = "sts.amazonaws.com"


@quick_init  # built on every request (domain/frozen.py)
@dataclass(frozen=True, slots=True)
class AuditEvent:
    time: datetime
    request_id: str
    account_id: str
    principal_arn: str
    access_key_id: str
    source_ip: str
    operation: str
    resources: tuple[str, ...]
    error_code: str | None = None
    # The request's members that are not secret (audit/parameters.py decides, from the
    # botocore model); None when the event has no request (a scheduled act).
    request_parameters: Mapping[str, object] | None = None
    # What else the event needs to say (a provider access: who approved it, why, what ran).
    additional_data: Mapping[str, object] | None = None
    # The AWS service the call belongs to (STS GetCallerIdentity is served on this endpoint).
    event_source: str = KMS_EVENT_SOURCE
    # The region the call was made in (None: the trail's default region, for acts of no
    # request such as scheduled deletions).
    region: str | None = None

    @property
    def outcome(self) -> str:
        return "success" if self.error_code is None else "failure"

    def to_json(self) -> dict[str, object]:
        return {
            "eventTime": self.time.isoformat(),
            "requestID": self.request_id,
            "recipientAccountId": self.account_id,
            "userIdentity": {"arn": self.principal_arn, "accessKeyId": self.access_key_id},
            "sourceIPAddress": self.source_ip,
            "eventSource": self.event_source,
            "eventName": self.operation,
            "resources": [{"ARN": arn} for arn in self.resources],
            "outcome": self.outcome,
            "errorCode": self.error_code,
        }


class AuditSink(Protocol):
    def admit(self) -> None:
        """Raise a KmsError (DependencyTimeoutException) if a call must be refused because its
        event could not be recorded; called before the call runs."""

    def record(self, event: AuditEvent) -> None: ...

    def flush(self) -> None: ...


class Ticket:
    """One request's place in the audit queue: its event's number (0: it recorded none)."""

    __slots__ = ("seq",)

    def __init__(self) -> None:
        self.seq = 0


# The ticket of the request being served: set by the API for each request (a task of its own),
# shared by reference with the thread a slow operation runs in; the sink fills it in.
CURRENT_TICKET: ContextVar[Ticket | None] = ContextVar("strongroom_audit_ticket", default=None)


def new_ticket() -> Ticket:
    ticket = Ticket()
    CURRENT_TICKET.set(ticket)
    return ticket


class CommitWaiter(Protocol):
    """A sink whose responses wait for their event's commit (``before-response``)."""

    async def wait_committed(self, ticket: Ticket) -> None:
        """Return once the ticket's event is committed, or raise a KmsError."""
