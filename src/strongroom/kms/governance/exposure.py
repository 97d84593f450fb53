"""The exposure report: for every key, who could be compelled to reveal the data, and how.

The source's question ("can the provider be made to hand over my data?") has one answer per
key, decided by where its material lives:

- ``provider-under-quorum``: the provider holds the material (default key store, or imported
  material) and can reach it only through an M-of-N operator quorum, which the tenant sees in
  its trail (docs/security.md "Governance").
- ``customer-hsm-only``: the key lives in the customer's HSM (custom key store); the provider
  cannot use it, so only the customer can be compelled.

Imported keys (Origin EXTERNAL) are provider-held, but the customer can delete the material at
once. Imported material that was exported from an HSM token (``hsm_lineage``) is flagged
"protection lowered": it was HSM-only once and is within the provider's reach now. Costs are
estimates at configurable monthly rates (1 USD per key, 1,000 USD per HSM by default; a custom
key store's cluster is counted as ``hsms_per_cluster`` HSMs, 2 by default, the recommended
pair). Keys pending deletion are not charged, as in AWS.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime

import orjson
from sqlalchemy import select

from strongroom.kms.domain.enums import KeyState, Origin
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.governance.transparency import EVENT_NAME
from strongroom.kms.storage import schema
from strongroom.kms.storage.database import Database

PROVIDER_UNDER_QUORUM = "provider-under-quorum"
CUSTOMER_HSM_ONLY = "customer-hsm-only"
PROTECTION_LOWERED = "protection lowered"


@dataclass(frozen=True, slots=True)
class Rates:
    key_usd_month: float = 1.0
    hsm_usd_month: float = 1000.0
    hsms_per_cluster: int = 2


@dataclass(frozen=True, slots=True)
class KeyExposure:
    key_arn: str
    account_id: str
    state: str
    origin: str
    exposure: str  # PROVIDER_UNDER_QUORUM or CUSTOMER_HSM_ONLY
    how: str  # who could be compelled, and how, in words
    flags: tuple[str, ...]
    rotation: str
    import_expiry: str | None
    provider_accesses: int
    monthly_usd: float


@dataclass(frozen=True, slots=True)
class ExposureReport:
    keys: tuple[KeyExposure, ...]
    hsm_clusters: tuple[str, ...]
    hsm_monthly_usd: float
    total_monthly_usd: float
    generated_at: str
    counts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def classify(key: KeyRecord) -> tuple[str, str, tuple[str, ...]]:
    """(exposure class, how, flags) of one key; pure, from the key record alone."""
    if key.origin is Origin.AWS_CLOUDHSM:
        return (
            CUSTOMER_HSM_ONLY,
            "only the customer: the key never leaves the customer's HSM "
            f"(cluster {key.cloud_hsm_cluster_id}); provider access is refused",
            (),
        )
    if key.origin is Origin.EXTERNAL:
        how = (
            "the provider, under M-of-N operator quorum (holds the imported material); the "
            "customer can delete the imported material at once"
        )
        if key.hsm_lineage is not None:
            lineage = key.hsm_lineage
            return (
                PROVIDER_UNDER_QUORUM,
                how,
                (
                    f"{PROTECTION_LOWERED}: material exported from HSM token "
                    f"{lineage.token_label} ({lineage.token_serial}) on "
                    f"{lineage.exported_at.date().isoformat()}",
                ),
            )
        return PROVIDER_UNDER_QUORUM, how, ()
    return (
        PROVIDER_UNDER_QUORUM,
        "the provider, under M-of-N operator quorum (default key store holds the material)",
        (),
    )


def rotation_status(key: KeyRecord) -> str:
    if key.origin is Origin.EXTERNAL:
        return "manual only (imported material is not rotated automatically)"
    if key.origin is Origin.AWS_CLOUDHSM:
        return "manual only (custom key store)"
    if key.rotation_period_days is None:
        return "disabled"
    when = "" if key.next_rotation_date is None else f", next {key.next_rotation_date.date()}"
    return f"every {key.rotation_period_days} days{when}"


def provider_access_counts(db: Database) -> Counter[str]:
    """Provider accesses that ran, per key ARN, read from the audit trail."""
    e = schema.audit_events.c
    counts: Counter[str] = Counter()
    query = select(e.record).where(e.record.like(f'%"eventName":"{EVENT_NAME}"%'))
    with db.read() as conn:
        for (text,) in conn.execute(query):
            record = orjson.loads(text)
            if record.get("eventName") != EVENT_NAME or record.get("errorCode") is not None:
                continue
            for resource in record.get("resources", []):
                counts[str(resource.get("ARN"))] += 1
    return counts


def build_report(
    keys: Iterable[KeyRecord],
    accesses: Counter[str],
    now: datetime,
    rates: Rates = Rates(),
) -> ExposureReport:
    rows = []
    clusters: set[str] = set()
    for key in sorted(keys, key=lambda k: (k.account_id, k.key_id)):
        exposure, how, flags = classify(key)
        if key.cloud_hsm_cluster_id is not None:
            clusters.add(key.cloud_hsm_cluster_id)
        charged = key.state is not KeyState.PENDING_DELETION
        rows.append(
            KeyExposure(
                key_arn=key.arn,
                account_id=key.account_id,
                state=key.state.value,
                origin=key.origin.value,
                exposure=exposure,
                how=how,
                flags=flags,
                rotation=rotation_status(key),
                import_expiry=None,  # set once imported material records its ValidTo
                provider_accesses=accesses.get(key.arn, 0),
                monthly_usd=rates.key_usd_month if charged else 0.0,
            )
        )
    hsm_cost = len(clusters) * rates.hsms_per_cluster * rates.hsm_usd_month
    return ExposureReport(
        keys=tuple(rows),
        hsm_clusters=tuple(sorted(clusters)),
        hsm_monthly_usd=hsm_cost,
        total_monthly_usd=hsm_cost + sum(r.monthly_usd for r in rows),
        generated_at=now.isoformat(),
        counts=dict(Counter(r.exposure for r in rows)),
    )
