"""What the object store holds under which key: the seam between it and the KMS's governance.

The object store implements :class:`ObjectInventory` (``objectstore/inventory.py``); the
exposure report (``kms/governance/bucket_exposure.py``) reads it through this interface only,
so neither imports the other's internals. Values only: counts, key ARNs and material ids,
never a key or a data key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

SSE_S3 = "AES256"
SSE_KMS = "aws:kms"
SSE_C = "SSE-C"


@dataclass(frozen=True, slots=True)
class ProtectionCount:
    """Objects of one bucket that share how their data keys are protected."""

    sse: str  # SSE_S3 | SSE_KMS | SSE_C
    kms_key_arn: str | None  # None for SSE-C
    key_material_id: str | None  # the KMS key version that wraps them (None: SSE-C, unknown)
    bucket_key: bool  # through an S3 Bucket Key
    objects: int
    bytes: int


@dataclass(frozen=True, slots=True)
class BucketInventory:
    bucket: str
    account_id: str
    default_sse: str  # the bucket's default encryption (SSE-S3 when none is set)
    default_kms_key: str | None
    protections: tuple[ProtectionCount, ...]

    @property
    def objects(self) -> int:
        return sum(p.objects for p in self.protections)

    @property
    def bytes(self) -> int:
        return sum(p.bytes for p in self.protections)


@dataclass(frozen=True, slots=True)
class KeyInventory:
    """Everything the store holds under one KMS key, across buckets."""

    kms_key_arn: str
    objects: int
    bytes: int
    # Objects per key version (KeyMaterialId; "" where the store does not know it).
    versions: tuple[tuple[str, int], ...]
    buckets: tuple[str, ...]


class ObjectInventory(Protocol):
    def buckets(self, account_id: str | None = None) -> Sequence[BucketInventory]:
        """Every bucket (of one account, or all), in name order."""
        ...


def by_key(buckets: Sequence[BucketInventory]) -> tuple[KeyInventory, ...]:
    """The inventory per KMS key (SSE-C objects have none and are left out), by key ARN."""
    totals: dict[str, list[int]] = {}
    versions: dict[str, dict[str, int]] = {}
    where: dict[str, set[str]] = {}
    for bucket in buckets:
        for p in bucket.protections:
            if p.kms_key_arn is None:
                continue
            counts = totals.setdefault(p.kms_key_arn, [0, 0])
            counts[0] += p.objects
            counts[1] += p.bytes
            per_version = versions.setdefault(p.kms_key_arn, {})
            version = p.key_material_id or ""
            per_version[version] = per_version.get(version, 0) + p.objects
            where.setdefault(p.kms_key_arn, set()).add(bucket.bucket)
    return tuple(
        KeyInventory(
            arn,
            totals[arn][0],
            totals[arn][1],
            tuple(sorted(versions[arn].items())),
            tuple(sorted(where[arn])),
        )
        for arn in sorted(totals)
    )
