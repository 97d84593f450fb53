"""The tenant's audit trail with filters, and the chain's verification state on request.

All of it comes from the ``LookupAuditEvents`` extension operation (``kms:LookupAuditEvents``),
so the page shows exactly the events the API gives this principal's account.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from strongroom.console.pages import Page, PageContext

FILTERS = ("start", "end", "event", "key", "principal")
PAGE_SIZE = 50


def _epoch(text: str) -> float | None:
    """A ``datetime-local`` value (read as UTC) as epoch seconds; None when empty or bad."""
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() if text else None
    except ValueError:
        return None


def audit_trail(ctx: PageContext) -> Page:
    query = ctx.request.query
    chosen = {name: query[name] for name in FILTERS if name in query}
    request: dict[str, Any] = {"Limit": PAGE_SIZE}
    for name, member in (("start", "StartTime"), ("end", "EndTime")):
        when = _epoch(chosen.get(name, ""))
        if when is not None:
            request[member] = when
    for name, member in (("event", "EventName"), ("key", "KeyId"), ("principal", "Principal")):
        if chosen.get(name):
            request[member] = chosen[name].strip()
    if query.get("marker"):
        request["Marker"] = query["marker"]
    verify = query.get("verify") == "on"
    if verify:
        request["VerifyChain"] = True
    answer = ctx.attempt("LookupAuditEvents", request)
    next_link = None
    if answer.value is not None and answer.value.get("NextMarker"):
        next_link = "?" + urlencode({**chosen, "marker": answer.value["NextMarker"]})
    rows = [_row(event) for event in (answer.value or {}).get("Events", [])]
    return Page(
        "audit.html",
        {
            "answer": answer,
            "rows": rows,
            "chosen": chosen,
            "verify": verify,
            "verification": (answer.value or {}).get("ChainVerification"),
            "next_link": next_link,
        },
        title="Audit trail",
    )


def _row(event: dict[str, Any]) -> dict[str, Any]:
    identity = event.get("userIdentity") or {}
    resources = [
        str(r.get("ARN", "")).rsplit("/", 1)[-1]
        for r in event.get("resources") or []
        if isinstance(r, dict)
    ]
    return {
        "time": str(event.get("eventTime", ""))[:19].replace("T", " "),
        "name": event.get("eventName", ""),
        "principal": identity.get("arn") or identity.get("type", ""),
        "source_ip": event.get("sourceIPAddress", ""),
        "resources": resources,
        "error": event.get("errorCode"),
        "sequence": event.get("sequenceNumber"),
    }
