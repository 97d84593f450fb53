"""Audit events: who did what to which key, with which outcome. Never secrets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

KMS_EVENT_SOURCE = "kms.amazonaws.com"
STS_EVENT_SOURCE = "sts.amazonaws.com"


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
    def record(self, event: AuditEvent) -> None: ...

    def flush(self) -> None: ...
