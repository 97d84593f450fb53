"""A node's metrics merged from its workers' snapshot files (real files in a temp dir)."""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path

from prometheus_client import Metric
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from strongroom.kms.api.metrics import Metrics
from strongroom.kms.api.node_metrics import (
    STALE_SECONDS,
    NodeDirectory,
    Snapshot,
    decode,
    encode,
    merge,
)


def _samples(metrics: list[Metric]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for m in metrics for s in m.samples}


class _Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _worker(directory: Path, clock: _Clock, queue: list[float], name: str = "") -> Metrics:
    def gauges() -> list[Metric]:
        return [
            GaugeMetricFamily("strongroom_audit_queue_depth", "queue", value=queue[0]),
            GaugeMetricFamily("strongroom_change_feed_lag_seconds", "not read yet", value=math.nan),
        ]

    def counters() -> list[Metric]:
        return [CounterMetricFamily("strongroom_cache_hits", "hits", value=queue[0] * 10)]

    return Metrics([gauges, counters], node_dir=directory, clock=clock, worker=name or None)


def test_a_scrape_of_any_worker_counts_every_worker(tmp_path: Path) -> None:
    clock = _Clock(1000.0)
    a, b = _worker(tmp_path, clock, [3.0], "11"), _worker(tmp_path, clock, [4.0], "12")
    for _ in range(5):
        a.observe("Encrypt", "OK", 0.0004)
    for _ in range(2):
        b.observe("Encrypt", "OK", 0.002)
    b.observe("Decrypt", "InvalidCiphertextException", 0.003)
    b.publish()
    a.publish()

    for scraped in (a, b):
        text = scraped.exposition().decode()
        lines = set(text.splitlines())
        assert 'strongroom_requests_total{code="OK",operation="Encrypt",service="kms"} 7.0' in lines
        assert (
            'strongroom_requests_total{code="InvalidCiphertextException",'
            'operation="Decrypt",service="kms"} 1.0' in lines
        )
        assert (
            'strongroom_request_seconds_bucket{code="OK",le="0.0005",'
            'operation="Encrypt",service="kms"} 5.0' in lines
        )
        assert (
            'strongroom_request_seconds_bucket{code="OK",le="0.0025",'
            'operation="Encrypt",service="kms"} 7.0' in lines
        )
        assert (
            'strongroom_request_seconds_count{code="OK",operation="Encrypt",service="kms"} 7.0'
            in lines
        )
        assert "strongroom_cache_hits_total 70.0" in lines
        assert 'strongroom_audit_queue_depth{worker="11"} 3.0' in lines
        assert 'strongroom_audit_queue_depth{worker="12"} 4.0' in lines
        assert "strongroom_node_workers 2.0" in lines
        assert 'strongroom_change_feed_lag_seconds{worker="12"} NaN' in lines
        assert "_created" not in text


def test_counts_of_a_worker_that_stopped_stay_and_its_gauges_go(tmp_path: Path) -> None:
    clock = _Clock(1000.0)
    gone, alive = _worker(tmp_path, clock, [9.0], "21"), _worker(tmp_path, clock, [1.0], "22")
    gone.observe("Encrypt", "OK", 0.001)
    gone.publish()
    clock.now += STALE_SECONDS + 1
    alive.observe("Encrypt", "OK", 0.001)
    samples = _samples(
        merge([alive.snapshot(), *NodeDirectory(tmp_path).others(Path())], clock.now)
    )
    assert (
        samples[
            (
                "strongroom_requests_total",
                (("code", "OK"), ("operation", "Encrypt"), ("service", "kms")),
            )
        ]
        == 2
    )
    depth = {k: v for k, v in samples.items() if k[0] == "strongroom_audit_queue_depth"}
    assert depth == {("strongroom_audit_queue_depth", (("worker", "22"),)): 1.0}
    assert samples[("strongroom_node_workers", ())] == 1


def test_snapshot_files_are_private_round_trip_and_clear(tmp_path: Path) -> None:
    clock = _Clock(5.0)
    worker = _worker(tmp_path / "metrics", clock, [2.0])
    worker.observe("GenerateDataKey", "OK", 0.01)
    worker.publish()
    (written,) = (tmp_path / "metrics").iterdir()
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "metrics").stat().st_mode) == 0o700
    snapshot = decode(written.read_bytes())
    assert snapshot.families[:3] == worker.snapshot().families[:3]
    assert encode(decode(encode(snapshot))) == encode(snapshot)
    (tmp_path / "metrics" / "worker-1-broken.json").write_bytes(b"{not json")
    assert [s.worker for s in NodeDirectory(tmp_path / "metrics").others(Path())] == [
        str(os.getpid())
    ]
    NodeDirectory(tmp_path / "metrics").clear()
    assert list((tmp_path / "metrics").iterdir()) == []


def test_without_a_node_directory_the_worker_answers_for_itself() -> None:
    worker = Metrics()
    worker.observe("Sign", "OK", 0.2)
    worker.publish()  # nothing to publish to
    merged = _samples(merge([worker.snapshot()], 0.0))
    assert (
        merged[
            (
                "strongroom_requests_total",
                (("code", "OK"), ("operation", "Sign"), ("service", "kms")),
            )
        ]
        == 1
    )
    assert b"strongroom_node_workers 1.0" in worker.exposition()


def test_an_empty_node_has_no_snapshots(tmp_path: Path) -> None:
    assert list(NodeDirectory(tmp_path / "absent").others(Path())) == []
    NodeDirectory(tmp_path / "absent").clear()
    assert merge([Snapshot("1", 0.0, ())], 0.0)[-1].name == "strongroom_node_workers"
