"""A worker's metrics (``GET /metrics``) and readiness check (``GET /readyz``)."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from strongroom.kms.api.metrics import Metrics
from strongroom.kms.audit.events import AuditSink
from strongroom.kms.keystores.software import SoftwareKeyStore
from strongroom.kms.service.cache import KeyCache
from strongroom.kms.storage.database import Database, DatabaseUnavailable


def observability(
    db: Database, store: SoftwareKeyStore, cache: KeyCache, audit_sink: AuditSink
) -> tuple[Metrics, Callable[[], dict[str, str]]]:
    """The worker's metrics (GET /metrics) and readiness check (GET /readyz)."""

    def ready() -> dict[str, str]:
        return {"database": _database_ready(db), "keyStore": _store_ready(store)}

    metrics = Metrics(
        {
            "strongroom_key_cache_hit_ratio": (
                "Share of key lookups answered from this worker's cache",
                lambda: cache.hits / max(1, cache.hits + cache.misses),
            ),
            "strongroom_key_cache_evictions": (
                "Key cache entries this worker forgot to stay within its bound",
                lambda: float(cache.evictions),
            ),
            "strongroom_audit_queue_depth": (
                "Audit events recorded and not yet written to the trail",
                lambda: float(getattr(audit_sink, "pending", 0)),
            ),
        }
    )
    return metrics, ready


def _database_ready(db: Database) -> str:
    try:
        with db.read() as tx:
            tx.meta.get("region")
    except DatabaseUnavailable as error:
        return str(error)
    return "ok"


_PROBE_AAD = b"strongroom-readiness-probe"


def _store_ready(store: SoftwareKeyStore) -> str:
    """The root key wraps and unwraps (for an HSM root key: the token answers)."""
    try:
        probe = secrets.token_bytes(32)
        if store.root.unwrap(store.root.wrap(probe, _PROBE_AAD), _PROBE_AAD) != probe:
            return "the root key returned other bytes"
    except Exception as error:
        return f"the root key is unavailable ({type(error).__name__})"
    return "ok"
