"""Prometheus metrics of a node (``GET /metrics``).

Per request: one counter and one histogram observation, through label children cached per
(operation, code), so the hot path pays one dictionary lookup and two increments in this
worker's memory; nothing else. Gauges and the counters other parts keep (caches, HSM session
pools, the change feed, the audit queue) are read from their owners (``sources``) only when a
snapshot is taken. A worker publishes its snapshot into the node's metrics directory once a
second (``publish``, a background job), and a scrape answered by any worker is the whole node:
node_metrics.py merges the snapshots (docs/adr/0028).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, Metric, generate_latest
from prometheus_client.registry import Collector

from strongroom.kms.api.node_metrics import NodeDirectory, Snapshot, families_of, merge

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
# Seconds: the hot path answers in well under a millisecond, the control plane in milliseconds.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)

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
        self._requests = Counter(
            "strongroom_requests",
            "KMS API requests by operation and outcome (OK or the AWS error code)",
            ["operation", "code"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "strongroom_request_seconds",
            "KMS API request latency in the server, by operation and outcome",
            ["operation", "code"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
        if sources:
            self.registry.register(_Sources(sources))
        self._node = None if node_dir is None else NodeDirectory(node_dir)
        self._file = None if self._node is None else self._node.new_worker_file()
        self._clock = clock

    def observe(self, operation: str, code: str, seconds: float) -> None:
        pair = self._children.get((operation, code))
        if pair is None:
            pair = (
                self._requests.labels(operation, code),
                self._latency.labels(operation, code),
            )
            self._children[(operation, code)] = pair
        pair[0].inc()
        pair[1].observe(seconds)

    def snapshot(self) -> Snapshot:
        return Snapshot(self.worker, self._clock(), families_of(self.registry.collect()))

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
