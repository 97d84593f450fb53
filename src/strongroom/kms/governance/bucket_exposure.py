"""The exposure report for buckets: which keys protect each bucket's objects, and who could be
compelled to reveal them.

The object store's inventory (``strongroom.client.inventory``) says, per bucket, how many
objects and bytes sit under each KMS key (and key version), under S3 Bucket Keys, or under
customers' own SSE-C keys. Each KMS key gets the verdict the key report gives it
(``exposure.classify``: provider under quorum, or the customer's HSM only); SSE-C objects are
the customer's alone: their key is never stored, so nobody but the customer can be compelled.
A key that no longer exists (deleted) makes its objects unreadable for everyone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from strongroom.client.inventory import SSE_C, BucketInventory
from strongroom.kms.domain.ids import parse_key_ref, record_id
from strongroom.kms.domain.key import KeyRecord

# (exposure class, how, flags) of a key: exposure.classify, which also judges keys alone.
Classify = Callable[[KeyRecord], tuple[str, str, tuple[str, ...]]]

CUSTOMER_KEY_ONLY = "customer-key-only"
UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class BucketKeyExposure:
    """Objects of a bucket under one key (or under SSE-C keys, ``key_arn`` None)."""

    key_arn: str | None
    sse: str
    key_manager: str | None  # AWS | CUSTOMER, None for SSE-C or a deleted key
    # provider-under-quorum | customer-hsm-only | external-key-holder-only | customer-key-only
    # | unreadable
    exposure: str
    how: str
    flags: tuple[str, ...]
    key_versions: tuple[str, ...]
    bucket_key: bool
    objects: int
    bytes: int


@dataclass(frozen=True, slots=True)
class BucketExposure:
    bucket: str
    account_id: str
    default_encryption: str
    objects: int
    bytes: int
    # Every exposure class that applies to some of the bucket's objects, most exposed first.
    exposures: tuple[str, ...]
    keys: tuple[BucketKeyExposure, ...]


_ORDER = (
    "provider-under-quorum",
    "customer-hsm-only",
    "external-key-holder-only",
    CUSTOMER_KEY_ONLY,
    UNREADABLE,
)


@dataclass
class _Group:
    """Objects of a bucket under one key, SSE mode and bucket-key use, all versions."""

    key_arn: str | None
    sse: str
    bucket_key: bool
    objects: int = 0
    bytes: int = 0
    versions: set[str] = field(default_factory=set)


def bucket_exposures(
    buckets: Iterable[BucketInventory],
    key_of: Callable[[str], KeyRecord | None],
    classify: Classify,
) -> tuple[BucketExposure, ...]:
    """``key_of`` finds a key by record id (any account: a bucket may use another account's
    key)."""
    found: list[BucketExposure] = []
    for bucket in buckets:
        groups: dict[tuple[str, str, bool], _Group] = {}
        for p in bucket.protections:
            slot = (p.kms_key_arn or "", p.sse, p.bucket_key)
            group = groups.setdefault(slot, _Group(p.kms_key_arn, p.sse, p.bucket_key))
            group.objects += p.objects
            group.bytes += p.bytes
            if p.key_material_id is not None:
                group.versions.add(p.key_material_id)
        rows = [_row(groups[slot], key_of, classify) for slot in sorted(groups)]
        present = {r.exposure for r in rows}
        default = bucket.default_sse
        if bucket.default_kms_key:
            default += f" ({bucket.default_kms_key})"
        found.append(
            BucketExposure(
                bucket=bucket.bucket,
                account_id=bucket.account_id,
                default_encryption=default,
                objects=bucket.objects,
                bytes=bucket.bytes,
                exposures=tuple(e for e in _ORDER if e in present),
                keys=tuple(rows),
            )
        )
    return tuple(found)


def _row(
    group: _Group, key_of: Callable[[str], KeyRecord | None], classify: Classify
) -> BucketKeyExposure:
    versions = tuple(sorted(group.versions))
    counts = (group.bucket_key, group.objects, group.bytes)
    if group.sse == SSE_C or group.key_arn is None:
        how = (
            "only the customer: SSE-C keys are never stored (a keyed fingerprint recognises "
            "them), so the provider holds nothing that opens these objects"
        )
        return BucketKeyExposure(None, group.sse, None, CUSTOMER_KEY_ONLY, how, (), (), *counts)
    ref = parse_key_ref(group.key_arn)
    key = key_of(record_id(ref.region or "", ref.value))
    if key is None:
        how = "nobody: the KMS key was deleted, so these objects can no longer be decrypted"
        return BucketKeyExposure(
            group.key_arn, group.sse, None, UNREADABLE, how, (), versions, *counts
        )
    exposure, how, flags = classify(key)
    manager = key.key_manager.value
    return BucketKeyExposure(
        group.key_arn, group.sse, manager, exposure, how, flags, versions, *counts
    )
