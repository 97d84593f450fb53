"""One worker's request table: buckets are inclusive upper bounds, counts agree with them."""

from __future__ import annotations

from strongroom.kms.api.metrics import Metrics


def _by_name(metrics: Metrics, name: str) -> dict[str, float]:
    snapshot = metrics.snapshot()
    return {
        labels.get("le", "-"): value
        for family in snapshot.families
        for sample, labels, value in family.samples
        if sample == name and (labels["operation"], labels["code"]) == ("Decrypt", "OK")
    }


def test_latencies_fall_into_inclusive_buckets_and_the_count_is_the_inf_bucket() -> None:
    metrics = Metrics(worker="w")
    for seconds in (0.0005, 0.00051, 0.003, 10.0, 42.0):
        metrics.observe("Decrypt", "OK", seconds)
    metrics.observe("Decrypt", "DisabledException", 0.001)
    buckets = _by_name(metrics, "strongroom_request_seconds_bucket")
    assert buckets["0.0005"] == 1  # le is inclusive, as Prometheus defines it
    assert buckets["0.001"] == 2
    assert buckets["0.005"] == 3
    assert buckets["2.5"] == 3
    assert buckets["10.0"] == 4
    assert buckets["+Inf"] == 5
    assert list(buckets) == sorted(buckets, key=float)
    assert _by_name(metrics, "strongroom_request_seconds_count") == {"-": 5}
    assert (
        _by_name(metrics, "strongroom_request_seconds_sum")["-"] == 0.0005 + 0.00051 + 0.003 + 52.0
    )
    totals = {
        labels["code"]: value
        for family in metrics.snapshot().families
        for sample, labels, value in family.samples
        if sample == "strongroom_requests_total"
    }
    assert totals == {"OK": 5, "DisabledException": 1}


def test_the_exposition_is_the_prometheus_text_format() -> None:
    metrics = Metrics(worker="w")
    metrics.observe("Encrypt", "OK", 0.0004)
    text = metrics.exposition().decode()
    assert "# TYPE strongroom_requests_total counter" in text or (
        "# TYPE strongroom_requests counter" in text
    )
    assert "# TYPE strongroom_request_seconds histogram" in text
    assert 'strongroom_requests_total{code="OK",operation="Encrypt",service="kms"} 1.0' in text
    assert (
        'strongroom_request_seconds_bucket{code="OK",le="+Inf",'
        'operation="Encrypt",service="kms"} 1.0' in text
    )
