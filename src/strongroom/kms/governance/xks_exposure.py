"""External keys (the XKS proxy's) in the exposure report.

An external key is an AES-256 key generated non-extractable in the tenant's own HSM cluster
(a custom key store's); AWS KMS uses it through the XKS proxy, and the provider has no way to
use it at all (provider access names KMS keys, and an external key is none). So its verdict is
the custom key store's: only the customer can be compelled, and the customer can also cut AWS
off at once. Each external key counts as a key for cost; its store's cluster counts its HSMs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace

from strongroom.kms.domain.xks import XksKey
from strongroom.kms.governance.exposure import (
    CUSTOMER_HSM_ONLY,
    ExposureReport,
    KeyExposure,
    Rates,
)
from strongroom.kms.storage.custom_key_stores import CustomKeyStoreRepository
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.xks import XksRepository

ORIGIN = "EXTERNAL_KEY_STORE"
USED_BY_AWS = "external key: AWS KMS external key stores use it through the XKS proxy"
ROTATION = "none (an external key is not rotated; AWS KMS binds each ciphertext to it)"


def how(cluster_id: str) -> str:
    return (
        "only the customer: the external key never leaves the customer's HSM "
        f"(cluster {cluster_id}); the customer can cut AWS KMS off at once (disable the key, "
        "revoke the proxy credentials or disconnect the store); provider access is refused"
    )


def row(key: XksKey, cluster_id: str, region: str, rates: Rates) -> KeyExposure:
    return KeyExposure(
        key_arn=key.resource(region),
        account_id=key.account_id,
        state="Enabled" if key.enabled else "Disabled",
        origin=ORIGIN,
        key_manager="CUSTOMER",
        exposure=CUSTOMER_HSM_ONLY,
        how=how(cluster_id),
        flags=(USED_BY_AWS,),
        rotation=ROTATION,
        provider_accesses=0,
        monthly_usd=rates.key_usd_month,
    )


def with_external_keys(
    report: ExposureReport,
    db: Database,
    accounts: Iterable[str],
    rates: Rates,
) -> ExposureReport:
    """The report with a row for every external key of ``accounts``, and their clusters'
    HSMs counted (once per cluster, with the report's own)."""
    repo = XksRepository(db)
    with db.read() as tx:
        region = tx.meta.get("region") or ""
    found = [pair for account in accounts for pair in repo.keys_of_account(account)]
    if not found:
        return report
    rows = [row(key, cluster, region, rates) for key, cluster in found]
    new_clusters = {cluster for _, cluster in found} - set(report.hsm_clusters)
    hsms = report.hsms + sum(_hsms(db, new_clusters, rates).values())
    hsm_cost = hsms * rates.hsm_usd_month
    keys = (*report.keys, *rows)
    return replace(
        report,
        keys=keys,
        hsm_clusters=tuple(sorted({*report.hsm_clusters, *new_clusters})),
        hsms=hsms,
        hsm_monthly_usd=hsm_cost,
        total_monthly_usd=hsm_cost + sum(r.monthly_usd for r in keys),
        counts=dict(Counter(r.exposure for r in keys)),
    )


def _hsms(db: Database, clusters: Iterable[str], rates: Rates) -> Mapping[str, int]:
    repo = CustomKeyStoreRepository(db)
    counts = {}
    for cluster_id in clusters:
        cluster = repo.get_cluster(cluster_id)
        counts[cluster_id] = (
            rates.hsms_per_cluster if cluster is None else len(cluster.token_labels)
        )
    return counts
