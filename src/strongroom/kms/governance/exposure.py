"""The exposure report: for every key, who could be compelled to reveal the data, and how.

The source's question ("can the provider be made to hand over my data?") has one answer per
key, decided by where its material lives:

- ``provider-under-quorum``: the provider holds the material (default key store, or imported
  material) and can reach it only through an M-of-N operator quorum, which the tenant sees in
  its trail (docs/security.md "Governance").
- ``customer-hsm-only``: the key lives in the customer's HSM (custom key store); the provider
  cannot use it, so only the customer can be compelled.
- ``exportable``: a KMIP object (kmip_exposure.py); whoever may KMIP-Get it holds the key.
- ``external-key-holder-only``: a key of an external key store (Origin EXTERNAL_KEY_STORE):
  every use needs the external key, which only its holder (the customer's key manager, behind
  its XKS proxy) can use; the provider's own material is only the inner layer of the double
  encryption, so the provider alone cannot decrypt: only the holder of the external key can be
  compelled (and it can cut every use off at once).

Imported keys (Origin EXTERNAL) are provider-held, but the customer can delete the material at
once. Imported material that was exported from an HSM token (``hsm_lineage``) is flagged
"protection lowered": it was HSM-only once and is within the provider's reach now. Costs are
estimates at configurable monthly rates (1 USD per key, 1,000 USD per HSM by default; a custom
key store's cluster counts its registered tokens as HSMs). Keys pending deletion are not
charged, as in AWS.

Import expiry: for every imported key, when its material expires (the earliest ValidTo the key
depends on, as DescribeKey shows it), "does not expire", or "no material imported". HSMs: a
registered cluster counts as many HSMs as it has tokens (``CustomKeyStoreRepository``'s cluster
registry); a cluster no longer registered falls back to ``hsms_per_cluster``.

AWS managed keys (``alias/aws/<service>``) are provider-held like any default-store key, and
flagged: the tenant can use them only through their service and cannot disable, delete or
change them; they rotate every year and cost nothing, as in AWS.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import UTC, datetime

import orjson

from strongroom.client.inventory import ObjectInventory
from strongroom.kms.domain import imports
from strongroom.kms.domain.enums import KeyManager, KeyState, Origin
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.governance.bucket_exposure import BucketExposure, bucket_exposures
from strongroom.kms.governance.transparency import EVENT_NAME
from strongroom.kms.storage.custom_key_stores import CustomKeyStoreRepository
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.imports import ImportRepository
from strongroom.kms.storage.keys import KeyRepository

PROVIDER_UNDER_QUORUM = "provider-under-quorum"
CUSTOMER_HSM_ONLY = "customer-hsm-only"
EXTERNAL_KEY_HOLDER_ONLY = "external-key-holder-only"
PROTECTION_LOWERED = "protection lowered"
AWS_MANAGED = (
    "AWS managed: usable only through its service (kms:ViaService); the customer cannot "
    "disable, delete, re-key or change its policy"
)


@dataclass(frozen=True, slots=True)
class Rates:
    key_usd_month: float = 1.0
    hsm_usd_month: float = 1000.0
    hsms_per_cluster: int = 2  # for a cluster that is no longer registered


@dataclass(frozen=True, slots=True)
class KeyExposure:
    key_arn: str
    account_id: str
    state: str
    origin: str
    key_manager: str  # AWS or CUSTOMER
    exposure: str  # PROVIDER_UNDER_QUORUM, CUSTOMER_HSM_ONLY or EXTERNAL_KEY_HOLDER_ONLY
    how: str  # who could be compelled, and how, in words
    flags: tuple[str, ...]
    rotation: str
    provider_accesses: int
    monthly_usd: float
    # Imported material (Origin EXTERNAL), as DescribeKey shows it: KEY_MATERIAL_EXPIRES with
    # the earliest ValidTo the key depends on, KEY_MATERIAL_DOES_NOT_EXPIRE, or neither (no
    # material imported, or not an imported key).
    expiration_model: str | None = None
    valid_to: datetime | None = None

    @property
    def import_expiry(self) -> str | None:
        """The import expiry in words (tables): a date, "does not expire", "no material
        imported", or None for keys that take no imported material."""
        if self.valid_to is not None:
            return self.valid_to.isoformat()
        if self.expiration_model is not None:
            return NO_EXPIRY
        return NOT_IMPORTED if self.origin == Origin.EXTERNAL.value else None


@dataclass(frozen=True, slots=True)
class ExposureReport:
    keys: tuple[KeyExposure, ...]
    hsm_clusters: tuple[str, ...]
    hsms: int
    hsm_monthly_usd: float
    total_monthly_usd: float
    generated_at: datetime
    counts: dict[str, int] = field(default_factory=dict)
    # Per bucket of the object store: which keys protect its objects (bucket_exposure.py).
    buckets: tuple[BucketExposure, ...] = ()

    def to_json(self) -> dict[str, object]:
        """The report as GetExposureReport and ``report exposure --format json`` answer it, in
        the KMS's JSON style: PascalCase members, timestamps in epoch seconds."""
        shown = kms_json(self)
        assert isinstance(shown, dict)
        return shown


# Words spelled as acronyms, as the other extension answers spell them (GetObjectInventory's
# "SSE").
_ACRONYMS = {"sse": "SSE"}


def _pascal(name: str) -> str:
    return "".join(_ACRONYMS.get(part, part[:1].upper() + part[1:]) for part in name.split("_"))


def kms_json(value: object) -> object:
    """A dataclass tree in the KMS's JSON style: members PascalCase (``key_arn`` -> ``KeyArn``),
    datetimes as epoch seconds, tuples as lists; mapping keys (data, such as the exposure
    classes of ``counts``) are kept as they are."""
    if is_dataclass(value) and not isinstance(value, type):
        return {_pascal(f.name): kms_json(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (tuple, list)):
        return [kms_json(v) for v in value]
    if isinstance(value, dict):
        return {k: kms_json(v) for k, v in value.items()}
    return value


def classify(key: KeyRecord) -> tuple[str, str, tuple[str, ...]]:
    """(exposure class, how, flags) of one key; pure, from the key record alone."""
    if key.origin is Origin.AWS_CLOUDHSM:
        return (
            CUSTOMER_HSM_ONLY,
            "only the customer: the key never leaves the customer's HSM "
            f"(cluster {key.cloud_hsm_cluster_id}); provider access is refused",
            (),
        )
    if key.origin is Origin.EXTERNAL_KEY_STORE:
        return (
            EXTERNAL_KEY_HOLDER_ONLY,
            "only the holder of the external key: every use needs external key "
            f"{key.xks_key_id} through the proxy of external key store "
            f"{key.custom_key_store_id}; provider access is refused",
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
        (AWS_MANAGED,) if key.key_manager is KeyManager.AWS else (),
    )


def rotation_status(key: KeyRecord) -> str:
    if key.origin is Origin.EXTERNAL:
        return "manual only (imported material is not rotated automatically)"
    if key.origin is Origin.AWS_CLOUDHSM:
        return "manual only (custom key store)"
    if key.origin is Origin.EXTERNAL_KEY_STORE:
        return "not rotated (external key store: the external key is the customer's)"
    if key.rotation_period_days is None:
        return "disabled"
    when = "" if key.next_rotation_date is None else f", next {key.next_rotation_date.date()}"
    fixed = " (AWS managed, not configurable)" if key.key_manager is KeyManager.AWS else ""
    return f"every {key.rotation_period_days} days{when}{fixed}"


def provider_access_counts(db: Database) -> Counter[str]:
    """Provider accesses that ran, per key ARN, read from the audit trail."""
    counts: Counter[str] = Counter()
    with db.read() as tx:
        for _seq, text in tx.audit.named_events(EVENT_NAME):
            record = orjson.loads(text)
            if record.get("eventName") != EVENT_NAME or record.get("errorCode") is not None:
                continue
            for resource in record.get("resources", []):
                counts[str(resource.get("ARN"))] += 1
    return counts


NO_EXPIRY = "does not expire"
NOT_IMPORTED = "no material imported"


Expiry = tuple[str | None, datetime | None]  # (ExpirationModel, ValidTo)


def import_expiries(db: Database, keys: Iterable[KeyRecord]) -> dict[str, Expiry]:
    """Per imported key (by ARN): its material's ExpirationModel and ValidTo, as DescribeKey
    shows them (neither when no material is imported)."""
    repo = ImportRepository(db)
    found: dict[str, Expiry] = {}
    for key in keys:
        if key.origin is not Origin.EXTERNAL:
            continue
        shown = imports.metadata(repo.materials(key.record_id), key)
        model, valid_to = shown.get("ExpirationModel"), shown.get("ValidTo")
        found[key.arn] = (
            None if model is None else str(model),
            datetime.fromtimestamp(valid_to, UTC) if isinstance(valid_to, float) else None,
        )
    return found


def registered_hsms(db: Database, keys: Iterable[KeyRecord]) -> dict[str, int]:
    """Per HSM cluster the keys use: the number of tokens (HSMs) registered for it."""
    repo = CustomKeyStoreRepository(db)
    counts: dict[str, int] = {}
    for cluster_id in {k.cloud_hsm_cluster_id for k in keys if k.cloud_hsm_cluster_id}:
        cluster = repo.get_cluster(cluster_id)
        if cluster is not None:
            counts[cluster_id] = len(cluster.token_labels)
    return counts


def build_report(
    keys: Iterable[KeyRecord],
    accesses: Counter[str],
    now: datetime,
    rates: Rates = Rates(),
    *,
    expiries: Mapping[str, Expiry] | None = None,
    cluster_hsms: Mapping[str, int] | None = None,
) -> ExposureReport:
    """``expiries``: :func:`import_expiries`; ``cluster_hsms``: :func:`registered_hsms`."""
    expiries = expiries or {}
    cluster_hsms = cluster_hsms or {}
    rows = []
    clusters: set[str] = set()
    for key in sorted(keys, key=lambda k: (k.account_id, k.region, k.key_id)):
        exposure, how, flags = classify(key)
        if key.cloud_hsm_cluster_id is not None:
            clusters.add(key.cloud_hsm_cluster_id)
        # AWS managed keys are free, and keys pending deletion are not charged, as in AWS.
        charged = key.state is not KeyState.PENDING_DELETION and (
            key.key_manager is KeyManager.CUSTOMER
        )
        rows.append(
            KeyExposure(
                key_arn=key.arn,
                account_id=key.account_id,
                state=key.state.value,
                origin=key.origin.value,
                key_manager=key.key_manager.value,
                exposure=exposure,
                how=how,
                flags=flags,
                rotation=rotation_status(key),
                provider_accesses=accesses.get(key.arn, 0),
                monthly_usd=rates.key_usd_month if charged else 0.0,
                expiration_model=expiries.get(key.arn, (None, None))[0],
                valid_to=expiries.get(key.arn, (None, None))[1],
            )
        )
    hsms = sum(cluster_hsms.get(c, rates.hsms_per_cluster) for c in clusters)
    hsm_cost = hsms * rates.hsm_usd_month
    return ExposureReport(
        keys=tuple(rows),
        hsm_clusters=tuple(sorted(clusters)),
        hsms=hsms,
        hsm_monthly_usd=hsm_cost,
        total_monthly_usd=hsm_cost + sum(r.monthly_usd for r in rows),
        generated_at=now,
        counts=dict(Counter(r.exposure for r in rows)),
    )


def accounts_report(
    db: Database,
    accounts: Iterable[str],
    now: datetime,
    rates: Rates = Rates(),
    inventory: ObjectInventory | None = None,
) -> ExposureReport:
    """The report over every key of ``accounts`` and their external (XKS) keys, read from
    the database, and over their buckets when the object store's ``inventory`` is given."""
    repo = KeyRepository(db)
    accounts = list(accounts)
    keys: list[KeyRecord] = []
    for account in accounts:
        after = None
        while page := repo.list_keys(account, None, after, 1000):  # every region's
            keys.extend(page)
            after = page[-1].record_id
    from strongroom.kms.governance.kmip_exposure import with_exportable_keys  # imports this
    from strongroom.kms.governance.xks_exposure import with_external_keys  # imports this

    report = build_report(
        keys,
        provider_access_counts(db),
        now,
        rates,
        expiries=import_expiries(db, keys),
        cluster_hsms=registered_hsms(db, keys),
    )
    report = with_external_keys(report, db, accounts, rates)
    report = with_exportable_keys(report, db, accounts)
    if inventory is None:
        return report
    buckets = [b for account in accounts for b in inventory.buckets(account)]
    return replace(report, buckets=bucket_exposures(buckets, repo.get_key, classify))
