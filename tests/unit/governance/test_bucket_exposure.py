"""Verdicts per bucket from an inventory and key records (pure: no store, no database)."""

from __future__ import annotations

from datetime import UTC, datetime

from strongroom.client.inventory import (
    SSE_C,
    SSE_KMS,
    SSE_S3,
    BucketInventory,
    ProtectionCount,
    by_key,
)
from strongroom.kms.domain.enums import KeyManager, KeyState, Origin
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.governance.bucket_exposure import bucket_exposures
from strongroom.kms.governance.exposure import classify

A = "111122223333"
NOW = datetime(2026, 12, 5, tzinfo=UTC)
MANAGED = KeyRecord("1" * 8 + "-0000-0000-0000-" + "0" * 12, A, "us-east-1", NOW, KeyState.ENABLED,
                    key_manager=KeyManager.AWS)  # fmt: skip
HSM = KeyRecord("2" * 8 + "-0000-0000-0000-" + "0" * 12, A, "us-east-1", NOW, KeyState.ENABLED,
                origin=Origin.AWS_CLOUDHSM, cloud_hsm_cluster_id="cluster-1")  # fmt: skip
GONE = f"arn:aws:kms:us-east-1:{A}:key/33333333-0000-0000-0000-000000000000"
KEYS = {k.key_id: k for k in (MANAGED, HSM)}


def test_every_kind_of_protection_gets_its_verdict() -> None:
    bucket = BucketInventory(
        "b",
        A,
        SSE_KMS,
        HSM.arn,
        (
            ProtectionCount(SSE_S3, MANAGED.arn, "v1", False, 2, 20),
            ProtectionCount(SSE_S3, MANAGED.arn, "v2", False, 1, 5),
            ProtectionCount(SSE_KMS, HSM.arn, "h1", True, 4, 40),
            ProtectionCount(SSE_C, None, None, False, 1, 3),
            ProtectionCount(SSE_KMS, GONE, "g1", False, 1, 1),
        ),
    )
    (seen,) = bucket_exposures([bucket], KEYS.get, classify)
    assert (seen.objects, seen.bytes) == (9, 69)
    assert seen.default_encryption == f"aws:kms ({HSM.arn})"
    assert seen.exposures == (
        "provider-under-quorum",
        "customer-hsm-only",
        "customer-key-only",
        "unreadable",
    )
    rows = {(r.key_arn, r.sse): r for r in seen.keys}
    managed = rows[(MANAGED.arn, SSE_S3)]
    assert (managed.objects, managed.bytes, managed.key_versions) == (3, 25, ("v1", "v2"))
    assert managed.key_manager == "AWS" and managed.flags[0].startswith("AWS managed")
    assert rows[(HSM.arn, SSE_KMS)].exposure == "customer-hsm-only"
    assert rows[(HSM.arn, SSE_KMS)].bucket_key is True
    assert rows[(None, SSE_C)].exposure == "customer-key-only"
    assert rows[(GONE, SSE_KMS)].exposure == "unreadable"
    assert rows[(GONE, SSE_KMS)].key_manager is None


def test_inventory_per_key_adds_up_across_buckets() -> None:
    one = BucketInventory("one", A, SSE_S3, None, (
        ProtectionCount(SSE_S3, MANAGED.arn, "v1", False, 2, 20),
        ProtectionCount(SSE_C, None, None, False, 5, 50),
    ))  # fmt: skip
    two = BucketInventory("two", A, SSE_S3, None, (
        ProtectionCount(SSE_S3, MANAGED.arn, "v2", False, 1, 5),
        ProtectionCount(SSE_KMS, MANAGED.arn, "v1", True, 3, 7),
    ))  # fmt: skip
    (key,) = by_key([one, two])
    assert key.kms_key_arn == MANAGED.arn
    assert (key.objects, key.bytes) == (6, 32)
    assert key.versions == (("v1", 5), ("v2", 1))
    assert key.buckets == ("one", "two")
