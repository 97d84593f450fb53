"""The exposure report's classification, rotation status and cost estimate."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime

from strongroom.kms.domain.enums import KeyState, Origin
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.lineage import HsmLineage
from strongroom.kms.governance.exposure import (
    CUSTOMER_HSM_ONLY,
    PROVIDER_UNDER_QUORUM,
    Rates,
    build_report,
    classify,
)

NOW = datetime(2026, 11, 29, tzinfo=UTC)
DEFAULT = KeyRecord(
    key_id="1234abcd-12ab-34cd-56ef-1234567890ab",
    account_id="111122223333",
    region="us-east-1",
    created_at=NOW,
    state=KeyState.ENABLED,
    rotation_period_days=365,
    next_rotation_date=datetime(2027, 11, 29, tzinfo=UTC),
)
IMPORTED = replace(
    DEFAULT,
    key_id="2234abcd-12ab-34cd-56ef-1234567890ab",
    origin=Origin.EXTERNAL,
    rotation_period_days=None,
    next_rotation_date=None,
)
FROM_HSM = replace(
    IMPORTED,
    key_id="3234abcd-12ab-34cd-56ef-1234567890ab",
    hsm_lineage=HsmLineage("token-a", "serial-9", "k1", NOW),
)
IN_HSM = replace(
    DEFAULT,
    key_id="4234abcd-12ab-34cd-56ef-1234567890ab",
    origin=Origin.AWS_CLOUDHSM,
    custom_key_store_id="cks-1",
    cloud_hsm_cluster_id="cluster-1",
    rotation_period_days=None,
    next_rotation_date=None,
)
GOING = replace(
    DEFAULT, key_id="5234abcd-12ab-34cd-56ef-1234567890ab", state=KeyState.PENDING_DELETION
)


def test_each_origin_gets_its_answer() -> None:
    assert classify(DEFAULT)[0] == PROVIDER_UNDER_QUORUM
    exposure, how, flags = classify(IMPORTED)
    assert (exposure, flags) == (PROVIDER_UNDER_QUORUM, ())
    assert "delete the imported material at once" in how
    exposure, _, flags = classify(FROM_HSM)
    assert exposure == PROVIDER_UNDER_QUORUM
    assert flags == (
        "protection lowered: material exported from HSM token token-a (serial-9) on 2026-11-29",
    )
    exposure, how, _ = classify(IN_HSM)
    assert exposure == CUSTOMER_HSM_ONLY and "cluster-1" in how


def test_the_report_counts_accesses_and_costs() -> None:
    report = build_report(
        [IN_HSM, FROM_HSM, DEFAULT, IMPORTED, GOING],
        Counter({DEFAULT.arn: 2}),
        NOW,
        Rates(key_usd_month=1.0, hsm_usd_month=1000.0, hsms_per_cluster=2),
    )
    by_arn = {k.key_arn: k for k in report.keys}
    assert by_arn[DEFAULT.arn].provider_accesses == 2
    assert by_arn[DEFAULT.arn].rotation == "every 365 days, next 2027-11-29"
    assert by_arn[IMPORTED.arn].rotation.startswith("manual only")
    assert by_arn[GOING.arn].monthly_usd == 0.0
    assert report.hsm_clusters == ("cluster-1",)
    assert report.hsms == 2  # not registered: hsms_per_cluster
    assert report.hsm_monthly_usd == 2000.0
    assert report.total_monthly_usd == 2004.0
    assert report.counts == {PROVIDER_UNDER_QUORUM: 4, CUSTOMER_HSM_ONLY: 1}


def test_hsms_are_counted_from_the_registered_cluster_and_expiry_is_shown() -> None:
    second = replace(IN_HSM, key_id="6234abcd-12ab-34cd-56ef-1234567890ab")
    gone = replace(
        IN_HSM, key_id="7234abcd-12ab-34cd-56ef-1234567890ab", cloud_hsm_cluster_id="cluster-old"
    )
    report = build_report(
        [IN_HSM, second, gone, IMPORTED, FROM_HSM, DEFAULT],
        Counter(),
        NOW,
        Rates(key_usd_month=1.0, hsm_usd_month=1000.0, hsms_per_cluster=2),
        expiries={
            IMPORTED.arn: ("KEY_MATERIAL_EXPIRES", datetime(2026, 12, 1, tzinfo=UTC)),
            FROM_HSM.arn: ("KEY_MATERIAL_DOES_NOT_EXPIRE", None),
        },
        cluster_hsms={"cluster-1": 3},
    )
    by_arn = {k.key_arn: k for k in report.keys}
    assert by_arn[IMPORTED.arn].import_expiry == "2026-12-01T00:00:00+00:00"
    assert by_arn[FROM_HSM.arn].import_expiry == "does not expire"
    assert by_arn[DEFAULT.arn].import_expiry is None
    # The JSON answer: PascalCase members, ValidTo and GeneratedAt in epoch seconds (the KMS's).
    shown = {row["KeyArn"]: row for row in report.to_json()["Keys"]}  # type: ignore[attr-defined]
    assert shown[IMPORTED.arn]["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert shown[IMPORTED.arn]["ValidTo"] == datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    assert shown[FROM_HSM.arn]["ValidTo"] is None
    assert report.to_json()["GeneratedAt"] == NOW.timestamp()
    # cluster-1 is registered with 3 tokens (counted once for its two keys); cluster-old is
    # no longer registered and falls back to hsms_per_cluster.
    assert report.hsm_clusters == ("cluster-1", "cluster-old")
    assert report.hsms == 5
    assert report.hsm_monthly_usd == 5000.0
    assert report.total_monthly_usd == 5006.0
