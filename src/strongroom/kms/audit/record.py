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


_NO_ACCOUNTS: frozenset[str] = frozenset()


def other_accounts(event: AuditEvent) -> frozenset[str]:
    """:func:`event_accounts` but the caller's: the owners of the event's keys, when they are
    other accounts (most events name only the caller's own keys: none)."""
    if not event.resources or event.error_code == ACCESS_DENIED:
        return _NO_ACCOUNTS
    owners = {arn_account(arn) for arn in event.resources}
    owners.discard("")
    owners.discard(event.account_id)
    return frozenset(owners) if owners else _NO_ACCOUNTS


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


SEQUENCE_NUMBER = "sequenceNumber"


def sequenced(base: dict[str, object], seq: int) -> dict[str, object]:
    """The record at its place in the chain: the base record with its sequence number."""
    return {**base, SEQUENCE_NUMBER: seq}


def base_record(event: AuditEvent, region: str) -> dict[str, object]:
    """Everything but the sequence number, so it can be built before the chain is locked."""
    time = event.time
    if time.tzinfo is not UTC:
        time = time.astimezone(UTC)
    record: dict[str, object] = {
        "eventVersion": EVENT_VERSION,
        # ISO 8601 with microseconds; "+00:00" written "Z"
        "eventTime": time.isoformat(timespec="microseconds")[:-6] + "Z",
        "eventSource": event.event_source,
        "eventName": event.operation,
        "eventType": "AwsApiCall",
        "awsRegion": event.region or region,
        "sourceIPAddress": event.source_ip,
        "requestID": event.request_id,
        "eventID": _EVENT_IDS.next(),
        "userIdentity": _user_identity(event.principal_arn, event.account_id, event.access_key_id),
        "recipientAccountId": event.account_id,
        "resources": [_resource(arn) for arn in event.resources],
        "errorCode": event.error_code,
        "readOnly": _read_only(event.operation),
        "managementEvent": True,
        "eventCategory": "Management",
    }
    # Only when present, so records of events without them keep their earlier shape.
    if event.request_parameters is not None:
        record["requestParameters"] = dict(event.request_parameters)
    if event.additional_data is not None:
        record["additionalEventData"] = dict(event.additional_data)
    return record


# Cached, as _resource below: a flush repeats the same few callers and operations.
_read_only = functools.lru_cache(maxsize=1024)(is_read_only)


@functools.lru_cache(maxsize=16384)
def _user_identity(principal_arn: str, account_id: str, access_key_id: str) -> dict[str, str]:
    """The record's ``userIdentity`` (cached and shared: only ever serialized, never changed)."""
    return {
        "type": identity_type(principal_arn),
        "arn": principal_arn,
        "accountId": account_id,
        "accessKeyId": access_key_id,
    }


@functools.lru_cache(maxsize=16384)
def _resource(arn: str) -> dict[str, str]:
    """A resource entry of a record. Cached: a flush repeats the same few keys many times
    (the entries are only ever serialized, never changed)."""
    return {"ARN": arn, "accountId": arn_account(arn), "type": resource_type(arn)}


def canonical_bytes(record: dict[str, object]) -> bytes:
    """Sorted-key compact JSON (UTF-8): one byte string for one record, on every machine."""
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
