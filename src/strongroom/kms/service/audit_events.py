"""LookupAuditEvents: a Strongroom extension of the KMS API (not in AWS's model).

A tenant reads its own audit trail (the events it made and the events about its keys, as
``strongroom audit export`` gives them), filtered by time, event name, key and principal, and
may ask for the chain's verification state (the whole trail walked and its signed heads
checked, as ``strongroom audit verify`` does; slow on a long trail, so only on request).
Authorized by identity policies as ``kms:LookupAuditEvents`` (no key is named: the KeyId member
is a filter). Pages are oldest first; ``NextMarker`` is the last event's sequence number.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from strongroom.kms.audit.export import export_account
from strongroom.kms.audit.verify import verify_chain
from strongroom.kms.errors import InvalidMarkerException
from strongroom.kms.service.pipeline import Call, Operation, Response

NAME = "LookupAuditEvents"
ACTION = "kms:LookupAuditEvents"
INPUT_MEMBERS = {
    "StartTime": "DateType",
    "EndTime": "DateType",
    "EventName": "TagKeyType",
    "KeyId": "KeyIdType",
    "Principal": "PrincipalIdType",
    "VerifyChain": "BooleanType",
    "Limit": "LimitType",
    "Marker": "MarkerType",
}
DEFAULT_LIMIT = 50
_MARKER = re.compile(r"[0-9]{1,18}")


def _resources(record: dict[str, Any]) -> list[str]:
    found = record.get("resources")
    if not isinstance(found, list):
        return []
    return [str(r.get("ARN", "")) for r in found if isinstance(r, dict)]


def _matches(record: dict[str, Any], request: Any) -> bool:
    name = request.get("EventName")
    if name is not None and record.get("eventName") != name:
        return False
    principal = request.get("Principal")
    identity = record.get("userIdentity")
    arn = identity.get("arn") if isinstance(identity, dict) else None
    if principal is not None and arn != principal:
        return False
    key = request.get("KeyId")
    return key is None or any(
        arn_ == key or arn_.endswith(f":key/{key}") for arn_ in _resources(record)
    )


def lookup_audit_events(call: Call) -> Response:
    request = call.request
    marker = request.get("Marker")
    if marker is not None and not _MARKER.fullmatch(marker):
        raise InvalidMarkerException()
    after = int(marker) if marker is not None else 0
    limit = int(request.get("Limit", DEFAULT_LIMIT))
    events: list[dict[str, Any]] = []
    truncated = False
    since, until = request.get("StartTime"), request.get("EndTime")
    for text in export_account(call.ctx.db, call.caller.account_id, since, until):
        record = orjson.loads(text)
        if int(record.get("sequenceNumber", 0)) <= after or not _matches(record, request):
            continue
        if len(events) == limit:
            truncated = True
            break
        events.append(record)
    response: Response = {"Events": events, "Truncated": truncated}
    if truncated:
        response["NextMarker"] = str(events[-1]["sequenceNumber"])
    if request.get("VerifyChain"):
        verdict = verify_chain(call.ctx.db, call.ctx.store)
        response["ChainVerification"] = {
            "Intact": verdict.ok,
            "Events": verdict.events,
            "Summary": verdict.summary(),
        }
    return response


EXTENSIONS = (Operation(NAME, lookup_audit_events, action=ACTION, blocking=True),)
