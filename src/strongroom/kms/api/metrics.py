"""Prometheus metrics of a node (``GET /metrics``).

Per request: one observation in a plain table of this worker's memory (a dictionary lookup, a
bisection and two additions); nothing else. Gauges and the counters other parts keep (caches,
HSM session pools, the change feed, the audit queue) are read from their owners
(``sources``) only when a snapshot is taken. A worker publishes its snapshot into the node's
metrics directory once a second (``publish``, a background job), and a scrape answered by any
worker is the whole node: node_metrics.py merges the snapshots (docs/adr/0028).
"""

from __future__ import annotations

import os
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry, Metric, generate_latest
from prometheus_client.registry import Collector

from strongroom.kms.api.node_metrics import Family, NodeDirectory, Snapshot, families_of, merge

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
# Seconds: the hot path answers in well under a millisecond, the control plane in milliseconds.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
_BOUNDS = (*(repr(b) for b in _BUCKETS), "+Inf")  # as prometheus_client writes them
_REQUESTS, _LATENCY = "strongroom_requests", "strongroom_request_seconds"
_REQUESTS_HELP = (
    "Requests by service (kms, s3, sts, xks, kmip), operation and outcome (OK or error code)"
)
_LATENCY_HELP = "Request latency in the server, by service, operation and outcome"

# Families read from their owner when a snapshot is taken (observability.py defines them).
Source = Callable[[], Iterable[Metric]]


class _Sources(Collector):
    def __init__(self, sources: Sequence[Source]) -> None:
        self._sources = sources

    def collect(self) -> Iterator[Metric]:
        for source in self._sources:
            yield from source()


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


class _RequestTable:
    """Requests by (service, operation, code): per row, the count of each latency bucket (not
    cumulative; the last is +Inf) and the sum of seconds.

    Plain lists in a dict: an observation is one dict lookup, a bisection and two in-place
    additions (prometheus_client's Counter and Histogram take a lock each and cost several
    times more, and reading 100 of their series back costs milliseconds). Written only by the
    event loop's thread; a snapshot taken in another thread may miss an observation in
    flight, never a count (the counts are derived from the buckets, so they always agree).
    """

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], list[float]] = {}

    def observe(self, operation: str, code: str, seconds: float) -> None:
        """A KMS API request: the hot path, so observe_served's body inline."""
        row = self.rows.get(("kms", operation, code))
        if row is None:
            row = self.rows[("kms", operation, code)] = [0.0] * (len(_BUCKETS) + 2)
        row[bisect_left(_BUCKETS, seconds)] += 1
        row[-1] += seconds

    def observe_served(self, service: str, operation: str, code: str, seconds: float) -> None:
        row = self.rows.get((service, operation, code))
        if row is None:
            row = self.rows[(service, operation, code)] = [0.0] * (len(_BUCKETS) + 2)
        row[bisect_left(_BUCKETS, seconds)] += 1
        row[-1] += seconds

    def families(self) -> tuple[Family, Family]:
        counts: list[tuple[str, dict[str, str], float]] = []
        latency: list[tuple[str, dict[str, str], float]] = []
        for (service, operation, code), row in list(self.rows.items()):
            labels = {"service": service, "operation": operation, "code": code}
            total = 0.0
            for bound, observed in zip(_BOUNDS, row[:-1], strict=True):
                total += observed
                latency.append((f"{_LATENCY}_bucket", {**labels, "le": bound}, total))
            latency.append((f"{_LATENCY}_count", labels, total))
            latency.append((f"{_LATENCY}_sum", labels, row[-1]))
            counts.append((f"{_REQUESTS}_total", labels, total))
        return (
            Family(_REQUESTS, "counter", _REQUESTS_HELP, tuple(counts)),
            Family(_LATENCY, "histogram", _LATENCY_HELP, tuple(latency)),
        )


class Metrics:
    """One worker's registry; with ``node_dir``, also its part of the node's metrics."""

    def __init__(
        self,
        sources: Sequence[Source] = (),
        *,
        node_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
        worker: str | None = None,
    ) -> None:
        """``worker``: its name in the ``worker`` label of gauges (default: the process id)."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.worker = worker or str(os.getpid())
        self._requests = _RequestTable()
        self.observe = self._requests.observe  # the hot path: no method of ours in between
        self.observe_served = self._requests.observe_served
        if sources:
            self.registry.register(_Sources(sources))
        self._node = None if node_dir is None else NodeDirectory(node_dir)
        self._file = None if self._node is None else self._node.new_worker_file()
        self._clock = clock

    def snapshot(self) -> Snapshot:
        families = self._requests.families() + families_of(self.registry.collect())
        return Snapshot(self.worker, self._clock(), families)

    def publish(self) -> None:
        """Write this worker's snapshot for the others (a background job, once a second)."""
        if self._node is not None and self._file is not None:
            self._node.write(self._file, self.snapshot())

    def exposition(self) -> bytes:
        """The text a scrape gets: the node's metrics, or this worker's without a node."""
        own = self.snapshot()
        if self._node is None or self._file is None:
            snapshots = [own]
        else:
            snapshots = [own, *self._node.others(self._file)]
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Families(merge(snapshots, own.written)))
        return generate_latest(registry)
