"""Prometheus metrics of one worker process (``GET /metrics``), and the probes.

Per request: one counter and one histogram observation, through label children cached per
(operation, code), so the hot path pays two dictionary lookups and two increments. Gauges (cache
hit ratio, audit queue depth) are read from their owners only when scraped. Every worker keeps
its own registry: a scrape answers for the worker that took it (``worker`` label).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
# Seconds: the hot path answers in well under a millisecond, the control plane in milliseconds.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)

Gauge = Callable[[], float]


class _Gauges(Collector):
    def __init__(self, gauges: dict[str, tuple[str, Gauge]], worker: str) -> None:
        self._gauges = gauges
        self._worker = worker

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, (text, read) in self._gauges.items():
            family = GaugeMetricFamily(name, text, labels=["worker"])
            family.add_metric([self._worker], read())
            yield family


class Metrics:
    def __init__(self, gauges: dict[str, tuple[str, Gauge]] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        worker = str(os.getpid())
        self._requests = Counter(
            "strongroom_requests",
            "KMS API requests by operation and outcome (OK or the AWS error code)",
            ["worker", "operation", "code"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "strongroom_request_seconds",
            "KMS API request latency in the server, by operation and outcome",
            ["worker", "operation", "code"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self._worker = worker
        self._children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
        if gauges:
            self.registry.register(_Gauges(gauges, worker))

    def observe(self, operation: str, code: str, seconds: float) -> None:
        pair = self._children.get((operation, code))
        if pair is None:
            labels = (self._worker, operation, code)
            pair = (self._requests.labels(*labels), self._latency.labels(*labels))
            self._children[(operation, code)] = pair
        pair[0].inc()
        pair[1].observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
