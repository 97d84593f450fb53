"""The CloudTrail-like record of an audit event, and its canonical bytes.

The record is what the chain hashes and what ``strongroom audit export`` prints, so it is built
once, at flush time (never on the request path), and stored exactly as hashed. It holds no
secrets: only who, when, from where, which operation, on which resources, and the outcome.
"""

from __future__ import annotations

import functools
from datetime import UTC

import orjson

from strongroom.kms.audit.events import AuditEvent
from strongroom.kms.domain.ids import UuidShapedIds

_EVENT_IDS = UuidShapedIds()

EVENT_VERSION = "1.08"

# CloudTrail marks KMS reads and cryptographic operations (Encrypt, Decrypt, GenerateDataKey,
# Sign...) as read-only; everything that changes a key, alias, grant or policy is not.
_READ_ONLY_PREFIXES = (
    "Describe",
    "List",
    "Get",
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "Generate",
    "Sign",
    "Verify",
    "Derive",
)


# KMIP operations that change nothing (kmip/registry.py); their events are group-committed
# like the KMS's reads and cryptographic operations.
_KMIP_READ_ONLY = frozenset(
    {
        "KmipQuery",
        "KmipDiscoverVersions",
        "KmipGet",
        "KmipGetWrapped",
        "KmipGetPublicKey",
        "KmipGetPublicKeyWrapped",
        "KmipGetAttributes",
        "KmipGetAttributeList",
        "KmipLocate",
        "KmipEncrypt",
        "KmipDecrypt",
        "KmipSign",
        "KmipSignatureVerify",
        "KmipMAC",
    }
)


def is_read_only(operation: str) -> bool:
    return operation.startswith(_READ_ONLY_PREFIXES) or operation in _KMIP_READ_ONLY


@functools.lru_cache(maxsize=16384)
def arn_account(arn: str) -> str:
    """The account of an ARN (``arn:partition:service:region:account:resource``), or "".
    Cached: the audit writer asks it for every event's resources, mostly the same few keys."""
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[0] == "arn" else ""


def resource_type(arn: str) -> str:
    resource = arn.split(":", 5)[-1]
    return "AWS::KMS::Alias" if resource.startswith("alias/") else "AWS::KMS::Key"


# Identities outside the tenants' IAM realm (governance/operators.py, cli/admin.py).
OPERATOR_PREFIX = "strongroom:operator/"
ADMINISTRATOR_PREFIX = "strongroom:administrator/"
# The trail of acts that concern no tenant (operator enrolment, quorum changes, admin acts on
# accounts): export it with ``strongroom audit export --account provider``.
PROVIDER_ACCOUNT = "provider"


@functools.lru_cache(maxsize=4096)
def identity_type(principal_arn: str) -> str:
    resource = principal_arn.split(":", 5)[-1]
    if resource == "root":
        return "Root"
    if resource.startswith("user/"):
        return "IAMUser"
    if resource.startswith(("role/", "assumed-role/")):
        return "AssumedRole"
    if principal_arn.startswith(OPERATOR_PREFIX):
        return "StrongroomOperator"
    if principal_arn.startswith(ADMINISTRATOR_PREFIX):
        return "StrongroomAdministrator"
    return "Unknown"


# Event names looked up by name (audit_named_events): a provider access to a tenant key
# (governance/provider_access.py writes it, governance/transparency.py reads it back).
PROVIDER_ACCESS_EVENT = "ProviderAccess"
INDEXED_EVENT_NAMES = frozenset({PROVIDER_ACCESS_EVENT})


# As in AWS, a request refused for lack of permission is the caller's event only: otherwise
# anyone could write into another tenant's trail by probing its key ARNs.
ACCESS_DENIED = "AccessDeniedException"


def event_accounts(event: AuditEvent) -> frozenset[str]:
    """The accounts that may see the event: the caller's, and each resource owner's."""
    if event.error_code == ACCESS_DENIED:
        return frozenset({event.account_id})
    owners = {arn_account(arn) for arn in event.resources}
    owners.discard("")
    return frozenset({event.account_id, *owners})


def record_accounts(record: dict[str, object]) -> frozenset[str]:
    """:func:`event_accounts` read back from a stored record."""
    accounts: set[str] = set()
    identity = record.get("userIdentity")
    if isinstance(identity, dict) and isinstance(identity.get("accountId"), str):
        accounts.add(identity["accountId"])
    resources = record.get("resources")
    if isinstance(resources, list) and record.get("errorCode") != ACCESS_DENIED:
        for resource in resources:
            if isinstance(resource, dict) and isinstance(resource.get("accountId"), str):
                accounts.add(resource["accountId"])
    accounts.discard("")
    return frozenset(accounts)


def to_record(event: AuditEvent, seq: int, region: str) -> dict[str, object]:
    return sequenced(base_record(event, region), seq)


def sequenced(base: dict[str, object], seq: int) -> dict[str, object]:
    """The record at its place in the chain: the base record with its sequence number."""
    return {**base, "sequenceNumber": seq}


def base_record(event: AuditEvent, region: str) -> dict[str, object]:
    """Everything but the sequence number, so it can be built before the chain is locked."""
    time = event.time.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    record: dict[str, object] = {
        "eventVersion": EVENT_VERSION,
        "eventTime": time,
        "eventSource": event.event_source,
        "eventName": event.operation,
        "eventType": "AwsApiCall",
        "awsRegion": event.region or region,
        "sourceIPAddress": event.source_ip,
        "requestID": event.request_id,
        "eventID": _EVENT_IDS.next(),
        "userIdentity": {
            "type": identity_type(event.principal_arn),
            "arn": event.principal_arn,
            "accountId": event.account_id,
            "accessKeyId": event.access_key_id,
        },
        "recipientAccountId": event.account_id,
        "resources": [_resource(arn) for arn in event.resources],
        "errorCode": event.error_code,
        "readOnly": is_read_only(event.operation),
        "managementEvent": True,
        "eventCategory": "Management",
    }
    # Only when present, so records of events without them keep their earlier shape.
    if event.request_parameters is not None:
        record["requestParameters"] = dict(event.request_parameters)
    if event.additional_data is not None:
        record["additionalEventData"] = dict(event.additional_data)
    return record


@functools.lru_cache(maxsize=16384)
def _resource(arn: str) -> dict[str, str]:
    """A resource entry of a record. Cached: a flush repeats the same few keys many times
    (the entries are only ever serialized, never changed)."""
    return {"ARN": arn, "accountId": arn_account(arn), "type": resource_type(arn)}


def canonical_bytes(record: dict[str, object]) -> bytes:
    """Sorted-key compact JSON (UTF-8): one byte string for one record, on every machine."""
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
