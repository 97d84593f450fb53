"""What a worker tells its operators: its metric sources, the readiness check, request lines.

Every source reads numbers its owner keeps anyway (counters and sizes of plain integers), when a
metrics snapshot is taken; nothing here runs on the request path. The metrics are documented
one by one in docs/deployment.md "Metrics".
"""

from __future__ import annotations

import math
import secrets
import socket
import time
from collections.abc import Callable, Iterator

from prometheus_client import Metric
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from strongroom.kms.api.metrics import Metrics, Source
from strongroom.kms.api.request_log import RequestLog
from strongroom.kms.audit.writer import ChainedAuditLog
from strongroom.kms.config import Settings
from strongroom.kms.keystores.pkcs11.sessions import pool_stats
from strongroom.kms.keystores.software import SoftwareKeyStore
from strongroom.kms.service.cache import KeyCache
from strongroom.kms.service.policy_cache import PolicyCache
from strongroom.kms.storage.database import Database, DatabaseUnavailable

ReadyCheck = Callable[[], dict[str, str]]


def worker_metrics(
    settings: Settings, cache: KeyCache, audit: object, policies: PolicyCache | None = None
) -> Metrics:
    """The worker's metrics, published into the node's directory (``<data_dir>/metrics``)."""
    writer = audit if isinstance(audit, ChainedAuditLog) else None
    sources = [
        cache_source(cache, policies),
        feed_source(cache),
        hsm_source,
        audit_source(writer),
    ]
    return Metrics(sources, node_dir=settings.data_dir / "metrics")


def request_log(settings: Settings) -> RequestLog | None:
    if settings.request_log == "off":
        return None
    return RequestLog(
        settings.node_name or socket.gethostname(),
        format=settings.request_log,
        level=settings.request_log_level,
    )


def cache_source(cache: KeyCache, policies: PolicyCache | None = None) -> Source:
    """Hits, misses, evictions and entries of the key and material caches; evictions and
    entries of the policy cache (``policy``: parsed policies, grants and remembered decisions;
    its hits are not counted, a hit being one membership test on every request)."""

    def read() -> Iterator[Metric]:
        keys, materials = cache.sizes
        rows = (
            ("key", cache.hits, cache.misses, cache.evictions, keys),
            (
                "material",
                cache.material_hits,
                cache.material_misses,
                cache.material_evictions,
                materials,
            ),
        )
        hits = CounterMetricFamily(
            "strongroom_cache_hits", "Lookups answered from the worker's cache", labels=["cache"]
        )
        misses = CounterMetricFamily(
            "strongroom_cache_misses",
            "Lookups the cache could not answer (key: read from the database; material: "
            "unwrapped by the key store)",
            labels=["cache"],
        )
        evictions = CounterMetricFamily(
            "strongroom_cache_evictions",
            "Entries dropped because they changed (change feed, own writes) or the cache was full",
            labels=["cache"],
        )
        entries = GaugeMetricFamily(
            "strongroom_cache_entries", "Entries in the worker's cache", labels=["cache"]
        )
        for name, hit, miss, evicted, size in rows:
            hits.add_metric([name], hit)
            misses.add_metric([name], miss)
            evictions.add_metric([name], evicted)
            entries.add_metric([name], size)
        if policies is not None:
            evictions.add_metric(["policy"], policies.evictions)
            entries.add_metric(["policy"], policies.size)
        ratio = GaugeMetricFamily(
            "strongroom_key_cache_hit_ratio",
            "Share of key lookups answered from this worker's cache since it started",
            value=cache.hits / max(1, cache.hits + cache.misses),
        )
        yield from (hits, misses, evictions, entries, ratio)

    return read


def feed_source(cache: KeyCache) -> Source:
    def read() -> Iterator[Metric]:
        read_at = cache.feed_read_at
        lag = math.nan if read_at is None else time.monotonic() - read_at
        yield GaugeMetricFamily(
            "strongroom_change_feed_lag_seconds",
            "Seconds since the worker last read the change feed (its caches are at most this "
            "stale; past cache_outage_grace_seconds cached keys stop serving)",
            value=lag,
        )
        yield GaugeMetricFamily(
            "strongroom_change_feed_position",
            "Sequence number of the last change the worker applied to its caches",
            value=cache.last_seq,
        )

    return read


def audit_source(audit: ChainedAuditLog | None) -> Source:
    """The audit writer's backlog and counts (None: a sink without a queue, depth 0)."""

    def read() -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "strongroom_audit_queue_depth",
            "Audit events recorded and not yet committed to the trail (the backlog)",
            value=0 if audit is None else audit.pending,
        )
        if audit is None:
            return
        yield CounterMetricFamily(
            "strongroom_audit_events_committed",
            "Audit events this worker committed to the trail",
            value=audit.committed,
        )
        yield CounterMetricFamily(
            "strongroom_audit_events_dropped",
            "Audit events dropped because the trail could not take them "
            "(audit_when_unavailable = serve only)",
            value=audit.dropped_total,
        )
        yield GaugeMetricFamily(
            "strongroom_audit_failing",
            "1 while the worker's last commit to the trail failed, else 0",
            value=float(audit.failing),
        )

    return read


def hsm_source() -> Iterator[Metric]:
    """PKCS#11 session pools of this worker, by token label (the root key's token, custom key
    store tokens)."""
    stats = pool_stats()
    gauges = {
        "in_use": ("strongroom_hsm_sessions_in_use", "Sessions running an operation"),
        "idle": ("strongroom_hsm_sessions_idle", "Open sessions waiting in the pool"),
        "limit": ("strongroom_hsm_sessions_max", "Sessions the pool may open"),
    }
    counters = {
        "waits": ("strongroom_hsm_session_waits", "Operations that waited for a free session"),
        "timeouts": (
            "strongroom_hsm_session_timeouts",
            "Operations that found no free session in time (TokenUnavailable)",
        ),
        "errors": (
            "strongroom_hsm_session_errors",
            "Sessions lost or not opened, and operations the token failed",
        ),
    }
    for field, (name, text) in gauges.items():
        gauge = GaugeMetricFamily(name, text, labels=["token"])
        for row in stats:
            gauge.add_metric([row.token], getattr(row, field))
        yield gauge
    for field, (name, text) in counters.items():
        counter = CounterMetricFamily(name, text, labels=["token"])
        for row in stats:
            counter.add_metric([row.token], getattr(row, field))
        yield counter


def readiness(db: Database, store: SoftwareKeyStore) -> ReadyCheck:
    """GET /readyz: the database answers and the root key wraps and unwraps."""

    def ready() -> dict[str, str]:
        return {"database": _database_ready(db), "keyStore": _store_ready(store)}

    return ready


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
