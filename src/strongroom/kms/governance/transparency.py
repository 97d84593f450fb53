"""Access transparency: a tenant's provider accesses, read back from its audit trail.

Every provider access to a key (and every refused attempt) is a ``ProviderAccess`` event in the
key owner's trail (provider_access.py). This module reads them back for the tenant's API call
``ListProviderAccesses`` (service/provider_accesses.py) without another store: the trail is
the record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from strongroom.kms.audit.record import PROVIDER_ACCESS_EVENT
from strongroom.kms.storage.database import Database

EVENT_NAME = PROVIDER_ACCESS_EVENT


def provider_access_records(
    db: Database, account_id: str, *, key_arn: str | None, after_seq: int, limit: int
) -> list[tuple[int, dict[str, Any]]]:
    """Up to ``limit`` of the account's ProviderAccess records after ``after_seq``, oldest first."""
    found: list[tuple[int, dict[str, Any]]] = []
    with db.read() as tx:
        named = tx.audit.named_events(EVENT_NAME, account_id=account_id, after_seq=after_seq)
        for seq, text in named:
            record = orjson.loads(text)
            if record.get("eventName") != EVENT_NAME:
                continue
            arns = [r.get("ARN") for r in record.get("resources", [])]
            if key_arn is not None and key_arn not in arns:
                continue
            found.append((seq, record))
            if len(found) == limit:
                break
    return found


def _epoch(event_time: object) -> float | None:
    """A CloudTrail eventTime (ISO 8601) in epoch seconds, as the KMS answers timestamps."""
    if not isinstance(event_time, str):
        return None
    return datetime.fromisoformat(event_time.replace("Z", "+00:00")).timestamp()


def summary(record: dict[str, Any]) -> dict[str, object]:
    """What the API returns of one access: who, why, what, and whether it was refused."""
    details = record.get("additionalEventData") or {}
    parameters = record.get("requestParameters") or {}
    resources = record.get("resources") or [{}]
    return {
        "EventTime": _epoch(record.get("eventTime")),
        "EventId": record.get("eventID"),
        "KeyArn": resources[0].get("ARN"),
        "Outcome": "Refused" if record.get("errorCode") else "Executed",
        "ErrorCode": record.get("errorCode"),
        "ProposalId": details.get("proposalId"),
        "Proposer": details.get("proposer"),
        "Approvers": details.get("approvers", []),
        "ExecutedBy": details.get("executedBy"),
        "ReasonCode": details.get("reasonCode", parameters.get("reasonCode")),
        "Reference": details.get("reference", parameters.get("reference")),
        "Justification": details.get("justification"),
        "NumberOfCiphertexts": parameters.get("numberOfCiphertexts", 0),
    }
